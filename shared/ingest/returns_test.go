package ingest

import (
	"net/http"
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
		name string
		now  time.Time
		code string
	}{
		{"at once", soldAt, ""},
		{"a second before it closes", soldAt.Add(window - time.Second), ""},
		{"as it closes", soldAt.Add(window), ""},
		{"a second late", soldAt.Add(window + time.Second), "return_window_closed"},
		{"a week late", soldAt.Add(7 * 24 * time.Hour), "return_window_closed"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in, ref := settle(rec, 0, window, nil, "fraud", c.now)
			if c.code != "" {
				if ref == nil || ref.code != c.code || ref.status != http.StatusUnprocessableEntity {
					t.Fatalf("refusal %+v, want %s", ref, c.code)
				}
				return
			}
			if ref != nil {
				t.Fatalf("refused: %+v", ref)
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
	if _, ref := settle(rec, 0, 0, nil, "fraud", soldAt); ref == nil || ref.code != "return_window_closed" {
		t.Fatalf("no window: %+v", ref)
	}
	// A sale returned before is refused with 409, window or not.
	returned := soldLead(lead.Sale{Buyer: "acme", Price: 2500, At: soldAt, Return: &lead.Return{At: soldAt, Reason: "fraud"}})
	if _, ref := settle(returned, 0, window, nil, "fraud", soldAt); ref == nil || ref.code != "already_returned" || ref.status != http.StatusConflict {
		t.Fatalf("already returned: %+v", ref)
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
			in, ref := settle(c.rec, c.sale, 24*time.Hour, c.src, "fraud", now)
			if ref != nil {
				t.Fatalf("refused: %+v", ref)
			}
			if in.Return.Clawback != c.claw || in.Final != c.final {
				t.Fatalf("clawback %s final %v; want %s %v", in.Return.Clawback, in.Final, c.claw, c.final)
			}
		})
	}
	// A lead with an offer in flight is not marked returned: another sale may follow.
	r := soldLead(lead.Sale{Buyer: "b1", Price: 2000, Payout: 400, At: soldAt})
	r.Assignment = &lead.Assignment{Buyer: "b2", Order: "auto"}
	if in, _ := settle(r, 0, time.Hour, fixed, "fraud", now); in.Final {
		t.Fatal("a lead with an offer in flight was marked returned")
	}
}

func TestDecodeReturn(t *testing.T) {
	cases := []struct {
		body   string
		fields []string
		err    bool
	}{
		{`{"lead_id":"L1","reason":"fraud"}`, nil, false},
		{`{"lead_id":"L1"}`, []string{"reason"}, false},
		{`{"reason":"fraud","lead_id":7}`, []string{"lead_id"}, false},
		{`{"lead_id":"L1","reason":"fraud","note":"x"}`, []string{"note"}, false},
		{`{}`, []string{"lead_id", "reason"}, false},
		{`[1]`, nil, true},
		{`{"lead_id":"L1","reason":"fraud"} {}`, nil, true},
	}
	for _, c := range cases {
		in, probs, err := decodeReturn([]byte(c.body))
		if (err != nil) != c.err {
			t.Fatalf("%s: error %v", c.body, err)
		}
		var got []string
		for _, p := range probs {
			got = append(got, p.Field)
		}
		if len(got) != len(c.fields) {
			t.Fatalf("%s: problems %v, want %v", c.body, got, c.fields)
		}
		for i := range got {
			if got[i] != c.fields[i] {
				t.Fatalf("%s: problems %v, want %v", c.body, got, c.fields)
			}
		}
		if c.fields == nil && !c.err && (in.LeadID != "L1" || in.Reason != "fraud") {
			t.Fatalf("%s: decoded %+v", c.body, in)
		}
	}
}
