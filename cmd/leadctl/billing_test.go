package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/leadrelay/leadrelay/localstack/emulator"
	"github.com/leadrelay/leadrelay/localstack/runner"
	"github.com/leadrelay/leadrelay/shared/stripe/stripefake"
)

// billingConfig has big invoiced for campaign auto's leads and pre
// prepaid, its key the fake Stripe's in an SSM parameter.
func billingConfig(buyerURL, keyParam string) string {
	return fmt.Sprintf(`billing:
  stripe: {secret_key: "ssm:%[3]s", webhook_secret: "ssm:%[3]s", success_url: "https://agency.example/thanks"}
campaigns:
  - id: auto
    fields:
      phone: {type: phone, required: true, pii: true}
      state: {type: us_state, required: true}
sources:
  - id: src
    campaigns: [auto]
    api_key_sha256: "%[1]x"
    payout: {type: fixed, amount: 4.00}
buyers:
  - id: big
    billing: {mode: invoice, stripe_customer: cus_big}
    delivery: {type: webhook, url: %[2]q, secret: "whsec_dGVzdC1zZWNyZXQtZm9yLXdlYmhvb2tz"}
    orders:
      - {campaign: auto, price: 25.00, priority: 1}
  - id: pre
    billing: {mode: prepaid, stripe_customer: cus_pre, low_balance: 10.00, auto_recharge: {below: 5.00, amount: 100.00}}
    delivery: {type: webhook, url: %[2]q, secret: "whsec_dGVzdC1zZWNyZXQtZm9yLXdlYmhvb2tz"}
    orders:
      - {campaign: auto, price: 20.00, priority: 2}
`, sha(sourceKey), buyerURL, keyParam)
}

// startBillingRunner runs LeadRelay with Stripe at the fake.
func startBillingRunner(t *testing.T, fake *stripefake.Server) *runner.Runner {
	t.Helper()
	cfg := emulator.Config(t)
	param := "/" + strings.TrimSuffix(emulator.Name("leadrelay/ctl-"), "-") + "/stripe-key"
	if _, err := ssm.NewFromConfig(cfg).PutParameter(context.Background(), &ssm.PutParameterInput{
		Name: aws.String(param), Value: aws.String(fake.SecretKey), Type: ssmtypes.ParameterTypeSecureString, Overwrite: aws.Bool(true),
	}); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte(billingConfig(acceptingBuyer(t), param)), 0o600); err != nil {
		t.Fatal(err)
	}
	r, err := runner.Start(context.Background(), runner.Options{
		Addr: "127.0.0.1:0", AdminToken: token, ConfigFile: path, Prefix: emulator.Name("ctl-"),
		AWS: cfg, Visibility: 5 * time.Second, Pollers: 2, AllowPrivateTargets: true, ConfigTTL: time.Minute, NoTasks: true,
		StripeURL: fake.URL, Log: slog.New(slog.NewJSONHandler(io.Discard, nil)),
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

// buyers balance prints a prepaid balance, buyers topup a Checkout link
// (the same one for the same --idempotency-key), buyers billing an
// invoiced buyer's statement, charge by charge, with its net.
func TestLeadctlBuyerBilling(t *testing.T) {
	bin := leadctl(t)
	fake := stripefake.New(t)
	r := startBillingRunner(t, fake)
	env := []string{"LEADRELAY_ENDPOINT=" + r.URL, "LEADRELAY_ADMIN_TOKEN=" + token}
	ctx := context.Background()

	if _, err := r.App.Store.TopUp(ctx, "pre", "pi_seed", 4000, time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	st, id := postPhone(t, r.URL, "415-892-7390")
	if st != 202 {
		t.Fatalf("post: %d", st)
	}
	waitSold(t, bin, env, id)
	if _, err := r.Admin.RunBilling(ctx); err != nil {
		t.Fatal(err)
	}

	b := run(t, bin, env, "", "buyers", "balance", "pre")
	for _, want := range []string{"pre (prepaid)", "40.00 USD", "2026-11-30T09:00:00Z", "low balance    10.00 USD", "100.00 USD when under 5.00"} {
		if b.code != 0 || !strings.Contains(b.out, want) {
			t.Fatalf("buyers balance lacks %q: %d\n%s%s", want, b.code, b.out, b.errOut)
		}
	}
	if b := run(t, bin, env, "", "buyers", "balance", "big"); b.code != 1 || !strings.Contains(b.errOut, "not_prepaid (HTTP 409)") {
		t.Fatalf("balance of an invoiced buyer: %d\n%s%s", b.code, b.out, b.errOut)
	}

	top := run(t, bin, env, "", "buyers", "topup", "pre", "--amount", "200", "--idempotency-key", "k-1")
	again := run(t, bin, env, "", "buyers", "topup", "pre", "--amount", "200", "--idempotency-key", "k-1")
	sessions := fake.CheckoutSessions()
	if top.code != 0 || !strings.HasPrefix(top.out, fake.URL+"/c/pay/cs_") || again.out != top.out || len(sessions) != 1 ||
		sessions[0].Amount != 20000 || !strings.Contains(top.errOut, "Top-up of 200.00 USD for pre") {
		t.Fatalf("buyers topup: %d %q %q\n%s; sessions %+v", top.code, top.out, again.out, top.errOut, sessions)
	}
	if bad := run(t, bin, env, "", "buyers", "topup", "pre", "--amount", "0.10"); bad.code != 1 || !strings.Contains(bad.errOut, "validation_failed") ||
		!strings.Contains(bad.errOut, "amount: amount must be at least 0.50") {
		t.Fatalf("a top-up of 0.10: %d\n%s%s", bad.code, bad.out, bad.errOut)
	}

	s := run(t, bin, env, "", "buyers", "billing", "big")
	for _, want := range []string{"Buyer big (invoice, Stripe cus_big)", id, "sale", "25.00", "sent", id + ":R", "1 sale(s) 25.00, 0 credit(s) 0.00, net 25.00 USD", "Stripe: 1 sent, 0 pending, 0 failed"} {
		if s.code != 0 || !strings.Contains(s.out, want) {
			t.Fatalf("buyers billing lacks %q: %d\n%s%s", want, s.code, s.out, s.errOut)
		}
	}
	if s := run(t, bin, env, "", "buyers", "billing", "big", "--period", "2001-01"); s.code != 0 || !strings.Contains(s.out, "0 sale(s)") {
		t.Fatalf("an empty period: %d\n%s%s", s.code, s.out, s.errOut)
	}
	if s := run(t, bin, env, "", "buyers", "billing", "big", "--period", "soon"); s.code != 1 || !strings.Contains(s.errOut, "want a month YYYY-MM") {
		t.Fatalf("a bad period: %d\n%s%s", s.code, s.out, s.errOut)
	}
}
