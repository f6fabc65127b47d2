// Package delivery is the delivery function: it posts each lead on the
// delivery queue to the buyer it was reserved for and records the outcome.
// Accepted: the lead is sold and the ledger written in one transaction.
// Rejected: the caps are released and the lead goes back to the router for
// the next buyer. Transient failure: the message comes back after a
// backoff (exponential, full jitter) until the buyer's attempt limit; then
// the job is copied to the DLQ and the lead moves on to the next buyer —
// unless an attempt of the round had an unknown outcome (the post was
// written and never answered: the buyer may have the lead). Then the lead
// is held for that buyer (unknown.go): no second sale before the buyer has
// answered a retry with the same webhook-id.
package delivery

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/leadrelay/leadrelay/shared/backoff"
	"github.com/leadrelay/leadrelay/shared/billing"
	"github.com/leadrelay/leadrelay/shared/config"
	"github.com/leadrelay/leadrelay/shared/conversions"
	"github.com/leadrelay/leadrelay/shared/lead"
	"github.com/leadrelay/leadrelay/shared/money"
	"github.com/leadrelay/leadrelay/shared/queue"
	"github.com/leadrelay/leadrelay/shared/store"
	"github.com/leadrelay/leadrelay/shared/webhook"
)

// Store is what delivery needs of the table.
type Store interface {
	GetLead(ctx context.Context, id string, consistent bool) (*lead.Record, error)
	Sell(ctx context.Context, in store.SaleInput) error
	Release(ctx context.Context, id string, seq int, status lead.Status, holds []lead.CapHold, events []lead.Event) error
	AppendEvents(ctx context.Context, id string, seq int, events []lead.Event) error
}

// Queue is what delivery needs of the queues.
type Queue interface {
	Route(ctx context.Context, m queue.Route) error
	DeadLetter(ctx context.Context, m queue.Deliver, reason string) error
	Delay(ctx context.Context, queueURL, receipt string, d time.Duration) error
}

// Configs returns the current configuration.
type Configs interface {
	Get(ctx context.Context) (*config.Index, error)
}

// Poster delivers one lead to one buyer.
type Poster interface {
	Send(ctx context.Context, d *config.Delivery, p webhook.Post) webhook.Verdict
}

// Handler is the delivery function.
type Handler struct {
	Store   Store
	Queue   Queue
	Configs Configs
	// Webhook posts webhook deliveries; Email sends email ones and Sheets
	// appends Google Sheets ones (both optional).
	Webhook Poster
	Email   Poster
	Sheets  Poster
	// QueueURL is the delivery queue's URL (for backoff).
	QueueURL string
	Now      func() time.Time
	// Jitter returns a random duration in [0, d) (full jitter).
	Jitter func(d time.Duration) time.Duration
	Log    *slog.Logger
	// Slack notifies buyers' channels (optional; notify.go).
	Slack Slack
	// Postbacks tells sources their leads were sold (optional; postbacks.go).
	Postbacks Postbacks
	// Breakers, when set, count buyers' failure streaks and pause a
	// failing buyer (breaker.go).
	Breakers Breakers
}

// Handle delivers a batch. Messages whose attempt failed transiently are
// delayed and reported back, so SQS delivers them again.
func (h *Handler) Handle(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	var (
		mu   sync.Mutex
		resp events.SQSEventResponse
		wg   sync.WaitGroup
	)
	for _, msg := range ev.Records {
		wg.Add(1)
		go func() {
			defer wg.Done()
			retry, err := h.deliver(ctx, msg)
			if err != nil {
				h.Log.ErrorContext(ctx, "deliver lead; will retry", "message_id", msg.MessageId, "error", err)
			}
			if retry || err != nil {
				mu.Lock()
				resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: msg.MessageId})
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return resp, nil
}

// deliver handles one message; retry asks SQS to deliver it again.
func (h *Handler) deliver(ctx context.Context, msg events.SQSMessage) (retry bool, err error) {
	var m queue.Deliver
	if err := json.Unmarshal([]byte(msg.Body), &m); err != nil {
		return false, fmt.Errorf("decode delivery message %s: %w", msg.MessageId, err)
	}
	attempt := queue.ReceiveCount(msg.Attributes)
	// A message moved back from the DLQ counts its receipts afresh but
	// may be about a round long settled: it is checked like a redelivery.
	redelivered := attempt > 1 || queue.Redriven(msg.MessageAttributes)
	a := m.Assignment
	log := h.Log.With("lead_id", m.Lead.ID, "seq", m.Seq, "buyer", a.Buyer, "order", a.Order, "attempt", attempt)
	ix, err := h.Configs.Get(ctx)
	if err != nil {
		return false, err
	}
	// round is what the lead's timeline says of the round so far; only a
	// message seen before (or sent again) can find attempts there.
	var round roundState
	if redelivered || m.Recovered {
		var settled bool
		if round, settled, err = h.checkRound(ctx, log, m, redelivered); settled || err != nil {
			return false, err
		}
	}
	now := h.Now().UTC()
	ref, ok := ix.Order(a.Buyer, a.Order)
	if !ok {
		return false, h.release(ctx, log, m, redelivered, lead.Event{At: now, Type: lead.EventFailed, Buyer: a.Buyer, Order: a.Order,
			Detail: "the order is no longer configured"}, "")
	}
	v := h.post(ctx, ref, m, now, round.unknown, redelivered || m.Recovered)
	done := h.Now().UTC()
	ev := attemptEvent(done, a, v, attempt)
	log.InfoContext(ctx, "delivery attempt", "outcome", v.Outcome, "status", v.Status, "reason", v.Reason, "unknown", v.Unknown, "latency_ms", v.Latency.Milliseconds())
	extra := h.breakerEvents(ctx, log, ref.Buyer, m.Lead.ID, v, done)
	switch v.Outcome {
	case webhook.Accepted:
		return false, h.sell(ctx, log, ix, m, ref, v, ev, done, redelivered, extra...)
	case webhook.Rejected:
		return false, h.release(ctx, log, m, redelivered, ev, "", extra...)
	}
	if attempt >= ref.Buyer.Delivery.MaxAttempts {
		if round.unknown || v.Unknown {
			// The buyer may have the lead and never said: hold it.
			return false, h.hold(ctx, log, m, redelivered, ev, attempt, extra...)
		}
		ev.Type = lead.EventFailed
		ev.Detail = fmt.Sprintf("gave up after %d attempts: %s", attempt, ev.Detail)
		return false, h.release(ctx, log, m, redelivered, ev, v.Reason, extra...)
	}
	return h.retryLater(ctx, log, m, msg.ReceiptHandle, attempt, redelivered, append([]lead.Event{ev}, extra...))
}

// checkRound reads the lead before a message seen before (or sent again)
// posts it: settled reports that the round is over (the message was
// handled as stale) or that this re-sent copy is not needed; otherwise
// round is what the timeline says of the round so far.
func (h *Handler) checkRound(ctx context.Context, log *slog.Logger, m queue.Deliver, redelivered bool) (round roundState, settled bool, err error) {
	cur, err := h.Store.GetLead(ctx, m.Lead.ID, true)
	if err != nil {
		return roundState{}, true, err
	}
	if cur.Seq != m.Seq || cur.Assignment == nil {
		return roundState{}, true, h.recover(ctx, log, m, cur, redelivered)
	}
	round = stateOf(cur)
	if m.Recovered && round.attempted && !round.held {
		// The original message is alive (it has made attempts and has
		// not held the lead): this re-sent copy is not needed.
		log.InfoContext(ctx, "re-sent delivery message dropped: the original is being delivered")
		return round, true, nil
	}
	return round, false, nil
}

// post delivers the lead to the order's buyer by webhook, email or
// Google Sheets; a kind of delivery this deployment has no poster for is
// a refusal. repeat says the message was seen before or sent again, so
// the lead may have reached the buyer already (webhook.Post.Repeat).
func (h *Handler) post(ctx context.Context, ref config.OrderRef, m queue.Deliver, now time.Time, afterUnknown, repeat bool) webhook.Verdict {
	poster := h.Webhook
	switch ref.Buyer.Delivery.Type {
	case config.DeliveryEmail:
		poster = h.Email
	case config.DeliverySheets:
		poster = h.Sheets
	}
	if poster == nil {
		return webhook.Verdict{Outcome: webhook.Rejected, Reason: "not_configured", Detail: ref.Buyer.Delivery.Type + " delivery is not configured in this deployment"}
	}
	a := m.Assignment
	return poster.Send(ctx, &ref.Buyer.Delivery, webhook.Post{
		Lead: &m.Lead, Price: a.Price, BidID: a.BidID, MessageID: messageID(m), Now: now, AfterUnknown: afterUnknown, Repeat: repeat,
	})
}

// retryLater records a transient failure's events and gives the message
// back to the queue after the attempt's backoff; retry is false when the
// round turned out settled meanwhile.
func (h *Handler) retryLater(ctx context.Context, log *slog.Logger, m queue.Deliver, receipt string, attempt int, redelivered bool, evs []lead.Event) (retry bool, err error) {
	if err := h.Store.AppendEvents(ctx, m.Lead.ID, m.Seq, evs); err != nil {
		var stale *store.StaleError
		if errors.As(err, &stale) {
			return false, h.recover(ctx, log, m, stale.Current, redelivered)
		}
		log.WarnContext(ctx, "record attempt", "error", err)
	}
	wait := backoff.Wait(attempt, h.Jitter)
	if err := h.Queue.Delay(ctx, h.QueueURL, receipt, wait); err != nil {
		log.WarnContext(ctx, "set backoff", "error", err)
	}
	log.InfoContext(ctx, "delivery will be retried", "backoff_s", wait.Seconds())
	return true, nil
}

// attemptEvent is an attempt's timeline event (made a failed event when
// it is the last attempt of a buyer given up on). Its "status", "unknown"
// and "latency_ms" are also the buyer's response time: the store counts
// them in the order's ledger with the item that records the event
// (store/responses.go), once per attempt.
func attemptEvent(at time.Time, a lead.Assignment, v webhook.Verdict, attempt int) lead.Event {
	data := map[string]any{"outcome": string(v.Outcome), "reason": v.Reason, "latency_ms": v.Latency.Milliseconds(), "attempt": attempt}
	if v.Status != 0 {
		data["status"] = v.Status
	}
	if v.Response != "" {
		data["response"] = v.Response
	}
	if v.BuyerLeadID != "" {
		data["buyer_lead_id"] = v.BuyerLeadID
	}
	if v.Unknown {
		data["unknown"] = true
	}
	detail := v.Detail
	if detail == "" {
		detail = fmt.Sprintf("%s (%s)", v.Outcome, v.Reason)
	}
	return lead.Event{At: at, Type: lead.EventAttempt, Buyer: a.Buyer, Order: a.Order, Detail: detail, Data: data}
}

func (h *Handler) sell(ctx context.Context, log *slog.Logger, ix *config.Index, m queue.Deliver, ref config.OrderRef, v webhook.Verdict, ev lead.Event, now time.Time, redelivered bool, extra ...lead.Event) error {
	a := m.Assignment
	first := len(m.Bought) == 0
	sale := lead.Sale{Buyer: a.Buyer, Order: a.Order, Price: a.Price, BuyerLeadID: v.BuyerLeadID, At: now}
	if src := ix.Source(m.Lead.Source); src != nil {
		sale.Payout = payout(src.Payout, a.Price, first)
	}
	if a.Payout > 0 {
		// A bid claimed with a ping_id pays the seller price it was quoted.
		sale.Payout = a.Payout
	}
	maxSales := 1
	if c := ix.Campaign(m.Lead.Campaign); c != nil {
		maxSales = c.MaxSales
	}
	more := len(m.Bought)+1 < maxSales
	accepted := lead.Event{At: now, Type: lead.EventAccepted, Buyer: a.Buyer, Order: a.Order,
		Detail: fmt.Sprintf("sold to %s at %s", a.Buyer, a.Price)}
	if v.Reason == webhook.ReasonDuplicate {
		accepted.Detail += fmt.Sprintf(": %s answered the retry as a duplicate (its response.duplicate rules): it took the lead on an earlier attempt whose answer never came", a.Buyer)
		accepted.Data = map[string]any{"duplicate": true, "webhook_id": messageID(m)}
	}
	in := store.SaleInput{
		Lead: &m.Lead, Seq: m.Seq, Sale: sale, First: first, More: more,
		Events: append([]lead.Event{ev, accepted}, extra...),
	}
	in.BuyerDedupe = store.BuyerDedupeKeys(a.Buyer, ref.Order.Dedupe, m.Lead.Fields)
	in.Charge = billing.SaleCharge(ix, &m.Lead, sale, m.Seq+1)
	if first {
		// Keyed by the sale's round: unique in the lead, so a lead sold
		// again after a return is reported sold again.
		in.Conversion = conversions.For(ix, &m.Lead, lead.StageSold, fmt.Sprintf("R%d", m.Seq+1), now)
	}
	// The buyer has accepted: try hard to record it before giving the
	// message back (a redelivery would check the round, not post again).
	var err error
	for try := 0; try < 3; try++ {
		if err = h.Store.Sell(ctx, in); err == nil {
			break
		}
		var stale *store.StaleError
		if errors.As(err, &stale) {
			return h.recover(ctx, log, m, stale.Current, redelivered)
		}
		time.Sleep(time.Duration(try+1) * 100 * time.Millisecond)
	}
	if err != nil {
		return err
	}
	log.InfoContext(ctx, "lead sold", "price", a.Price.Decimal(), "payout", sale.Payout.Decimal())
	h.tellBuyer(ctx, log, ref.Buyer, soldText(&m.Lead, a))
	h.notify(ctx, &m.Lead, lead.Sold, sale.Payout)
	if !more {
		return nil
	}
	return h.Queue.Route(ctx, queue.Route{
		Lead: m.Lead, Seq: m.Seq + 1, Tried: m.Tried, Bought: append(slices.Clone(m.Bought), a.Buyer), Rejected: m.Rejected, Bids: m.Bids,
	})
}

// payout is what the source earns for a sale at price: a fixed payout is
// paid once a lead (on its first sale), a revenue share on every sale.
func payout(p config.Payout, price money.Amount, first bool) money.Amount {
	switch p.Type {
	case config.PayoutRevshare:
		return price.Percent(p.Percent)
	case config.PayoutFixed:
		if first {
			return p.Amount
		}
	}
	return 0
}

// release gives the assignment's caps back and sends the lead to the
// router for the next buyer. deadLetter, when set, also copies the job to
// the DLQ with that reason. extra events go to the timeline after ev.
func (h *Handler) release(ctx context.Context, log *slog.Logger, m queue.Deliver, redelivered bool, ev lead.Event, deadLetter string, extra ...lead.Event) error {
	// A shared lead with a sale stays sold while it looks for more buyers.
	status := lead.Routing
	if len(m.Bought) > 0 {
		status = lead.Sold
	}
	evs := []lead.Event{ev}
	if ev.Type == lead.EventAttempt {
		evs = append(evs, lead.Event{At: ev.At, Type: lead.EventRejected, Buyer: ev.Buyer, Order: ev.Order, Detail: "the buyer refused the lead; trying the next buyer"})
	}
	if err := h.Store.Release(ctx, m.Lead.ID, m.Seq, status, m.Assignment.Caps, append(evs, extra...)); err != nil {
		return h.settled(ctx, log, m, redelivered, err)
	}
	if deadLetter != "" {
		if err := h.Queue.DeadLetter(ctx, m, deadLetter); err != nil {
			log.ErrorContext(ctx, "copy failed job to the DLQ", "error", err)
		}
	}
	rejected := m.Rejected
	if ev.Type == lead.EventAttempt {
		rejected++
	}
	log.InfoContext(ctx, "lead released to the router", "reason", ev.Detail)
	return h.Queue.Route(ctx, queue.Route{Lead: m.Lead, Seq: m.Seq + 1, Tried: m.Tried, Bought: m.Bought, Rejected: rejected, Bids: m.Bids})
}

func (h *Handler) settled(ctx context.Context, log *slog.Logger, m queue.Deliver, redelivered bool, err error) error {
	var stale *store.StaleError
	if errors.As(err, &stale) {
		return h.recover(ctx, log, m, stale.Current, redelivered)
	}
	return err
}

// recover handles a message about a round the lead has left. Only a
// message seen before may be ours from before a crash: if the lead's state
// shows the round was settled but the lead still wants routing, the
// routing message is sent again (the router checks the round).
func (h *Handler) recover(ctx context.Context, log *slog.Logger, m queue.Deliver, cur *lead.Record, redelivered bool) error {
	if cur == nil {
		log.WarnContext(ctx, "delivery message for a lead that does not exist; dropped")
		return nil
	}
	maxSales := 1
	if ix, err := h.Configs.Get(ctx); err == nil {
		if c := ix.Campaign(cur.Campaign); c != nil {
			maxSales = c.MaxSales
		}
	}
	// The settled round left the lead wanting routing: refused (routing),
	// or a shared lead sold with room for more buyers.
	wantsRouting := cur.Assignment == nil && (cur.Status == lead.Routing ||
		cur.Status == lead.Sold && len(cur.Sales) > len(m.Bought) && len(cur.Sales) < maxSales)
	if redelivered && cur.Seq == m.Seq+1 && wantsRouting {
		log.WarnContext(ctx, "resending the routing message of a settled round")
		return h.Queue.Route(ctx, queue.Route{Lead: cur.Lead, Seq: cur.Seq, Tried: cur.Tried, Bought: cur.Buyers(), Rejected: m.Rejected, Recovered: true})
	}
	log.InfoContext(ctx, "stale delivery message dropped", "current_seq", cur.Seq, "status", cur.Status)
	return nil
}
