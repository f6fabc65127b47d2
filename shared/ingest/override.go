package ingest

import (
	"errors"
	"time"

	"github.com/leadrelay/leadrelay/shared/config"
	"github.com/leadrelay/leadrelay/shared/lead"
	"github.com/leadrelay/leadrelay/shared/store"
)

// ErrNotSold reports an operator's return of a sale that does not exist:
// the buyer did not buy the lead.
var ErrNotSold = errors.New("the buyer did not buy this lead")

// OperatorReturn is the store's input for an operator's return of the
// buyer's sale of the lead (POST /v1/admin/leads/{id}/return): the same
// return as a buyer's POST /v1/returns — the price credited, the clawback
// of the source's terms, the lead returned once no sale stands — except
// that the order's return window is not checked (an operator's override)
// and any reason is taken. It returns ErrNotSold, or
// store.ErrAlreadyReturned if the sale was returned before.
func OperatorReturn(rec *lead.Record, buyer string, src *config.Source, reason string, now time.Time) (store.ReturnInput, error) {
	i := saleOf(rec, buyer)
	if i < 0 {
		return store.ReturnInput{}, ErrNotSold
	}
	if rec.Sales[i].Return != nil {
		return store.ReturnInput{}, store.ErrAlreadyReturned
	}
	in := decide(rec, i, src, reason, now)
	for j := range in.Events {
		in.Events[j].Detail += " (marked by an operator: the return window is not applied)"
		in.Events[j].Data["by"] = "operator"
	}
	return in, nil
}
