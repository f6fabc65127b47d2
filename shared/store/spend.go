package store

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/leadrelay/leadrelay/shared/money"
)

// Where ad spend comes from: each origin's figure for a source, campaign
// and day is kept apart, so that an import from one never replaces
// another's.
const (
	SpendManual = "manual"
	SpendMeta   = "meta"
	SpendGoogle = "google"
)

// Spend is ad spend on one source's traffic for one campaign, on one day
// (a date in the agency's timezone), as one origin reports it.
type Spend struct {
	Source   string
	Campaign string
	Day      string
	Amount   money.Amount
	// Origin is SpendManual (the default), SpendMeta or SpendGoogle.
	Origin string
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

// spendKey identifies one origin's spend on one source and campaign.
type spendKey struct{ origin, source, campaign string }

func (k spendKey) sk() string { return k.origin + "#" + k.source + "#" + k.campaign }

// spendTries bounds how often a day is read and written again when
// another import changed it meanwhile.
const spendTries = 3

// SetSpend sets the days' ad spend: for each origin, source and campaign
// named, the day's figure becomes the import's (the sum of its rows for
// them), and the P&L's "ad_spend" of the source and the campaign moves by
// the difference. Importing the same figures again changes nothing: spend
// is never counted twice. Each day is one transaction, conditioned on the
// figures read; a failure part way returns *SpendError naming the days
// written. It returns the days written.
func (s *Store) SetSpend(ctx context.Context, spends []Spend) ([]string, error) {
	byDay := map[string]map[spendKey]money.Amount{}
	for _, sp := range spends {
		origin := cmp.Or(sp.Origin, SpendManual)
		if byDay[sp.Day] == nil {
			byDay[sp.Day] = map[spendKey]money.Amount{}
		}
		byDay[sp.Day][spendKey{origin, sp.Source, sp.Campaign}] += sp.Amount
	}
	var applied []string
	for _, day := range slices.Sorted(maps.Keys(byDay)) {
		if err := s.setDay(ctx, day, byDay[day]); err != nil {
			return applied, &SpendError{Applied: applied, Err: fmt.Errorf("day %s: %w", day, err)}
		}
		applied = append(applied, day)
	}
	return applied, nil
}

// setDay writes one day's figures over what it holds, retrying when
// another import moved them in between.
func (s *Store) setDay(ctx context.Context, day string, want map[spendKey]money.Amount) error {
	for try := 1; ; try++ {
		have, err := s.daySpend(ctx, day)
		if err != nil {
			return err
		}
		t, err := s.spendTxn(day, want, have)
		if err != nil || t == nil {
			return err
		}
		err = s.transact(ctx, t)
		if f := t.failures(err); f != nil && try < spendTries {
			continue // another import of the day came first: read it again
		}
		return err
	}
}

// daySpend reads a day's spend figures.
func (s *Store) daySpend(ctx context.Context, day string) (map[spendKey]money.Amount, error) {
	pk, _ := spendItemKey(day, "")
	out := map[spendKey]money.Amount{}
	err := s.partition(ctx, pk, true, func(it map[string]types.AttributeValue) error {
		sk, _ := it[attrSK].(*types.AttributeValueMemberS)
		n, _ := it["amount"].(*types.AttributeValueMemberN)
		if sk == nil || n == nil {
			return nil
		}
		parts := strings.SplitN(sk.Value, "#", 3)
		v, err := strconv.ParseInt(n.Value, 10, 64)
		if len(parts) != 3 || err != nil {
			return fmt.Errorf("spend item %s: %w", sk.Value, errBadEntry)
		}
		out[spendKey{parts[0], parts[1], parts[2]}] = money.Amount(v)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read spend of %s: %w", day, err)
	}
	return out, nil
}

// spendTxn puts each changed figure (on the condition that it is still
// the one read) and moves the aggregates by the differences, or returns
// nil when nothing changes.
func (s *Store) spendTxn(day string, want, have map[spendKey]money.Amount) (*txn, error) {
	type agg struct{ dim, id string }
	deltas := map[agg]int64{}
	t := &txn{}
	for _, k := range slices.SortedFunc(maps.Keys(want), func(a, b spendKey) int { return strings.Compare(a.sk(), b.sk()) }) {
		old, known := have[k]
		if known && old == want[k] {
			continue
		}
		pk, sk := spendItemKey(day, k.sk())
		it := key(pk, sk)
		it["amount"] = num(int64(want[k]))
		put := &types.Put{TableName: aws.String(s.table), Item: it, ConditionExpression: aws.String("attribute_not_exists(pk)")}
		if known {
			put.ConditionExpression = aws.String("amount = :old")
			put.ExpressionAttributeValues = map[string]types.AttributeValue{":old": num(int64(old))}
		}
		t.put("spend:"+sk, put)
		d := int64(want[k] - old)
		deltas[agg{DimSource, k.source}] += d
		deltas[agg{DimCampaign, k.campaign}] += d
	}
	for _, a := range slices.SortedFunc(maps.Keys(deltas), func(x, y agg) int {
		return cmp.Or(strings.Compare(x.dim, y.dim), strings.Compare(x.id, y.id))
	}) {
		if deltas[a] != 0 {
			t.update(a.dim+"#"+a.id, s.aggregateUpdate(entry{day: day, dim: a.dim, id: a.id, add: counts{"ad_spend": deltas[a]}}))
		}
	}
	if len(t.items) == 0 {
		return nil, nil
	}
	if len(t.items) > MaxSpendItemsPerDay {
		return nil, fmt.Errorf("%w: %d figures and aggregates in one day; at most %d", ErrTooMuchSpend, len(t.items), MaxSpendItemsPerDay)
	}
	return t, nil
}

// ErrTooMuchSpend reports a day of ad spend too large for one transaction.
var ErrTooMuchSpend = errors.New("too much ad spend in one day")
