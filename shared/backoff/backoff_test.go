package backoff

import (
	"testing"
	"time"
)

func TestWaitSchedule(t *testing.T) {
	ceil := func(d time.Duration) time.Duration { return d }
	want := []time.Duration{2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 32 * time.Second,
		64 * time.Second, 128 * time.Second, 256 * time.Second, 512 * time.Second, 15 * time.Minute, 15 * time.Minute}
	for i, w := range want {
		if got := Wait(i+1, ceil); got != w {
			t.Errorf("attempt %d: wait %s, want %s", i+1, got, w)
		}
	}
	for _, attempt := range []int{20, 64, 1000} {
		if got := Wait(attempt, ceil); got != Cap {
			t.Errorf("attempt %d: wait %s, want the cap", attempt, got)
		}
	}
	// Full jitter may draw 0: the floor is a second.
	if got := Wait(3, func(time.Duration) time.Duration { return 0 }); got != Floor {
		t.Errorf("zero jitter: %s, want %s", got, Floor)
	}
	// The jitter is asked for a duration within the ceiling.
	var asked time.Duration
	Wait(4, func(d time.Duration) time.Duration { asked = d; return d / 2 })
	if asked != 16*time.Second {
		t.Errorf("jitter asked for %s, want 16s", asked)
	}
}

func TestDeadlineCoversEveryAttemptAndWait(t *testing.T) {
	// 5 attempts of 5 s: 25 s of timeouts, waits of at most 2+4+8+16 s, and the slack.
	if got, want := Deadline(5, 5*time.Second), 25*time.Second+30*time.Second+Slack; got != want {
		t.Fatalf("Deadline(5, 5s) = %s, want %s", got, want)
	}
	if got, want := Deadline(1, 3*time.Second), 3*time.Second+Slack; got != want {
		t.Fatalf("Deadline(1, 3s) = %s, want %s", got, want)
	}
	// Whatever the jitter draws, the attempts end within the deadline.
	for attempts := 1; attempts <= 20; attempts++ {
		var spent time.Duration
		for a := 1; a <= attempts; a++ {
			spent += time.Second
			if a < attempts {
				spent += Wait(a, func(d time.Duration) time.Duration { return d - 1 })
			}
		}
		if d := Deadline(attempts, time.Second); spent > d-Slack {
			t.Fatalf("%d attempts may take %s, beyond the deadline %s less the slack", attempts, spent, d)
		}
	}
}
