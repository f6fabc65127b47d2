// Package returns decides the return of a lead a buyer bought: whether the
// return is taken (a sale returned once, within its order's return
// window), what the source loses of its payout (clawback) under its
// terms, and whether the lead ends returned. The buyer's own return (POST
// /v1/returns, package ingest) and an operator's (POST
// /v1/admin/leads/{id}/return, package admin) both decide here; the store
// records a Decision once (store.Return). See docs/money.md.
package returns

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/leadrelay/leadrelay/shared/config"
	"github.com/leadrelay/leadrelay/shared/lead"
	"github.com/leadrelay/leadrelay/shared/money"
)

// MaxBody bounds the body of a return request, a buyer's or an
// operator's.
const MaxBody = 4 << 10

// ErrNotSold reports the return of a sale that does not exist: the buyer
// did not buy the lead.
var ErrNotSold = errors.New("the buyer did not buy this lead")

// ErrAlreadyReturned reports a sale that was returned before (decided
// here, or found by the store's conditional write).
var ErrAlreadyReturned = errors.New("sale already returned")

// WindowClosedError refuses a buyer's return once its order's return
// window, counted from the sale's time, has closed; an order without a
// window (Window 0) takes no returns.
type WindowClosedError struct {
	Buyer, Order string
	Window       time.Duration
	SoldAt       time.Time
}

func (e *WindowClosedError) Error() string {
	if e.Window <= 0 {
		return fmt.Sprintf("order %s/%s takes no returns (it has no return_window)", e.Buyer, e.Order)
	}
	closes := e.SoldAt.Add(e.Window)
	return fmt.Sprintf("the return window of %s closed at %s (sold at %s)", e.Window,
		closes.UTC().Format(time.RFC3339), e.SoldAt.UTC().Format(time.RFC3339))
}

// Decision is a return decided: what the store records, in one
// conditional write, so a return counts once.
type Decision struct {
	// Lead is the lead as read.
	Lead *lead.Record
	// Sale is the index of the returned sale in Lead.Sales.
	Sale   int
	Return lead.Return
	// Final marks the lead returned: every sale is returned and no offer
	// is in flight. (The lead's record shows it returned whenever that
	// holds; Final is what the decision says.)
	Final  bool
	Events []lead.Event
	// Conversion, when set, queues the return's report to the ad platform
	// the lead came from, with the return.
	Conversion *lead.Conversion
	// CreditBalance gives the sale's price back to its buyer's prepaid
	// balance, with the return.
	CreditBalance bool
	// Charge, when set, queues the credit of an invoiced buyer's returned
	// sale for its next invoice, with the return.
	Charge *lead.Charge
}

// SaleOf is the index of the buyer's sale of the lead, or -1.
func SaleOf(rec *lead.Record, buyer string) int {
	return slices.IndexFunc(rec.Sales, func(s lead.Sale) bool { return s.Buyer == buyer })
}

// Settle decides a buyer's return of sale i of the lead at now: refused
// with ErrAlreadyReturned if the sale was returned already, or a
// *WindowClosedError once its order's return window (window, counted from
// the sale's time) has closed; otherwise the return, with the clawback the
// source's terms give and whether the lead ends returned.
func Settle(rec *lead.Record, i int, window time.Duration, src *config.Source, reason string, now time.Time) (Decision, error) {
	sale := rec.Sales[i]
	if sale.Return != nil {
		return Decision{}, ErrAlreadyReturned
	}
	if window <= 0 || now.After(sale.At.Add(window)) {
		return Decision{}, &WindowClosedError{Buyer: sale.Buyer, Order: sale.Order, Window: window, SoldAt: sale.At}
	}
	return decide(rec, i, src, reason, now), nil
}

// Override decides an operator's return of the buyer's sale of the lead:
// the same return as a buyer's — the price credited, the clawback of the
// source's terms, the lead returned once no sale stands — except that the
// order's return window is not applied (an operator's override) and any
// reason is taken. It returns ErrNotSold, or ErrAlreadyReturned if the
// sale was returned before.
func Override(rec *lead.Record, buyer string, src *config.Source, reason string, now time.Time) (Decision, error) {
	i := SaleOf(rec, buyer)
	if i < 0 {
		return Decision{}, ErrNotSold
	}
	if rec.Sales[i].Return != nil {
		return Decision{}, ErrAlreadyReturned
	}
	d := decide(rec, i, src, reason, now)
	for j := range d.Events {
		d.Events[j].Detail += " (marked by an operator: the return window is not applied)"
		d.Events[j].Data["by"] = "operator"
	}
	return d, nil
}

// decide is the return of sale i, not returned yet: the clawback the
// source's terms give and whether the lead ends returned.
func decide(rec *lead.Record, i int, src *config.Source, reason string, now time.Time) Decision {
	sale := rec.Sales[i]
	claw := clawback(src, rec, i)
	final := rec.Assignment == nil
	for j, s := range rec.Sales {
		if j != i && s.Return == nil {
			final = false
		}
	}
	detail := fmt.Sprintf("returned by %s (%s): %s credited", sale.Buyer, reason, sale.Price)
	if claw != 0 {
		detail += fmt.Sprintf(", %s clawed back from source %s", claw, rec.Source)
	}
	data := map[string]any{"reason": reason, "credited": sale.Price.Decimal(), "clawback": claw.Decimal()}
	return Decision{
		Lead: rec, Sale: i, Final: final,
		Return: lead.Return{At: now, Reason: reason, Clawback: claw},
		Events: []lead.Event{{At: now, Type: lead.EventReturned, Buyer: sale.Buyer, Order: sale.Order, Detail: detail, Data: data}},
	}
}

// clawback is the payout taken back from the source when sale i is
// returned, under the source's current terms: nothing without clawback;
// with a revenue share, the share paid on that sale; with a fixed payout
// (paid once a lead), everything still paid on the lead, once the return
// leaves no sale standing.
func clawback(src *config.Source, rec *lead.Record, i int) money.Amount {
	if src == nil || !src.Clawback {
		return 0
	}
	if src.Payout.Type != config.PayoutFixed {
		return rec.Sales[i].Payout
	}
	var paid money.Amount
	for j, s := range rec.Sales {
		if j != i && s.Return == nil {
			return 0 // another buyer keeps the lead: the source keeps its payout
		}
		paid += s.Payout
		if s.Return != nil {
			paid -= s.Return.Clawback
		}
	}
	return paid
}
