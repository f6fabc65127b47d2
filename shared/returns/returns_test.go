package returns

import (
	"errors"
	"testing"
	"time"

	"github.com/leadrelay/leadrelay/shared/config"
	"github.com/leadrelay/leadrelay/shared/lead"
	"github.com/leadrelay/leadrelay/shared/money"
)

var soldAt = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func soldLead(sales ...lead.Sale) *lead.Record {
	return &lead.Record{Lead: lead.Lead{ID: "L1", Campaign: "auto", Source: "src"}, Status: lead.Sold, Seq: 3, Sales: sales}
}

func TestReturnWindowFromTheSaleTime(t *testing.T) {
	rec := soldLead(lead.Sale{Buyer: "acme", Order: "auto", Price: 2500, Payout: 400, At: soldAt})
	window := 72 * time.Hour
	cases := []struct {
		name   string
		now    time.Time
		closed bool
	}{
		{"at once", soldAt, false},
		{"a second before it closes", soldAt.Add(window - time.Second), false},
		{"as it closes", soldAt.Add(window), false},
		{"a second late", soldAt.Add(window + time.Second), true},
		{"a week late", soldAt.Add(7 * 24 * time.Hour), true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in, err := Settle(rec, 0, window, nil, "fraud", c.now)
			if c.closed {
				var closed *WindowClosedError
				if !errors.As(err, &closed) {
					t.Fatalf("refusal %v, want the window closed", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			if !in.Return.At.Equal(c.now) || in.Return.Reason != "fraud" || !in.Final || in.Return.Clawback != 0 {
				t.Fatalf("return %+v final %v", in.Return, in.Final)
			}
			if len(in.Events) != 1 || in.Events[0].Type != lead.EventReturned || in.Events[0].Buyer != "acme" {
				t.Fatalf("events %+v", in.Events)
			}
		})
	}
	// An order without a return window takes no returns.
	var closed *WindowClosedError
	if _, err := Settle(rec, 0, 0, nil, "fraud", soldAt); !errors.As(err, &closed) ||
		err.Error() != "order acme/auto takes no returns (it has no return_window)" {
		t.Fatalf("no window: %v", err)
	}
	if _, err := Settle(rec, 0, window, nil, "fraud", soldAt.Add(window+time.Second)); err == nil ||
		err.Error() != "the return window of 72h0m0s closed at 2025-03-04T12:00:00Z (sold at 2025-03-01T12:00:00Z)" {
		t.Fatalf("closed: %v", err)
	}
	// A sale returned before is refused, window or not.
	returned := soldLead(lead.Sale{Buyer: "acme", Price: 2500, At: soldAt, Return: &lead.Return{At: soldAt, Reason: "fraud"}})
	if _, err := Settle(returned, 0, window, nil, "fraud", soldAt); !errors.Is(err, ErrAlreadyReturned) {
		t.Fatalf("already returned: %v", err)
	}
}

func TestClawback(t *testing.T) {
	fixed := &config.Source{ID: "src", Clawback: true, Payout: config.Payout{Type: config.PayoutFixed, Amount: 400}}
	revshare := &config.Source{ID: "src", Clawback: true, Payout: config.Payout{Type: config.PayoutRevshare, Percent: 50}}
	noClaw := &config.Source{ID: "src", Payout: config.Payout{Type: config.PayoutRevshare, Percent: 50}}
	now := soldAt.Add(time.Hour)
	shared := func() *lead.Record {
		return soldLead(
			lead.Sale{Buyer: "b1", Price: 2000, Payout: 400, At: soldAt},
			lead.Sale{Buyer: "b2", Price: 1500, Payout: 0, At: soldAt},
		)
	}
	cases := []struct {
		name  string
		src   *config.Source
		rec   *lead.Record
		sale  int
		claw  money.Amount
		final bool
	}{
		{"no clawback in the terms", noClaw, soldLead(lead.Sale{Buyer: "b1", Price: 2001, Payout: 1001, At: soldAt}), 0, 0, true},
		{"unknown source", nil, soldLead(lead.Sale{Buyer: "b1", Price: 2001, Payout: 1001, At: soldAt}), 0, 0, true},
		{"revshare: the sale's share", revshare, soldLead(lead.Sale{Buyer: "b1", Price: 2001, Payout: 1001, At: soldAt}), 0, 1001, true},
		{"fixed, exclusive: the payout", fixed, soldLead(lead.Sale{Buyer: "b1", Price: 2000, Payout: 400, At: soldAt}), 0, 400, true},
		{"fixed, shared, another sale stands", fixed, shared(), 0, 0, false},
		{"fixed, shared, the other sale stands", fixed, shared(), 1, 0, false},
		{"fixed, shared, the last standing sale", fixed, func() *lead.Record {
			r := shared()
			r.Sales[0].Return = &lead.Return{At: soldAt, Reason: "fraud"}
			return r
		}(), 1, 400, true},
		{"fixed, shared, part clawed back before", fixed, func() *lead.Record {
			r := shared()
			r.Sales[1].Return = &lead.Return{At: soldAt, Reason: "fraud", Clawback: 100}
			return r
		}(), 0, 300, true},
		{"revshare, shared: each sale its own share", revshare, soldLead(
			lead.Sale{Buyer: "b1", Price: 2000, Payout: 1000, At: soldAt},
			lead.Sale{Buyer: "b2", Price: 1500, Payout: 750, At: soldAt}), 1, 750, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in, err := Settle(c.rec, c.sale, 24*time.Hour, c.src, "fraud", now)
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			if in.Return.Clawback != c.claw || in.Final != c.final {
				t.Fatalf("clawback %s final %v; want %s %v", in.Return.Clawback, in.Final, c.claw, c.final)
			}
		})
	}
	// A lead with an offer in flight is not marked returned: another sale may follow.
	r := soldLead(lead.Sale{Buyer: "b1", Price: 2000, Payout: 400, At: soldAt})
	r.Assignment = &lead.Assignment{Buyer: "b2", Order: "auto"}
	if in, _ := Settle(r, 0, time.Hour, fixed, "fraud", now); in.Final {
		t.Fatal("a lead with an offer in flight was marked returned")
	}
}

// An operator's return skips the window and says so; it finds the
// buyer's sale, and refuses a sale that does not exist or was returned.
func TestOverride(t *testing.T) {
	rec := soldLead(lead.Sale{Buyer: "acme", Order: "auto", Price: 2500, Payout: 400, At: soldAt})
	late := soldAt.Add(365 * 24 * time.Hour)
	d, err := Override(rec, "acme", nil, "goodwill", late)
	if err != nil || d.Sale != 0 || !d.Final || !d.Return.At.Equal(late) || d.Return.Reason != "goodwill" {
		t.Fatalf("override: %v %+v", err, d)
	}
	if len(d.Events) != 1 || d.Events[0].Data["by"] != "operator" ||
		d.Events[0].Detail != "returned by acme (goodwill): 25.00 credited (marked by an operator: the return window is not applied)" {
		t.Fatalf("events %+v", d.Events)
	}
	if _, err := Override(rec, "nobody", nil, "x", late); !errors.Is(err, ErrNotSold) {
		t.Fatalf("not sold: %v", err)
	}
	rec.Sales[0].Return = &lead.Return{At: soldAt, Reason: "fraud"}
	if _, err := Override(rec, "acme", nil, "x", late); !errors.Is(err, ErrAlreadyReturned) {
		t.Fatalf("already returned: %v", err)
	}
}
