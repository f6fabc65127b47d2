package secret

import (
	"context"
	"errors"
	"sync"
	"testing"
)

// Get reads once and keeps the secret; a failed read is not kept, and
// concurrent first uses read once.
func TestCachedReadsOnFirstUseAndKeepsOnlySuccess(t *testing.T) {
	var mu sync.Mutex
	reads, fail := 0, true
	c := New(func(context.Context) ([]byte, error) {
		mu.Lock()
		defer mu.Unlock()
		reads++
		if fail {
			return nil, errors.New("SSM is down")
		}
		return []byte("0123456789abcdef"), nil
	})
	if reads != 0 {
		t.Fatal("read before first use")
	}
	if _, err := c.Get(t.Context()); err == nil || reads != 1 {
		t.Fatalf("first Get: err %v, %d reads", err, reads)
	}
	fail = false
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if s, err := c.Get(t.Context()); err != nil || string(s) != "0123456789abcdef" {
				t.Errorf("Get: %q %v", s, err)
			}
		})
	}
	wg.Wait()
	if reads != 2 {
		t.Fatalf("%d reads: want 2 (one failed, one kept)", reads)
	}
}
