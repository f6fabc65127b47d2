package store

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// counts are ledger figures to add.
type counts map[string]int64

// entry is a change to one day's aggregate of one dimension's id: what an
// item that changes the P&L carries in its "lg" attribute, one string
// each ("2026-12-01|campaign|auto|accepted:1,leads:1"), for the aggregate
// function to fold in (aggregate.go). Configuration ids never hold "|".
type entry struct {
	day, dim, id string
	add          counts
}

func (e entry) String() string {
	var b strings.Builder
	b.WriteString(e.day + "|" + e.dim + "|" + e.id + "|")
	for i, k := range slices.Sorted(maps.Keys(e.add)) {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(k + ":" + strconv.FormatInt(e.add[k], 10))
	}
	return b.String()
}

// errBadEntry reports a ledger entry that is not one entry.String wrote.
var errBadEntry = errors.New("bad ledger entry")

func parseEntry(s string) (entry, error) {
	parts := strings.Split(s, "|")
	if len(parts) != 4 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
		return entry{}, fmt.Errorf("%w: %q", errBadEntry, s)
	}
	e := entry{day: parts[0], dim: parts[1], id: parts[2], add: counts{}}
	for _, kv := range strings.Split(parts[3], ",") {
		k, v, ok := strings.Cut(kv, ":")
		n, err := strconv.ParseInt(v, 10, 64)
		if !ok || k == "" || err != nil {
			return entry{}, fmt.Errorf("%w: %q", errBadEntry, s)
		}
		e.add[k] += n
	}
	return e, nil
}

// entries are the ledger entries that add the same figures to the day's
// aggregate of each of several dimensions (empty ids are skipped).
func entries(day string, dims map[string]string, add counts) []entry {
	var out []entry
	for _, dim := range []string{DimCampaign, DimSource, DimBuyer, DimBuyerSource, DimScoreBand, DimSubID, DimOrder} {
		if id := dims[dim]; id != "" {
			out = append(out, entry{day: day, dim: dim, id: id, add: add})
		}
	}
	return out
}

// ledgerValue is the "lg" attribute of entries.
func ledgerValue(es []entry) types.AttributeValue {
	l := make([]types.AttributeValue, len(es))
	for i, e := range es {
		l[i] = str(e.String())
	}
	return &types.AttributeValueMemberL{Value: l}
}

// aggregateUpdate adds an entry's figures to its day aggregate.
func (s *Store) aggregateUpdate(e entry) *types.Update {
	var upd expression.UpdateBuilder
	for i, name := range slices.Sorted(maps.Keys(e.add)) {
		if i == 0 {
			upd = expression.Add(expression.Name(name), expression.Value(e.add[name]))
		} else {
			upd = upd.Add(expression.Name(name), expression.Value(e.add[name]))
		}
	}
	expr, err := expression.NewBuilder().WithUpdate(upd).Build()
	if err != nil {
		// The names and values are ours: a build error is a programming error.
		panic(fmt.Sprintf("ledger expression: %v", err))
	}
	pk, sk := ledgerKey(e.day, e.dim, e.id)
	return &types.Update{
		TableName:                 aws.String(s.table),
		Key:                       key(pk, sk),
		UpdateExpression:          expr.Update(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
	}
}

// CountLedgerIn sets the agency's timezone, in which ledger days are
// counted: zone is asked at each ledger write (it reads the cached
// configuration). Without it days are UTC dates.
func (s *Store) CountLedgerIn(zone func(context.Context) *time.Location) { s.zone = zone }

// day is the ledger day of an instant: its date in the agency's timezone.
func (s *Store) day(ctx context.Context, at time.Time) string {
	return LedgerDay(at, s.location(ctx))
}

// location is the agency's timezone, in which ledger days (and hours)
// are counted.
func (s *Store) location(ctx context.Context) *time.Location {
	if s.zone != nil {
		if z := s.zone(ctx); z != nil {
			return z
		}
	}
	return time.UTC
}

// HourCounter names the counter of a campaign's day aggregate that
// counts the leads accepted in hour h (0–23, the agency's timezone): the
// overview's hourly chart reads a day's from the one aggregate item the
// lead's ledger entry already folds into, no new item and no lead read.
func HourCounter(h int) string { return fmt.Sprintf("leads_h%02d", h) }

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
// aggregates of its campaign and source ("leads" and "duplicates"): it puts
// a small record of the refusal (kept two days), whose ledger entries the
// aggregate function folds in. It touches no lead, dedupe key or
// idempotency record: the refusal itself changes nothing else. id is the
// refused lead's id (a new one for each refusal).
func (s *Store) CountDuplicate(ctx context.Context, id, campaign, source string, at time.Time) error {
	pk, sk := duplicateKey(id)
	it := key(pk, sk)
	it[attrExpires] = expiry(at.Add(48 * time.Hour))
	it[attrLedger] = ledgerValue(entries(s.day(ctx, at), map[string]string{DimCampaign: campaign, DimSource: source}, counts{"leads": 1, "duplicates": 1}))
	if err := s.putItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.table), Item: it}); err != nil {
		return fmt.Errorf("count duplicate for %s/%s: %w", campaign, source, err)
	}
	return nil
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

// LedgerRow is one day's figures for one campaign, source or buyer.
type LedgerRow struct {
	Day       string
	Dimension string
	ID        string
	Counts    map[string]int64
}

// Ledger reads one day's aggregates (a date YYYY-MM-DD in the agency's
// timezone): one query.
func (s *Store) Ledger(ctx context.Context, day string) ([]LedgerRow, error) {
	pk, _ := ledgerKey(day, "", "")
	var rows []LedgerRow
	err := s.partition(ctx, pk, true, func(it map[string]types.AttributeValue) error {
		row := LedgerRow{Day: day, Counts: map[string]int64{}}
		for k, v := range it {
			switch k {
			case attrPK:
			case attrSK:
				sk := v.(*types.AttributeValueMemberS).Value
				row.Dimension, row.ID, _ = strings.Cut(sk, "#")
			default:
				if n, ok := v.(*types.AttributeValueMemberN); ok {
					row.Counts[k], _ = strconv.ParseInt(n.Value, 10, 64)
				}
			}
		}
		rows = append(rows, row)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("ledger of %s: %w", day, err)
	}
	return rows, nil
}
