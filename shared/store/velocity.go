package store

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Velocity is counted on the contact value items themselves: each new lead
// carrying a value adds one to its value item's bucket for the hour
// ("vh:<unix hour>") and its source to the hour's set ("vs:<unix hour>"),
// in the update the lead's transaction already makes. No item is shared by
// unrelated leads, so nothing is hot; a value with many leads in an hour
// is the fraud the count is for. Buckets older than MaxVelocityWindow are
// removed by the next lead that reads them.
const (
	attrVelocityCount   = "vh:"
	attrVelocitySources = "vs:"
	// MaxVelocityWindow is the longest velocity window a campaign may
	// count over.
	MaxVelocityWindow = 72 * time.Hour
)

// Recent is what a contact value's item says of the other leads that
// carried it recently.
type Recent struct {
	Contact
	// Leads is how many leads carried it within the window.
	Leads int
	// Sources are the sources of those leads.
	Sources []string
	// expired names the item's buckets past MaxVelocityWindow, removed
	// by the new lead's update.
	expired []string
}

func velocityHour(t time.Time) int64 { return t.Unix() / 3600 }

// RecentLeads reads, in one BatchGetItem, how many leads carried each of
// the contacts within window before now, and from which sources. An
// eventually consistent read is enough: velocity is a signal, not a lock.
func (s *Store) RecentLeads(ctx context.Context, contacts []Contact, window time.Duration, now time.Time) ([]Recent, error) {
	if len(contacts) == 0 {
		return nil, nil
	}
	window = min(window, MaxVelocityWindow)
	byKey := map[string]int{}
	var keys []map[string]types.AttributeValue
	out := make([]Recent, len(contacts))
	for i, c := range contacts {
		out[i].Contact = c
		pk, sk := valueKey(c.Kind, c.Value)
		if _, seen := byKey[pk]; !seen {
			byKey[pk] = i
			keys = append(keys, key(pk, sk))
		}
	}
	got, err := s.batchGet(ctx, keys, "")
	if err != nil {
		return nil, fmt.Errorf("read velocity: %w", err)
	}
	items := map[string]map[string]types.AttributeValue{}
	for _, it := range got {
		if pk, ok := it[attrPK].(*types.AttributeValueMemberS); ok {
			items[pk.Value] = it
		}
	}
	first := velocityHour(now.Add(-window)) + 1
	oldest := velocityHour(now.Add(-MaxVelocityWindow))
	for i := range out {
		pk, _ := valueKey(out[i].Kind, out[i].Value)
		it := items[pk]
		sources := map[string]bool{}
		for name, v := range it {
			count, isCount := strings.CutPrefix(name, attrVelocityCount)
			set, isSet := strings.CutPrefix(name, attrVelocitySources)
			hourText := count
			if isSet {
				hourText = set
			}
			if !isCount && !isSet {
				continue
			}
			hour, err := strconv.ParseInt(hourText, 10, 64)
			if err != nil {
				continue
			}
			if hour <= oldest {
				out[i].expired = append(out[i].expired, name)
				continue
			}
			if hour < first {
				continue
			}
			switch v := v.(type) {
			case *types.AttributeValueMemberN:
				if n, err := strconv.Atoi(v.Value); err == nil && isCount {
					out[i].Leads += n
				}
			case *types.AttributeValueMemberSS:
				for _, src := range v.Value {
					sources[src] = true
				}
			}
		}
		for src := range sources {
			out[i].Sources = append(out[i].Sources, src)
		}
	}
	return out, nil
}

// countVelocity adds the lead to its value item's hour bucket, and
// removes the buckets its read found expired.
func countVelocity(upd expression.UpdateBuilder, source string, now time.Time, expired []string) expression.UpdateBuilder {
	h := strconv.FormatInt(velocityHour(now), 10)
	upd = upd.Add(expression.NameNoDotSplit(attrVelocityCount+h), expression.Value(1)).
		Add(expression.NameNoDotSplit(attrVelocitySources+h), expression.Value(&types.AttributeValueMemberSS{Value: []string{source}}))
	for _, name := range expired {
		upd = upd.Remove(expression.NameNoDotSplit(name))
	}
	return upd
}
