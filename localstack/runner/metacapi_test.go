package runner

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/leadrelay/leadrelay/shared/admin"
	"github.com/leadrelay/leadrelay/shared/config"
)

const (
	capiDataset = "777000111"
	capiToken   = "EAACapiToken456"
	// capiRefused is a leadgen id the fake Conversions API refuses.
	capiRefused = "9000000666"
)

// capiEvent is an event as the fake Conversions API took it, decoded
// with its own types (not the code under test's).
type capiEvent struct {
	EventName    string `json:"event_name"`
	EventTime    int64  `json:"event_time"`
	EventID      string `json:"event_id"`
	ActionSource string `json:"action_source"`
	UserData     struct {
		LeadID json.Number `json:"lead_id"`
	} `json:"user_data"`
	CustomData map[string]string `json:"custom_data"`
}

// conversions is the fake Conversions API's /<dataset>/events: a form
// with the dataset's token and a JSON array of events, taken or refused as
// a whole, as Meta does. The mutex is held.
func (g *metaGraph) conversions(w http.ResponseWriter, r *http.Request, dataset string) {
	if r.URL.RawQuery != "" {
		w.WriteHeader(http.StatusBadRequest) // the token travels in the body
		fmt.Fprint(w, `{"error":{"message":"token in the URL","type":"OAuthException","code":190}}`)
		return
	}
	if g.fail[dataset+"/events"] > 0 {
		g.fail[dataset+"/events"]--
		w.WriteHeader(http.StatusInternalServerError)
		fmt.Fprint(w, `{"error":{"message":"An unexpected error has occurred.","type":"OAuthException","code":2,"is_transient":true}}`)
		return
	}
	if err := r.ParseForm(); err != nil || dataset != capiDataset || r.PostForm.Get("access_token") != capiToken {
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, `{"error":{"message":"Invalid OAuth access token.","type":"OAuthException","code":190}}`)
		return
	}
	var evs []capiEvent
	if err := json.Unmarshal([]byte(r.PostForm.Get("data")), &evs); err != nil || len(evs) == 0 {
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, `{"error":{"message":"Invalid parameter","type":"OAuthException","code":100}}`)
		return
	}
	for _, ev := range evs {
		if ev.UserData.LeadID.String() == capiRefused {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"error":{"message":"Invalid parameter","type":"OAuthException","code":100,"error_subcode":2804003,"error_user_msg":"The lead id is not a lead of this dataset's pages"}}`)
			return
		}
	}
	g.events = append(g.events, evs...)
	fmt.Fprintf(w, `{"events_received":%d,"messages":[],"fbtrace_id":"AbCdEf"}`, len(evs))
}

// taken is what the fake Conversions API took.
func (g *metaGraph) taken() []capiEvent {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]capiEvent(nil), g.events...)
}

// Meta's leads' stages reported to the Conversions API for CRM: two leads
// sold are sent in one batch (after one 500) in Meta's CRM shape, and never
// again; a return and a conversion are sent once each however often they
// are posted; an event Meta refuses is marked failed without holding up
// the others; two runs at once send each event once; and an API source
// cannot pose as Meta with a "meta:" external id.
func TestMetaConversionsAPI(t *testing.T) {
	b, g := newBuyer(t), newMetaGraph(t)
	doc := fmt.Sprintf(`
campaigns:
  - id: auto
    fields:
      phone: {type: phone, required: true}
      email: {type: email}
      state: {type: us_state, required: true}
    dedupe: {fields: [phone], window: 24h}
sources:
  - id: src
    campaigns: [auto]
    api_key_sha256: %q
    payout: {type: fixed, amount: 4.00}
buyers:
  - id: acme
    api_key_sha256: %q
    delivery: {type: webhook, url: %q, secret: %q}
    orders:
      - {campaign: auto, price: 25.00, return_window: 72h}
`, sourceHash, config.HashKey("key-acme"), b.srv.URL, secret)
	more := fmt.Sprintf("    conversions: {dataset_id: %q, access_token: \"ssm:%s\"}\n", capiDataset, secureParam(t, "capi", capiToken))
	e := startMetaWith(t, g, doc, more)
	ctx := context.Background()
	send := func(want admin.ConversionStats) {
		t.Helper()
		st, err := e.r.Admin.SendConversions(ctx)
		if err != nil || st != want {
			t.Fatalf("send conversions: %+v %v, want %+v", st, err, want)
		}
	}

	// Two leads sold: one batch, after Meta's 500, in the CRM shape.
	g.lead("9000000101", phone(1101))
	g.lead("9000000102", phone(1102))
	body := metaNotification("9000000101", "9000000102")
	if r := e.notifyMeta(body, metaSign(body)); r.Status != http.StatusOK {
		t.Fatalf("notification: %d %v", r.Status, r.Body)
	}
	first, second := e.waitSold(phone(1101)), e.waitSold(phone(1102))
	g.failNext(capiDataset+"/events", 1)
	send(admin.ConversionStats{Sent: 2})
	if n := g.requests(capiDataset + "/events"); n != 2 {
		t.Errorf("%d requests to the Conversions API, want 2 (a 500, then the batch)", n)
	}
	evs := g.taken()
	if len(evs) != 2 {
		t.Fatalf("events taken: %+v", evs)
	}
	ids := map[string]bool{}
	for _, ev := range evs {
		if ev.EventName != "Sold" || ev.ActionSource != "system_generated" || ev.CustomData["event_source"] != "crm" ||
			ev.CustomData["lead_event_source"] != "LeadRelay" || ev.EventTime == 0 || ev.EventID == "" {
			t.Errorf("event %+v is not a CRM lead event", ev)
		}
		ids[ev.UserData.LeadID.String()] = true
	}
	if !ids["9000000101"] || !ids["9000000102"] {
		t.Errorf("lead ids sent %v, want the two leadgen ids", ids)
	}
	// Nothing is sent twice.
	send(admin.ConversionStats{})
	if n := len(g.taken()); n != 2 {
		t.Fatalf("%d events after a second run, want 2", n)
	}
	// The operator sees it sent on the lead.
	lr := e.do("GET", "/v1/admin/leads/"+first["lead_id"].(string), "", "", map[string]string{"Authorization": "Bearer " + adminToken})
	convs, _ := lr.Body["conversions"].([]any)
	if len(convs) != 1 || convs[0].(map[string]any)["stage"] != "sold" || convs[0].(map[string]any)["sent_at"] == nil {
		t.Fatalf("lead's conversions: %v", lr.Body["conversions"])
	}

	// A return and a conversion, each posted twice: one event each.
	acme := map[string]string{"X-API-Key": "key-acme"}
	for i := range 2 {
		r := e.do("POST", "/v1/returns", "application/json", fmt.Sprintf(`{"lead_id":%q,"reason":"disconnected_phone"}`, first["lead_id"]), acme)
		if i == 0 && r.Status != http.StatusOK {
			t.Fatalf("return: %d %v", r.Status, r.Body)
		}
		if r := e.do("POST", "/v1/outcomes", "application/json", fmt.Sprintf(`{"lead_id":%q,"event":"converted","value":120.00}`, second["lead_id"]), acme); r.Status != http.StatusAccepted {
			t.Fatalf("outcome: %d %v", r.Status, r.Body)
		}
	}
	send(admin.ConversionStats{Sent: 2})
	got := map[string]string{}
	for _, ev := range g.taken()[2:] {
		got[ev.UserData.LeadID.String()] = ev.EventName
	}
	if len(g.taken()) != 4 || got["9000000101"] != "Returned" || got["9000000102"] != "Converted" {
		t.Fatalf("events after the return and the conversion: %+v", g.taken())
	}

	// A lead Meta refuses is marked failed with Meta's reason; the lead
	// sold with it is sent.
	g.lead(capiRefused, phone(1103))
	g.lead("9000000104", phone(1104))
	body = metaNotification(capiRefused, "9000000104")
	if r := e.notifyMeta(body, metaSign(body)); r.Status != http.StatusOK {
		t.Fatalf("notification: %d %v", r.Status, r.Body)
	}
	refused, _ := e.waitSold(phone(1103)), e.waitSold(phone(1104))
	send(admin.ConversionStats{Sent: 1, Failed: 1})
	lr = e.do("GET", "/v1/admin/leads/"+refused["lead_id"].(string), "", "", map[string]string{"Authorization": "Bearer " + adminToken})
	convs, _ = lr.Body["conversions"].([]any)
	if len(convs) != 1 || !strings.Contains(fmt.Sprint(convs[0].(map[string]any)["failed"]), "not a lead of this dataset") {
		t.Fatalf("refused lead's conversions: %v", lr.Body["conversions"])
	}
	send(admin.ConversionStats{})

	// Two runs at once: each event is sent once.
	for i := range 3 {
		g.lead(fmt.Sprintf("90000002%02d", i), phone(1110+i))
		body = metaNotification(fmt.Sprintf("90000002%02d", i))
		if r := e.notifyMeta(body, metaSign(body)); r.Status != http.StatusOK {
			t.Fatalf("notification: %d %v", r.Status, r.Body)
		}
		e.waitSold(phone(1110 + i))
	}
	before := len(g.taken())
	var wg sync.WaitGroup
	var mu sync.Mutex
	total := 0
	for range 2 {
		wg.Go(func() {
			st, err := e.r.Admin.SendConversions(ctx)
			if err != nil {
				t.Error(err)
			}
			mu.Lock()
			total += st.Sent
			mu.Unlock()
		})
	}
	wg.Wait()
	if n := len(g.taken()) - before; n != 3 || total != 3 {
		t.Fatalf("two runs at once sent %d events (counted %d), want 3", n, total)
	}

	// A source cannot give its lead a Meta leadgen id.
	r := e.do("POST", "/v1/leads", "application/json", `{"campaign":"auto","external_id":"meta:9000000999","fields":{"phone":"+14158920000","state":"CA"}}`,
		map[string]string{"X-API-Key": sourceKey})
	if r.Status != http.StatusBadRequest || !strings.Contains(fmt.Sprint(r.Body), "reserved") {
		t.Fatalf("a source's meta: external id: %d %v", r.Status, r.Body)
	}
}
