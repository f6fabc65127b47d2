package store

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// CreatedTimes lists when each lead of a campaign created in (from, to]
// was created: the campaign listing's index keys only (IndexShards
// queries, whatever the number of leads), no lead read.
func (s *Store) CreatedTimes(ctx context.Context, campaign string, from, to time.Time) ([]time.Time, error) {
	var out []time.Time
	for i := range IndexShards {
		err := s.indexRange(ctx, listingPartition(campaign, i), from, to, func(_, gsk string) {
			at, _, _ := strings.Cut(gsk, "#") // <created>#<lead id>
			if t, err := time.Parse(timeKey, at); err == nil {
				out = append(out, t)
			}
		})
		if err != nil {
			return nil, fmt.Errorf("creation times of %s's leads: %w", campaign, err)
		}
	}
	return out, nil
}
