package config

import (
	"fmt"
	"strings"
	"time"
)

// HourRange is a daily window in minutes after midnight, [Start, End). End
// before Start passes midnight ("22:00-02:00"); "00:00-24:00" is all day.
type HourRange struct {
	Start, End int
}

// Contains reports whether the minute of the day m falls in the range.
func (r HourRange) Contains(m int) bool {
	if r.Start <= r.End {
		return m >= r.Start && m < r.End
	}
	return m >= r.Start || m < r.End
}

// ParseHours reads "08:00-18:00" or several ranges "08:00-12:00,13:00-18:00".
// An empty string is all day.
func ParseHours(s string) ([]HourRange, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var out []HourRange
	for _, part := range strings.Split(s, ",") {
		from, to, ok := strings.Cut(strings.TrimSpace(part), "-")
		if !ok {
			return nil, fmt.Errorf("hours %q: want ranges such as 08:00-18:00", s)
		}
		a, err1 := clock(from)
		b, err2 := clock(to)
		if err1 != nil || err2 != nil || a == b {
			return nil, fmt.Errorf("hours %q: want ranges such as 08:00-18:00 (24:00 ends a day)", s)
		}
		out = append(out, HourRange{Start: a, End: b})
	}
	return out, nil
}

func clock(s string) (int, error) {
	s = strings.TrimSpace(s)
	if s == "24:00" {
		return 24 * 60, nil
	}
	t, err := time.Parse("15:04", s)
	if err != nil {
		return 0, err
	}
	return t.Hour()*60 + t.Minute(), nil
}
