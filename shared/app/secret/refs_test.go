package secret

import (
	"context"
	"errors"
	"testing"
	"time"
)

// A reference is read on its first use, kept for RefTTL, read again
// after; a failed read keeps the last good value; only ssm: references
// are resolved.
func TestRefsCacheAndKeepTheLastGoodValue(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	var reads []string
	value, fail := "token-1", false
	r := NewRefs(func(_ context.Context, name string) (string, error) {
		reads = append(reads, name)
		if fail {
			return "", errors.New("SSM is down")
		}
		return value, nil
	}, func() time.Time { return now })
	get := func() string {
		t.Helper()
		v, err := r.Resolve(t.Context(), "ssm:/leadrelay/meta/page")
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	if get() != "token-1" || get() != "token-1" || len(reads) != 1 || reads[0] != "/leadrelay/meta/page" {
		t.Fatalf("reads %v", reads)
	}
	now, value = now.Add(RefTTL), "token-2"
	if get() != "token-2" || len(reads) != 2 {
		t.Fatalf("after the TTL: reads %v", reads)
	}
	now, fail = now.Add(RefTTL), true
	if get() != "token-2" || len(reads) != 3 {
		t.Fatalf("SSM down: reads %v", reads)
	}
	if _, err := r.Resolve(t.Context(), "ssm:/leadrelay/other"); err == nil {
		t.Fatal("a parameter never read, and SSM down: no error")
	}
	for _, bad := range []string{"EAAToken", "ssm:", ""} {
		if _, err := r.Resolve(t.Context(), bad); err == nil {
			t.Errorf("%q resolved", bad)
		}
	}
}
