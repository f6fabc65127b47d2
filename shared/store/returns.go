package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/leadrelay/leadrelay/shared/lead"
)

// ReturnInput is a buyer's return of one sale of a lead.
type ReturnInput struct {
	// Lead is the lead as read: the return is conditioned on its round
	// (Seq), so it is decided on the state it is written to.
	Lead *lead.Record
	// Sale is the index of the returned sale in Lead.Sales.
	Sale   int
	Return lead.Return
	// Final marks the lead returned: every sale is returned and no offer
	// is in flight.
	Final  bool
	Events []lead.Event
}

// ErrAlreadyReturned reports a sale that was returned before.
var ErrAlreadyReturned = errors.New("sale already returned")

// Return records the return of a sale and credits it in the ledger, in one
// transaction conditioned on the lead's round and on the sale not being
// returned yet, so a return counts once however often it is posted. The
// day's aggregates of the campaign, source, buyer and buyer×source lose
// the sale's price from revenue and the clawback from cost, and count one
// "returned". It returns ErrAlreadyReturned if the sale was returned, and
// *StaleError if the lead moved on since it was read (read it again).
func (s *Store) Return(ctx context.Context, in ReturnInput) error {
	rec := in.Lead
	if in.Sale < 0 || in.Sale >= len(rec.Sales) {
		return fmt.Errorf("return lead %s: no sale %d", rec.ID, in.Sale)
	}
	sale := rec.Sales[in.Sale]
	ret, err := attributevalue.Marshal(in.Return)
	if err != nil {
		return fmt.Errorf("encode return: %w", err)
	}
	path := fmt.Sprintf("sales[%d]", in.Sale)
	upd := expression.Set(expression.Name(path+".return"), expression.Value(ret)).
		Set(expression.Name("updated_at"), expression.Value(s.now()))
	if in.Final {
		upd = upd.Set(expression.Name("status"), expression.Value(lead.Returned))
	}
	if upd, err = appendEvents(upd, in.Events); err != nil {
		return err
	}
	cond := expression.Name("seq").Equal(expression.Value(rec.Seq)).
		And(expression.Name(path + ".buyer").Equal(expression.Value(sale.Buyer))).
		And(expression.AttributeNotExists(expression.Name(path + ".return")))
	li, err := s.leadUpdate(rec.ID, cond, upd)
	if err != nil {
		return err
	}
	items := []types.TransactWriteItem{li}
	if !rec.Test {
		day := s.day(ctx, in.Return.At)
		c := counts{"revenue": -int64(sale.Price), "returned": 1}
		if in.Return.Clawback != 0 {
			c["cost"] = -int64(in.Return.Clawback)
		}
		items = append(items, s.ledger(day, map[string]string{DimCampaign: rec.Campaign, DimSource: rec.Source}, c)...)
		items = append(items, s.ledger(day, map[string]string{DimBuyer: sale.Buyer, DimBuyerSource: BuyerSourceID(sale.Buyer, rec.Source)}, c)...)
	}
	err = s.transact(ctx, items)
	if reasons := cancellation(err); len(reasons) > 0 && failed(reasons[0]) {
		stale := staleFrom(reasons[0])
		var se *StaleError
		if errors.As(stale, &se) && se.Current != nil && in.Sale < len(se.Current.Sales) && se.Current.Sales[in.Sale].Return != nil {
			return ErrAlreadyReturned
		}
		return stale
	}
	if err != nil {
		return fmt.Errorf("return lead %s: %w", rec.ID, err)
	}
	return nil
}
