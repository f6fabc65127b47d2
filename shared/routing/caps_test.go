package routing

import (
	"reflect"
	"testing"
	"time"

	"github.com/leadrelay/leadrelay/shared/config"
	"github.com/leadrelay/leadrelay/shared/lead"
)

func TestBuckets(t *testing.T) {
	type want struct{ bucket, ends string } // ends as a UTC RFC 3339 instant
	tests := []struct {
		name                   string
		tz                     string
		now                    string
		hour, day, week, month want
	}{
		{
			name: "LA Sunday 23:59: last minute of ISO week 48",
			tz:   "America/Los_Angeles", now: "2026-11-30T07:59:00Z",
			hour:  want{"2026-11-29T23", "2026-11-30T08:00:00Z"},
			day:   want{"2026-11-29", "2026-11-30T08:00:00Z"},
			week:  want{"2026-W48", "2026-11-30T08:00:00Z"},
			month: want{"2026-11", "2026-12-01T08:00:00Z"},
		},
		{
			name: "LA Monday 00:00: ISO week 49 begins",
			tz:   "America/Los_Angeles", now: "2026-11-30T08:00:00Z",
			hour:  want{"2026-11-30T00", "2026-11-30T09:00:00Z"},
			day:   want{"2026-11-30", "2026-12-01T08:00:00Z"},
			week:  want{"2026-W49", "2026-12-07T08:00:00Z"},
			month: want{"2026-11", "2026-12-01T08:00:00Z"},
		},
		{
			name: "LA last minute of November",
			tz:   "America/Los_Angeles", now: "2026-12-01T07:59:59Z",
			hour:  want{"2026-11-30T23", "2026-12-01T08:00:00Z"},
			day:   want{"2026-11-30", "2026-12-01T08:00:00Z"},
			week:  want{"2026-W49", "2026-12-07T08:00:00Z"},
			month: want{"2026-11", "2026-12-01T08:00:00Z"},
		},
		{
			name: "LA first instant of December",
			tz:   "America/Los_Angeles", now: "2026-12-01T08:00:00Z",
			hour:  want{"2026-12-01T00", "2026-12-01T09:00:00Z"},
			day:   want{"2026-12-01", "2026-12-02T08:00:00Z"},
			week:  want{"2026-W49", "2026-12-07T08:00:00Z"},
			month: want{"2026-12", "2027-01-01T08:00:00Z"},
		},
		{
			name: "LA 13:59 vs the hour",
			tz:   "America/Los_Angeles", now: "2026-11-24T21:59:59Z",
			hour:  want{"2026-11-24T13", "2026-11-24T22:00:00Z"},
			day:   want{"2026-11-24", "2026-11-25T08:00:00Z"},
			week:  want{"2026-W48", "2026-11-30T08:00:00Z"},
			month: want{"2026-11", "2026-12-01T08:00:00Z"},
		},
		{
			name: "LA 14:00",
			tz:   "America/Los_Angeles", now: "2026-11-24T22:00:00Z",
			hour:  want{"2026-11-24T14", "2026-11-24T23:00:00Z"},
			day:   want{"2026-11-24", "2026-11-25T08:00:00Z"},
			week:  want{"2026-W48", "2026-11-30T08:00:00Z"},
			month: want{"2026-11", "2026-12-01T08:00:00Z"},
		},
		{
			name: "a UTC instant on the next UTC day is still the 24th in LA",
			tz:   "America/Los_Angeles", now: "2026-11-25T03:00:00Z",
			hour:  want{"2026-11-24T19", "2026-11-25T04:00:00Z"},
			day:   want{"2026-11-24", "2026-11-25T08:00:00Z"},
			week:  want{"2026-W48", "2026-11-30T08:00:00Z"},
			month: want{"2026-11", "2026-12-01T08:00:00Z"},
		},
		{
			name: "ISO week belongs to the previous ISO year",
			tz:   "Asia/Tokyo", now: "2027-01-01T03:00:00Z",
			hour:  want{"2027-01-01T12", "2027-01-01T04:00:00Z"},
			day:   want{"2027-01-01", "2027-01-01T15:00:00Z"},
			week:  want{"2026-W53", "2027-01-03T15:00:00Z"},
			month: want{"2027-01", "2027-01-31T15:00:00Z"},
		},
		{
			name: "half-hour offset",
			tz:   "Asia/Kolkata", now: "2026-11-24T18:29:00Z",
			hour:  want{"2026-11-24T23", "2026-11-24T18:30:00Z"},
			day:   want{"2026-11-24", "2026-11-24T18:30:00Z"},
			week:  want{"2026-W48", "2026-11-29T18:30:00Z"},
			month: want{"2026-11", "2026-11-30T18:30:00Z"},
		},
		{
			name: "NY fall back: the first 01:xx (EDT) is in a two-hour bucket",
			tz:   "America/New_York", now: "2026-11-01T05:30:00Z",
			hour:  want{"2026-11-01T01", "2026-11-01T07:00:00Z"},
			day:   want{"2026-11-01", "2026-11-02T05:00:00Z"},
			week:  want{"2026-W44", "2026-11-02T05:00:00Z"},
			month: want{"2026-11", "2026-12-01T05:00:00Z"},
		},
		{
			name: "NY fall back: the second 01:xx (EST) is the same bucket",
			tz:   "America/New_York", now: "2026-11-01T06:30:00Z",
			hour:  want{"2026-11-01T01", "2026-11-01T07:00:00Z"},
			day:   want{"2026-11-01", "2026-11-02T05:00:00Z"},
			week:  want{"2026-W44", "2026-11-02T05:00:00Z"},
			month: want{"2026-11", "2026-12-01T05:00:00Z"},
		},
		{
			name: "NY spring forward: 01:xx EST ends when the gap does",
			tz:   "America/New_York", now: "2026-03-08T06:30:00Z",
			hour:  want{"2026-03-08T01", "2026-03-08T07:00:00Z"},
			day:   want{"2026-03-08", "2026-03-09T04:00:00Z"},
			week:  want{"2026-W10", "2026-03-09T04:00:00Z"},
			month: want{"2026-03", "2026-04-01T04:00:00Z"},
		},
		{
			name: "NY spring forward: 03:xx EDT",
			tz:   "America/New_York", now: "2026-03-08T07:30:00Z",
			hour:  want{"2026-03-08T03", "2026-03-08T08:00:00Z"},
			day:   want{"2026-03-08", "2026-03-09T04:00:00Z"},
			week:  want{"2026-W10", "2026-03-09T04:00:00Z"},
			month: want{"2026-03", "2026-04-01T04:00:00Z"},
		},
		{
			// DST began at midnight: 2018-11-04 00:00 -03 never happened,
			// the day started at 01:00 -02.
			name: "Sao Paulo: a day that starts in a gap",
			tz:   "America/Sao_Paulo", now: "2018-11-04T02:30:00Z",
			hour:  want{"2018-11-03T23", "2018-11-04T03:00:00Z"},
			day:   want{"2018-11-03", "2018-11-04T03:00:00Z"},
			week:  want{"2018-W44", "2018-11-05T02:00:00Z"},
			month: want{"2018-11", "2018-12-01T02:00:00Z"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := bucketsAt(mustTime(t, tt.now).In(mustLoc(t, tt.tz)))
			for i, w := range []want{tt.hour, tt.day, tt.week, tt.month} {
				ends := mustTime(t, w.ends)
				if p[i].bucket != w.bucket || !p[i].ends.Equal(ends) {
					t.Errorf("%s: bucket %s ending %s, want %s ending %s", p[i].name, p[i].bucket, p[i].ends.UTC().Format(time.RFC3339), w.bucket, w.ends)
				}
			}
		})
	}
}

func TestWallStartIsNeverBeforeTheWallClock(t *testing.T) {
	// Every hour of 2026 in zones with DST: the start of the next hour is
	// after now, and the end of a day is after every instant of the day.
	for _, name := range []string{"America/New_York", "America/Los_Angeles", "Europe/London", "Australia/Lord_Howe", "America/Sao_Paulo", "America/Santiago"} {
		loc := mustLoc(t, name)
		for now := mustTime(t, "2026-01-01T00:00:00Z"); now.Year() == 2026; now = now.Add(37 * time.Minute) {
			p := bucketsAt(now.In(loc))
			for _, per := range p {
				if !per.ends.After(now) {
					t.Fatalf("%s at %s: %s bucket %s ends %s, not after now", name, now.Format(time.RFC3339), per.name, per.bucket, per.ends.Format(time.RFC3339))
				}
			}
			if p[hourIdx].ends.Sub(now) > 2*time.Hour {
				t.Fatalf("%s at %s: hour bucket %s ends %s", name, now.Format(time.RFC3339), p[hourIdx].bucket, p[hourIdx].ends.Format(time.RFC3339))
			}
			// The instant the bucket ends is in another bucket.
			if next := bucketsAt(p[dayIdx].ends.In(loc)); next[dayIdx].bucket == p[dayIdx].bucket {
				t.Fatalf("%s at %s: day %s ends at %s, which is still that day", name, now.Format(time.RFC3339), p[dayIdx].bucket, p[dayIdx].ends.Format(time.RFC3339))
			}
		}
	}
}

func TestCandidateCaps(t *testing.T) {
	now := mustTime(t, "2026-11-30T07:59:00Z") // Sunday 23:59 in Los Angeles
	la := func(s string) time.Time { return mustTime(t, s) }
	tests := []struct {
		name      string
		orderCaps config.Caps
		buyerCaps config.Caps
		buyerTZ   string
		want      []CapSpec
	}{
		{name: "no caps", buyerTZ: "America/Los_Angeles"},
		{
			name:      "every period of the order and the buyer",
			buyerTZ:   "America/Los_Angeles",
			orderCaps: config.Caps{Hourly: 10, Daily: 50, Weekly: 200, Monthly: 800, DailyBudget: 100000},
			buyerCaps: config.Caps{Daily: 100, MonthlyBudget: 500000},
			want: []CapSpec{
				{Scope: "order:acme/auto", Period: "hour", Bucket: "2026-11-29T23", Limit: 10, Ends: la("2026-11-30T08:00:00Z")},
				{Scope: "order:acme/auto", Period: "day", Bucket: "2026-11-29", Limit: 50, Budget: 100000, Ends: la("2026-11-30T08:00:00Z")},
				{Scope: "order:acme/auto", Period: "week", Bucket: "2026-W48", Limit: 200, Ends: la("2026-11-30T08:00:00Z")},
				{Scope: "order:acme/auto", Period: "month", Bucket: "2026-11", Limit: 800, Ends: la("2026-12-01T08:00:00Z")},
				{Scope: "buyer:acme", Period: "day", Bucket: "2026-11-29", Limit: 100, Ends: la("2026-11-30T08:00:00Z")},
				{Scope: "buyer:acme", Period: "month", Bucket: "2026-11", Budget: 500000, Ends: la("2026-12-01T08:00:00Z")},
			},
		},
		{
			name:      "budget alone; buckets in the buyer's timezone",
			buyerTZ:   "UTC",
			orderCaps: config.Caps{DailyBudget: 2500, Monthly: 3},
			want: []CapSpec{
				{Scope: "order:acme/auto", Period: "day", Bucket: "2026-11-30", Budget: 2500, Ends: la("2026-12-01T00:00:00Z")},
				{Scope: "order:acme/auto", Period: "month", Bucket: "2026-11", Limit: 3, Ends: la("2026-12-01T00:00:00Z")},
			},
		},
		{
			name:      "buyer caps only",
			buyerTZ:   "America/Los_Angeles",
			buyerCaps: config.Caps{Weekly: 7},
			want: []CapSpec{
				{Scope: "buyer:acme", Period: "week", Bucket: "2026-W48", Limit: 7, Ends: la("2026-11-30T08:00:00Z")},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := buyer("acme", tt.buyerTZ, config.Order{Price: 100, Caps: tt.orderCaps})
			b.Caps = tt.buyerCaps
			f := newFixture(t, config.Campaign{}, b)
			d := Decide(f.input(&lead.Lead{}, now))
			if len(d.Candidates) != 1 {
				t.Fatalf("%d candidates, want 1: %+v", len(d.Candidates), d.Explain)
			}
			got := d.Candidates[0].Caps
			if len(got) != len(tt.want) {
				t.Fatalf("caps %+v\nwant %+v", got, tt.want)
			}
			for i := range got {
				if !got[i].Ends.Equal(tt.want[i].Ends) {
					t.Errorf("cap %d ends %s, want %s", i, got[i].Ends, tt.want[i].Ends)
				}
				got[i].Ends, tt.want[i].Ends = time.Time{}, time.Time{}
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("caps %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestCandidateCapsDoNotShareMemory(t *testing.T) {
	// Candidates' Caps are cut from one array; appending to one must not
	// overwrite the next.
	b := config.Buyer{ID: "acme", Caps: config.Caps{Daily: 5}, Orders: []config.Order{
		{ID: "a", Price: 100, Caps: config.Caps{Hourly: 1}},
		{ID: "b", Price: 100, Caps: config.Caps{Hourly: 2}},
	}}
	f := newFixture(t, config.Campaign{}, b)
	d := Decide(f.input(&lead.Lead{}, mustTime(t, "2026-11-30T07:59:00Z")))
	if len(d.Candidates) != 2 {
		t.Fatalf("%d candidates", len(d.Candidates))
	}
	first := d.Candidates[0].Caps
	_ = append(first, CapSpec{Scope: "intruder"})
	second := d.Candidates[1].Caps
	if len(second) != 2 || second[0].Scope != "order:acme/b" || second[1].Scope != "buyer:acme" {
		t.Errorf("second candidate's caps %+v", second)
	}
}
