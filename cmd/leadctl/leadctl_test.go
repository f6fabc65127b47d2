package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/leadrelay/leadrelay/localstack/emulator"
	"github.com/leadrelay/leadrelay/localstack/runner"
)

const (
	token     = "leadctl-test-token"
	sourceKey = "leadctl-source-key"
)

// leadctl builds the real binary once per test.
func leadctl(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "leadctl")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

type result struct {
	code        int
	out, errOut string
}

// run runs leadctl with a clean environment: the endpoint and token only.
func run(t *testing.T, bin string, env []string, stdin string, args ...string) result {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}, env...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{code: code, out: out.String(), errOut: errOut.String()}
}

func configYAML(buyerURL, price, extraSource string) string {
	return fmt.Sprintf(`campaigns:
  - id: auto
    fields:
      phone: {type: phone, required: true, pii: true}
      state: {type: us_state, required: true}
sources:
  - id: src
    campaigns: [auto]
    api_key_sha256: "%x"
    payout: {type: fixed, amount: 4.00}
%sbuyers:
  - id: acme
    delivery: {type: webhook, url: %q, secret: "whsec_dGVzdC1zZWNyZXQtZm9yLXdlYmhvb2tz"}
    orders:
      - campaign: auto
        price: %s
        caps: {daily: 50}
`, sha(sourceKey), extraSource, buyerURL, price)
}

func sha(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

func startRunner(t *testing.T, doc string) *runner.Runner {
	t.Helper()
	cfg := emulator.Config(t)
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	r, err := runner.Start(context.Background(), runner.Options{
		Addr: "127.0.0.1:0", AdminToken: token, ConfigFile: path, Prefix: emulator.Name("ctl-"),
		AWS: cfg, Visibility: 5 * time.Second, Pollers: 2, AllowPrivateTargets: true, ConfigTTL: time.Minute,
		Log: slog.New(slog.NewJSONHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		_ = r.Stop(ctx)
	})
	return r
}

func acceptingBuyer(t *testing.T) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(200) }))
	t.Cleanup(srv.Close)
	return srv.URL
}

func writeFile(t *testing.T, doc string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "leadrelay.yaml")
	if err := os.WriteFile(p, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// columnsAligned reports whether every line of a table starts its second
// column at the same offset.
func columnsAligned(table string, col string) bool {
	lines := strings.Split(strings.TrimSpace(table), "\n")
	at := strings.Index(lines[0], col)
	if at <= 0 {
		return false
	}
	for _, l := range lines[1:] {
		if len(l) <= at || l[at-1] != ' ' || l[at] == ' ' {
			return false
		}
	}
	return true
}

func TestLeadctlAgainstTheLocalRunner(t *testing.T) {
	bin := leadctl(t)
	buyerURL := acceptingBuyer(t)
	r := startRunner(t, configYAML(buyerURL, "25.00", ""))
	env := []string{"LEADRELAY_ENDPOINT=" + r.URL, "LEADRELAY_ADMIN_TOKEN=" + token}

	next := configYAML(buyerURL, "30.00", fmt.Sprintf("  - id: src2\n    campaigns: [auto]\n    api_key_sha256: \"%x\"\n", sha("other-key")))
	file := writeFile(t, next)

	// diff: the plan only.
	d := run(t, bin, env, "", "diff", "-f", file)
	if d.code != 0 || !strings.Contains(d.out, "+ source src2") || !strings.Contains(d.out, "~ order acme/auto") ||
		!strings.Contains(d.out, "price: 25 → 30") || !strings.Contains(d.out, "Plan: 1 to add, 1 to change, 0 to remove.") {
		t.Fatalf("diff: %d\n%s%s", d.code, d.out, d.errOut)
	}
	// apply without --yes and without a terminal: refused, nothing changed.
	a := run(t, bin, env, "y\n", "apply", "-f", file)
	if a.code == 0 || !strings.Contains(a.errOut, "--yes") {
		t.Fatalf("apply without --yes: %d\n%s%s", a.code, a.out, a.errOut)
	}
	if d2 := run(t, bin, env, "", "diff", "-f", file); !strings.Contains(d2.out, "1 to add") {
		t.Fatalf("refused apply changed something:\n%s", d2.out)
	}
	// apply --yes.
	a = run(t, bin, env, "", "apply", "-f", file, "--yes")
	if a.code != 0 || !strings.Contains(a.out, "Applied: version 2.") {
		t.Fatalf("apply: %d\n%s%s", a.code, a.out, a.errOut)
	}
	if a = run(t, bin, env, "", "apply", "-f", file, "--yes"); a.code != 0 || !strings.Contains(a.out, "No changes.") {
		t.Fatalf("apply again: %d\n%s%s", a.code, a.out, a.errOut)
	}

	// An invalid file: the server's code, and each field with its line.
	bad := writeFile(t, strings.Replace(next, "caps: {daily: 50}", "caps: {daily: -5}", 1))
	a = run(t, bin, env, "", "apply", "-f", bad, "--yes")
	if a.code != 1 || !strings.Contains(a.errOut, "invalid_config (HTTP 400)") ||
		!strings.Contains(a.errOut, "line 20: buyers[0].orders[0].caps.daily: cap must not be negative [invalid]") {
		t.Fatalf("bad apply: %d\n%s%s", a.code, a.out, a.errOut)
	}

	// get: aligned tables.
	g := run(t, bin, env, "", "get", "orders")
	if g.code != 0 || !strings.Contains(g.out, "acme/auto") || !strings.Contains(g.out, "daily=50") || !columnsAligned(g.out, "STATUS") {
		t.Fatalf("get orders: %d\n%s%s", g.code, g.out, g.errOut)
	}
	g = run(t, bin, env, "", "get", "sources")
	if !strings.Contains(g.out, "src2") || !columnsAligned(g.out, "STATUS") {
		t.Fatalf("get sources:\n%s", g.out)
	}
	if g = run(t, bin, env, "", "get", "widgets"); g.code == 0 {
		t.Fatalf("get widgets succeeded:\n%s", g.out)
	}

	// pause and resume.
	p := run(t, bin, env, "", "pause", "buyer", "acme")
	if p.code != 0 || !strings.Contains(p.out, "buyer acme is paused") {
		t.Fatalf("pause: %d\n%s%s", p.code, p.out, p.errOut)
	}
	if g = run(t, bin, env, "", "get", "buyers"); !strings.Contains(g.out, "paused") {
		t.Fatalf("get buyers after pause:\n%s", g.out)
	}
	if p = run(t, bin, env, "", "resume", "buyer", "acme"); p.code != 0 || !strings.Contains(p.out, "buyer acme is active") {
		t.Fatalf("resume: %d\n%s%s", p.code, p.out, p.errOut)
	}
	if p = run(t, bin, env, "", "pause", "order", "acme/auto"); p.code != 0 {
		t.Fatalf("pause order: %d\n%s%s", p.code, p.out, p.errOut)
	}
	if g = run(t, bin, env, "", "get", "orders"); !strings.Contains(g.out, "paused") {
		t.Fatalf("get orders after pause:\n%s", g.out)
	}
	if p = run(t, bin, env, "", "resume", "order", "acme/auto"); p.code != 0 {
		t.Fatalf("resume order: %d\n%s%s", p.code, p.out, p.errOut)
	}
	if p = run(t, bin, env, "", "pause", "buyer", "nobody"); p.code != 1 || !strings.Contains(p.errOut, "buyer_not_found (HTTP 404)") {
		t.Fatalf("pause unknown buyer: %d\n%s%s", p.code, p.out, p.errOut)
	}

	// leads get: the lead and its timeline.
	id := postLead(t, r.URL)
	var l result
	for deadline := time.Now().Add(30 * time.Second); ; {
		l = run(t, bin, env, "", "leads", "get", id)
		if l.code != 0 {
			t.Fatalf("leads get: %d\n%s%s", l.code, l.out, l.errOut)
		}
		if strings.Contains(l.out, "sold (round") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("lead never sold:\n%s", l.out)
		}
		time.Sleep(200 * time.Millisecond)
	}
	for _, want := range []string{"lead      " + id, "sold to   acme/auto at 30", "EVENT", "received", "routed", "accepted"} {
		if !strings.Contains(l.out, want) {
			t.Fatalf("leads get: no %q in\n%s", want, l.out)
		}
	}
	if l = run(t, bin, env, "", "leads", "reroute", id); l.code != 1 || !strings.Contains(l.errOut, "not_reroutable") {
		t.Fatalf("reroute a sold lead: %d\n%s%s", l.code, l.out, l.errOut)
	}

	// No token: the server's answer, not a stack trace.
	u := run(t, bin, []string{"LEADRELAY_ENDPOINT=" + r.URL}, "", "get", "buyers")
	if u.code != 1 || !strings.Contains(u.errOut, "unauthorized (HTTP 401)") {
		t.Fatalf("no token: %d\n%s%s", u.code, u.out, u.errOut)
	}
}

func postLead(t *testing.T, base string) string {
	t.Helper()
	body := `{"campaign":"auto","fields":{"phone":"+14158927310","state":"CA"}}`
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
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != 202 {
		t.Fatalf("post lead: %d %v", resp.StatusCode, err)
	}
	return out.LeadID
}

// With --sigv4 (or no token on an https endpoint) requests are signed for
// API Gateway's IAM authorisation with the AWS profile's credentials.
func TestLeadctlSignsWithSigV4(t *testing.T) {
	bin := leadctl(t)
	var mu sync.Mutex
	var auth, date string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		auth, date = r.Header.Get("Authorization"), r.Header.Get("X-Amz-Date")
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"campaigns":[],"sources":[],"buyers":[]}`)
	}))
	t.Cleanup(srv.Close)
	env := []string{"LEADRELAY_ENDPOINT=" + srv.URL, "AWS_ACCESS_KEY_ID=AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY=secret", "AWS_REGION=eu-west-1"}
	res := run(t, bin, env, "", "get", "campaigns", "--sigv4")
	if res.code != 0 {
		t.Fatalf("get: %d\n%s%s", res.code, res.out, res.errOut)
	}
	mu.Lock()
	defer mu.Unlock()
	if !strings.HasPrefix(auth, "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/") || !strings.Contains(auth, "/eu-west-1/execute-api/aws4_request") || date == "" {
		t.Fatalf("Authorization %q, X-Amz-Date %q", auth, date)
	}
}
