package admin

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/leadrelay/leadrelay/shared/config"
	"github.com/leadrelay/leadrelay/shared/conversions"
	"github.com/leadrelay/leadrelay/shared/store"
)

// ConversionQueue is the queue of lead stages to report to Meta
// (store.ClaimConversions and the rest).
type ConversionQueue interface {
	ClaimConversions(ctx context.Context, run string, limit int, lease time.Duration) ([]store.QueuedConversion, error)
	ConversionSent(ctx context.Context, run string, c store.QueuedConversion, at time.Time) error
	ConversionFailed(ctx context.Context, run string, c store.QueuedConversion, why string) error
}

// ConversionSender sends lead stages to the Conversions API dataset, its
// token's reference resolved on use (conversions.Client).
type ConversionSender interface {
	Send(ctx context.Context, c *config.MetaConversions, evs []conversions.Event) error
}

const (
	// conversionBatch is how many queued conversions a run claims at a
	// time; conversionBatches bounds the claims of one run.
	conversionBatch   = 500
	conversionBatches = 8
	// conversionLease is how long a run holds what it claimed: more than
	// a batch's sends and retries take, so that no other run sends them
	// meanwhile.
	conversionLease = 5 * time.Minute
	// conversionTries is how often a batch is sent before the run leaves
	// it to the next.
	conversionTries = 3
)

// ConversionStats says what a run of the conversions task did.
type ConversionStats struct {
	Sent, Failed, Left int
}

// SendConversions sends the queued lead stages of Meta's leads to the
// Conversions API (the "conversions" task, every minute). Each is claimed
// by the run before it is sent and marked sent once Meta took it, so that
// no two runs send one conversion and a sent one is never sent again; one
// that Meta refuses is marked failed with Meta's reason, and one older
// than Meta takes (conversions.MaxAge) is dropped. When Meta cannot be
// reached, what the run claimed stays queued for a later run (the same
// event_id each time, so that Meta drops a repeat of what it took).
func (h *Handler) SendConversions(ctx context.Context) (ConversionStats, error) {
	var st ConversionStats
	if h.ConversionQueue == nil {
		return st, nil
	}
	c, err := h.Store.LoadConfig(ctx)
	if err != nil {
		return st, fmt.Errorf("load configuration: %w", err)
	}
	mc := config.NewIndex(c).MetaConversions()
	run := newRunID()
	for range conversionBatches {
		claimed, err := h.ConversionQueue.ClaimConversions(ctx, run, conversionBatch, conversionLease)
		if err != nil {
			return st, err
		}
		if len(claimed) == 0 {
			return st, nil
		}
		var send []store.QueuedConversion
		now := h.Now()
		for _, q := range claimed {
			switch {
			case mc == nil:
				h.failConversion(ctx, run, q, "integrations.meta.conversions is no longer configured", &st)
			case mc.EventName(q.Stage) == "":
				h.failConversion(ctx, run, q, "integrations.meta.conversions.events no longer sends stage "+q.Stage, &st)
			case now.Sub(q.At) > conversions.MaxAge:
				h.failConversion(ctx, run, q, "not sent: older than the 7 days Meta takes", &st)
			default:
				send = append(send, q)
			}
		}
		if err := h.sendConversions(ctx, run, mc, send, &st); err != nil {
			return st, err
		}
		if len(claimed) < conversionBatch {
			return st, nil
		}
	}
	return st, nil
}

// sendConversions sends a batch, trying again while Meta's answer is
// transient. A batch Meta refuses is split in halves until the conversion
// it refuses is alone, and that one is marked failed.
func (h *Handler) sendConversions(ctx context.Context, run string, mc *config.MetaConversions, qs []store.QueuedConversion, st *ConversionStats) error {
	if len(qs) == 0 {
		return nil
	}
	evs := make([]conversions.Event, len(qs))
	for i, q := range qs {
		evs[i] = conversions.Event{Name: mc.EventName(q.Stage), ID: conversions.EventID(q.LeadID, &q.Conversion), LeadgenID: q.PlatformLeadID, Time: q.At}
	}
	var err error
	for try := 1; try <= conversionTries; try++ {
		if err = h.ConversionSender.Send(ctx, mc, evs); err == nil || !conversions.IsTransient(err) {
			break
		}
		if try < conversionTries {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Duration(try) * 500 * time.Millisecond):
			}
		}
	}
	switch {
	case err == nil:
		at := h.Now()
		for _, q := range qs {
			if err := h.ConversionQueue.ConversionSent(ctx, run, q, at); err != nil {
				h.Log.ErrorContext(ctx, "mark conversion sent", "lead_id", q.LeadID, "stage", q.Stage, "error", err)
			}
		}
		st.Sent += len(qs)
		h.Log.InfoContext(ctx, "conversions sent to Meta", "events", len(qs))
		return nil
	case conversions.IsTransient(err):
		st.Left += len(qs)
		h.Log.ErrorContext(ctx, "conversions not sent: left for the next run", "events", len(qs), "error", err)
		return fmt.Errorf("send conversions: %w", err)
	case len(qs) == 1:
		h.failConversion(ctx, run, qs[0], err.Error(), st)
		return nil
	}
	half := len(qs) / 2
	return errors.Join(h.sendConversions(ctx, run, mc, qs[:half], st), h.sendConversions(ctx, run, mc, qs[half:], st))
}

func (h *Handler) failConversion(ctx context.Context, run string, q store.QueuedConversion, why string, st *ConversionStats) {
	h.Log.WarnContext(ctx, "conversion not sent to Meta", "lead_id", q.LeadID, "stage", q.Stage, "why", why)
	if err := h.ConversionQueue.ConversionFailed(ctx, run, q, why); err != nil {
		h.Log.ErrorContext(ctx, "mark conversion failed", "lead_id", q.LeadID, "stage", q.Stage, "error", err)
	}
	st.Failed++
}

// newRunID names a run of the conversions task: what its claims hold.
func newRunID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
