package models

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/leadrelay/leadrelay/shared/scoring"
	"github.com/leadrelay/leadrelay/shared/store"
)

type modelStore struct {
	m     *store.Model
	err   error
	reads int
}

func (s *modelStore) LatestModel(context.Context, string) (*store.Model, error) {
	s.reads++
	if s.err != nil {
		return nil, s.err
	}
	if s.m == nil {
		return nil, store.ErrNotFound
	}
	return s.m, nil
}

// A model, or its absence, is read once per TTL; a failed read keeps the
// model read before.
func TestCacheReadsOncePerTTL(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	st := &modelStore{}
	c := &Cache{Store: st, Now: func() time.Time { return now }, TTL: time.Minute}
	for range 3 {
		if m, err := c.Model(t.Context(), "auto"); m != nil || err != nil {
			t.Fatalf("no model: %v %v", m, err)
		}
	}
	if st.reads != 1 {
		t.Fatalf("%d reads, want 1", st.reads)
	}
	blob, err := (&scoring.Model{Campaign: "auto", Version: 3, Labels: 500, Weights: map[uint32]float64{7: 0.5}, Names: map[uint32]string{7: "src=fb"}}).MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	st.m = &store.Model{Campaign: "auto", Version: 3, Blob: blob}
	now = now.Add(time.Minute)
	m, err := c.Model(t.Context(), "auto")
	if err != nil || m == nil || m.Version != 3 || m.Labels != 500 {
		t.Fatalf("model: %+v %v", m, err)
	}
	st.err = errors.New("throttled")
	now = now.Add(time.Minute)
	if m, err := c.Model(t.Context(), "auto"); m == nil || m.Version != 3 || err == nil {
		t.Fatalf("after a failed read: %+v %v, want the model read before and the error", m, err)
	}
	st.err, st.m = nil, &store.Model{Campaign: "auto", Version: 4, Blob: []byte("not a model")}
	c.Forget("auto")
	if _, err := c.Model(t.Context(), "auto"); err == nil {
		t.Fatal("a model that does not decode")
	}
}
