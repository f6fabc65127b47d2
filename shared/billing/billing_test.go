package billing

import (
	"testing"
	"time"

	"github.com/leadrelay/leadrelay/shared/config"
	"github.com/leadrelay/leadrelay/shared/lead"
	"github.com/leadrelay/leadrelay/shared/money"
)

func index(t *testing.T) *config.Index {
	t.Helper()
	return config.NewIndex(&config.Config{
		Timezone: "America/New_York",
		Buyers: []config.Buyer{
			{ID: "pre", Billing: config.BuyerBilling{Mode: config.BillingPrepaid, StripeCustomer: "cus_p", LowBalance: 10000,
				AutoRecharge: &config.AutoRecharge{Below: 5000, Amount: 20000}}, Orders: []config.Order{{Price: 2500}, {Price: 2000}}},
			{ID: "inv", Billing: config.BuyerBilling{Mode: config.BillingInvoice, StripeCustomer: "cus_i"}},
			{ID: "none"},
		},
	})
}

// A charge counts in the agency's month: a sale at 02:00 UTC on the 1st
// is the last day of the month before in New York.
func TestChargesOfInvoicedBuyersOnly(t *testing.T) {
	ix := index(t)
	at := time.Date(2026, 12, 1, 2, 0, 0, 0, time.UTC)
	l := &lead.Lead{ID: "l-1"}
	c := SaleCharge(ix, l, lead.Sale{Buyer: "inv", Price: 3000, At: at}, 4)
	if c == nil || c.Kind != lead.ChargeSale || c.ID != "l-1:R4" || c.Customer != "cus_i" || c.Amount != 3000 || c.Period != "2026-11" {
		t.Fatalf("sale charge %+v", c)
	}
	for _, sale := range []lead.Sale{{Buyer: "pre", Price: 3000, At: at}, {Buyer: "none", Price: 3000, At: at}, {Buyer: "inv", Price: 0, At: at}} {
		if c := SaleCharge(ix, l, sale, 4); c != nil {
			t.Errorf("%+v charged: %+v", sale, c)
		}
	}
	if c := SaleCharge(ix, &lead.Lead{ID: "t", Test: true}, lead.Sale{Buyer: "inv", Price: 3000, At: at}, 2); c != nil {
		t.Errorf("a test lead charged")
	}
	rec := &lead.Record{Lead: lead.Lead{ID: "l-2"}, Sales: []lead.Sale{{Buyer: "pre", Price: 2500}, {Buyer: "inv", Price: 3000}}}
	if c := ReturnCharge(ix, rec, 1, at.Add(24*time.Hour)); c == nil || c.Kind != lead.ChargeCredit || c.ID != "l-2:S1:credit" || c.Period != "2026-12" {
		t.Fatalf("credit %+v", c)
	}
	if ReturnCharge(ix, rec, 0, at) != nil || ReturnCharge(ix, rec, 5, at) != nil {
		t.Error("a credit for a prepaid buyer's sale, or a sale that is not there")
	}
	if !CreditsBalance(ix, rec, 0) || CreditsBalance(ix, rec, 1) {
		t.Error("only the prepaid buyer's return goes back to its balance")
	}
}

func TestNoticesAndRecharges(t *testing.T) {
	ix := index(t)
	pre := ix.Buyer("pre")
	for bal, want := range map[money.Amount]string{0: NoticeEmpty, 1999: NoticeEmpty, 2000: NoticeLow, 9999: NoticeLow, 10000: ""} {
		if got := Notice(pre, bal); got != want {
			t.Errorf("balance %s: notice %q, want %q", bal, got, want)
		}
	}
	if !DueRecharge(pre, 4999) || DueRecharge(pre, 5000) || DueRecharge(ix.Buyer("inv"), 0) {
		t.Error("recharge thresholds")
	}
}
