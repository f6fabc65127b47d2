// Package aggregate is the aggregate function: it reads the table's stream
// and folds the ledger entries of the items leads insert into the P&L's
// day aggregates, exactly once per stream record (store.FoldLedger). It is
// what keeps the ledger off the leads' own writes: no lead touches an
// aggregate, so no campaign's or source's aggregate is a hot item.
package aggregate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/aws/aws-lambda-go/events"

	"github.com/leadrelay/leadrelay/shared/store"
)

// Store is what the aggregate function needs of the table.
type Store interface {
	FoldLedger(ctx context.Context, shardID string, recs []store.StreamRecord) (store.FoldStats, error)
}

// Handler is the aggregate function.
type Handler struct {
	Store Store
	Log   *slog.Logger
}

// ErrNoShard reports an event without the stream shard's id: the event
// source mapping must have a tumbling window (the only events that carry
// it); see infra/stack.go.
var ErrNoShard = errors.New("stream event without shardId: configure a tumbling window on the event source mapping")

// Handle folds one batch of one shard's records. The tumbling window's
// state is not used (every batch is folded as it comes): an empty state
// is answered, as Lambda requires. An error makes Lambda deliver the
// batch again; the shard's checkpoint skips what was folded.
func (h *Handler) Handle(ctx context.Context, ev events.DynamoDBTimeWindowEvent) (events.DynamoDBTimeWindowEventResponse, error) {
	resp := events.DynamoDBTimeWindowEventResponse{TimeWindowEventResponseProperties: events.TimeWindowEventResponseProperties{State: map[string]string{}}}
	if len(ev.Records) == 0 {
		return resp, nil
	}
	if ev.ShardID == "" {
		return resp, ErrNoShard
	}
	recs := make([]store.StreamRecord, 0, len(ev.Records))
	for _, r := range ev.Records {
		recs = append(recs, Record(r))
	}
	st, err := h.Store.FoldLedger(ctx, ev.ShardID, recs)
	if err != nil {
		h.Log.ErrorContext(ctx, "fold ledger; the batch will be retried", "shard", ev.ShardID, "records", len(recs), "error", err)
		return resp, fmt.Errorf("fold ledger: %w", err)
	}
	h.Log.InfoContext(ctx, "ledger folded", "shard", ev.ShardID, "records", len(recs), "folded", st.Folded, "skipped", st.Skipped, "writes", st.Writes)
	return resp, nil
}

// Record is what the store needs of a stream record: its sequence number
// and, for an inserted item, its ledger entries ("lg").
func Record(r events.DynamoDBEventRecord) store.StreamRecord {
	out := store.StreamRecord{Seq: r.Change.SequenceNumber}
	if r.EventName != string(events.DynamoDBOperationTypeInsert) {
		return out
	}
	lg, ok := r.Change.NewImage[store.LedgerAttribute]
	if !ok || lg.DataType() != events.DataTypeList {
		return out
	}
	for _, v := range lg.List() {
		if v.DataType() == events.DataTypeString {
			out.Ledger = append(out.Ledger, v.String())
		}
	}
	return out
}
