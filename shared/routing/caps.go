package routing

import (
	"time"

	"github.com/leadrelay/leadrelay/shared/config"
	"github.com/leadrelay/leadrelay/shared/money"
)

// Cap periods (CapSpec.Period).
const (
	PeriodHour  = "hour"
	PeriodDay   = "day"
	PeriodWeek  = "week"
	PeriodMonth = "month"
)

// CapSpec is one cap counter bucket: the store turns (Scope, Period, Bucket)
// into a key.
type CapSpec struct {
	// Scope is "order:<buyer>/<order>" or "buyer:<buyer>".
	Scope string
	// Period is PeriodHour, PeriodDay, PeriodWeek or PeriodMonth.
	Period string
	// Bucket is the period in the buyer's timezone: "2026-11-24T13",
	// "2026-11-24", "2026-W48", "2026-11".
	Bucket string
	// Limit is the count cap of the bucket, 0 for none.
	Limit int64
	// Budget is the money cap of the bucket, 0 for none.
	Budget money.Amount
	// Ends is when the bucket ends; the store may expire it after that.
	Ends time.Time
}

// period is one bucket of one period, in one zone.
type period struct {
	name   string
	bucket string
	ends   time.Time
}

const (
	hourIdx = iota
	dayIdx
	weekIdx
	monthIdx
)

// capCount is how many CapSpecs the caps make.
func capCount(c config.Caps) int {
	n := 0
	if c.Hourly > 0 {
		n++
	}
	if c.Daily > 0 || c.DailyBudget > 0 {
		n++
	}
	if c.Weekly > 0 {
		n++
	}
	if c.Monthly > 0 || c.MonthlyBudget > 0 {
		n++
	}
	return n
}

// appendCaps appends the CapSpecs of c under scope, in the zone's buckets.
func (d *decider) appendCaps(dst []CapSpec, scope string, c config.Caps, z *zone) []CapSpec {
	if capCount(c) == 0 {
		return dst
	}
	return appendCapSpecs(dst, scope, c, z.buckets())
}

// OrderScope is the cap scope of an order: "order:<buyer>/<order>".
func OrderScope(buyer, order string) string { return orderPrefix + buyer + "/" + order }

// BuyerScope is the cap scope of a buyer's caps across its orders:
// "buyer:<buyer>".
func BuyerScope(buyer string) string { return "buyer:" + buyer }

// CapSpecs are the cap counters of c under scope that a sale at now
// reserves, in the buckets of now's location (the buyer's timezone), as
// Decide names them: what reads the counters (the operators' view of the
// buyers' caps) finds the buckets the router fills.
func CapSpecs(scope string, c config.Caps, now time.Time) []CapSpec {
	n := capCount(c)
	if n == 0 {
		return nil
	}
	p := bucketsAt(now)
	return appendCapSpecs(make([]CapSpec, 0, n), scope, c, &p)
}

// appendCapSpecs appends the CapSpecs of c under scope, in the buckets p.
func appendCapSpecs(dst []CapSpec, scope string, c config.Caps, p *[4]period) []CapSpec {
	spec := func(i int, limit int, budget money.Amount) CapSpec {
		return CapSpec{
			Scope:  scope,
			Period: p[i].name,
			Bucket: p[i].bucket,
			Limit:  int64(max(limit, 0)),
			Budget: max(budget, 0),
			Ends:   p[i].ends,
		}
	}
	if c.Hourly > 0 {
		dst = append(dst, spec(hourIdx, c.Hourly, 0))
	}
	if c.Daily > 0 || c.DailyBudget > 0 {
		dst = append(dst, spec(dayIdx, c.Daily, c.DailyBudget))
	}
	if c.Weekly > 0 {
		dst = append(dst, spec(weekIdx, c.Weekly, 0))
	}
	if c.Monthly > 0 || c.MonthlyBudget > 0 {
		dst = append(dst, spec(monthIdx, c.Monthly, c.MonthlyBudget))
	}
	return dst
}

// buckets returns the zone's hour, day, week and month buckets, computing
// them on first use.
func (z *zone) buckets() *[4]period {
	if z.periods == nil {
		p := bucketsAt(z.local)
		z.periods = &p
	}
	return z.periods
}

// bucketsAt computes the buckets that contain t, in t's location.
func bucketsAt(t time.Time) [4]period {
	loc := t.Location()
	y, m, day := t.Date()
	h := t.Hour()
	var buf [16]byte

	b := appendDate(buf[:0], y, m, day)
	dayBucket := string(b)
	b = append(b, 'T')
	b = appendPadded(b, h, 2)
	hourBucket := string(b)

	iy, iw := t.ISOWeek()
	b = appendPadded(buf[:0], iy, 4)
	b = append(b, '-', 'W')
	b = appendPadded(b, iw, 2)
	weekBucket := string(b)

	b = appendPadded(buf[:0], y, 4)
	b = append(b, '-')
	b = appendPadded(b, int(m), 2)
	monthBucket := string(b)

	sinceMonday := (int(t.Weekday()) + 6) % 7
	return [4]period{
		hourIdx:  {PeriodHour, hourBucket, wallStart(loc, y, m, day, h+1)},
		dayIdx:   {PeriodDay, dayBucket, wallStart(loc, y, m, day+1, 0)},
		weekIdx:  {PeriodWeek, weekBucket, wallStart(loc, y, m, day-sinceMonday+7, 0)},
		monthIdx: {PeriodMonth, monthBucket, wallStart(loc, y, m+1, 1, 0)},
	}
}

// wallStart returns the first instant at which the wall clock of loc shows
// the given hour (normalised like time.Date) or later. It is time.Date,
// except when that hour is skipped by a daylight-saving change: then the
// hour starts when the gap ends.
func wallStart(loc *time.Location, y int, m time.Month, day, h int) time.Time {
	t := time.Date(y, m, day, h, 0, 0, 0, loc)
	want := time.Date(y, m, day, h, 0, 0, 0, time.UTC)
	ty, tm, td := t.Date()
	got := time.Date(ty, tm, td, t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.UTC)
	switch {
	case got.Before(want):
		// time.Date chose the offset before the gap: the wall clock shows an
		// earlier time. The hour starts at the transition.
		if _, end := t.ZoneBounds(); !end.IsZero() {
			return end
		}
	case got.After(want):
		// The offset after the gap: the transition is the start of t's zone
		// period.
		if start, _ := t.ZoneBounds(); !start.IsZero() {
			return start
		}
	}
	return t
}
