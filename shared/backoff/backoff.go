// Package backoff is the schedule of delivery attempts to a buyer: how
// long a failed attempt waits before the next, and so how long a round
// that offered a lead may take before its delivery message must have
// settled it (the sweeper's deadline for the round).
package backoff

import "time"

// Bounds of the wait between attempts.
const (
	Base = 2 * time.Second
	Cap  = 15 * time.Minute
	// Floor is the shortest wait.
	Floor = time.Second
)

// ceiling is the longest wait after attempt failed: exponential from Base,
// capped at Cap.
func ceiling(attempt int) time.Duration {
	if attempt < 1 {
		attempt = 1
	}
	if attempt < 20 {
		if d := Base << (attempt - 1); d < Cap {
			return d
		}
	}
	return Cap
}

// Wait is the wait before attempt+1 after attempt failed: exponential
// from Base, capped at Cap, with full jitter (jitter returns a random
// duration in [0, d)), at least Floor.
func Wait(attempt int, jitter func(time.Duration) time.Duration) time.Duration {
	d := jitter(ceiling(attempt))
	if d < Floor {
		d = Floor
	}
	return d
}

// Slack is what Deadline allows beyond the attempts themselves: queue
// delays, a busy function, a retried store write.
const Slack = 5 * time.Minute

// Deadline is the longest a delivery of up to attempts attempts, each
// timing out after timeout, may take from its offer: every attempt's
// timeout, the longest wait after each failed one, and Slack.
func Deadline(attempts int, timeout time.Duration) time.Duration {
	d := Slack
	for a := 1; a <= attempts; a++ {
		d += timeout
		if a < attempts {
			d += max(ceiling(a), Floor)
		}
	}
	return d
}
