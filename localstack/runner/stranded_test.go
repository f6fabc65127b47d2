package runner

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/leadrelay/leadrelay/localstack/emulator"
	"github.com/leadrelay/leadrelay/shared/admin"
	"github.com/leadrelay/leadrelay/shared/httpapi"
	"github.com/leadrelay/leadrelay/shared/lead"
)

// TestNothingAcceptedIsStranded fails a share of the SendMessage calls to
// the test's queues (after the SDK's own retries, about one send in four
// still fails): a lead whose routing message is lost after it was stored
// is still accepted (202), and the sweeper finds it; messages lost between
// the router and delivery come back through SQS's redelivery. Every
// accepted lead ends sold, unsold or rejected.
func TestNothingAcceptedIsStranded(t *testing.T) {
	b := newBuyer(t)
	prefix := emulator.Name("lr-")
	emulator.Faults(t, prefix, 0.7)
	before := emulator.Stats(t)
	e := start(t, campaignYAML(b.srv.URL, "daily: 1000"), func(o *Options) {
		o.Prefix = prefix
		o.SweepEvery, o.SweepGrace = 500*time.Millisecond, 2*time.Second
	})
	var ids []string
	for i := range 24 {
		r := e.post(map[string]any{"phone": phone(i), "state": "CA"}, nil)
		if r.Status != http.StatusAccepted {
			t.Fatalf("post %d: %d %v", i, r.Status, r.Body)
		}
		ids = append(ids, r.Body["lead_id"].(string))
	}
	if emulator.Stats(t).SendFaults == before.SendFaults {
		t.Fatal("no send failed: the emulator's fault mode is off, and this test proves nothing")
	}
	recovered := 0
	deadline := time.Now().Add(2 * time.Minute)
	for _, id := range ids {
		for {
			rec, err := e.r.App.Store.GetLead(context.Background(), id, true)
			if err != nil {
				t.Fatal(err)
			}
			if rec.Status.Terminal() && rec.Assignment == nil {
				if rec.Status != lead.Sold {
					t.Fatalf("lead %s ended %s", id, rec.Status)
				}
				for _, ev := range rec.Events {
					if ev.Type == lead.EventRecovered {
						recovered++
						break
					}
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("lead %s stranded: %s at round %d\n%v", id, rec.Status, rec.Seq, fmt.Sprint(rec.Events))
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	t.Logf("%d of %d leads recovered by the sweeper", recovered, len(ids))
	if recovered == 0 {
		t.Fatal("no lead needed the sweeper: lost routing messages went unnoticed, or none was lost")
	}
	if n := len(b.received()); n != len(ids) {
		t.Fatalf("the buyer received %d posts for %d leads", n, len(ids))
	}
}

// An operator may re-route a lead left received (its routing message lost)
// once it is over admin.StaleReceived old; a fresh one is refused.
func TestRerouteOfAStaleReceivedLead(t *testing.T) {
	b := newBuyer(t)
	prefix := emulator.Name("lr-")
	e := start(t, campaignYAML(b.srv.URL, "daily: 100"), func(o *Options) { o.Prefix, o.SweepEvery = prefix, -1 })
	var id string
	t.Run("posted while every send fails", func(t *testing.T) {
		emulator.Faults(t, prefix, 1.0)
		r := e.post(map[string]any{"phone": phone(7), "state": "CA"}, nil)
		if r.Status != http.StatusAccepted {
			t.Fatalf("post: %d %v", r.Status, r.Body)
		}
		id = r.Body["lead_id"].(string)
	})
	reroute := func(at time.Time) httpapi.Response {
		adm := e.r.App.Admin("")
		adm.Now = func() time.Time { return at }
		resp, err := adm.Handle(context.Background(), httpapi.Request{HTTPMethod: "POST", Path: "/v1/admin/leads/" + id + "/reroute"})
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	if r := reroute(time.Now()); r.StatusCode != http.StatusConflict {
		t.Fatalf("a fresh received lead: %d %s", r.StatusCode, r.Body)
	}
	if r := reroute(time.Now().Add(admin.StaleReceived + time.Second)); r.StatusCode != http.StatusAccepted {
		t.Fatalf("a stale received lead: %d %s", r.StatusCode, r.Body)
	}
	if st := e.waitStatus(id); st != "sold" {
		t.Fatalf("rerouted lead ended %s", st)
	}
}
