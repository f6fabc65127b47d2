package main

import (
	"time"

	"github.com/leadrelay/leadrelay/shared/scoring"
)

// velocity counts, as the platform does, the other leads received within
// the window that share a lead's phone, email or IP, and the distinct other
// sources that sent them.
type velocity struct {
	window time.Duration
	seen   map[string][]sighting
}

// sighting is one earlier lead that carried a value.
type sighting struct {
	at     time.Time
	source int
}

func newVelocity(window time.Duration) *velocity {
	return &velocity{window: window, seen: make(map[string][]sighting)}
}

// count is l's velocity: the leads added before it, within the window.
func (v *velocity) count(l *lead) scoring.Velocity {
	var out scoring.Velocity
	var sources uint64 // a bit per source index
	for _, k := range [...]struct {
		key string
		n   *int
	}{{"p:" + l.phone, &out.Phone}, {"e:" + l.email, &out.Email}, {"i:" + l.ip, &out.IP}} {
		if len(k.key) == 2 {
			continue
		}
		list := v.recent(k.key, l.at)
		*k.n = len(list)
		for _, s := range list {
			if s.source != l.source {
				sources |= 1 << s.source
			}
		}
	}
	for ; sources != 0; sources &= sources - 1 {
		out.Sources++
	}
	return out
}

// add records l.
func (v *velocity) add(l *lead) {
	for _, key := range [...]string{"p:" + l.phone, "e:" + l.email, "i:" + l.ip} {
		if len(key) > 2 {
			v.seen[key] = append(v.recent(key, l.at), sighting{at: l.at, source: l.source})
		}
	}
}

// recent drops the sightings of key older than the window before now and
// returns the rest.
func (v *velocity) recent(key string, now time.Time) []sighting {
	list := v.seen[key]
	i := 0
	for i < len(list) && now.Sub(list[i].at) > v.window {
		i++
	}
	if i > 0 {
		list = list[i:]
		v.seen[key] = list
	}
	return list
}
