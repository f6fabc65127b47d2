package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/leadrelay/leadrelay/shared/config"
	"github.com/leadrelay/leadrelay/shared/httpapi"
	"github.com/leadrelay/leadrelay/shared/lead"
	"github.com/leadrelay/leadrelay/shared/scoring"
	"github.com/leadrelay/leadrelay/shared/store"
)

// recents answers the velocity read with what it holds for each kind.
type recents struct {
	byKind map[string]store.Recent
	err    error
	asked  []store.Contact
}

func (r *recents) RecentLeads(_ context.Context, contacts []store.Contact, _ time.Duration, _ time.Time) ([]store.Recent, error) {
	r.asked = contacts
	var out []store.Recent
	for _, c := range contacts {
		rc := r.byKind[c.Kind]
		rc.Contact = c
		out = append(out, rc)
	}
	return out, r.err
}

type models struct {
	m   *scoring.Model
	err error
}

func (m models) Model(context.Context, string) (*scoring.Model, error) { return m.m, m.err }

// A lead is scored before it is written: the score on the lead, its
// detail on the record, a "scored" event; the velocity read counts the
// other sources that sent the same phone.
func TestLeadIsScoredBeforeItIsWritten(t *testing.T) {
	h, st, q, _ := postFixture(t)
	rc := &recents{byKind: map[string]store.Recent{store.ContactPhone: {Leads: 2, Sources: []string{"src", "other", "third"}}}}
	h.Recents = rc
	if r := postLead(t, h, nil); r.StatusCode != http.StatusAccepted {
		t.Fatalf("%d %s", r.StatusCode, r.Body)
	}
	if len(rc.asked) != 2 {
		t.Fatalf("velocity read for %v, want the phone and the email", rc.asked)
	}
	rec := st.put[0].Record
	d := rec.ScoreDetail
	if d == nil || rec.Score != d.Score || q.routed[0].Lead.Score != d.Score || len(d.Signals) != 5 { // consent: 0 points, not kept
		t.Fatalf("score %d, detail %+v, routed with %d", rec.Score, d, q.routed[0].Lead.Score)
	}
	var vel lead.Signal
	for _, s := range d.Signals {
		if s.Name == "velocity" {
			vel = s
		}
	}
	if vel.Value != "2-3" || !strings.Contains(vel.Why, "2") {
		t.Fatalf("velocity signal %+v: want 2 leads from 2 other sources", vel)
	}
	if ev := rec.Events[1]; ev.Type != lead.EventScored || !strings.HasPrefix(ev.Detail, "scored ") || !strings.Contains(ev.Detail, "velocity 2-3 -30") {
		t.Fatalf("scored event %+v", ev)
	}
	if len(st.put[0].Recent) != 2 {
		t.Fatalf("the velocity read is not passed on for its expired buckets: %+v", st.put[0].Recent)
	}
}

// Neither a failed velocity read nor an unreadable model refuses a lead.
func TestScoringFailuresDoNotRefuseLeads(t *testing.T) {
	h, st, _, _ := postFixture(t)
	h.Recents = &recents{err: errors.New("throttled")}
	h.Models = models{err: errors.New("throttled")}
	if r := postLead(t, h, nil); r.StatusCode != http.StatusAccepted || st.put[0].Record.ScoreDetail == nil {
		t.Fatalf("%d %s", r.StatusCode, r.Body)
	}
}

// A source with reject_below refuses a lead whose signals score under it,
// naming the signals that took points away, and writes nothing.
func TestRejectBelowRefusesPoorLeads(t *testing.T) {
	h, st, q, _ := postFixture(t)
	ix, _ := h.Configs.Get(t.Context())
	c := ix.Config.Clone()
	c.Sources[0].RejectBelow = 90
	h.Configs = fixedConfig{config.NewIndex(c)}
	h.Recents = &recents{byKind: map[string]store.Recent{store.ContactEmail: {Leads: 5, Sources: []string{"a", "b"}}}}
	r := postLead(t, h, nil)
	var body httpapi.ErrorBody
	_ = json.Unmarshal([]byte(r.Body), &body)
	if r.StatusCode != http.StatusBadRequest || body.Error.Code != "low_score" || len(body.Error.Fields) == 0 {
		t.Fatalf("%d %s", r.StatusCode, r.Body)
	}
	if body.Error.Fields[0].Field != "velocity" || !strings.Contains(body.Error.Message, "under this source's minimum of 90") {
		t.Fatalf("refusal %s", r.Body)
	}
	if len(st.put) != 0 || len(q.routed) != 0 {
		t.Fatal("a refused lead was written or queued")
	}
}

// A paused sub-id's leads are refused; its source's others are not.
func TestPausedSubIDIsRefused(t *testing.T) {
	h, st, _, _ := postFixture(t)
	ix, _ := h.Configs.Get(t.Context())
	c := ix.Config.Clone()
	c.Campaigns[0].Fields["sub_id"] = config.Field{Type: config.TypeString}
	c.Sources[0].PausedSubIDs = []string{"aff-7"}
	h.Configs = fixedConfig{config.NewIndex(c)}
	post := func(sub string) httpapi.Response {
		body := strings.Replace(benchLead, `"first_name"`, `"sub_id":"`+sub+`","first_name"`, 1)
		r, _ := h.Handle(t.Context(), httpapi.Request{HTTPMethod: "POST", Path: "/v1/leads", Body: body,
			Headers: map[string]string{"Content-Type": "application/json", "X-API-Key": "test-source-key"}})
		return r
	}
	if r := post("aff-7"); r.StatusCode != http.StatusForbidden || !strings.Contains(r.Body, "sub_id_paused") {
		t.Fatalf("paused sub-id: %d %s", r.StatusCode, r.Body)
	}
	if r := post("aff-8"); r.StatusCode != http.StatusAccepted || len(st.put) != 1 {
		t.Fatalf("another sub-id: %d %s", r.StatusCode, r.Body)
	}
}

// The consumer's IP, when the lead carries one, is a contact: velocity.
func TestIPContact(t *testing.T) {
	camp := &config.Campaign{Fields: map[string]config.Field{"phone": {Type: config.TypePhone}}}
	got := contacts(camp, map[string]any{"phone": "+14158927310", "ip_address": " 2001:DB8::1 "})
	if len(got) != 2 || got[0].Kind != store.ContactIP || got[0].Value != "2001:db8::1" {
		t.Fatalf("contacts %+v", got)
	}
	if got := contacts(camp, map[string]any{"ip_address": "not an ip"}); len(got) != 0 {
		t.Fatalf("contacts %+v", got)
	}
}

// A lead keeps the signals that moved its score and the model's three
// largest terms.
func TestStoredDetail(t *testing.T) {
	d := lead.ScoreDetail{Score: 70, Rule: 60, Signals: []lead.Signal{{Name: "a", Points: 5}, {Name: "b"}, {Name: "c", Points: -1}},
		Model: &lead.ModelPart{Version: 2, Terms: []lead.Term{{Feature: "x"}, {Feature: "y"}, {Feature: "z"}, {Feature: "w"}, {Feature: "v"}}}}
	got := stored(d)
	if len(got.Signals) != 2 || got.Signals[1].Name != "c" || len(got.Model.Terms) != StoredTerms || len(d.Model.Terms) != 5 {
		t.Fatalf("stored %+v (from %+v)", got, d)
	}
}
