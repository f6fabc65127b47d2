package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// postPhone posts a lead of campaign auto and returns its answer's status
// and lead id.
func postPhone(t *testing.T, base, phone string) (int, string) {
	t.Helper()
	body := fmt.Sprintf(`{"campaign":"auto","fields":{"phone":%q,"state":"CA"}}`, phone)
	req, _ := http.NewRequest("POST", base+"/v1/leads", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-API-Key", sourceKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		LeadID string `json:"lead_id"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out.LeadID
}

// waitSold waits until leadctl leads get shows the lead sold.
func waitSold(t *testing.T, bin string, env []string, id string) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; {
		l := run(t, bin, env, "", "leads", "get", id)
		if l.code == 0 && strings.Contains(l.out, "sold (round") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("lead %s never sold:\n%s%s", id, l.out, l.errOut)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// suppress import sends a CSV in batches with a progress bar and reports
// invalid lines by their line in the file; ingest refuses the values until
// suppress remove. leads search prints the leads of a phone number or a
// campaign, a page at a time; leads return marks a sale returned.
func TestLeadctlSuppressAndSearch(t *testing.T) {
	bin := leadctl(t)
	r := startRunner(t, configYAML(acceptingBuyer(t), "25.00", ""))
	env := []string{"LEADRELAY_ENDPOINT=" + r.URL, "LEADRELAY_ADMIN_TOKEN=" + token}

	csv := writeFile(t, "(415) 892-7320\n415.892.7321\n+1 415 892 7322\nnot a phone\n4158927323\ndnc@example.com\n4158927324\n")
	imp := run(t, bin, env, "", "suppress", "import", csv, "--batch", "3")
	if imp.code != 0 || !strings.Contains(imp.out, "Added 6 value(s) to list dnc; 1 invalid.") ||
		!strings.Contains(imp.out, `line 4: "not a phone": not a valid phone`) || !strings.Contains(imp.errOut, "] 7/7") {
		t.Fatalf("suppress import: %d\n%s%s", imp.code, imp.out, imp.errOut)
	}
	if st, _ := postPhone(t, r.URL, "+14158927322"); st != http.StatusForbidden {
		t.Fatalf("suppressed lead: %d", st)
	}
	// A header (phone,email) and a batch of invalid lines only.
	hdr := writeFile(t, "phone,email\nnope,\n4158927325,also@example.com\n")
	if h := run(t, bin, env, "", "suppress", "import", hdr, "--batch", "1", "--list", "complaints"); h.code != 0 ||
		!strings.Contains(h.out, "Added 2 value(s) to list complaints; 1 invalid.") || !strings.Contains(h.out, `line 2: "nope,"`) {
		t.Fatalf("suppress import with a header: %d\n%s%s", h.code, h.out, h.errOut)
	}
	rm := run(t, bin, env, "", "suppress", "remove", csv)
	if rm.code != 0 || !strings.Contains(rm.out, "Removed 6 value(s); 1 invalid.") {
		t.Fatalf("suppress remove: %d\n%s%s", rm.code, rm.out, rm.errOut)
	}

	// Three leads of one phone number (the removal lets them in), one other.
	var ids []string
	for range 3 {
		st, id := postPhone(t, r.URL, "415-892-7322")
		if st != http.StatusAccepted {
			t.Fatalf("post after removal: %d", st)
		}
		ids = append(ids, id)
	}
	_, otherID := postPhone(t, r.URL, "+14158927330")
	for _, id := range append(ids, otherID) {
		waitSold(t, bin, env, id)
	}
	s := run(t, bin, env, "", "leads", "search", "--phone", "(415) 892-7322", "--status", "sold")
	if s.code != 0 || !strings.Contains(s.out, "3 lead(s).") || strings.Contains(s.out, otherID) || !columnsAligned(strings.TrimSuffix(s.out, "3 lead(s).\n"), "CAMPAIGN") {
		t.Fatalf("leads search --phone: %d\n%s%s", s.code, s.out, s.errOut)
	}
	for _, id := range ids {
		if !strings.Contains(s.out, id+"  auto") {
			t.Fatalf("leads search --phone: no %s in\n%s", id, s.out)
		}
	}
	page := run(t, bin, env, "", "leads", "search", "--campaign", "auto", "--limit", "2")
	if page.code != 0 || !strings.Contains(page.out, "2 lead(s) on this page; the next: --cursor ") {
		t.Fatalf("leads search --limit 2: %d\n%s%s", page.code, page.out, page.errOut)
	}
	all := run(t, bin, env, "", "leads", "search", "--campaign", "auto", "--limit", "2", "--all")
	if all.code != 0 || !strings.Contains(all.out, "4 lead(s).") || !strings.Contains(all.out, otherID) {
		t.Fatalf("leads search --all: %d\n%s%s", all.code, all.out, all.errOut)
	}
	if bad := run(t, bin, env, "", "leads", "search", "--phone", "12"); bad.code != 1 || !strings.Contains(bad.errOut, "validation_failed (HTTP 400)") ||
		!strings.Contains(bad.errOut, "phone: ") {
		t.Fatalf("leads search --phone 12: %d\n%s%s", bad.code, bad.out, bad.errOut)
	}

	ret := run(t, bin, env, "", "leads", "return", ids[0], "--buyer", "acme", "--reason", "fraud")
	if ret.code != 0 || !strings.Contains(ret.out, "Returned: lead "+ids[0]+" by acme, 25 credited") || !strings.Contains(ret.out, "the lead is returned") {
		t.Fatalf("leads return: %d\n%s%s", ret.code, ret.out, ret.errOut)
	}
	if s = run(t, bin, env, "", "leads", "search", "--phone", "4158927322", "--status", "returned"); !strings.Contains(s.out, ids[0]) || !strings.Contains(s.out, "1 lead(s).") {
		t.Fatalf("leads search --status returned:\n%s%s", s.out, s.errOut)
	}
}
