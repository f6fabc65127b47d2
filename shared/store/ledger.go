package store

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/leadrelay/leadrelay/shared/money"
)

// CountLedgerIn sets the agency's timezone, in which ledger days are
// counted: zone is asked at each ledger write (it reads the cached
// configuration). Without it days are UTC dates.
func (s *Store) CountLedgerIn(zone func(context.Context) *time.Location) { s.zone = zone }

// day is the ledger day of an instant: its date in the agency's timezone.
func (s *Store) day(ctx context.Context, at time.Time) string {
	loc := time.UTC
	if s.zone != nil {
		if z := s.zone(ctx); z != nil {
			loc = z
		}
	}
	return LedgerDay(at, loc)
}

// LedgerDay is the ledger date (YYYY-MM-DD) of an instant in a timezone.
func LedgerDay(at time.Time, loc *time.Location) string { return at.In(loc).Format(time.DateOnly) }

// ledgerReaders bounds the days LedgerDays reads at once.
const ledgerReaders = 8

// LedgerDays reads the aggregates of the days: one query per day (more only
// if a day's aggregates pass 1 MB), at most ledgerReaders at once, whatever
// the number of leads. Rows come back in the order of the days.
func (s *Store) LedgerDays(ctx context.Context, days []string) ([]LedgerRow, error) {
	out := make([][]LedgerRow, len(days))
	errs := make([]error, len(days))
	sem := make(chan struct{}, ledgerReaders)
	var wg sync.WaitGroup
	for i, day := range days {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			out[i], errs[i] = s.Ledger(ctx, day)
		}()
	}
	wg.Wait()
	var rows []LedgerRow
	for i := range days {
		if errs[i] != nil {
			return nil, errs[i]
		}
		rows = append(rows, out[i]...)
	}
	return rows, nil
}

// CountDuplicate counts a lead refused as a duplicate in the day's
// aggregates of its campaign and source ("leads" and "duplicates"). It
// touches no lead, dedupe key or idempotency record: the refusal itself
// changes nothing else.
func (s *Store) CountDuplicate(ctx context.Context, campaign, source string, at time.Time) error {
	items := s.ledger(s.day(ctx, at), map[string]string{DimCampaign: campaign, DimSource: source}, counts{"leads": 1, "duplicates": 1})
	if err := s.transact(ctx, items); err != nil {
		return fmt.Errorf("count duplicate for %s/%s: %w", campaign, source, err)
	}
	return nil
}

// Spend is ad spend on one source's traffic for one campaign, on one day
// (a date in the agency's timezone).
type Spend struct {
	Source   string
	Campaign string
	Day      string
	Amount   money.Amount
}

// SpendError reports an import of ad spend that failed part way: the
// days in Applied were written, the others were not.
type SpendError struct {
	Applied []string
	Err     error
}

func (e *SpendError) Error() string {
	return fmt.Sprintf("ad spend: %d day(s) applied before: %v", len(e.Applied), e.Err)
}

func (e *SpendError) Unwrap() error { return e.Err }

// AddSpend adds ad spend to the days' "ad_spend" of each source and
// campaign. Each day is one transaction (all of that day's rows, or
// nothing); a failure part way returns *SpendError naming the days
// written. It returns the days written.
func (s *Store) AddSpend(ctx context.Context, spends []Spend) ([]string, error) {
	type item struct{ day, dim, id string }
	sums := map[item]int64{}
	for _, sp := range spends {
		sums[item{sp.Day, DimSource, sp.Source}] += int64(sp.Amount)
		sums[item{sp.Day, DimCampaign, sp.Campaign}] += int64(sp.Amount)
	}
	byDay := map[string][]types.TransactWriteItem{}
	for _, it := range slices.SortedFunc(maps.Keys(sums), func(a, b item) int {
		return cmp.Or(strings.Compare(a.day, b.day), strings.Compare(a.dim, b.dim), strings.Compare(a.id, b.id))
	}) {
		byDay[it.day] = append(byDay[it.day], s.ledger(it.day, map[string]string{it.dim: it.id}, counts{"ad_spend": sums[it]})...)
	}
	var applied []string
	for _, day := range slices.Sorted(maps.Keys(byDay)) {
		items := byDay[day]
		if len(items) > MaxSpendItemsPerDay {
			return applied, &SpendError{Applied: applied, Err: fmt.Errorf("day %s names %d sources and campaigns; at most %d a day", day, len(items), MaxSpendItemsPerDay)}
		}
		if err := s.transact(ctx, items); err != nil {
			return applied, &SpendError{Applied: applied, Err: fmt.Errorf("day %s: %w", day, err)}
		}
		applied = append(applied, day)
	}
	return applied, nil
}

// MaxSpendItemsPerDay bounds the sources plus campaigns one day of ad
// spend may name (one transaction a day).
const MaxSpendItemsPerDay = 100

// LedgerLocation is the agency's timezone in the current configuration
// (UTC when none can be read): Store.CountLedgerIn takes it.
func (c *ConfigCache) LedgerLocation(ctx context.Context) *time.Location {
	ix, err := c.Get(ctx)
	if err != nil {
		c.log.WarnContext(ctx, "ledger timezone unknown; counting in UTC", "error", err)
		return time.UTC
	}
	return ix.LedgerLocation()
}
