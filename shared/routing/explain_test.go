package routing

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/leadrelay/leadrelay/shared/config"
	"github.com/leadrelay/leadrelay/shared/lead"
)

func TestExplain(t *testing.T) {
	now := mustTime(t, "2026-12-25T15:00:00Z") // Friday 10:00 in New York
	order := func(id string, mod func(*config.Order)) config.Order {
		o := config.Order{ID: id, Price: 1000}
		if mod != nil {
			mod(&o)
		}
		return o
	}
	buyers := []config.Buyer{
		{ID: "paused", Status: config.StatusPaused, Orders: []config.Order{order("o", nil)}},
		{ID: "acme", Orders: []config.Order{
			order("paused", func(o *config.Order) { o.Status = config.StatusPaused }),
			order("offered", nil),
			order("full", nil),
			order("other", nil),
			order("nocode", nil),
			order("filtered", func(o *config.Order) {
				o.Filters = []config.Filter{{Field: "state", Op: "in", Value: []any{"CA", "TX"}}}
			}),
			order("closed", func(o *config.Order) {
				o.Schedule = &config.Schedule{Timezone: "America/New_York", Days: []string{"mon"}}
			}),
			order("holiday", func(o *config.Order) {
				o.Schedule = &config.Schedule{Timezone: "America/New_York", Holidays: []string{"2026-12-25"}}
			}),
			order("second", func(o *config.Order) { o.Priority = 2 }),
			order("first", nil),
		}},
		{ID: "bought", Orders: []config.Order{order("o", nil)}},
	}
	f := newFixture(t, config.Campaign{}, buyers...)
	in := f.input(&lead.Lead{Fields: map[string]any{"state": "NY"}}, now)
	in.Exclude = map[string]string{
		"acme/offered": ReasonAlreadyOffered,
		"acme/full":    ReasonCapFull,
		"acme/other":   "buyer_dedupe",
		"acme/nocode":  "",
		"paused/o":     ReasonCapFull, // paused comes first
	}
	in.Bought = map[string]bool{"bought": true}
	d := Decide(in)

	want := []Verdict{
		{Order: "paused/o", Reason: ReasonBuyerPaused, Detail: "buyer paused is paused"},
		{Order: "acme/paused", Reason: ReasonOrderPaused, Detail: "order acme/paused is paused"},
		{Order: "acme/offered", Reason: ReasonAlreadyOffered, Detail: "the lead was already offered to this order"},
		{Order: "acme/full", Reason: ReasonCapFull, Detail: "a cap of this order or its buyer was full when the router tried to reserve it"},
		{Order: "acme/other", Reason: "buyer_dedupe", Detail: "excluded by the caller: buyer_dedupe"},
		{Order: "acme/nocode", Reason: ReasonExcluded, Detail: "excluded by the caller"},
		{Order: "acme/filtered", Reason: ReasonFilterFailed, Detail: `filter state in [CA TX]: lead has "NY"`},
		{Order: "acme/closed", Reason: ReasonScheduleClosed, Detail: "closed at Fri 2026-12-25 10:00 America/New_York (open mon all day)"},
		{Order: "acme/holiday", Reason: ReasonHoliday, Detail: "2026-12-25 is a holiday in America/New_York"},
		{Order: "acme/second", Eligible: true, Rank: 2},
		{Order: "acme/first", Eligible: true, Rank: 1},
		{Order: "bought/o", Reason: ReasonAlreadyBought, Detail: "buyer bought already bought this lead"},
	}
	if len(d.Explain) != len(want) {
		t.Fatalf("%d verdicts for %d orders", len(d.Explain), len(want))
	}
	for i, w := range want {
		if d.Explain[i] != w {
			t.Errorf("verdict %d:\n got %+v\nwant %+v", i, d.Explain[i], w)
		}
	}
	if len(d.Candidates) != 2 || d.Candidates[0].Ref.Key() != "acme/first" || d.Candidates[1].Ref.Key() != "acme/second" {
		t.Errorf("candidates %+v", d.Candidates)
	}

	b, err := json.Marshal(d.Explain[9:11])
	if err != nil {
		t.Fatal(err)
	}
	if got := string(b); got != `[{"order":"acme/second","eligible":true,"rank":2},{"order":"acme/first","eligible":true,"rank":1}]` {
		t.Errorf("json %s", got)
	}
}

func TestExplainCampaign(t *testing.T) {
	tests := []struct {
		name     string
		campaign func(*fixture) *config.Campaign
		detail   string
	}{
		{
			name: "paused",
			campaign: func(f *fixture) *config.Campaign {
				c := *f.campaign
				c.Status = config.StatusPaused
				return &c
			},
			detail: "campaign auto is paused",
		},
		{
			name:     "not configured",
			campaign: func(*fixture) *config.Campaign { return nil },
			detail:   `campaign "auto" is not configured`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, config.Campaign{},
				buyer("a", "UTC", config.Order{Price: 100}),
				buyer("b", "UTC", config.Order{Price: 100}))
			in := f.input(&lead.Lead{}, time.Unix(0, 0))
			in.Campaign = tt.campaign(f)
			d := Decide(in)
			if len(d.Candidates) != 0 || len(d.Explain) != 2 {
				t.Fatalf("%d candidates, %d verdicts", len(d.Candidates), len(d.Explain))
			}
			for _, v := range d.Explain {
				if v.Eligible || v.Reason != ReasonCampaignPaused || v.Detail != tt.detail {
					t.Errorf("verdict %+v, want campaign_paused: %s", v, tt.detail)
				}
			}
		})
	}
}

func TestDecideNoOrders(t *testing.T) {
	f := newFixture(t, config.Campaign{})
	d := Decide(f.input(&lead.Lead{}, time.Unix(0, 0)))
	if d.Candidates != nil || len(d.Explain) != 0 {
		t.Errorf("decision %+v, want nothing", d)
	}
	// A nil lead is a lead without fields.
	f = newFixture(t, config.Campaign{}, buyer("a", "UTC", config.Order{Price: 100, Filters: []config.Filter{{Field: "x", Op: "exists", Value: false}}}))
	in := f.input(&lead.Lead{}, time.Unix(0, 0))
	in.Lead = nil
	if d := Decide(in); len(d.Candidates) != 1 {
		t.Errorf("nil lead: %+v", d.Explain)
	}
}

// TestDecideFromYAML runs the design document's example through config.Parse:
// filter values as YAML decodes them, defaults, the schedule and caps.
func TestDecideFromYAML(t *testing.T) {
	doc := `
campaigns:
  - id: auto-insurance
    fields:
      phone:  {type: phone, required: true, pii: true}
      state:  {type: us_state, required: true}
      zip:    {type: zip}
      age:    {type: integer, min: 18, max: 100}
    distribution: waterfall
sources:
  - id: fb-1
    campaigns: [auto-insurance]
    api_key_sha256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
buyers:
  - id: acme
    timezone: America/Los_Angeles
    delivery: {type: webhook, url: "https://buyer.example.com/leads"}
    caps: {daily: 500}
    orders:
      - campaign: auto-insurance
        price: 25.00
        filters:
          - {field: state, op: in, value: [CA, TX]}
          - {field: age, op: gte, value: 25}
          - {field: zip, op: starts_with, value: 9}
        schedule: {timezone: America/Los_Angeles, days: [mon, tue, wed, thu, fri], hours: "08:00-18:00"}
        caps: {hourly: 10, daily: 50, daily_budget: 1000}
  - id: globex
    delivery: {type: webhook, url: "https://globex.example.com/leads"}
    orders:
      - campaign: auto-insurance
        price: 20.00
        priority: 2
`
	c, err := config.Parse([]byte(doc))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	ix := config.NewIndex(c)
	cp := ix.Campaign("auto-insurance")
	// Tuesday 2026-11-24 10:00 in Los Angeles.
	now := mustTime(t, "2026-11-24T18:00:00Z")
	tests := []struct {
		fields map[string]any
		want   []string
	}{
		{fields: map[string]any{"state": "CA", "age": int64(30), "zip": "90210"}, want: []string{"acme/auto-insurance", "globex/auto-insurance"}},
		{fields: map[string]any{"state": "TX", "age": 25.0, "zip": "94105"}, want: []string{"acme/auto-insurance", "globex/auto-insurance"}},
		{fields: map[string]any{"state": "CA", "age": json.Number("24"), "zip": "90210"}, want: []string{"globex/auto-insurance"}},
		{fields: map[string]any{"state": "CA", "age": "30", "zip": "10001"}, want: []string{"globex/auto-insurance"}},
	}
	for _, tt := range tests {
		d := Decide(Input{
			Lead:     &lead.Lead{Campaign: cp.ID, Fields: tt.fields},
			Campaign: cp,
			Orders:   ix.Orders(cp.ID),
			Index:    ix,
			Now:      now,
		})
		var got []string
		for _, c := range d.Candidates {
			got = append(got, c.Ref.Key())
		}
		if strings.Join(got, ",") != strings.Join(tt.want, ",") {
			t.Errorf("fields %v: candidates %v, want %v (%+v)", tt.fields, got, tt.want, d.Explain)
		}
		if len(got) == 2 {
			caps := d.Candidates[0].Caps
			if len(caps) != 3 || caps[1].Limit != 50 || caps[1].Budget != 100000 || caps[2].Scope != "buyer:acme" || caps[2].Bucket != "2026-11-24" {
				t.Errorf("acme caps %+v", caps)
			}
			if d.Candidates[0].Price != 2500 || d.Candidates[1].Caps != nil {
				t.Errorf("candidates %+v", d.Candidates)
			}
		}
	}
}

// An order's min_score keeps leads scored under it away, and says so.
func TestMinScore(t *testing.T) {
	now := mustTime(t, "2026-12-01T15:00:00Z")
	f := newFixture(t, config.Campaign{},
		config.Buyer{ID: "picky", Orders: []config.Order{{Price: 4000, MinScore: 60, Priority: 1}}},
		config.Buyer{ID: "any", Orders: []config.Order{{Price: 1000, Priority: 2}}},
	)
	for _, tc := range []struct {
		score int
		want  string
	}{{59, "any/auto"}, {60, "picky/auto"}, {95, "picky/auto"}} {
		d := Decide(f.input(&lead.Lead{Score: tc.score, Fields: map[string]any{}}, now))
		if len(d.Candidates) == 0 || d.Candidates[0].Ref.Key() != tc.want {
			t.Fatalf("score %d: candidates %+v, want %s first", tc.score, d.Candidates, tc.want)
		}
		if tc.score < 60 {
			v := d.Explain[0]
			if v.Order != "picky/auto" || v.Reason != ReasonLowScore || v.Detail != "the lead scored 59, under the order's min_score 60" {
				t.Fatalf("verdict %+v", v)
			}
		}
	}
}
