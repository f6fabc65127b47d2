package store

import (
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/leadrelay/leadrelay/shared/lead"
)

// MaxSearchReads bounds the leads one search call reads: a page whose
// filters match few leads holds fewer than its limit and carries a cursor
// to read on.
const MaxSearchReads = 1000

// searchReaders bounds the leads a search reads at once.
const searchReaders = 16

// ErrBadCursor reports a search cursor that is not one this search gave.
var ErrBadCursor = errors.New("invalid cursor")

// LeadSearch is a search of leads, newest first. It reads the leads of a
// phone number or email address (Contact: its value item and lookup
// items) or of a campaign (its GSI1 partitions, merged by time), never the
// table; the other criteria filter what it reads.
type LeadSearch struct {
	// Contact finds the leads carrying a phone number or email address,
	// normalised as ingest normalises it.
	Contact *Contact
	// Campaign lists the campaign's leads (required without Contact).
	Campaign string
	Source   string
	// Buyer keeps the leads sold to the buyer (returned or not).
	Buyer  string
	Status lead.Status
	// From and To bound the leads' creation times, both included (zero:
	// open).
	From, To time.Time
	// Limit is the most leads of the page (1 to 500).
	Limit int
	// Cursor is a previous page's Next.
	Cursor string
}

// LeadPage is a page of a search: Next is empty on the last page.
type LeadPage struct {
	Leads []*lead.Record
	Next  string
}

// cursor is where a search stopped: for a contact, how many of its leads
// were read; for a campaign, the last index key read in each shard ("" not
// started, "-" exhausted).
type cursor struct {
	Of     string   `json:"of"`
	Offset int      `json:"n,omitempty"`
	Shards []string `json:"s,omitempty"`
}

// SearchLeads answers one page of a search. A lead's status is its
// current one: every lead on the page is read whole.
func (s *Store) SearchLeads(ctx context.Context, q LeadSearch) (*LeadPage, error) {
	if q.Limit <= 0 {
		return nil, fmt.Errorf("search leads: limit %d", q.Limit)
	}
	of := "campaign:" + q.Campaign
	if q.Contact != nil {
		of = findPartition(q.Contact.Kind, q.Contact.Value)
	}
	cur := cursor{Of: of}
	if q.Cursor != "" {
		c, err := decodeCursor(q.Cursor, of)
		if err != nil {
			return nil, err
		}
		cur = c
	}
	if q.Contact != nil {
		return s.searchContact(ctx, q, cur)
	}
	return s.searchCampaign(ctx, q, cur)
}

// searchContact pages through the leads of a phone number or email
// address.
func (s *Store) searchContact(ctx context.Context, q LeadSearch, cur cursor) (*LeadPage, error) {
	ids, err := s.valueLeads(ctx, *q.Contact)
	if err != nil {
		return nil, fmt.Errorf("search leads: %w", err)
	}
	recs, err := s.readLeads(ctx, ids)
	if err != nil {
		return nil, err
	}
	slices.SortStableFunc(recs, func(a, b *lead.Record) int {
		return cmp.Or(b.CreatedAt.Compare(a.CreatedAt), strings.Compare(b.ID, a.ID))
	})
	page := &LeadPage{Leads: []*lead.Record{}}
	n := cur.Offset
	for ; n < len(recs) && len(page.Leads) < q.Limit; n++ {
		if q.matches(recs[n]) {
			page.Leads = append(page.Leads, recs[n])
		}
	}
	if n < len(recs) {
		cur.Offset = n
		page.Next = encodeCursor(cur)
	}
	return page, nil
}

// shardReader reads one GSI1 partition of a campaign, newest first, a
// batch at a time.
type shardReader struct {
	pk    string
	after string // the last key read ("": none yet)
	done  bool
	buf   []indexed
}

// indexed is a lead's listing entry.
type indexed struct {
	sk, id string
}

// searchCampaign merges the campaign's index shards by time, newest first,
// reading each lead it meets.
func (s *Store) searchCampaign(ctx context.Context, q LeadSearch, cur cursor) (*LeadPage, error) {
	if len(cur.Shards) == 0 {
		cur.Shards = make([]string, IndexShards)
	}
	if len(cur.Shards) != IndexShards {
		return nil, ErrBadCursor
	}
	readers := make([]*shardReader, IndexShards)
	for i := range readers {
		readers[i] = &shardReader{pk: listingPartition(q.Campaign, i), after: cur.Shards[i], done: cur.Shards[i] == "-"}
	}
	page := &LeadPage{Leads: []*lead.Record{}}
	batch := min(q.Limit, 100)
	read := 0
	for len(page.Leads) < q.Limit && read < MaxSearchReads {
		next, from, err := s.nextEntries(ctx, q, readers, batch)
		if err != nil {
			return nil, err
		}
		if len(next) == 0 {
			break
		}
		ids := make([]string, len(next))
		for i, e := range next {
			ids[i] = e.id
		}
		recs, err := s.readLeads(ctx, ids)
		if err != nil {
			return nil, err
		}
		byID := make(map[string]*lead.Record, len(recs))
		for _, r := range recs {
			byID[r.ID] = r
		}
		for i, e := range next {
			read++
			from[i].after = e.sk
			if r := byID[e.id]; r != nil && q.matches(r) {
				page.Leads = append(page.Leads, r)
				if len(page.Leads) == q.Limit {
					// Give back what this batch did not look at.
					for j := len(next) - 1; j > i; j-- {
						from[j].buf = append([]indexed{next[j]}, from[j].buf...)
					}
					break
				}
			}
		}
	}
	if shardsAfter(readers, &cur) {
		page.Next = encodeCursor(cur)
	}
	return page, nil
}

// nextEntries takes the next up to n entries in time order, newest first,
// across the shards, each with the shard it came from.
func (s *Store) nextEntries(ctx context.Context, q LeadSearch, readers []*shardReader, n int) (next []indexed, from []*shardReader, err error) {
	for len(next) < n {
		var top *shardReader
		for _, r := range readers {
			if len(r.buf) == 0 && !r.done {
				if err := s.fill(ctx, q, r, n); err != nil {
					return nil, nil, err
				}
			}
			if len(r.buf) > 0 && (top == nil || r.buf[0].sk > top.buf[0].sk) {
				top = r
			}
		}
		if top == nil {
			break
		}
		next = append(next, top.buf[0])
		from = append(from, top)
		top.buf = top.buf[1:]
	}
	return next, from, nil
}

// shardsAfter sets the cursor's shards where the search stopped: a shard
// goes on after the last entry read from it; one with nothing left to
// read is done ("-"). It reports whether any shard has more.
func shardsAfter(readers []*shardReader, cur *cursor) bool {
	more := false
	for i, r := range readers {
		if r.done && len(r.buf) == 0 {
			cur.Shards[i] = "-"
			continue
		}
		cur.Shards[i] = r.after
		more = true
	}
	return more
}

// fill reads the next entries of a shard into its buffer.
func (s *Store) fill(ctx context.Context, q LeadSearch, r *shardReader, n int) error {
	names := map[string]string{"#pk": attrGSI1PK, "#sk": attrGSI1SK}
	values := map[string]types.AttributeValue{":pk": str(r.pk)}
	cond := "#pk = :pk"
	// Index keys start with the creation time (fixed width, UTC): whole
	// seconds are a prefix, and "~" sorts after every character that
	// follows one.
	const second = "2006-01-02T15:04:05"
	lo, hi := "", "~"
	if !q.From.IsZero() {
		lo = q.From.UTC().Format(second)
	}
	if !q.To.IsZero() {
		hi = q.To.UTC().Format(second) + "~"
	}
	if r.after != "" && r.after < hi {
		hi = r.after
		// The range includes hi: the key read last is dropped below.
	}
	values[":hi"] = str(hi)
	if lo == "" {
		cond += " AND #sk <= :hi"
	} else {
		values[":lo"] = str(lo)
		cond += " AND #sk BETWEEN :lo AND :hi"
	}
	in := &dynamodb.QueryInput{
		TableName: aws.String(s.table), IndexName: aws.String(GSI1),
		KeyConditionExpression: aws.String(cond), ScanIndexForward: aws.Bool(false),
		Limit: aws.Int32(int32(n + 1)),
	}
	if q.Source != "" {
		names["#source"], values[":source"] = "source", str(q.Source)
		in.FilterExpression = aws.String("#source = :source")
	}
	in.ExpressionAttributeNames, in.ExpressionAttributeValues = names, values
	out, err := s.db.Query(ctx, in)
	if err != nil {
		return fmt.Errorf("search leads: %w", err)
	}
	for _, it := range out.Items {
		sk, _ := it[attrGSI1SK].(*types.AttributeValueMemberS)
		pk, _ := it[attrPK].(*types.AttributeValueMemberS)
		if sk == nil || pk == nil || sk.Value == r.after {
			continue
		}
		r.buf = append(r.buf, indexed{sk: sk.Value, id: strings.TrimPrefix(pk.Value, "LEAD#")})
	}
	if out.LastEvaluatedKey == nil {
		r.done = true
	} else if len(r.buf) == 0 {
		// A page of filtered-out entries: read on from its end.
		if sk, ok := out.LastEvaluatedKey[attrGSI1SK].(*types.AttributeValueMemberS); ok {
			r.after = sk.Value
			return s.fill(ctx, q, r, n)
		}
		r.done = true
	}
	return nil
}

// readLeads reads leads whole, searchReaders at a time, in the order of
// ids (leads that do not exist are left out).
func (s *Store) readLeads(ctx context.Context, ids []string) ([]*lead.Record, error) {
	recs := make([]*lead.Record, len(ids))
	errs := make([]error, len(ids))
	sem := make(chan struct{}, searchReaders)
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			recs[i], errs[i] = s.GetLead(ctx, id, false)
		}()
	}
	wg.Wait()
	out := make([]*lead.Record, 0, len(ids))
	for i := range ids {
		switch {
		case errors.Is(errs[i], ErrNotFound):
		case errs[i] != nil:
			return nil, fmt.Errorf("search leads: %w", errs[i])
		default:
			out = append(out, recs[i])
		}
	}
	return out, nil
}

// matches applies every criterion to a record: the exact time range, and
// what the index could not filter (the current status, the buyer).
func (q LeadSearch) matches(r *lead.Record) bool {
	switch {
	case !q.From.IsZero() && r.CreatedAt.Before(q.From),
		!q.To.IsZero() && r.CreatedAt.After(q.To),
		q.Campaign != "" && r.Campaign != q.Campaign,
		q.Source != "" && r.Source != q.Source,
		q.Status != "" && r.Status != q.Status:
		return false
	}
	if q.Buyer != "" {
		return slices.ContainsFunc(r.Sales, func(s lead.Sale) bool { return s.Buyer == q.Buyer })
	}
	return true
}

func encodeCursor(c cursor) string {
	raw, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(raw)
}

// decodeCursor reads a cursor back: it must be one of the same search.
func decodeCursor(c, of string) (cursor, error) {
	raw, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return cursor{}, ErrBadCursor
	}
	var cur cursor
	if err := json.Unmarshal(raw, &cur); err != nil || cur.Of != of || cur.Offset < 0 {
		return cursor{}, ErrBadCursor
	}
	return cur, nil
}
