package routing

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/leadrelay/leadrelay/shared/config"
)

// schedule returns ReasonHoliday or ReasonScheduleClosed with a detail when
// the schedule is closed now, or two empty strings.
func (d *decider) schedule(s *config.Schedule, b *config.Buyer) (reason, detail string) {
	tz := s.Timezone
	if tz == "" {
		tz = b.Timezone
	}
	z := d.zone(tz)
	t := z.local
	y, m, day := t.Date()
	if isHoliday(s.Holidays, y, m, day) {
		return ReasonHoliday, fmt.Sprintf("%s is a holiday in %s", t.Format(time.DateOnly), z.loc)
	}
	ranges, err := d.parseHours(s.Hours)
	if err != nil {
		return ReasonScheduleClosed, fmt.Sprintf("schedule hours do not parse: %v", err)
	}
	if open(s, ranges, t) {
		return "", ""
	}
	days, hours := "every day", s.Hours
	if len(s.Days) > 0 {
		days = strings.Join(s.Days, ",")
	}
	if strings.TrimSpace(hours) == "" {
		hours = "all day"
	}
	return ReasonScheduleClosed, fmt.Sprintf("closed at %s %s (open %s %s)", t.Format("Mon 2006-01-02 15:04"), z.loc, days, hours)
}

// parseHours parses each distinct hours string once per Decide.
func (d *decider) parseHours(hours string) ([]config.HourRange, error) {
	if hours == "" {
		return nil, nil
	}
	if p, ok := d.hours[hours]; ok {
		return p.ranges, p.err
	}
	ranges, err := config.ParseHours(hours)
	if d.hours == nil {
		d.hours = make(map[string]parsedHours)
	}
	d.hours[hours] = parsedHours{ranges: ranges, err: err}
	return ranges, err
}

// open reports whether the schedule's days and ranges cover the local time
// t. An overnight range belongs to the day it is listed on; a holiday
// cancels the ranges of its day, including their part after midnight.
func open(s *config.Schedule, ranges []config.HourRange, t time.Time) bool {
	wd := t.Weekday()
	today := dayListed(s.Days, wd)
	if len(ranges) == 0 {
		return today
	}
	y, m, day := t.Date()
	yesterday := -1 // unknown until needed: it costs a date computation
	minute := t.Hour()*60 + t.Minute()
	for _, r := range ranges {
		if r.Start < r.End {
			if today && minute >= r.Start && minute < r.End {
				return true
			}
			continue
		}
		if today && minute >= r.Start {
			return true
		}
		if minute < r.End {
			if yesterday < 0 {
				yesterday = 0
				py, pm, pd := time.Date(y, m, day-1, 12, 0, 0, 0, time.UTC).Date()
				if dayListed(s.Days, (wd+6)%7) && !isHoliday(s.Holidays, py, pm, pd) {
					yesterday = 1
				}
			}
			if yesterday == 1 {
				return true
			}
		}
	}
	return false
}

// dayListed reports whether days (empty: every day) include wd.
func dayListed(days []string, wd time.Weekday) bool {
	if len(days) == 0 {
		return true
	}
	name := weekdayName(wd)
	return slices.ContainsFunc(days, func(d string) bool { return strings.EqualFold(d, name) })
}

// isHoliday reports whether the date is one of holidays (YYYY-MM-DD).
func isHoliday(holidays []string, y int, m time.Month, day int) bool {
	if len(holidays) == 0 {
		return false
	}
	var buf [16]byte
	date := appendDate(buf[:0], y, m, day)
	for _, h := range holidays {
		if strings.TrimSpace(h) == string(date) {
			return true
		}
	}
	return false
}

// appendDate appends YYYY-MM-DD.
func appendDate(b []byte, y int, m time.Month, day int) []byte {
	b = appendPadded(b, y, 4)
	b = append(b, '-')
	b = appendPadded(b, int(m), 2)
	b = append(b, '-')
	return appendPadded(b, day, 2)
}

// appendPadded appends n in decimal with at least width digits.
func appendPadded(b []byte, n, width int) []byte {
	if n < 0 {
		b = append(b, '-')
		n = -n
	}
	var digits [20]byte
	i := len(digits)
	for n >= 10 || len(digits)-i < width-1 {
		i--
		digits[i] = byte('0' + n%10)
		n /= 10
	}
	i--
	digits[i] = byte('0' + n)
	return append(b, digits[i:]...)
}
