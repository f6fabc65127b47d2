package runner

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/leadrelay/leadrelay/shared/httpapi"
)

// sellerYAML: campaign "home" (bids valid 30 s, 20% margin, dedupe on
// phone) and "quick" (bids valid 1 s), both ping_post, n bidders on each.
func sellerYAML(url string, n int) string {
	var buyers strings.Builder
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&buyers, `
  - id: bidder%02d
    delivery: {type: webhook, url: "%s/post/%d", secret: %q, timeout: 2s}
    orders:
      - {campaign: home, ping_url: "%s/ping/%d", caps: {daily: 100}}
      - {id: quick, campaign: quick, ping_url: "%s/ping/%d"}`, i, url, i, secret, url, i, url, i)
	}
	fields := `
      phone: {type: phone, required: true, pii: true}
      email: {type: email, pii: true}
      state: {type: us_state, required: true}
      zip:   {type: zip}`
	return fmt.Sprintf(`
campaigns:
  - id: home
    fields:%s
    dedupe: {fields: [phone], window: 24h}
    distribution: ping_post
    ping: {timeout: 400ms, floor: 5.00, margin: {percent: 20}}
  - id: quick
    fields:%s
    distribution: ping_post
    ping: {timeout: 400ms, bid_ttl: 1s, margin: {fixed: 2.50}}
sources:
  - id: src
    campaigns: [home, quick]
    api_key_sha256: %q
    payout: {type: fixed, amount: 4.00}
buyers:%s
`, fields, fields, sourceHash, buyers.String())
}

// threeBidders: bidder 1 bids 40.05, 2 bids 30, 3 bids 20; bidder 1
// accepts posts unless refuse1 is set.
func threeBidders(t *testing.T, refuse1 bool) *bidders {
	return newBidders(t, func(n string) (int, string, time.Duration) {
		switch n {
		case "1":
			return 200, `{"bid": 40.05, "bid_id": "b-one"}`, 0
		case "2":
			return 200, `{"bid": 30, "bid_id": "b-two"}`, 0
		}
		return 200, `{"bid": 20, "bid_id": "b-three"}`, 0
	}, func(n string) bool { return !(refuse1 && n == "1") })
}

func (e *env) ping(campaign string, fields map[string]any, test bool) response {
	e.t.Helper()
	body := map[string]any{"campaign": campaign, "fields": fields}
	if test {
		body["test"] = true
	}
	return e.doJSON("POST", "/v1/pings", body)
}

func (e *env) claimLead(campaign, pingID string, fields map[string]any, test bool) response {
	e.t.Helper()
	body := map[string]any{"campaign": campaign, "fields": fields, "ping_id": pingID}
	if test {
		body["test"] = true
	}
	return e.doJSON("POST", "/v1/leads", body)
}

func leadFields(phone, state, zip string) map[string]any {
	return map[string]any{"phone": phone, "email": "seller@example.com", "state": state, "zip": zip}
}

func errorFields(r response) []string {
	var out []string
	for _, p := range problems(r) {
		out = append(out, p["field"].(string))
	}
	return out
}

// A ping is answered with the best bid less the margin; the lead posted
// with its ping_id goes to that buyer without a second auction and the
// seller is paid exactly the quoted price. PII in a ping is refused.
func TestSellerPingPostSoldAtQuotedPrice(t *testing.T) {
	bs := threeBidders(t, false)
	e := start(t, sellerYAML(bs.srv.URL, 3), nil)

	bad := e.ping("home", map[string]any{"state": "CA", "phone": "4158927301", "email": "a@b.co"}, false)
	if bad.Status != 400 || bad.Body["error"].(map[string]any)["code"] != "validation_failed" || strings.Join(errorFields(bad), ",") != "email,phone" {
		t.Fatalf("ping with PII: %d %v", bad.Status, bad.Body)
	}
	if n := bs.count(bs.pings); n != 0 {
		t.Fatalf("a refused ping pinged %d buyers", n)
	}

	p := e.ping("home", map[string]any{"state": "CA", "zip": "94103"}, false)
	if p.Status != 200 {
		t.Fatalf("ping: %d %v", p.Status, p.Body)
	}
	bids := p.Body["bids"].([]any)
	best := bids[0].(map[string]any)
	// 40.05 less 20% (8.01): 32.04.
	if len(bids) != 1 || best["price"] != 32.04 || p.Body["expires_in_s"] != 30.0 {
		t.Fatalf("ping answer: %v", p.Body)
	}
	for n, bodies := range bs.pings {
		if strings.Contains(bodies[0], "phone") || strings.Contains(bodies[0], "seller@") {
			t.Fatalf("ping to %s carried PII: %s", n, bodies[0])
		}
	}
	r := e.claimLead("home", p.Body["ping_id"].(string), leadFields("4158927301", "CA", "94103"), false)
	if r.Status != 202 {
		t.Fatalf("post with ping_id: %d %v", r.Status, r.Body)
	}
	id := r.Body["lead_id"].(string)
	if st := e.waitStatus(id); st != "sold" {
		t.Fatalf("status %s", st)
	}
	rec, _ := e.r.App.Store.GetLead(context.Background(), id, true)
	if len(rec.Sales) != 1 || rec.Sales[0].Buyer != "bidder01" || rec.Sales[0].Price != 4005 || rec.Sales[0].Payout != 3204 {
		t.Fatalf("sale: %+v", rec.Sales)
	}
	got := e.do("GET", "/v1/leads/"+id, "", "", map[string]string{"X-API-Key": sourceKey})
	if got.Body["payout"] != 32.04 || got.Body["outcome"] != "sold" || got.Body["status"] != "sold" {
		t.Fatalf("source view: %v", got.Body)
	}
	// One auction only: the ping's. The post carried the buyer's bid_id.
	if n := bs.count(bs.pings); n != 3 {
		t.Fatalf("%d pings, want the ping's 3 only", n)
	}
	var post map[string]any
	json.Unmarshal([]byte(bs.posts["1"][0]), &post)
	if post["bid_id"] != "b-one" || post["price"] != 40.05 {
		t.Fatalf("post: %v", post)
	}
	for _, ev := range rec.Events {
		if ev.Type == "auction" {
			t.Fatalf("the router ran an auction for a claimed ping: %v", ev)
		}
	}
}

// The winner refuses the post: the lead cascades to the next claimed bid
// and the seller is paid that bid's quoted price.
func TestSellerPingCascadesAtQuotedPrice(t *testing.T) {
	bs := threeBidders(t, true)
	e := start(t, sellerYAML(bs.srv.URL, 3), nil)
	p := e.ping("quick", map[string]any{"state": "TX"}, false)
	r := e.claimLead("quick", p.Body["ping_id"].(string), leadFields("4158927302", "TX", ""), false)
	if r.Status != 202 {
		t.Fatalf("post: %d %v", r.Status, r.Body)
	}
	id := r.Body["lead_id"].(string)
	if st := e.waitStatus(id); st != "sold" {
		t.Fatalf("status %s", st)
	}
	rec, _ := e.r.App.Store.GetLead(context.Background(), id, true)
	// bidder 2: 30.00 less the fixed 2.50.
	if len(rec.Sales) != 1 || rec.Sales[0].Buyer != "bidder02" || rec.Sales[0].Price != 3000 || rec.Sales[0].Payout != 2750 {
		t.Fatalf("sale: %+v", rec.Sales)
	}
	if n := bs.count(bs.pings); n != 3 {
		t.Fatalf("%d pings, want 3 (no auction after the refusal)", n)
	}
}

// A post that differs from its ping, a forged or tampered ping_id, and an
// expired one are refused and change nothing.
func TestSellerPingClaimRefusals(t *testing.T) {
	bs := threeBidders(t, false)
	e := start(t, sellerYAML(bs.srv.URL, 3), nil)
	p := e.ping("home", map[string]any{"state": "CA", "zip": "94103"}, false)
	tok := p.Body["ping_id"].(string)
	before := e.itemCount()

	code := func(r response) string { return r.Body["error"].(map[string]any)["code"].(string) }
	for _, c := range []struct {
		fields map[string]any
		want   string
	}{
		{leadFields("4158927303", "NV", "94103"), "state"},
		{leadFields("4158927303", "CA", "94110"), "zip"},
		{leadFields("4158927303", "NV", ""), "state,zip"},
	} {
		r := e.claimLead("home", tok, c.fields, false)
		if r.Status != 409 || code(r) != "ping_mismatch" || strings.Join(errorFields(r), ",") != c.want {
			t.Fatalf("changed %s: %d %v", c.want, r.Status, r.Body)
		}
	}
	if r := e.claimLead("quick", tok, leadFields("4158927303", "CA", "94103"), false); r.Status != 409 || !strings.Contains(strings.Join(errorFields(r), ","), "campaign") {
		t.Fatalf("other campaign: %d %v", r.Status, r.Body)
	}
	// Tampered: one character of the sealed token changed, the token cut,
	// junk. The token opens only whole.
	mid := len(tok) / 2
	flip := "A"
	if tok[mid:mid+1] == "A" {
		flip = "B"
	}
	forged := tok[:mid] + flip + tok[mid+1:]
	// Opaque: nothing of the buyers or prices can be read from it.
	if raw, err := base64.RawURLEncoding.DecodeString(tok); err != nil || bytes.Contains(raw, []byte("/home")) || bytes.Contains(raw, []byte(`"sp"`)) {
		t.Fatalf("the ping_id is not opaque: %v %q", err, raw)
	}
	for _, bad := range []string{forged, tok[:len(tok)-3], tok + "." + tok, "not-a-token"} {
		r := e.claimLead("home", bad, leadFields("4158927303", "CA", "94103"), false)
		if r.Status != 401 || code(r) != "invalid_ping" {
			t.Fatalf("forged %q: %d %v", bad, r.Status, r.Body)
		}
	}
	// Expired: "quick" bids are valid 1 s; the claim comes 1.1 s later by
	// the ingest handler's clock.
	q := e.ping("quick", map[string]any{"state": "CA"}, false)
	late := e.r.App.Ingest()
	late.Now = func() time.Time { return time.Now().Add(1100 * time.Millisecond) }
	body, _ := json.Marshal(map[string]any{"campaign": "quick", "fields": leadFields("4158927303", "CA", ""), "ping_id": q.Body["ping_id"]})
	resp, err := late.Handle(context.Background(), httpapi.Request{HTTPMethod: "POST", Path: "/v1/leads", Body: string(body),
		Headers: map[string]string{"Content-Type": "application/json", "X-API-Key": sourceKey}})
	if err != nil || resp.StatusCode != 410 || !strings.Contains(resp.Body, `"ping_expired"`) {
		t.Fatalf("expired: %d %s %v", resp.StatusCode, resp.Body, err)
	}
	if after := e.itemCount(); after != before {
		t.Fatalf("refused posts wrote %d items", after-before)
	}
	if n := bs.count(bs.posts); n != 0 {
		t.Fatalf("refused posts reached buyers %d times", n)
	}
}

// The same ping_id posted twice at once: one 202, one 409, one sale.
func TestSellerPingClaimedOnce(t *testing.T) {
	bs := threeBidders(t, false)
	e := start(t, sellerYAML(bs.srv.URL, 3), nil)
	p := e.ping("quick", map[string]any{"state": "CA"}, false)
	tok := p.Body["ping_id"].(string)
	var wg sync.WaitGroup
	res := make([]response, 2)
	for i := range res {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res[i] = e.claimLead("quick", tok, leadFields("4158927304", "CA", ""), false)
		}()
	}
	wg.Wait()
	var accepted []string
	for _, r := range res {
		switch r.Status {
		case 202:
			accepted = append(accepted, r.Body["lead_id"].(string))
		case 409:
			if c := r.Body["error"].(map[string]any)["code"]; c != "ping_claimed" {
				t.Fatalf("second claim: %v", r.Body)
			}
		default:
			t.Fatalf("claim: %d %v", r.Status, r.Body)
		}
	}
	if len(accepted) != 1 {
		t.Fatalf("%d claims accepted, want 1", len(accepted))
	}
	if st := e.waitStatus(accepted[0]); st != "sold" {
		t.Fatalf("status %s", st)
	}
	if again := e.claimLead("quick", tok, leadFields("4158927304", "CA", ""), false); again.Status != 409 {
		t.Fatalf("a third claim: %d %v", again.Status, again.Body)
	}
	if n := bs.count(bs.posts); n != 1 {
		t.Fatalf("%d posts to buyers, want 1", n)
	}
}

// itemKinds counts the table's items by key family (the pk's prefix).
// itemKinds counts the table's items by the kind their key starts with
// (leads by their partition: a lead is several items), once the ledger
// has settled.
func (e *env) itemKinds() map[string]int {
	e.t.Helper()
	e.settle()
	db := dynamodb.NewFromConfig(e.cfg)
	out := map[string]int{}
	leads := map[string]bool{}
	p := dynamodb.NewScanPaginator(db, &dynamodb.ScanInput{TableName: aws.String(e.r.App.Settings.Table), ProjectionExpression: aws.String("pk")})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			e.t.Fatal(err)
		}
		for _, it := range page.Items {
			pk := it["pk"].(*types.AttributeValueMemberS).Value
			kind, _, _ := strings.Cut(pk, "#")
			if kind == "LEAD" {
				if leads[pk] {
					continue
				}
				leads[pk] = true
			}
			out[kind]++
		}
	}
	return out
}

// Test mode: a test ping and the test lead that claims it, and a test
// lead without a ping, run validation, dedupe checks and the auction, and
// end with status test: no cap, dedupe key, claim or ledger item is
// written, and no buyer receives a post.
func TestSellerTestModeSellsNothing(t *testing.T) {
	bs := threeBidders(t, false)
	e := start(t, sellerYAML(bs.srv.URL, 3), nil)
	// A real sale first, so that the dedupe check has something to find.
	real := e.post(leadFields("4158927305", "CA", "94103"), nil)
	_ = real
	rr := e.doJSON("POST", "/v1/leads", map[string]any{"campaign": "home", "fields": leadFields("4158927305", "CA", "94103")})
	if st := e.waitStatus(rr.Body["lead_id"].(string)); st != "sold" {
		t.Fatalf("real lead: %s", st)
	}
	before, posts := e.itemKinds(), bs.count(bs.posts)

	p := e.ping("home", map[string]any{"state": "CA", "zip": "94103"}, true)
	if p.Status != 200 || p.Body["test"] != true || len(p.Body["bids"].([]any)) != 1 {
		t.Fatalf("test ping: %d %v", p.Status, p.Body)
	}
	tok := p.Body["ping_id"].(string)
	if r := e.claimLead("home", tok, leadFields("4158927306", "CA", "94103"), false); r.Status != 409 || strings.Join(errorFields(r), ",") != "test" {
		t.Fatalf("a real lead claiming a test ping: %d %v", r.Status, r.Body)
	}
	// The dedupe check runs for test leads: the sold phone is a duplicate.
	if r := e.claimLead("home", tok, leadFields("4158927305", "CA", "94103"), true); r.Status != 409 || r.Body["error"].(map[string]any)["code"] != "duplicate" {
		t.Fatalf("test duplicate: %d %v", r.Status, r.Body)
	}
	var ids []string
	for _, r := range []response{
		e.claimLead("home", tok, leadFields("4158927306", "CA", "94103"), true),
		e.claimLead("home", tok, leadFields("4158927306", "CA", "94103"), true), // a test claim claims nothing
		e.doJSON("POST", "/v1/leads", map[string]any{"campaign": "home", "test": true, "fields": leadFields("4158927307", "TX", "")}),
	} {
		if r.Status != 202 {
			t.Fatalf("test lead: %d %v", r.Status, r.Body)
		}
		ids = append(ids, r.Body["lead_id"].(string))
	}
	for _, id := range ids {
		deadline := time.Now().Add(30 * time.Second)
		var got response
		for time.Now().Before(deadline) {
			got = e.do("GET", "/v1/leads/"+id, "", "", map[string]string{"X-API-Key": sourceKey})
			if got.Body["status"] == "test" {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if got.Body["status"] != "test" || got.Body["outcome"] != "test" || got.Body["payout"] != 0.0 {
			t.Fatalf("test lead %s: %v", id, got.Body)
		}
		evs := e.timeline(id)
		if ev := findEvent(evs, "test"); ev == nil || ev["data"].(map[string]any)["test"] != true {
			t.Fatalf("no test decision in the timeline: %s", eventTypes(evs))
		}
	}
	// The un-pinged test lead ran its own auction, marked test.
	if ev := findEvent(e.timeline(ids[2]), "auction"); ev == nil || ev["data"].(map[string]any)["test"] != true {
		t.Fatalf("test auction missing")
	}
	after := e.itemKinds()
	for _, kind := range []string{"CAP", "DEDUPE", "VAL", "BUYERDEDUPE", "LEDGER", "PINGCLAIM", "ROT", "DUP"} {
		if after[kind] != before[kind] {
			t.Fatalf("%s items: %d before, %d after the test leads", kind, before[kind], after[kind])
		}
	}
	if after["LEAD"] != before["LEAD"]+3 {
		t.Fatalf("lead items: %d → %d", before["LEAD"], after["LEAD"])
	}
	if n := bs.count(bs.posts); n != posts {
		t.Fatalf("test leads were posted to buyers (%d posts)", n-posts)
	}
}

// Twenty buyers, five of which hang: the ping is answered from the
// others while the hanging ones have still not replied.
func TestSellerPingAnswersWithoutHangingBuyers(t *testing.T) {
	release := make(chan struct{})
	var mu sync.Mutex
	replied := map[string]bool{}
	pinged := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		kind, n, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
		if kind != "ping" {
			return
		}
		var i int
		fmt.Sscan(n, &i)
		mu.Lock()
		pinged[n]++
		mu.Unlock()
		if i <= 5 {
			<-release // hangs until the test is done asserting
		}
		mu.Lock()
		replied[n] = true
		mu.Unlock()
		fmt.Fprintf(w, `{"bid": %d, "bid_id": "b%d"}`, 10+i, i)
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) }) // runs before srv.Close
	e := start(t, sellerYAML(srv.URL, 20), nil)
	p := e.ping("home", map[string]any{"state": "CA"}, false)
	mu.Lock()
	hung := 0
	for i := 1; i <= 5; i++ {
		if replied[fmt.Sprint(i)] {
			t.Errorf("hanging buyer %d replied before the answer", i)
		}
		if pinged[fmt.Sprint(i)] == 1 {
			hung++
		}
	}
	mu.Unlock()
	if hung != 5 {
		t.Fatalf("%d of the 5 hanging buyers were pinged", hung)
	}
	if p.Status != 200 {
		t.Fatalf("ping: %d %v", p.Status, p.Body)
	}
	// Best answering bid: bidder 20's 30.00, less 20%.
	if best := p.Body["bids"].([]any)[0].(map[string]any); best["price"] != 24.0 {
		t.Fatalf("ping answer: %v", p.Body)
	}
}

// The ping endpoint's answers and the claim refusals match docs/openapi.yaml.
func TestSellerPingMatchesOpenAPI(t *testing.T) {
	bs := threeBidders(t, false)
	e := start(t, sellerYAML(bs.srv.URL, 3), nil)
	router := openAPI(t, e.r.URL)
	src := map[string]string{"X-API-Key": sourceKey, "Content-Type": "application/json"}
	for _, c := range []struct {
		path, body string
		want       int
	}{
		{"/v1/pings", `{"campaign":"home","fields":{"state":"CA"}}`, 200},
		{"/v1/pings", `{"campaign":"home","fields":{"state":"ZZ"}}`, 400},
		{"/v1/pings", `{"campaign":"home","fields":{"state":"CA","phone":"4158927301"}}`, 400},
		{"/v1/pings", `{"campaign":"nope","fields":{}}`, 404},
		{"/v1/leads", `{"campaign":"home","ping_id":"forged.x","fields":{"phone":"4158927301","state":"CA"}}`, 401},
	} {
		if got := checked(t, router, "POST", e.r.URL+c.path, c.body, src); got != c.want {
			t.Errorf("POST %s %s: %d, want %d", c.path, c.body, got, c.want)
		}
	}
}
