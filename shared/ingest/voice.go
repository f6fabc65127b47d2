package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/leadrelay/leadrelay/shared/auction"
	"github.com/leadrelay/leadrelay/shared/billing"
	"github.com/leadrelay/leadrelay/shared/config"
	"github.com/leadrelay/leadrelay/shared/httpapi"
	"github.com/leadrelay/leadrelay/shared/lead"
	"github.com/leadrelay/leadrelay/shared/money"
	"github.com/leadrelay/leadrelay/shared/offer"
	"github.com/leadrelay/leadrelay/shared/routing"
	"github.com/leadrelay/leadrelay/shared/store"
	"github.com/leadrelay/leadrelay/shared/twilio"
)

// Calls (pay-per-call, live transfers) arrive as Twilio's voice webhooks.
// An inbound call is a lead of its number's call campaign: accepted like a
// posted lead (validated, de-duplicated by caller, scored, written), then
// routed here, while Twilio waits, by the same engine as the router's —
// routing.Decide and store.Reserve, with a concurrency slot of the buyer —
// and answered with TwiML that dials the buyer. The dial's end comes back
// to /v1/voice/dial-done: a missed dial releases the caps and slot and
// dials the next buyer; a completed one is sold if it lasted the buyer's
// buffer. Every callback names the lead and its round, so a retried one
// finds the round over and changes nothing (docs/calls.md).

// CallStore is what calls need of the table besides Store.
type CallStore interface {
	GetLead(ctx context.Context, id string, consistent bool) (*lead.Record, error)
	Reserve(ctx context.Context, r store.Reservation) error
	Release(ctx context.Context, id string, seq int, status lead.Status, holds []lead.CapHold, events []lead.Event) error
	Sell(ctx context.Context, in store.SaleInput) error
	Finish(ctx context.Context, id string, seq int, status lead.Status, rec *lead.Record, events []lead.Event) error
	EndCall(ctx context.Context, rec *lead.Record, seq int, holds []lead.CapHold, events []lead.Event, dial *store.CallDial) error
	ReleaseSlot(ctx context.Context, slotKey, holder string) error
	Rotations(ctx context.Context, campaign string) (map[string]store.Rot, error)
	NoteOnce(ctx context.Context, id string, seq int, name string, events []lead.Event) error
}

// MaxRotationTries bounds how often a call's decision is taken again
// after other calls moved a round robin or weighted rotation.
const MaxRotationTries = 20

// MaxCall is how long a dialled call may hold its round and slot before
// they are taken for lost: Twilio ends every call at four hours, so a
// round older than that whose dial-done never came will get none. The
// sweeper sends such a round's delivery message only then (which finds a
// call delivery and releases it).
const MaxCall = 4*time.Hour + 10*time.Minute

// Twilio's statuses of a dial (DialCallStatus).
const (
	dialCompleted = "completed"
	dialAnswered  = "answered"
	dialCanceled  = "canceled"
)

func (h *Handler) voiceRoutes(m *httpapi.Mux) {
	m.Handle("POST /v1/voice/incoming", func(ctx context.Context, req httpapi.Request, _ map[string]string) httpapi.Response {
		return h.incoming(ctx, req)
	})
	m.Handle("POST /v1/voice/dial-done", func(ctx context.Context, req httpapi.Request, _ map[string]string) httpapi.Response {
		return h.dialDone(ctx, req)
	})
	m.Handle("POST /v1/voice/status", func(ctx context.Context, req httpapi.Request, _ map[string]string) httpapi.Response {
		return h.callStatus(ctx, req)
	})
}

// twiML answers 200 with a TwiML document.
func twiML(verbs ...any) httpapi.Response {
	return httpapi.Response{StatusCode: http.StatusOK, Headers: map[string]string{"Content-Type": twilio.ContentType},
		Body: twilio.Response{Verbs: verbs}.Marshal()}
}

func sayGoodbye(text string) httpapi.Response {
	return twiML(twilio.Say{Text: text}, twilio.Hangup{})
}

// twilioRequest checks a webhook's X-Twilio-Signature against the public
// URL it was sent to (LEADRELAY_PUBLIC_URL, the path, the query) and
// returns its form. A bad or missing signature is 403 with no TwiML.
func (h *Handler) twilioRequest(ctx context.Context, req httpapi.Request) (url.Values, *httpapi.Response) {
	refuse := func(r httpapi.Response) (url.Values, *httpapi.Response) { return nil, &r }
	if h.PublicURL == "" || h.TwilioToken == nil {
		return refuse(httpapi.Error(http.StatusServiceUnavailable, "unavailable", "calls are not configured: set LEADRELAY_PUBLIC_URL and the Twilio auth token"))
	}
	token, err := h.TwilioToken(ctx)
	if err != nil {
		h.Log.ErrorContext(ctx, "read the Twilio auth token", "error", err)
		return refuse(httpapi.Error(http.StatusServiceUnavailable, "unavailable", "the Twilio auth token cannot be read; retry"))
	}
	body, refused := httpapi.BodyWithin(req, MaxBody, "a Twilio webhook")
	if refused != nil {
		return nil, refused
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return refuse(httpapi.Error(http.StatusBadRequest, "invalid_form", "the body is not a form: %v", err))
	}
	if !twilio.Valid(string(token), h.requestURL(req), form, httpapi.Header(req, twilio.SignatureHeader)) {
		h.Log.WarnContext(ctx, "Twilio webhook with a bad signature", "path", req.Path)
		return refuse(httpapi.Error(http.StatusForbidden, "invalid_signature", "X-Twilio-Signature does not match this request"))
	}
	return form, nil
}

// requestURL is the URL Twilio requested: the public URL (stage
// included), the path, and the query as this function writes its
// callback URLs (url.Values.Encode: sorted by name).
func (h *Handler) requestURL(req httpapi.Request) string {
	u := strings.TrimSuffix(h.PublicURL, "/") + req.Path
	q := url.Values{}
	for k, vs := range req.MultiValueQueryStringParameters {
		q[k] = vs
	}
	for k, v := range req.QueryStringParameters {
		if _, ok := q[k]; !ok {
			q.Set(k, v)
		}
	}
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	return u
}

// callbackURL is the public URL of a callback about round seq of a lead.
func (h *Handler) callbackURL(path, leadID string, seq int) string {
	return strings.TrimSuffix(h.PublicURL, "/") + path + "?" + url.Values{"lead": {leadID}, "seq": {strconv.Itoa(seq)}}.Encode()
}

// incoming answers an inbound call: the lead written, then the TwiML that
// dials the first buyer that can take it, or says nobody can.
func (h *Handler) incoming(ctx context.Context, req httpapi.Request) httpapi.Response {
	form, refused := h.twilioRequest(ctx, req)
	if refused != nil {
		return *refused
	}
	ix, err := h.Configs.Get(ctx)
	if err != nil {
		h.Log.ErrorContext(ctx, "load configuration", "error", err)
		return httpapi.Error(http.StatusServiceUnavailable, "unavailable", "configuration unavailable; retry")
	}
	callSid, to, from := form.Get("CallSid"), form.Get("To"), form.Get("From")
	log := h.Log.With("call_sid", callSid, "to", to)
	src, camp := ix.SourceByNumber(to)
	if src == nil {
		log.WarnContext(ctx, "call to a number no source has")
		return sayGoodbye("We are sorry, this number is not in service.")
	}
	if src.Status == config.StatusPaused || camp.Status == config.StatusPaused {
		log.InfoContext(ctx, "call to a paused source or campaign", "source", src.ID, "campaign", camp.ID)
		return sayGoodbye("We are sorry, no one can take your call at the moment. Please call again later.")
	}
	fields, byAreaCode := callFields(camp, form)
	if g := camp.Gather; g != nil {
		if _, answered := form["Digits"]; !answered {
			// Ask first: Twilio posts the answer here again, with the
			// call's parameters and Digits.
			return h.gatherTwiML(camp, g)
		}
		fields[g.Field] = gathered(camp, g, form.Get("Digits"))
	}
	p := posted{
		env: envelope{Campaign: camp.ID, ExternalID: "call:" + callSid, Fields: fields},
		src: src, camp: camp, idemKey: "call:" + callSid,
	}
	var bad *httpapi.Response
	if p.fields, bad = validFields(camp, p.env.Fields); bad != nil {
		// What Twilio guessed from the number (a Canadian province is no
		// US state) must not cost the call: without it, if that is all.
		for _, f := range []string{"state", "zip", "city"} {
			if camp.Gather == nil || camp.Gather.Field != f {
				delete(p.env.Fields, f)
			}
		}
		if p.fields, bad = validFields(camp, p.env.Fields); bad != nil {
			log.InfoContext(ctx, "call refused: its fields are not valid", "source", src.ID)
			return twiML(twilio.Reject{})
		}
	}
	now := h.Now().UTC()
	cs := contacts(camp, p.fields)
	sc, low := h.score(ctx, ix, p, cs, now)
	if low != nil {
		log.InfoContext(ctx, "call refused by its score", "source", src.ID)
		return twiML(twilio.Reject{})
	}
	in, _, _ := h.newLead(p, cs, sc, now)
	l := in.Record.Lead
	in.Record.Events[0].Detail = fmt.Sprintf("call %s from %s to %s (source %s)", callSid, from, to, src.ID)
	in.Record.Events[0].Data = map[string]any{"call_sid": callSid, "from_state": form.Get("FromState"), "to": to}
	if byAreaCode {
		if st, ok := p.fields["state"]; ok {
			in.Record.Events[0].Data["area_code_state"] = st
		}
	}
	log = log.With("lead_id", l.ID, "campaign", camp.ID, "source", src.ID)
	if err := h.Store.PutLead(ctx, in); err != nil {
		return h.callNotWritten(ctx, log, ix, err, p, l, now)
	}
	log.InfoContext(ctx, "call accepted")
	return h.dialNext(ctx, log, ix, &l, 0, nil, now)
}

// callFields are the lead fields of a call: the caller's number, and the
// caller's state, ZIP and city as Twilio reads them from the number,
// where the campaign has such fields. Without FromState, a US caller's
// state is its area code's (byAreaCode); a Canadian or unknown area code
// leaves it out.
func callFields(camp *config.Campaign, form url.Values) (f map[string]any, byAreaCode bool) {
	f = map[string]any{"phone": form.Get("From")}
	for field, param := range map[string]string{"state": "FromState", "zip": "FromZip", "city": "FromCity"} {
		if _, ok := camp.Fields[field]; ok && form.Get(param) != "" {
			f[field] = form.Get(param)
		}
	}
	if _, ok := camp.Fields["state"]; ok && form.Get("FromState") == "" {
		if st := areaCodeState(form.Get("From")); st != "" {
			f["state"], byAreaCode = st, true
		}
	}
	return f, byAreaCode
}

// gatherTwiML asks the campaign's question; no answer in time ends the
// call.
func (h *Handler) gatherTwiML(camp *config.Campaign, g *config.Gather) httpapi.Response {
	digits := 1
	if camp.Fields[g.Field].Type == config.TypeZip {
		digits = 5
	}
	return twiML(
		twilio.Gather{Action: strings.TrimSuffix(h.PublicURL, "/") + "/v1/voice/incoming", Method: http.MethodPost, Input: "dtmf",
			NumDigits: digits, Timeout: int(g.Wait() / time.Second), Say: twilio.Say{Text: g.Prompt}},
		twilio.Say{Text: "We did not receive an answer. Goodbye."}, twilio.Hangup{},
	)
}

// gathered is the caller's answer as the field's value: the digits of a
// ZIP code, or yes (1) or no for a boolean field.
func gathered(camp *config.Campaign, g *config.Gather, digits string) any {
	if camp.Fields[g.Field].Type == config.TypeBoolean {
		return digits == "1"
	}
	return digits
}

// callNotWritten answers a call whose lead the store did not write: a
// retried webhook gets the answer for the lead as it stands; a duplicate
// caller within the campaign's window hears so and is hung up on; a
// suppressed number is rejected.
func (h *Handler) callNotWritten(ctx context.Context, log *slog.Logger, ix *config.Index, err error, p posted, l lead.Lead, now time.Time) httpapi.Response {
	var replay *store.ReplayError
	var dup *store.DuplicateError
	var sup *store.SuppressedError
	switch {
	case errors.As(err, &replay):
		log.InfoContext(ctx, "call webhook repeated", "lead_id", replay.LeadID)
		return h.callAsItStands(ctx, log, ix, replay.LeadID)
	case errors.As(err, &sup):
		log.InfoContext(ctx, "suppressed caller", "list", sup.List)
		return twiML(twilio.Reject{})
	case errors.As(err, &dup):
		log.InfoContext(ctx, "duplicate caller", "duplicate_of", dup.Of)
		if err := h.Store.CountDuplicate(ctx, l.ID, p.camp.ID, p.src.ID, now); err != nil {
			log.WarnContext(ctx, "count duplicate in the ledger", "error", err)
		}
		return sayGoodbye("Thank you for calling again. We already have your request and will be in touch. Goodbye.")
	}
	log.ErrorContext(ctx, "write call", "error", err)
	return httpapi.Error(http.StatusServiceUnavailable, "unavailable", "the call could not be stored")
}

// betweenDials is how long a repeated callback waits for the copy that
// won its round to reserve the next dial (a decision and one transaction:
// tens of milliseconds), polling every betweenDialsPoll; well inside
// Twilio's 15 s webhook timeout.
const (
	betweenDials     = 3 * time.Second
	betweenDialsPoll = 50 * time.Millisecond
)

// callAsItStands answers a repeated webhook with what the lead's state
// says: the dial of its current assignment if one is being dialled (the
// first answer never reached Twilio), or goodbye.
//
// A call between two dials (a missed dial released, the next buyer not
// reserved yet: another copy of the callback is at it) is read again
// until the next dial or the end is written, for up to betweenDials:
// answering goodbye then would hang up on a caller about to be dialled.
func (h *Handler) callAsItStands(ctx context.Context, log *slog.Logger, ix *config.Index, id string) httpapi.Response {
	var cur *lead.Record
	for wait := time.Duration(0); ; wait += betweenDialsPoll {
		var err error
		cur, err = h.Calls.GetLead(ctx, id, true)
		if err != nil {
			log.ErrorContext(ctx, "read call", "lead_id", id, "error", err)
			return httpapi.Error(http.StatusServiceUnavailable, "unavailable", "retry")
		}
		if cur.Status != lead.Routing || cur.Assignment != nil || wait >= betweenDials {
			break
		}
		select {
		case <-ctx.Done():
			return httpapi.Error(http.StatusServiceUnavailable, "unavailable", "retry")
		case <-time.After(betweenDialsPoll):
		}
	}
	if cur.Status == lead.Routing && cur.Assignment != nil {
		if ref, ok := ix.Order(cur.Assignment.Buyer, cur.Assignment.Order); ok {
			return h.dialTwiML(cur.ID, cur.Seq, ref.Buyer.Delivery)
		}
	}
	return twiML(twilio.Hangup{})
}

// dialNext reserves the best order that can take the call in round seq
// (its caps and a concurrency slot of its buyer, in one transaction) and
// answers the TwiML that dials it; with nobody left, the lead ends unsold
// and the caller hears so.
func (h *Handler) dialNext(ctx context.Context, log *slog.Logger, ix *config.Index, l *lead.Lead, seq int, tried []string, now time.Time) httpapi.Response {
	camp := ix.Campaign(l.Campaign)
	var explain []routing.Verdict
	if camp != nil {
		in := routing.NewInput(l, camp, ix, now, tried, nil)
		for try := 0; ; try++ {
			dec, rots, err := offer.Decide(ctx, h.Calls.Rotations, &in)
			if err != nil {
				log.ErrorContext(ctx, "decide call", "error", err)
				return sayGoodbye("We are sorry, we cannot connect your call right now. Please call again later.")
			}
			explain = dec.Explain
			cands, auctionEvent := callCands(dec.Candidates), (*lead.Event)(nil)
			if camp.Distribution == config.PingPost {
				cands, auctionEvent = h.callAuction(ctx, log, l, seq, camp, dec.Candidates, now)
			}
			moved := false
			for i, c := range cands {
				d := c.Ref.Buyer.Delivery
				if d.Type != config.DeliveryCall {
					continue
				}
				r := offer.Reservation(l, seq, c.Candidate, explain, now)
				r.Assignment.BidID = c.bidID
				if auctionEvent != nil {
					r.Events = append([]lead.Event{*auctionEvent}, r.Events...)
				}
				r.Due = now.Add(MaxCall)
				r.Rotation = offer.Rotation(in, c.Candidate, rots)
				r.Events[len(r.Events)-1].Detail = fmt.Sprintf("dialling %s (%s) at %s", c.Ref.Key(), d.Number, c.Price)
				err := h.reserveCall(ctx, r, d.Concurrency, now)
				var full *store.CapFullError
				var broke *store.BalanceError
				var stale *store.StaleError
				reason, detail := "", ""
				switch {
				case err == nil:
					log.InfoContext(ctx, "call dialled", "buyer", c.Ref.Buyer.ID, "order", c.Ref.Order.ID, "price", c.Price.Decimal(), "rank", i+1, "seq", seq+1)
					return h.dialTwiML(l.ID, seq+1, d)
				case errors.Is(err, store.ErrRotationMoved):
					moved = true
				case errors.Is(err, store.ErrSlotTaken):
					reason, detail = routing.ReasonConcurrencyFull, fmt.Sprintf("all %d of %s's call slots are held", d.Concurrency, c.Ref.Buyer.ID)
				case errors.As(err, &full):
					reason, detail = routing.ReasonCapFull, full.Error()
				case errors.As(err, &broke):
					reason, detail = routing.ReasonNoBalance, broke.Error()
				case errors.As(err, &stale):
					return h.callAsItStands(ctx, log, ix, l.ID)
				default:
					log.ErrorContext(ctx, "reserve call", "order", c.Ref.Key(), "error", err)
					return sayGoodbye("We are sorry, we cannot connect your call right now. Please call again later.")
				}
				if moved {
					break
				}
				explain = offer.Mark(explain, c.Ref.Key(), reason, detail)
				in.Exclude[c.Ref.Key()] = reason
			}
			if !moved {
				break
			}
			if try >= MaxRotationTries {
				log.ErrorContext(ctx, "the rotation kept moving", "tries", try+1)
				return sayGoodbye("We are sorry, we cannot connect your call right now. Please call again later.")
			}
			// Another call took the order's turn: read the rotation again
			// after a short, jittered pause.
			time.Sleep(time.Duration(rand.IntN(5*(try+1))) * time.Millisecond)
		}
	}
	rec := &lead.Record{Lead: *l}
	ev := lead.Event{At: now, Type: lead.EventNoBuyer, Detail: fmt.Sprintf("nobody of %d orders can take the call", len(explain)), Data: offer.ExplainData(explain)}
	if err := h.Calls.Finish(ctx, l.ID, seq, lead.Unsold, rec, []lead.Event{ev}); err != nil {
		if errors.As(err, new(*store.StaleError)) {
			return h.callAsItStands(ctx, log, ix, l.ID)
		}
		// The sweeper finds the round and the router ends it unsold.
		log.ErrorContext(ctx, "end unsold call", "error", err)
	}
	log.InfoContext(ctx, "call unsold: nobody can take it", "seq", seq)
	return sayGoodbye("We are sorry, no one is available to take your call right now. Please call again later. Goodbye.")
}

func callCands(cs []routing.Candidate) []callCand {
	out := make([]callCand, len(cs))
	for i, c := range cs {
		out[i] = callCand{Candidate: c}
	}
	return out
}

// callCand is a candidate for a call, at its bid in a call auction.
type callCand struct {
	routing.Candidate
	bidID string
}

// callAuction pings the eligible orders of a ping_post call campaign at
// once, with the caller's non-PII fields and score, under the campaign's
// deadline (a ring tree's bids): the candidates at their bids, best
// first, and the auction's timeline event. Each dial pings again: the
// call moves on only when a buyer missed it.
func (h *Handler) callAuction(ctx context.Context, log *slog.Logger, l *lead.Lead, seq int, camp *config.Campaign, eligible []routing.Candidate, now time.Time) ([]callCand, *lead.Event) {
	if h.Pinger == nil || len(eligible) == 0 {
		return nil, nil
	}
	byKey := make(map[string]routing.Candidate, len(eligible))
	bidders := make([]auction.Bidder, len(eligible))
	for i, c := range eligible {
		byKey[c.Ref.Key()] = c
		bidders[i] = auction.Bidder{Ref: c.Ref}
	}
	res := auction.Run(ctx, h.Pinger, auction.Request{
		PingID: l.ID + "." + strconv.Itoa(seq), Campaign: camp.ID, Fields: auction.NonPII(camp, l.Fields), Score: &l.Score,
		Bidders: bidders, Timeout: camp.Ping.Timeout.D(), Floor: camp.Ping.Floor,
	})
	var out []callCand
	bids := make([]any, 0, len(res.Bids))
	for _, b := range res.Bids {
		row := map[string]any{"order": b.Key(), "outcome": b.Outcome, "latency_ms": b.LatencyMS}
		if b.Valid() {
			row["bid"] = b.Price.Decimal()
		}
		bids = append(bids, row)
	}
	for _, b := range res.Ranked {
		if c, ok := byKey[b.Key()]; ok {
			c.Price = b.Price
			out = append(out, callCand{Candidate: c, bidID: b.BidID})
		}
	}
	log.InfoContext(ctx, "call auction", "ping_id", res.PingID, "bidders", len(bidders), "bids", len(res.Ranked), "duration_ms", res.Duration.Milliseconds())
	return out, &lead.Event{At: now, Type: "auction", Detail: fmt.Sprintf("%d of %d orders bid for the call in %d ms", len(res.Ranked), len(bidders), res.Duration.Milliseconds()),
		Data: map[string]any{"ping_id": res.PingID, "floor": res.Floor.Decimal(), "bids": bids}}
}

// reserveCall makes reservation r with one of the buyer's concurrency
// slots (none when concurrency is 0): the slots are tried from a random
// one, so simultaneous calls spread over them; ErrSlotTaken when every
// slot is held.
func (h *Handler) reserveCall(ctx context.Context, r store.Reservation, concurrency int, now time.Time) error {
	if concurrency <= 0 || r.Test {
		return h.Calls.Reserve(ctx, r)
	}
	start := rand.IntN(concurrency)
	for k := range concurrency {
		i := (start + k) % concurrency
		r.Slot = &store.SlotHold{Buyer: r.Assignment.Buyer, Index: i, Holder: r.LeadID, Expires: now.Add(MaxCall)}
		r.Assignment.Slot = store.SlotKey(r.Assignment.Buyer, i)
		if err := h.Calls.Reserve(ctx, r); !errors.Is(err, store.ErrSlotTaken) {
			return err
		}
	}
	return store.ErrSlotTaken
}

// dialTwiML dials the buyer's number for round seq of the lead, its end
// posted to /v1/voice/dial-done and the number's progress to
// /v1/voice/status.
func (h *Handler) dialTwiML(leadID string, seq int, d config.Delivery) httpapi.Response {
	dial := twilio.Dial{
		Action: h.callbackURL("/v1/voice/dial-done", leadID, seq), Method: http.MethodPost,
		Timeout: int(d.CallRing() / time.Second),
		Number: twilio.Number{
			StatusCallback:       h.callbackURL("/v1/voice/status", leadID, seq),
			StatusCallbackEvent:  "initiated ringing answered completed",
			StatusCallbackMethod: http.MethodPost,
			Phone:                d.Number,
		},
	}
	if d.Record {
		dial.Record = "record-from-answer-dual"
	}
	return twiML(dial)
}

// roundOf reads the lead and round a callback names.
func roundOf(req httpapi.Request) (string, int, bool) {
	id := req.QueryStringParameters["lead"]
	seq, err := strconv.Atoi(req.QueryStringParameters["seq"])
	return id, seq, id != "" && err == nil && seq > 0
}

// dialDone settles round seq of a call by its dial's end: a dial that
// did not connect releases the order's caps and slot and dials the next
// buyer; a completed one is sold if it lasted the buyer's buffer, else
// released as not billable; either way the call ends. A callback for a
// round already settled (Twilio retried) changes nothing.
func (h *Handler) dialDone(ctx context.Context, req httpapi.Request) httpapi.Response {
	form, refused := h.twilioRequest(ctx, req)
	if refused != nil {
		return *refused
	}
	id, seq, ok := roundOf(req)
	if !ok {
		return httpapi.Error(http.StatusBadRequest, "validation_failed", "the callback URL names no lead and round")
	}
	ix, err := h.Configs.Get(ctx)
	if err != nil {
		return httpapi.Error(http.StatusServiceUnavailable, "unavailable", "configuration unavailable; retry")
	}
	log := h.Log.With("lead_id", id, "seq", seq, "call_sid", form.Get("CallSid"))
	cur, err := h.Calls.GetLead(ctx, id, true)
	if errors.Is(err, store.ErrNotFound) {
		return twiML(twilio.Hangup{})
	}
	if err != nil {
		log.ErrorContext(ctx, "read call", "error", err)
		return httpapi.Error(http.StatusServiceUnavailable, "unavailable", "retry")
	}
	if cur.Seq != seq || cur.Status != lead.Routing || cur.Assignment == nil {
		log.InfoContext(ctx, "dial-done for a settled round: changes nothing", "current_seq", cur.Seq, "status", cur.Status)
		return h.callAsItStands(ctx, log, ix, id)
	}
	now := h.Now().UTC()
	a := *cur.Assignment
	status := form.Get("DialCallStatus")
	dur, _ := strconv.Atoi(form.Get("DialCallDuration"))
	ev := dialEvent(now, a, form, dur)
	ref, known := ix.Order(a.Buyer, a.Order)
	var buffer time.Duration
	if known {
		buffer = ref.Buyer.Delivery.Buffer.D()
	}
	// The buyer's leg is over, whatever becomes of the round: its slot is
	// free (before the next dial, which may be to the same buyer).
	h.releaseSlot(ctx, log, a, id)
	switch {
	case (status == dialCompleted || status == dialAnswered) && known && time.Duration(dur)*time.Second >= buffer:
		return h.sellCall(ctx, log, ix, cur, ref, ev, now)
	case status == dialCompleted || status == dialAnswered || status == dialCanceled:
		// Connected but short of the buffer, or the caller hung up while
		// it rang: not billable, and the call is over.
		var dial *store.CallDial
		if status != dialCanceled {
			ev.Detail += fmt.Sprintf(": not billable (under the %s buffer)", buffer)
			ev.Data["billable"] = false
			dial = &store.CallDial{Seconds: int64(dur)}
			// A source paid per connected call is paid for this one,
			// with the round that ends the call: once.
			if src := ix.Source(cur.Source); src != nil && src.Payout.PaysOnConnected() && src.Payout.Amount > 0 {
				dial.Payout = src.Payout.Amount
				ev.Data["payout"] = dial.Payout.Decimal()
				ev.Detail += fmt.Sprintf("; source %s paid %s for the connected call", src.ID, dial.Payout)
			}
		}
		if err := h.Calls.EndCall(ctx, cur, seq, a.Caps, []lead.Event{ev}, dial); err != nil {
			return h.callSettleFailed(ctx, log, ix, id, err)
		}
		log.InfoContext(ctx, "call ended unbilled", "status", status, "duration_s", dur)
		return twiML(twilio.Hangup{})
	}
	// busy, no-answer, failed: the next buyer.
	if err := h.Calls.Release(ctx, id, seq, lead.Routing, a.Caps, []lead.Event{ev}); err != nil {
		return h.callSettleFailed(ctx, log, ix, id, err)
	}
	log.InfoContext(ctx, "dial missed; next buyer", "status", status, "buyer", a.Buyer)
	tried := slices.Clone(cur.Tried)
	if k := config.OrderKey(a.Buyer, a.Order); !slices.Contains(tried, k) {
		tried = append(tried, k)
	}
	return h.dialNext(ctx, log, ix, &cur.Lead, seq+1, tried, now)
}

// releaseSlot frees the slot a dial held once the dial has ended: best
// effort, since a slot not released expires.
func (h *Handler) releaseSlot(ctx context.Context, log *slog.Logger, a lead.Assignment, holder string) {
	if a.Slot == "" {
		return
	}
	if err := h.Calls.ReleaseSlot(ctx, a.Slot, holder); err != nil {
		log.WarnContext(ctx, "release call slot; it will expire", "slot", a.Slot, "error", err)
	}
}

// callSettleFailed answers a dial-done whose write failed: a round taken
// meanwhile (a concurrent retry) is answered as it stands; anything else
// is 503, which Twilio retries.
func (h *Handler) callSettleFailed(ctx context.Context, log *slog.Logger, ix *config.Index, id string, err error) httpapi.Response {
	if errors.As(err, new(*store.StaleError)) {
		return h.callAsItStands(ctx, log, ix, id)
	}
	log.ErrorContext(ctx, "settle dial", "error", err)
	return httpapi.Error(http.StatusServiceUnavailable, "unavailable", "retry")
}

// sellCall records a billable call's sale: the order's price to the
// buyer, the source's payout per its terms, in the sale's transaction
// like any lead's (store.Sell).
func (h *Handler) sellCall(ctx context.Context, log *slog.Logger, ix *config.Index, cur *lead.Record, ref config.OrderRef, ev lead.Event, now time.Time) httpapi.Response {
	a := *cur.Assignment
	sale := lead.Sale{Buyer: a.Buyer, Order: a.Order, Price: a.Price, At: now}
	if src := ix.Source(cur.Source); src != nil {
		sale.Payout = sourcePayout(src.Payout, a.Price)
	}
	ev.Data["billable"] = true
	accepted := lead.Event{At: now, Type: lead.EventAccepted, Buyer: a.Buyer, Order: a.Order,
		Detail: fmt.Sprintf("billable call sold to %s at %s", a.Buyer, a.Price)}
	in := store.SaleInput{
		Lead: &cur.Lead, Seq: cur.Seq, Sale: sale, First: true, Events: []lead.Event{ev, accepted},
		BuyerDedupe: store.BuyerDedupeKeys(a.Buyer, ref.Order.Dedupe, cur.Fields),
		Charge:      billing.SaleCharge(ix, &cur.Lead, sale, cur.Seq+1),
		Call:        &store.CallDial{Seconds: int64(durationOf(ev)), Billable: true},
	}
	if err := h.Calls.Sell(ctx, in); err != nil {
		return h.callSettleFailed(ctx, log, ix, cur.ID, err)
	}
	log.InfoContext(ctx, "call sold", "buyer", a.Buyer, "price", a.Price.Decimal(), "payout", sale.Payout.Decimal())
	return twiML(twilio.Hangup{})
}

// durationOf is the seconds a dial's event recorded.
func durationOf(ev lead.Event) int {
	d, _ := ev.Data["duration_s"].(int)
	return d
}

// sourcePayout is what a source is paid for a billable call: its payout
// per billable call, or per connected call (a billable call is
// connected; a connected call not billed is paid in dialDone).
func sourcePayout(p config.Payout, price money.Amount) money.Amount {
	switch p.Type {
	case config.PayoutRevshare:
		return price.Percent(p.Percent)
	case config.PayoutFixed:
		return p.Amount
	}
	return 0
}

// dialEvent is the timeline's record of a dial's end.
func dialEvent(at time.Time, a lead.Assignment, form url.Values, dur int) lead.Event {
	status := form.Get("DialCallStatus")
	data := map[string]any{"dial_status": status, "duration_s": dur, "dial_call_sid": form.Get("DialCallSid")}
	if u := form.Get("RecordingUrl"); u != "" {
		data["recording_url"] = u
	}
	detail := fmt.Sprintf("dial to %s: %s", a.Buyer, status)
	if status == dialCompleted || status == dialAnswered {
		detail = fmt.Sprintf("dial to %s: completed after %d s", a.Buyer, dur)
	}
	return lead.Event{At: at, Type: lead.EventDialEnded, Buyer: a.Buyer, Order: a.Order, Detail: detail, Data: data}
}

// callStatus records Twilio's report of a dial's progress in the call's
// timeline, once per state (a retried report changes nothing).
func (h *Handler) callStatus(ctx context.Context, req httpapi.Request) httpapi.Response {
	form, refused := h.twilioRequest(ctx, req)
	if refused != nil {
		return *refused
	}
	id, seq, ok := roundOf(req)
	if !ok {
		return httpapi.Error(http.StatusBadRequest, "validation_failed", "the callback URL names no lead and round")
	}
	state, sid := form.Get("CallStatus"), form.Get("CallSid")
	data := map[string]any{"call_status": state, "call_sid": sid}
	if d := form.Get("CallDuration"); d != "" {
		data["duration_s"], _ = strconv.Atoi(d)
	}
	ev := lead.Event{At: h.Now().UTC(), Type: lead.EventCallState, Detail: "the buyer's leg is " + state, Data: data}
	if err := h.Calls.NoteOnce(ctx, id, seq, "call:"+sid+":"+state, []lead.Event{ev}); err != nil {
		h.Log.ErrorContext(ctx, "note call status", "lead_id", id, "error", err)
		return httpapi.Error(http.StatusServiceUnavailable, "unavailable", "retry")
	}
	return twiML()
}
