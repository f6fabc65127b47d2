package routing

import (
	"strings"
	"testing"

	"github.com/leadrelay/leadrelay/shared/config"
	"github.com/leadrelay/leadrelay/shared/lead"
)

func TestSchedule(t *testing.T) {
	weekdays := []string{"mon", "tue", "wed", "thu", "fri"}
	ny := &config.Schedule{Timezone: "America/New_York", Hours: "08:00-18:00"}
	tests := []struct {
		name     string
		schedule *config.Schedule
		buyerTZ  string
		now      string // UTC instant
		reason   string // "" for open
		detail   string
	}{
		// Plain hours, with the schedule's timezone.
		{name: "open at start", schedule: &config.Schedule{Timezone: "America/Los_Angeles", Days: weekdays, Hours: "08:00-18:00"}, now: "2026-11-25T16:00:00Z"},
		{name: "closed a minute before", schedule: &config.Schedule{Timezone: "America/Los_Angeles", Days: weekdays, Hours: "08:00-18:00"}, now: "2026-11-25T15:59:00Z", reason: ReasonScheduleClosed,
			detail: "closed at Wed 2026-11-25 07:59 America/Los_Angeles (open mon,tue,wed,thu,fri 08:00-18:00)"},
		{name: "open a second before the end", schedule: &config.Schedule{Timezone: "America/Los_Angeles", Hours: "08:00-18:00"}, now: "2026-11-26T01:59:59Z"},
		{name: "closed at the end", schedule: &config.Schedule{Timezone: "America/Los_Angeles", Hours: "08:00-18:00"}, now: "2026-11-26T02:00:00Z", reason: ReasonScheduleClosed},
		{name: "closed on a day not listed", schedule: &config.Schedule{Timezone: "America/Los_Angeles", Days: weekdays, Hours: "08:00-18:00"}, now: "2026-11-28T18:00:00Z", reason: ReasonScheduleClosed, detail: "closed at Sat 2026-11-28 10:00"},
		{name: "day names ignore case", schedule: &config.Schedule{Timezone: "America/Los_Angeles", Days: []string{"Sat"}}, now: "2026-11-28T18:00:00Z"},
		{name: "days without hours is all day", schedule: &config.Schedule{Days: []string{"sat"}}, now: "2026-11-28T00:00:00Z"},
		{name: "days without hours, other day", schedule: &config.Schedule{Days: []string{"sat"}}, now: "2026-11-27T23:59:00Z", reason: ReasonScheduleClosed, detail: "(open sat all day)"},
		{name: "00:00-24:00 is all day", schedule: &config.Schedule{Hours: "00:00-24:00"}, now: "2026-11-27T23:59:59Z"},
		// A UTC instant on another local day: Saturday 02:00 UTC is Friday 18:00 in LA.
		{name: "buyer timezone when the schedule has none", schedule: &config.Schedule{Days: []string{"fri"}, Hours: "17:00-19:00"}, buyerTZ: "America/Los_Angeles", now: "2026-11-28T02:00:00Z"},
		{name: "UTC would be another day", schedule: &config.Schedule{Days: []string{"fri"}, Hours: "17:00-19:00"}, buyerTZ: "UTC", now: "2026-11-28T02:00:00Z", reason: ReasonScheduleClosed},

		// Several ranges.
		{name: "several ranges, first", schedule: &config.Schedule{Hours: "08:00-12:00,13:00-18:00"}, now: "2026-11-25T11:59:00Z"},
		{name: "several ranges, lunch", schedule: &config.Schedule{Hours: "08:00-12:00,13:00-18:00"}, now: "2026-11-25T12:30:00Z", reason: ReasonScheduleClosed, detail: "(open every day 08:00-12:00,13:00-18:00)"},
		{name: "several ranges, second", schedule: &config.Schedule{Hours: "08:00-12:00, 13:00-18:00"}, now: "2026-11-25T13:00:00Z"},
		{name: "several ranges, after", schedule: &config.Schedule{Hours: "08:00-12:00,13:00-18:00"}, now: "2026-11-25T18:00:00Z", reason: ReasonScheduleClosed},

		// Overnight ranges belong to the day they are listed on (2026-11-27 is a Friday).
		{name: "overnight, evening of a listed day", schedule: &config.Schedule{Days: []string{"fri"}, Hours: "22:00-02:00"}, now: "2026-11-27T23:00:00Z"},
		{name: "overnight, next morning", schedule: &config.Schedule{Days: []string{"fri"}, Hours: "22:00-02:00"}, now: "2026-11-28T01:59:00Z"},
		{name: "overnight, next morning at the end", schedule: &config.Schedule{Days: []string{"fri"}, Hours: "22:00-02:00"}, now: "2026-11-28T02:00:00Z", reason: ReasonScheduleClosed},
		{name: "overnight, morning of the listed day", schedule: &config.Schedule{Days: []string{"fri"}, Hours: "22:00-02:00"}, now: "2026-11-27T01:00:00Z", reason: ReasonScheduleClosed},
		{name: "overnight, evening of an unlisted day", schedule: &config.Schedule{Days: []string{"fri"}, Hours: "22:00-02:00"}, now: "2026-11-28T22:30:00Z", reason: ReasonScheduleClosed},
		{name: "overnight with a day range", schedule: &config.Schedule{Days: []string{"fri"}, Hours: "09:00-12:00,22:00-02:00"}, now: "2026-11-27T10:00:00Z"},
		{name: "overnight across a week", schedule: &config.Schedule{Days: []string{"sun"}, Hours: "23:00-01:00"}, now: "2026-11-30T00:30:00Z"},
		{name: "overnight every day", schedule: &config.Schedule{Hours: "22:00-06:00"}, now: "2026-11-25T05:00:00Z"},

		// DST in New York: spring forward Sunday 2026-03-08 02:00 EST -> 03:00 EDT.
		{name: "spring forward, 08:00 EDT is open", schedule: ny, now: "2026-03-08T12:00:00Z"},
		{name: "spring forward, 07:59 EDT is closed", schedule: ny, now: "2026-03-08T11:59:00Z", reason: ReasonScheduleClosed, detail: "closed at Sun 2026-03-08 07:59 America/New_York"},
		{name: "spring forward, the day before at 08:00 EST", schedule: ny, now: "2026-03-07T13:00:00Z"},
		{name: "spring forward, 12:00Z was 07:00 EST the day before", schedule: ny, now: "2026-03-07T12:00:00Z", reason: ReasonScheduleClosed},
		{name: "spring forward, skipped hour never opens (before)", schedule: &config.Schedule{Timezone: "America/New_York", Hours: "02:00-03:00"}, now: "2026-03-08T06:59:00Z", reason: ReasonScheduleClosed},
		{name: "spring forward, skipped hour never opens (after)", schedule: &config.Schedule{Timezone: "America/New_York", Hours: "02:00-03:00"}, now: "2026-03-08T07:00:00Z", reason: ReasonScheduleClosed, detail: "03:00"},
		{name: "spring forward, range over the gap at 03:30 EDT", schedule: &config.Schedule{Timezone: "America/New_York", Hours: "01:00-04:00"}, now: "2026-03-08T07:30:00Z"},
		{name: "spring forward, range over the gap ends at 04:00 EDT", schedule: &config.Schedule{Timezone: "America/New_York", Hours: "01:00-04:00"}, now: "2026-03-08T08:00:00Z", reason: ReasonScheduleClosed},
		// Fall back Sunday 2026-11-01 02:00 EDT -> 01:00 EST.
		{name: "fall back, 08:00 EST is open", schedule: ny, now: "2026-11-01T13:00:00Z"},
		{name: "fall back, 07:59 EST is closed", schedule: ny, now: "2026-11-01T12:59:00Z", reason: ReasonScheduleClosed},
		{name: "fall back, 17:59 EST is open", schedule: ny, now: "2026-11-01T22:59:00Z"},
		{name: "fall back, first 01:30 (EDT) is open", schedule: &config.Schedule{Timezone: "America/New_York", Hours: "01:00-02:00"}, now: "2026-11-01T05:30:00Z"},
		{name: "fall back, second 01:30 (EST) is open", schedule: &config.Schedule{Timezone: "America/New_York", Hours: "01:00-02:00"}, now: "2026-11-01T06:30:00Z"},
		{name: "fall back, 02:00 EST is closed", schedule: &config.Schedule{Timezone: "America/New_York", Hours: "01:00-02:00"}, now: "2026-11-01T07:00:00Z", reason: ReasonScheduleClosed},

		// Holidays close the whole local day.
		{name: "holiday", schedule: &config.Schedule{Timezone: "America/New_York", Hours: "08:00-18:00", Holidays: []string{"2026-12-25"}}, now: "2026-12-25T15:00:00Z", reason: ReasonHoliday, detail: "2026-12-25 is a holiday in America/New_York"},
		{name: "holiday outside the hours is a holiday", schedule: &config.Schedule{Timezone: "America/New_York", Hours: "08:00-18:00", Holidays: []string{"2026-12-25"}}, now: "2026-12-25T05:30:00Z", reason: ReasonHoliday},
		{name: "holiday in the schedule's timezone, not UTC", schedule: &config.Schedule{Timezone: "America/New_York", Holidays: []string{"2026-12-25"}}, now: "2026-12-26T03:00:00Z", reason: ReasonHoliday},
		{name: "the day after a holiday", schedule: &config.Schedule{Timezone: "America/New_York", Holidays: []string{"2026-12-25"}}, now: "2026-12-26T05:00:00Z"},
		{name: "holiday cancels the overnight range into the next morning", schedule: &config.Schedule{Hours: "22:00-02:00", Holidays: []string{"2026-12-25"}}, now: "2026-12-26T01:00:00Z", reason: ReasonScheduleClosed},
		{name: "overnight range into a holiday morning", schedule: &config.Schedule{Hours: "22:00-02:00", Holidays: []string{"2026-12-25"}}, now: "2026-12-25T01:00:00Z", reason: ReasonHoliday},
		{name: "other holidays do not matter", schedule: &config.Schedule{Holidays: []string{"2026-12-24", "2027-01-01"}}, now: "2026-12-25T01:00:00Z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tz := tt.buyerTZ
			if tz == "" {
				tz = "UTC"
			}
			f := newFixture(t, config.Campaign{}, buyer("acme", tz, config.Order{Price: 100, Schedule: tt.schedule}))
			v := Decide(f.input(&lead.Lead{}, mustTime(t, tt.now))).Explain[0]
			if v.Reason != tt.reason || v.Eligible != (tt.reason == "") {
				t.Fatalf("verdict %+v, want reason %q", v, tt.reason)
			}
			if !strings.Contains(v.Detail, tt.detail) {
				t.Errorf("detail %q, want it to contain %q", v.Detail, tt.detail)
			}
		})
	}
}
