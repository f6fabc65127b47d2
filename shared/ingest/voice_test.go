package ingest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/leadrelay/leadrelay/shared/config"
	"github.com/leadrelay/leadrelay/shared/httpapi"
	"github.com/leadrelay/leadrelay/shared/lead"
	"github.com/leadrelay/leadrelay/shared/money"
	"github.com/leadrelay/leadrelay/shared/store"
	"github.com/leadrelay/leadrelay/shared/twilio"
)

const voiceConfig = `
campaigns:
  - id: calls
    type: call
    fields:
      phone: {type: phone, required: true, pii: true}
      state: {type: us_state}
    dedupe: {fields: [phone], window: 1h}
sources:
  - id: tv
    campaigns: [calls]
    numbers: ["+18005550100"]
    payout: {type: revshare, percent: 50}
buyers:
  - id: first
    delivery: {type: call, number: "+15125550101", buffer: 90s, concurrency: 2}
    orders: [{campaign: calls, price: 40, priority: 1}]
  - id: second
    delivery: {type: call, number: "+15125550102", ring: 30s, record: true}
    orders: [{campaign: calls, price: 30, priority: 2}]
`

const voicePublic = "https://abc.execute-api.us-east-1.amazonaws.com/prod"

// callStore is a CallStore that records what calls asked of it; Reserve
// refuses the slots listed in taken.
type callStore struct {
	CallStore
	cur *lead.Record
	// between, when set, are what the next reads answer before cur (the
	// lead as another copy of a callback is changing it).
	between  []*lead.Record
	taken    map[string]bool
	reserved []store.Reservation
	sold     []store.SaleInput
	ended    []*store.CallDial
	released []string
	slots    []string
	notes    []string
}

func (s *callStore) GetLead(context.Context, string, bool) (*lead.Record, error) {
	if len(s.between) > 0 {
		r := s.between[0]
		s.between = s.between[1:]
		return r, nil
	}
	if s.cur == nil {
		return nil, store.ErrNotFound
	}
	return s.cur, nil
}

func (s *callStore) Reserve(_ context.Context, r store.Reservation) error {
	if r.Slot != nil && s.taken[store.SlotKey(r.Slot.Buyer, r.Slot.Index)] {
		return store.ErrSlotTaken
	}
	s.reserved = append(s.reserved, r)
	return nil
}

func (s *callStore) Release(_ context.Context, id string, _ int, _ lead.Status, _ []lead.CapHold, _ []lead.Event) error {
	s.released = append(s.released, id)
	return nil
}

func (s *callStore) Sell(_ context.Context, in store.SaleInput) error {
	s.sold = append(s.sold, in)
	return nil
}

func (s *callStore) EndCall(_ context.Context, _ *lead.Record, _ int, _ []lead.CapHold, _ []lead.Event, dial *store.CallDial) error {
	s.ended = append(s.ended, dial)
	return nil
}

func (s *callStore) Finish(context.Context, string, int, lead.Status, *lead.Record, []lead.Event) error {
	return nil
}

func (s *callStore) ReleaseSlot(_ context.Context, slot, _ string) error {
	s.slots = append(s.slots, slot)
	return nil
}

func (s *callStore) NoteOnce(_ context.Context, _ string, _ int, name string, _ []lead.Event) error {
	s.notes = append(s.notes, name)
	return nil
}

func (s *callStore) Rotations(context.Context, string) (map[string]store.Rot, error) { return nil, nil }

func voiceFixture(t *testing.T) (*Handler, *recordingStore, *callStore, time.Time) {
	t.Helper()
	cfg, err := config.Parse([]byte(voiceConfig))
	if err != nil {
		t.Fatal(err)
	}
	st, calls := &recordingStore{}, &callStore{taken: map[string]bool{}}
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	h := &Handler{
		Store: st, Calls: calls, Configs: fixedConfig{config.NewIndex(cfg)},
		Now: func() time.Time { return now }, NewID: func() string { return "L1" },
		Log:       slog.New(slog.NewJSONHandler(io.Discard, nil)),
		PublicURL: voicePublic, TwilioToken: func(context.Context) ([]byte, error) { return []byte("tok"), nil },
	}
	return h, st, calls, now
}

// twilioPost is a webhook as API Gateway hands it over: the path without
// the stage, the query as parameters; signed over the public URL.
func twilioPost(t *testing.T, h *Handler, path string, query map[string]string, form url.Values, token string) httpapi.Response {
	t.Helper()
	u := voicePublic + path
	if len(query) > 0 {
		q := url.Values{}
		for k, v := range query {
			q.Set(k, v)
		}
		u += "?" + q.Encode()
	}
	req := httpapi.Request{HTTPMethod: "POST", Path: path, QueryStringParameters: query, Body: form.Encode(),
		Headers: map[string]string{"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": twilio.Signature(token, u, form)}}
	r, err := h.Handle(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func inbound(from string) url.Values {
	return url.Values{"CallSid": {"CA1"}, "From": {from}, "To": {"+18005550100"}, "FromState": {"TX"}}
}

func TestIncomingDialsTheFirstBuyerWithASlot(t *testing.T) {
	h, st, calls, now := voiceFixture(t)
	calls.taken[store.SlotKey("first", 0)] = true // one of its two slots is held
	r := twilioPost(t, h, "/v1/voice/incoming", nil, inbound("+13105550001"), "tok")
	if r.StatusCode != 200 || r.Headers["Content-Type"] != twilio.ContentType {
		t.Fatalf("answer %d %v %s", r.StatusCode, r.Headers, r.Body)
	}
	for _, want := range []string{
		`<Dial action="` + voicePublic + `/v1/voice/dial-done?lead=L1&amp;seq=1" method="POST" timeout="20">`,
		`statusCallback="` + voicePublic + `/v1/voice/status?lead=L1&amp;seq=1"`, `>+15125550101</Number>`,
	} {
		if !strings.Contains(r.Body, want) {
			t.Errorf("answer lacks %s:\n%s", want, r.Body)
		}
	}
	if len(st.put) != 1 || st.put[0].Record.Fields["phone"] != "+13105550001" || st.put[0].Record.Fields["state"] != "TX" ||
		st.put[0].Idempotency == nil || st.put[0].Idempotency.Key != "call:CA1" {
		t.Fatalf("lead written: %+v", st.put)
	}
	if len(calls.reserved) != 1 {
		t.Fatalf("reservations: %+v", calls.reserved)
	}
	res := calls.reserved[0]
	if res.Slot == nil || res.Slot.Index != 1 || res.Assignment.Slot != store.SlotKey("first", 1) || !res.Due.Equal(now.Add(MaxCall)) ||
		!res.Slot.Expires.Equal(now.Add(MaxCall)) {
		t.Fatalf("reservation: %+v", res)
	}
}

func TestIncomingFallsToTheNextBuyerWhenEverySlotIsHeld(t *testing.T) {
	h, _, calls, _ := voiceFixture(t)
	calls.taken[store.SlotKey("first", 0)], calls.taken[store.SlotKey("first", 1)] = true, true
	r := twilioPost(t, h, "/v1/voice/incoming", nil, inbound("+13105550001"), "tok")
	if !strings.Contains(r.Body, `record="record-from-answer-dual"`) || !strings.Contains(r.Body, `timeout="30"`) || !strings.Contains(r.Body, ">+15125550102<") {
		t.Fatalf("want the second buyer dialled, recorded, ringing 30 s: %s", r.Body)
	}
	if len(calls.reserved) != 1 || calls.reserved[0].Slot != nil {
		t.Fatalf("a buyer without a concurrency cap takes no slot: %+v", calls.reserved)
	}
	data := calls.reserved[0].Events[0].Data
	if !strings.Contains(fmt.Sprint(data), "concurrency_full") {
		t.Fatalf("the explanation does not say the first buyer's slots are held: %v", data)
	}
}

func moneyOf(units float64) money.Amount { return money.Amount(units * 100) }

func TestVoiceWebhooksRefuseABadSignature(t *testing.T) {
	h, st, calls, _ := voiceFixture(t)
	for name, r := range map[string]httpapi.Response{
		"incoming":  twilioPost(t, h, "/v1/voice/incoming", nil, inbound("+13105550001"), "other"),
		"dial-done": twilioPost(t, h, "/v1/voice/dial-done", map[string]string{"lead": "L1", "seq": "1"}, url.Values{"DialCallStatus": {"completed"}}, "other"),
		"status":    twilioPost(t, h, "/v1/voice/status", map[string]string{"lead": "L1", "seq": "1"}, url.Values{"CallStatus": {"ringing"}}, "other"),
	} {
		if r.StatusCode != 403 || strings.Contains(r.Body, "<Response") || !strings.Contains(r.Body, "invalid_signature") {
			t.Errorf("%s: %d %s", name, r.StatusCode, r.Body)
		}
	}
	if len(st.put)+len(calls.reserved)+len(calls.notes) != 0 {
		t.Fatal("a refused webhook wrote")
	}
	h.TwilioToken = func(context.Context) ([]byte, error) { return nil, errors.New("ssm down") }
	if r := twilioPost(t, h, "/v1/voice/incoming", nil, inbound("+13105550001"), "tok"); r.StatusCode != 503 {
		t.Fatalf("no token: %d", r.StatusCode)
	}
	h.TwilioToken, h.PublicURL = nil, ""
	if r := twilioPost(t, h, "/v1/voice/incoming", nil, inbound("+13105550001"), "tok"); r.StatusCode != 503 {
		t.Fatalf("calls not configured: %d", r.StatusCode)
	}
}

func dialling(buyer string, price float64) *lead.Record {
	return &lead.Record{
		Lead:   lead.Lead{ID: "L1", Campaign: "calls", Source: "tv", Fields: map[string]any{"phone": "+13105550001"}},
		Status: lead.Routing, Seq: 1, Tried: []string{buyer + "/calls"},
		Assignment: &lead.Assignment{Buyer: buyer, Order: "calls", Price: moneyOf(price), Slot: store.SlotKey(buyer, 0)},
	}
}

func TestDialDoneBillsOnlyAtTheBuffer(t *testing.T) {
	for _, c := range []struct {
		status  string
		seconds string
		sold    bool
		dial    *store.CallDial
	}{
		{"completed", "90", true, nil},
		{"completed", "89", false, &store.CallDial{Seconds: 89}},
		{"canceled", "0", false, nil},
	} {
		h, _, calls, _ := voiceFixture(t)
		calls.cur = dialling("first", 40)
		r := twilioPost(t, h, "/v1/voice/dial-done", map[string]string{"lead": "L1", "seq": "1"},
			url.Values{"DialCallStatus": {c.status}, "DialCallDuration": {c.seconds}}, "tok")
		if r.StatusCode != 200 || !strings.Contains(r.Body, "<Hangup>") {
			t.Fatalf("%s %s: %d %s", c.status, c.seconds, r.StatusCode, r.Body)
		}
		if c.sold {
			if len(calls.sold) != 1 || calls.sold[0].Sale.Price != moneyOf(40) || calls.sold[0].Sale.Payout != moneyOf(20) ||
				calls.sold[0].Call == nil || !calls.sold[0].Call.Billable || calls.sold[0].Call.Seconds != 90 {
				t.Fatalf("%s %s: sales %+v", c.status, c.seconds, calls.sold)
			}
		} else if len(calls.sold) != 0 || len(calls.ended) != 1 || (calls.ended[0] == nil) != (c.dial == nil) || c.dial != nil && *calls.ended[0] != *c.dial {
			t.Fatalf("%s %s: sold %v, ended %+v", c.status, c.seconds, calls.sold, calls.ended)
		}
		if len(calls.slots) != 1 || calls.slots[0] != store.SlotKey("first", 0) {
			t.Fatalf("%s: slot released %v", c.status, calls.slots)
		}
	}
}

func TestDialDoneMissedDialsTheNextBuyer(t *testing.T) {
	h, _, calls, _ := voiceFixture(t)
	calls.cur = dialling("first", 40)
	r := twilioPost(t, h, "/v1/voice/dial-done", map[string]string{"lead": "L1", "seq": "1"},
		url.Values{"DialCallStatus": {"no-answer"}, "DialCallDuration": {"0"}}, "tok")
	if !strings.Contains(r.Body, ">+15125550102<") || !strings.Contains(r.Body, "seq=3") {
		t.Fatalf("want buyer 2 dialled in round 3: %s", r.Body)
	}
	if len(calls.released) != 1 || len(calls.reserved) != 1 || calls.reserved[0].Seq != 2 || len(calls.slots) != 1 {
		t.Fatalf("released %v, reserved %+v, slots %v", calls.released, calls.reserved, calls.slots)
	}
}

// A callback for a round the lead has left changes nothing.
func TestDialDoneForASettledRoundChangesNothing(t *testing.T) {
	h, _, calls, _ := voiceFixture(t)
	calls.cur = dialling("second", 30)
	calls.cur.Seq = 3 // dialling buyer 2 already: a retried dial-done of round 1
	r := twilioPost(t, h, "/v1/voice/dial-done", map[string]string{"lead": "L1", "seq": "1"},
		url.Values{"DialCallStatus": {"no-answer"}, "DialCallDuration": {"0"}}, "tok")
	if !strings.Contains(r.Body, ">+15125550102<") || !strings.Contains(r.Body, "seq=3") {
		t.Fatalf("want the current dial again: %s", r.Body)
	}
	calls.cur.Status, calls.cur.Assignment = lead.Sold, nil
	r = twilioPost(t, h, "/v1/voice/dial-done", map[string]string{"lead": "L1", "seq": "3"},
		url.Values{"DialCallStatus": {"completed"}, "DialCallDuration": {"95"}}, "tok")
	if !strings.Contains(r.Body, "<Hangup>") || strings.Contains(r.Body, "<Dial") {
		t.Fatalf("want a hang-up: %s", r.Body)
	}
	if len(calls.released)+len(calls.reserved)+len(calls.sold)+len(calls.ended)+len(calls.slots) != 0 {
		t.Fatalf("a settled round's callback wrote: %+v", calls)
	}
}

// A copy of a missed dial's callback that finds the call between two
// dials (released by the copy that won, the next dial not reserved yet)
// waits for the next dial and answers it: a hang-up then would cut off a
// caller about to be connected.
func TestDialDoneBetweenDialsWaitsForTheNextDial(t *testing.T) {
	h, _, calls, _ := voiceFixture(t)
	calls.cur = dialling("second", 30)
	calls.cur.Seq = 3
	released := dialling("first", 40)
	released.Seq, released.Assignment = 2, nil
	calls.between = []*lead.Record{released, released}
	r := twilioPost(t, h, "/v1/voice/dial-done", map[string]string{"lead": "L1", "seq": "1"},
		url.Values{"DialCallStatus": {"busy"}, "DialCallDuration": {"0"}}, "tok")
	if !strings.Contains(r.Body, ">+15125550102<") || !strings.Contains(r.Body, "seq=3") || strings.Contains(r.Body, "<Hangup") {
		t.Fatalf("want the next dial, not a hang-up: %s", r.Body)
	}
	if len(calls.between) != 0 {
		t.Fatalf("the call was not read again until its next dial: %d reads left", len(calls.between))
	}
	if len(calls.released)+len(calls.reserved)+len(calls.sold)+len(calls.ended)+len(calls.slots) != 0 {
		t.Fatalf("a settled round's callback wrote: %+v", calls)
	}
}

// A state Twilio read from a Canadian number is left out, not the call.
func TestIncomingLeavesOutWhatTwilioGuessedWrong(t *testing.T) {
	h, st, _, _ := voiceFixture(t)
	form := inbound("+14165550123")
	form.Set("FromState", "ON")
	r := twilioPost(t, h, "/v1/voice/incoming", nil, form, "tok")
	if !strings.Contains(r.Body, "<Dial") || len(st.put) != 1 {
		t.Fatalf("answer %s, leads %d", r.Body, len(st.put))
	}
	if _, ok := st.put[0].Record.Fields["state"]; ok {
		t.Fatalf("fields %v", st.put[0].Record.Fields)
	}
	bad := inbound("anonymous")
	if r := twilioPost(t, h, "/v1/voice/incoming", nil, bad, "tok"); !strings.Contains(r.Body, "<Reject") {
		t.Fatalf("an invalid caller: %s", r.Body)
	}
}

// withConfig replaces the fixture's configuration by voiceConfig with old
// replaced by new.
func withConfig(t *testing.T, h *Handler, old, new string) {
	t.Helper()
	doc := strings.Replace(voiceConfig, old, new, 1)
	if doc == voiceConfig {
		t.Fatalf("%q is not in the configuration", old)
	}
	cfg, err := config.Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	h.Configs = fixedConfig{config.NewIndex(cfg)}
}

// A source paid per connected call is paid for a connected call that was
// not billed (with the round that ends it), the same amount for a billed
// one (its sale's payout), and nothing for a call that never connected;
// a source paid per billable call is paid for the billed one only.
func TestDialDonePaysPerConnectedCall(t *testing.T) {
	for _, c := range []struct {
		on, status, seconds string
		sale, ended         money.Amount // the payout of the sale, or of the unbilled call
		connected           bool
	}{
		{"connected", "completed", "60", 0, moneyOf(5), true},
		{"connected", "answered", "0", 0, moneyOf(5), true},
		{"connected", "completed", "95", moneyOf(5), 0, true},
		{"connected", "canceled", "0", 0, 0, false},
		{"billable", "completed", "60", 0, 0, true},
		{"billable", "completed", "95", moneyOf(5), 0, true},
	} {
		name := c.on + " " + c.status + " " + c.seconds
		h, _, calls, _ := voiceFixture(t)
		withConfig(t, h, "payout: {type: revshare, percent: 50}", "payout: {type: fixed, amount: 5, on: "+c.on+"}")
		calls.cur = dialling("first", 40)
		r := twilioPost(t, h, "/v1/voice/dial-done", map[string]string{"lead": "L1", "seq": "1"},
			url.Values{"DialCallStatus": {c.status}, "DialCallDuration": {c.seconds}}, "tok")
		if !strings.Contains(r.Body, "<Hangup>") {
			t.Fatalf("%s: %s", name, r.Body)
		}
		if c.sale > 0 {
			if len(calls.sold) != 1 || calls.sold[0].Sale.Payout != c.sale || len(calls.ended) != 0 {
				t.Fatalf("%s: sold %+v, ended %+v", name, calls.sold, calls.ended)
			}
			continue
		}
		if len(calls.sold) != 0 || len(calls.ended) != 1 || (calls.ended[0] != nil) != c.connected {
			t.Fatalf("%s: sold %+v, ended %+v", name, calls.sold, calls.ended)
		}
		if d := calls.ended[0]; d != nil && d.Payout != c.ended {
			t.Fatalf("%s: the unbilled call's payout %s, want %s", name, d.Payout, c.ended)
		}
	}
}

// Without FromState, a US caller's state is its area code's; a Canadian
// caller's is left out, and a campaign without a state field gets none.
func TestIncomingStateFromTheAreaCode(t *testing.T) {
	for _, c := range []struct {
		from, fromState, want string
		noStateField          bool
	}{
		{"+15125550101", "", "TX", false},
		{"+15125550101", "CA", "CA", false}, // Twilio's word first
		{"+14165550123", "", "", false},
		{"+18005550123", "", "", false},
		{"+15125550101", "", "", true},
	} {
		h, st, _, _ := voiceFixture(t)
		if c.noStateField {
			withConfig(t, h, "      state: {type: us_state}\n", "")
		}
		form := inbound(c.from)
		if c.fromState == "" {
			form.Del("FromState")
		} else {
			form.Set("FromState", c.fromState)
		}
		r := twilioPost(t, h, "/v1/voice/incoming", nil, form, "tok")
		if !strings.Contains(r.Body, "<Dial") || len(st.put) != 1 {
			t.Fatalf("%+v: answer %s, leads %d", c, r.Body, len(st.put))
		}
		rec := st.put[0].Record
		if got, _ := rec.Fields["state"].(string); got != c.want {
			t.Errorf("%+v: state %q, want %q", c, got, c.want)
		}
		if _, by := rec.Events[0].Data["area_code_state"]; by != (c.want != "" && c.fromState == "") {
			t.Errorf("%+v: received event %v", c, rec.Events[0].Data)
		}
	}
}
