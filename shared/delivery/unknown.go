package delivery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/leadrelay/leadrelay/shared/lead"
	"github.com/leadrelay/leadrelay/shared/queue"
	"github.com/leadrelay/leadrelay/shared/store"
)

// No second sale after an unknown answer.
//
// An attempt whose post was written in full and never answered (a timeout
// or a reset after the write: webhook.Verdict.Unknown) may have given the
// buyer the lead. Its attempt event carries "unknown": true. From then on
// the round's retries go to the same buyer with the same webhook-id and
// AfterUnknown set, so an answer matching the buyer's duplicate rules is a
// sale. Any answer (accepted or refused) settles the round as usual; but
// when the attempts run out with no answer, the lead is held: its caps and
// assignment stay, no other buyer is offered it, the job is copied to the
// delivery DLQ (whose alarm calls an operator) and the message is done.
// The sweeper, which re-sends the delivery of a round past its deadline,
// and an operator's redrive retry the same buyer with the same webhook-id.

// EventHeld is the timeline event of a lead held for a buyer that never
// answered.
const EventHeld = "held"

// ReasonOutcomeUnknown is the DLQ reason of a held lead's job.
const ReasonOutcomeUnknown = "outcome_unknown: the buyer never answered; the lead is held for it"

// messageID is the post's webhook-id: the same on every attempt of a round,
// whichever message (original, redelivered, re-sent, redriven) makes it.
func messageID(m queue.Deliver) string {
	return fmt.Sprintf("%s.%d", m.Lead.ID, m.Seq)
}

// roundState is what a lead's timeline says of its current round: the
// events after the round's routed event.
type roundState struct {
	// attempted: the round has a delivery attempt.
	attempted bool
	// unknown: an attempt of the round was written and never answered.
	// Every answer settles a round, so none came since.
	unknown bool
	// held: the round's last delivery event is a hold: no message is
	// delivering the lead.
	held bool
}

func stateOf(cur *lead.Record) roundState {
	var s roundState
	last := true // the next delivery event found is the round's last
	for i := len(cur.Events) - 1; i >= 0; i-- {
		e := cur.Events[i]
		switch e.Type {
		case lead.EventRouted:
			return s
		case lead.EventAttempt:
			s.attempted = true
			if b, _ := e.Data["unknown"].(bool); b {
				s.unknown = true
			}
			last = false
		case EventHeld:
			if last {
				s.held = true
			}
			last = false
		}
	}
	return s
}

// hold ends a message whose attempts ran out after an unknown outcome: the
// last attempt and a held event go to the timeline, the job to the DLQ;
// the round stays open, with its assignment and caps.
func (h *Handler) hold(ctx context.Context, log *slog.Logger, m queue.Deliver, redelivered bool, ev lead.Event, attempt int, extra ...lead.Event) error {
	a := m.Assignment
	held := lead.Event{At: ev.At, Type: EventHeld, Buyer: a.Buyer, Order: a.Order,
		Detail: fmt.Sprintf("no answer from %s after %d attempts, and a post may have reached it: the lead is held for %s "+
			"(not offered to another buyer) until it answers a retry with webhook-id %s; the job is in the delivery DLQ",
			a.Buyer, attempt, a.Buyer, messageID(m)),
		Data: map[string]any{"unknown": true, "attempts": attempt, "webhook_id": messageID(m)}}
	if err := h.Store.AppendEvents(ctx, m.Lead.ID, m.Seq, append([]lead.Event{ev, held}, extra...)); err != nil {
		var stale *store.StaleError
		if errors.As(err, &stale) {
			return h.recover(ctx, log, m, stale.Current, redelivered)
		}
		// The message comes back and tries again (the same buyer).
		return fmt.Errorf("record the hold of lead %s: %w", m.Lead.ID, err)
	}
	if err := h.Queue.DeadLetter(ctx, m, ReasonOutcomeUnknown); err != nil {
		// Without the DLQ copy no alarm would call an operator: have SQS
		// deliver the message again instead.
		return fmt.Errorf("copy the held job of lead %s to the DLQ: %w", m.Lead.ID, err)
	}
	log.ErrorContext(ctx, "lead held: the buyer never answered and may have it; job copied to the delivery DLQ",
		"attempts", attempt, "webhook_id", messageID(m))
	return nil
}
