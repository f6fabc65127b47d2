package store

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/leadrelay/leadrelay/shared/lead"
)

// MaxSearchReads bounds the index items one search call reads: a page
// whose filters match few leads holds fewer than its limit and carries a
// cursor to read on.
const MaxSearchReads = 1000

// maxSearchQueries bounds the queries of one search call.
const maxSearchQueries = 10

// ErrBadCursor reports a search cursor that is not one this search gave.
var ErrBadCursor = errors.New("invalid cursor")

// LeadSearch is a search of leads, newest first. It reads one partition,
// never the table: the leads of a phone number or email address (Contact,
// by their lookup items) or of a campaign (GSI1); the other criteria
// filter what it reads.
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

// SearchLeads answers one page of a search. A lead's status is its current
// one: the leads of a contact are read from their records (BatchGetItem,
// strongly consistent); a campaign's come from GSI1, whose projection is
// the whole record, replicated within about a second.
func (s *Store) SearchLeads(ctx context.Context, q LeadSearch) (*LeadPage, error) {
	if q.Limit <= 0 {
		return nil, fmt.Errorf("search leads: limit %d", q.Limit)
	}
	in, part := s.searchQuery(q)
	if q.Cursor != "" {
		start, err := decodeCursor(q.Cursor, part)
		if err != nil {
			return nil, err
		}
		in.ExclusiveStartKey = start
	}
	page := &LeadPage{Leads: []*lead.Record{}}
	read := 0
	for n := 0; ; n++ {
		in.Limit = aws.Int32(int32(min(q.Limit-len(page.Leads), MaxSearchReads-read)))
		out, err := s.db.Query(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("search leads: %w", err)
		}
		read += max(int(out.ScannedCount), len(out.Items))
		recs, err := s.searchRecords(ctx, q.Contact != nil, out.Items)
		if err != nil {
			return nil, err
		}
		for _, r := range recs {
			if q.matches(r) {
				page.Leads = append(page.Leads, r)
			}
		}
		if out.LastEvaluatedKey == nil {
			return page, nil
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
		if len(page.Leads) >= q.Limit || read >= MaxSearchReads || n+1 >= maxSearchQueries {
			next, err := encodeCursor(out.LastEvaluatedKey)
			if err != nil {
				return nil, err
			}
			page.Next = next
			return page, nil
		}
	}
}

// cursorPartition is the partition a search reads: a cursor must name it.
type cursorPartition struct {
	attr, value string
	keys        []string // the attributes of a LastEvaluatedKey
}

// searchQuery builds the query of a search: the partition, the time range
// as a sort key range (whole seconds; matches cuts it exactly) and the
// filters the items read carry.
func (s *Store) searchQuery(q LeadSearch) (*dynamodb.QueryInput, cursorPartition) {
	in := &dynamodb.QueryInput{TableName: aws.String(s.table), ScanIndexForward: aws.Bool(false)}
	names := map[string]string{}
	values := map[string]types.AttributeValue{}
	var part cursorPartition
	var filters []string
	pkAttr, skAttr := attrPK, attrSK
	if q.Contact != nil {
		part = cursorPartition{attr: attrPK, value: q.Contact.partition(), keys: []string{attrPK, attrSK}}
		if q.Campaign != "" {
			names["#campaign"], values[":campaign"] = "campaign", str(q.Campaign)
			filters = append(filters, "#campaign = :campaign")
		}
	} else {
		in.IndexName = aws.String(GSI1)
		pkAttr, skAttr = attrGSI1PK, attrGSI1SK
		part = cursorPartition{attr: attrGSI1PK, value: "CAMPAIGN#" + q.Campaign, keys: []string{attrPK, attrSK, attrGSI1PK, attrGSI1SK}}
		if q.Status != "" {
			names["#status"], values[":status"] = "status", str(string(q.Status))
			filters = append(filters, "#status = :status")
		}
	}
	if q.Source != "" {
		names["#source"], values[":source"] = "source", str(q.Source)
		filters = append(filters, "#source = :source")
	}
	names["#pk"] = pkAttr
	if !q.From.IsZero() || !q.To.IsZero() {
		names["#sk"] = skAttr
	}
	values[":pk"] = str(part.value)
	cond := "#pk = :pk"
	// Sort keys start with the creation time in RFC 3339 (UTC, fractional
	// seconds without trailing zeros): whole seconds are a prefix, and
	// "~" sorts after every character that follows one.
	const second = "2006-01-02T15:04:05"
	switch {
	case !q.From.IsZero() && !q.To.IsZero():
		values[":lo"], values[":hi"] = str(q.From.UTC().Format(second)), str(q.To.UTC().Format(second)+"~")
		cond += " AND #sk BETWEEN :lo AND :hi"
	case !q.From.IsZero():
		values[":lo"] = str(q.From.UTC().Format(second))
		cond += " AND #sk >= :lo"
	case !q.To.IsZero():
		values[":hi"] = str(q.To.UTC().Format(second) + "~")
		cond += " AND #sk <= :hi"
	}
	in.KeyConditionExpression = aws.String(cond)
	if len(filters) > 0 {
		f := filters[0]
		for _, x := range filters[1:] {
			f += " AND " + x
		}
		in.FilterExpression = aws.String(f)
	}
	in.ExpressionAttributeNames = names
	in.ExpressionAttributeValues = values
	return in, part
}

// searchRecords turns the items a search read into lead records, in their
// order: GSI1 items are the records; lookup items name them, read in one
// BatchGetItem per 100.
func (s *Store) searchRecords(ctx context.Context, lookups bool, items []map[string]types.AttributeValue) ([]*lead.Record, error) {
	recs := make([]*lead.Record, 0, len(items))
	if !lookups {
		for _, it := range items {
			r, err := decodeLead(it)
			if err != nil {
				return nil, err
			}
			recs = append(recs, r)
		}
		return recs, nil
	}
	ids := make([]string, 0, len(items))
	keys := make([]map[string]types.AttributeValue, 0, len(items))
	for _, it := range items {
		v, ok := it["lead_id"].(*types.AttributeValueMemberS)
		if !ok {
			return nil, fmt.Errorf("search leads: lookup item without lead_id")
		}
		ids = append(ids, v.Value)
		pk, sk := leadKey(v.Value)
		keys = append(keys, key(pk, sk))
	}
	got, err := s.batchGet(ctx, keys)
	if err != nil {
		return nil, fmt.Errorf("search leads: read the page's leads: %w", err)
	}
	byID := make(map[string]*lead.Record, len(got))
	for _, it := range got {
		r, err := decodeLead(it)
		if err != nil {
			return nil, err
		}
		byID[r.ID] = r
	}
	for _, id := range ids {
		if r, ok := byID[id]; ok {
			recs = append(recs, r)
		}
	}
	return recs, nil
}

// matches applies every criterion to a record: the exact time range, and
// what the query could not filter (the current status of a contact's
// leads, the buyer).
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

// encodeCursor writes a LastEvaluatedKey (string attributes only) as an
// opaque token.
func encodeCursor(k map[string]types.AttributeValue) (string, error) {
	flat := make(map[string]string, len(k))
	for name, v := range k {
		s, ok := v.(*types.AttributeValueMemberS)
		if !ok {
			return "", fmt.Errorf("search leads: key attribute %s is not a string", name)
		}
		flat[name] = s.Value
	}
	raw, err := json.Marshal(flat)
	if err != nil {
		return "", fmt.Errorf("encode cursor: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(raw), nil
}

// decodeCursor reads a cursor back: it must hold exactly the key
// attributes of the search's partition, in that partition.
func decodeCursor(c string, part cursorPartition) (map[string]types.AttributeValue, error) {
	raw, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return nil, ErrBadCursor
	}
	var flat map[string]string
	if err := json.Unmarshal(raw, &flat); err != nil {
		return nil, ErrBadCursor
	}
	if !slices.Equal(slices.Sorted(maps.Keys(flat)), slices.Sorted(slices.Values(part.keys))) || flat[part.attr] != part.value {
		return nil, ErrBadCursor
	}
	k := make(map[string]types.AttributeValue, len(flat))
	for name, v := range flat {
		if v == "" {
			return nil, ErrBadCursor
		}
		k[name] = str(v)
	}
	return k, nil
}
