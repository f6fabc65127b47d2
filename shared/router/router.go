// Package router is the router function: for each lead on the routing
// queue it decides which orders may buy it (package routing), reserves the
// best one's caps in the same transaction as the lead's state change, and
// hands the lead to delivery. A lead nobody can take ends unsold, with the
// reasons in its timeline.
package router

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/leadrelay/leadrelay/shared/auction"
	"github.com/leadrelay/leadrelay/shared/config"
	"github.com/leadrelay/leadrelay/shared/lead"
	"github.com/leadrelay/leadrelay/shared/offer"
	"github.com/leadrelay/leadrelay/shared/queue"
	"github.com/leadrelay/leadrelay/shared/routing"
	"github.com/leadrelay/leadrelay/shared/store"
)

// Store is what the router needs of the table.
type Store interface {
	Reserve(ctx context.Context, r store.Reservation) error
	Finish(ctx context.Context, id string, seq int, status lead.Status, rec *lead.Record, events []lead.Event) error
	Rotations(ctx context.Context, campaign string) (map[string]store.Rot, error)
}

// Queue is what the router needs of the queues.
type Queue interface {
	Deliver(ctx context.Context, m queue.Deliver) error
	DeliverLater(ctx context.Context, m queue.Deliver) error
}

// Configs returns the current configuration.
type Configs interface {
	Get(ctx context.Context) (*config.Index, error)
}

// Handler is the router function.
type Handler struct {
	// Pinger asks ping-post buyers for bids.
	Pinger  auction.Pinger
	Store   Store
	Queue   Queue
	Configs Configs
	Now     func() time.Time
	Log     *slog.Logger
	// Postbacks tells sources their leads ended unsold or rejected
	// (optional; postbacks.go).
	Postbacks Postbacks
	// Breakers keep out buyers whose circuit breaker is open (optional;
	// breaker.go).
	Breakers Breakers
}

// MaxExplained bounds the verdicts kept in one timeline event; the rest
// are summarised by reason.
const MaxExplained = offer.MaxExplained

// Handle routes a batch of routing messages. Messages that fail for a
// passing reason are reported back so SQS delivers them again.
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
			if err := h.route(ctx, msg); err != nil {
				h.Log.ErrorContext(ctx, "route lead; will retry", "message_id", msg.MessageId, "lead_id", queue.LeadID(msg.MessageAttributes), "error", err)
				mu.Lock()
				resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: msg.MessageId})
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return resp, nil
}

func (h *Handler) route(ctx context.Context, msg events.SQSMessage) error {
	var m queue.Route
	if err := json.Unmarshal([]byte(msg.Body), &m); err != nil {
		return fmt.Errorf("decode routing message %s: %w", msg.MessageId, err)
	}
	// Only a message SQS delivers again may be ours from before a crash.
	redelivered := queue.ReceiveCount(msg.Attributes) > 1 || queue.Redriven(msg.MessageAttributes)
	log := h.Log.With("lead_id", m.Lead.ID, "seq", m.Seq)
	ix, err := h.Configs.Get(ctx)
	if err != nil {
		return err
	}
	now := h.Now().UTC()
	l := &m.Lead
	rec := &lead.Record{Lead: m.Lead}
	camp := ix.Campaign(l.Campaign)
	if camp == nil {
		return h.finish(ctx, log, m, redelivered, lead.Unsold, []lead.Event{{At: now, Type: lead.EventNoBuyer, Detail: "campaign " + l.Campaign + " is no longer configured"}}, rec)
	}
	if len(m.Bought) >= camp.MaxSales {
		return h.finish(ctx, log, m, redelivered, lead.Sold, nil, rec)
	}
	if camp.IsCall() {
		// A call is routed by the ingest function while the caller is on
		// the line (ingest/voice.go); one that reaches the queue (the
		// sweeper found its round unsettled) is over.
		return h.finish(ctx, log, m, redelivered, lead.Unsold, []lead.Event{{At: now, Type: lead.EventNoBuyer, Detail: "the call ended before it was settled"}}, rec)
	}
	in := routing.NewInput(l, camp, ix, now, m.Tried, m.Bought)
	h.excludeBroken(ctx, &in)
	if l.Test {
		return h.routeTest(ctx, log, m, in, redelivered, rec) // testlead.go
	}
	explain, auctionEvents, done, err := h.offer(ctx, log, m, in, redelivered)
	if err != nil || done {
		return err
	}
	status := lead.Unsold
	switch {
	case len(m.Bought) > 0:
		status = lead.Sold
	case m.Rejected > 0:
		status = lead.Rejected
	}
	evs := append(auctionEvents, lead.Event{At: now, Type: lead.EventNoBuyer, Detail: noBuyerDetail(status, explain), Data: offer.ExplainData(explain)})
	return h.finish(ctx, log, m, redelivered, status, evs, rec)
}

// MaxRotationTries bounds how often a strict rotation is read again after
// another worker moved it. Every round of contention lets at least one
// worker through, so this is reached only under extreme contention; the
// message is then retried later rather than breaking the rotation.
const MaxRotationTries = 100

// offer decides and offers the lead to the best candidate whose caps have
// room. done reports that an offer was made (or the message settled);
// otherwise explain says why nobody took it.
func (h *Handler) offer(ctx context.Context, log *slog.Logger, m queue.Route, in routing.Input, redelivered bool) (explain []routing.Verdict, auctionEvents []lead.Event, done bool, err error) {
	for try := 0; ; try++ {
		dec, rots, err := h.decide(ctx, &in)
		if err != nil {
			return nil, nil, false, err
		}
		explain = dec.Explain
		cands, bids := offers(dec.Candidates), m.Bids
		if in.Campaign.Distribution == config.PingPost {
			var ev *lead.Event
			cands, bids, ev = h.auction(ctx, log, m, in, dec.Candidates)
			if ev != nil {
				auctionEvents = []lead.Event{*ev}
			}
		}
		moved := false
		for i, c := range cands {
			if in.Bought[c.Ref.Buyer.ID] {
				continue
			}
			r := h.offerTo(m, in, c, explain, auctionEvents, rots)
			err := h.Store.Reserve(ctx, r)
			var full *store.CapFullError
			var broke *store.BalanceError
			var stale *store.StaleError
			switch {
			case err == nil:
				log.InfoContext(ctx, "lead offered", "buyer", c.Ref.Buyer.ID, "order", c.Ref.Order.ID, "price", c.Price.Decimal(), "rank", i+1)
				return explain, nil, true, h.Queue.Deliver(ctx, queue.Deliver{
					Lead: m.Lead, Seq: m.Seq + 1, Assignment: r.Assignment,
					Tried: append(slices.Clone(m.Tried), c.Ref.Key()), Bought: m.Bought, Rejected: m.Rejected, Bids: bids,
				})
			case errors.Is(err, store.ErrRotationMoved):
				moved = true
			case errors.As(err, &full):
				reason := routing.ReasonCapFull
				if full.Dedupe {
					reason = routing.ReasonAlreadyBought
				}
				explain = offer.Mark(explain, c.Ref.Key(), reason, full.Error())
				in.Exclude[c.Ref.Key()] = reason
				log.InfoContext(ctx, "order full", "order", c.Ref.Key(), "cap", full.Key)
				continue
			case errors.As(err, &broke):
				// Every order of the buyer costs at least as much from then
				// on: none is offered this lead.
				for _, v := range explain {
					if strings.HasPrefix(v.Order, c.Ref.Buyer.ID+"/") && v.Eligible {
						explain = offer.Mark(explain, v.Order, routing.ReasonNoBalance, broke.Error())
						in.Exclude[v.Order] = routing.ReasonNoBalance
					}
				}
				explain = offer.Mark(explain, c.Ref.Key(), routing.ReasonNoBalance, broke.Error())
				in.Exclude[c.Ref.Key()] = routing.ReasonNoBalance
				log.InfoContext(ctx, "prepaid balance too low", "order", c.Ref.Key(), "balance", broke.Balance.Decimal(), "price", broke.Price.Decimal())
				continue
			case errors.As(err, &stale):
				return explain, nil, true, h.recover(ctx, log, m, redelivered, stale.Current)
			default:
				return explain, nil, false, err
			}
			if moved {
				break
			}
		}
		if !moved {
			return explain, auctionEvents, false, nil
		}
		if try >= MaxRotationTries {
			return explain, nil, false, fmt.Errorf("rotation of campaign %s moved %d times; retrying later", in.Campaign.ID, try+1)
		}
		// Another worker served the order first: read the counters again
		// after a short, jittered pause so contending workers spread out.
		time.Sleep(time.Duration(rand.IntN(10*(try+1))) * time.Millisecond)
	}
}

// decide decides the lead's candidates (offer.Decide: rotation counters
// read only where they decide); rots is nil when they were not read.
func (h *Handler) decide(ctx context.Context, in *routing.Input) (dec routing.Decision, rots map[string]store.Rot, err error) {
	return offer.Decide(ctx, h.Store.Rotations, in)
}

// offerTo is the reservation that offers the lead to candidate c: the
// order's caps and buyer dedupe keys (reservation), the claimed bid, the
// auction's events, a shared lead kept sold, and the rotation counted
// when it was read.
func (h *Handler) offerTo(m queue.Route, in routing.Input, c offerCand, explain []routing.Verdict, auctionEvents []lead.Event, rots map[string]store.Rot) store.Reservation {
	r := offer.Reservation(in.Lead, m.Seq, c.Candidate, explain, in.Now)
	r.Assignment.BidID = c.BidID
	r.Assignment.Payout = c.Payout // the seller price of a claimed ping bid
	r.Events = append(slices.Clone(auctionEvents), r.Events...)
	if len(m.Bought) > 0 {
		r.Status = lead.Sold // a shared lead stays sold while it looks for more buyers
	}
	r.Rotation = offer.Rotation(in, c.Candidate, rots)
	return r
}

func noBuyerDetail(status lead.Status, explain []routing.Verdict) string {
	switch status {
	case lead.Sold:
		return "no further buyer for this shared lead"
	case lead.Rejected:
		return "every buyer offered the lead refused it"
	}
	if len(explain) == 0 {
		return "the campaign has no orders"
	}
	return fmt.Sprintf("none of %d orders could take the lead", len(explain))
}

func (h *Handler) finish(ctx context.Context, log *slog.Logger, m queue.Route, redelivered bool, status lead.Status, evs []lead.Event, rec *lead.Record) error {
	err := h.Store.Finish(ctx, m.Lead.ID, m.Seq, status, rec, evs)
	var stale *store.StaleError
	if errors.As(err, &stale) {
		return h.recover(ctx, log, m, redelivered, stale.Current)
	}
	if err == nil {
		log.InfoContext(ctx, "lead routing ended", "status", status)
		if status == lead.Unsold || status == lead.Rejected {
			h.notify(ctx, &m.Lead, status, 0)
		}
	}
	return err
}

// recover handles a message for a round the lead has left. A first
// delivery of such a message is a duplicate: dropped. A redelivered one
// may be ours from before a crash: if the lead's state shows that this
// round reserved an order whose delivery message may be lost, it is sent
// again (delivery checks the round before posting).
func (h *Handler) recover(ctx context.Context, log *slog.Logger, m queue.Route, redelivered bool, cur *lead.Record) error {
	if cur == nil {
		log.WarnContext(ctx, "routing message for a lead that does not exist; dropped")
		return nil
	}
	if redelivered && cur.Seq == m.Seq+1 && cur.Assignment != nil {
		log.WarnContext(ctx, "resending the delivery message of a reserved lead", "buyer", cur.Assignment.Buyer)
		return h.Queue.DeliverLater(ctx, queue.Deliver{
			Lead: cur.Lead, Seq: cur.Seq, Assignment: *cur.Assignment,
			Tried: cur.Tried, Bought: cur.Buyers(), Rejected: m.Rejected, Recovered: true,
		})
	}
	log.InfoContext(ctx, "stale routing message dropped", "current_seq", cur.Seq, "status", cur.Status)
	return nil
}
