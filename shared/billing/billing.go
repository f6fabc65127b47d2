// Package billing is how buyers pay for their leads: what an invoiced
// buyer is billed for a sale and credited for its return (lead.Charge,
// reported to Stripe by the admin function), and when a prepaid buyer's
// balance is low, empty or due for a recharge. The balances themselves
// are the store's (store.Balance), drawn down by the offers.
package billing

import (
	"fmt"
	"time"

	"github.com/leadrelay/leadrelay/shared/config"
	"github.com/leadrelay/leadrelay/shared/lead"
	"github.com/leadrelay/leadrelay/shared/money"
)

// Period is the billing month of an instant: YYYY-MM in the agency's
// timezone, as the ledger counts days, so that a period's charges add up
// to the P&L's revenue of the buyer over the same days.
func Period(ix *config.Index, at time.Time) string {
	return at.In(ix.Location(ix.Config.Timezone)).Format("2006-01")
}

// SaleCharge is the charge of a sale made in round seq to an invoiced
// buyer, or nil for a buyer not invoiced, a test lead or a free lead.
func SaleCharge(ix *config.Index, l *lead.Lead, sale lead.Sale, seq int) *lead.Charge {
	b := ix.Buyer(sale.Buyer)
	if !b.Invoiced() || l.Test || sale.Price <= 0 {
		return nil
	}
	return &lead.Charge{
		Kind: lead.ChargeSale, Buyer: b.ID, Customer: b.Billing.StripeCustomer, LeadID: l.ID,
		Amount: sale.Price, At: sale.At.UTC(), ID: fmt.Sprintf("%s:R%d", l.ID, seq), Period: Period(ix, sale.At),
	}
}

// ReturnCharge is the credit of an invoiced buyer's returned sale i, or
// nil.
func ReturnCharge(ix *config.Index, rec *lead.Record, i int, at time.Time) *lead.Charge {
	if i < 0 || i >= len(rec.Sales) {
		return nil
	}
	sale := rec.Sales[i]
	b := ix.Buyer(sale.Buyer)
	if !b.Invoiced() || rec.Test || sale.Price <= 0 {
		return nil
	}
	return &lead.Charge{
		Kind: lead.ChargeCredit, Buyer: b.ID, Customer: b.Billing.StripeCustomer, LeadID: rec.ID,
		Amount: sale.Price, At: at.UTC(), ID: fmt.Sprintf("%s:S%d:credit", rec.ID, i), Period: Period(ix, at),
	}
}

// CreditsBalance reports whether a returned sale goes back to its buyer's
// prepaid balance.
func CreditsBalance(ix *config.Index, rec *lead.Record, i int) bool {
	return i >= 0 && i < len(rec.Sales) && ix.Buyer(rec.Sales[i].Buyer).Prepaid() && !rec.Test
}

// Notice levels of a prepaid balance.
const (
	NoticeLow   = "low"
	NoticeEmpty = "empty"
)

// Notice is the notice a prepaid buyer's balance calls for, or "": empty
// when it cannot pay for one lead of the cheapest of its orders (or is
// zero), low when under the buyer's low_balance.
func Notice(b *config.Buyer, balance money.Amount) string {
	cheapest := money.Amount(0)
	for _, o := range b.Orders {
		if o.Price > 0 && (cheapest == 0 || o.Price < cheapest) {
			cheapest = o.Price
		}
	}
	switch {
	case balance <= 0 || (cheapest > 0 && balance < cheapest):
		return NoticeEmpty
	case b.Billing.LowBalance > 0 && balance < b.Billing.LowBalance:
		return NoticeLow
	}
	return ""
}

// DueRecharge reports whether a prepaid buyer's balance is under its
// auto_recharge threshold.
func DueRecharge(b *config.Buyer, balance money.Amount) bool {
	ar := b.Billing.AutoRecharge
	return b.Prepaid() && ar != nil && balance < ar.Below
}

// Metadata of the Checkout sessions and PaymentIntents of top-ups: the
// admin function writes it (a top-up link, an automatic recharge) and
// Stripe's webhook (the ingest function) reads it back to credit the
// buyer.
const (
	MetaBuyer        = "leadrelay_buyer"
	MetaKind         = "leadrelay_kind"
	KindTopUp        = "topup"
	KindAutoRecharge = "auto_recharge"
)
