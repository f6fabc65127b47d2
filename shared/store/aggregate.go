package store

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// The P&L's day aggregates are not written by the leads: every item that
// changes the P&L carries its ledger entries, and the aggregate function
// folds them in from the table's stream. Its writes to the aggregates come
// once per batch of stream records, so a busy campaign's aggregate takes a
// few writes a second whatever the leads a second.
//
// Exactly once: the records of one stream shard come in order, each with a
// sequence number that grows within the shard. The aggregates of a batch
// are written in one transaction with the shard's checkpoint (the last
// sequence number folded in), conditioned on the checkpoint being where it
// was read. Records at or before the checkpoint were folded in already
// and are skipped, so a batch Lambda delivers again changes nothing.

// StreamRecord is what the aggregate function needs of a stream record:
// its sequence number and the ledger entries of the item it inserted.
type StreamRecord struct {
	Seq    string
	Ledger []string
}

// maxFoldItems bounds the aggregates one transaction updates (DynamoDB
// takes 100 items a transaction; one is the checkpoint).
const maxFoldItems = 99

// FoldStats says what FoldLedger did.
type FoldStats struct {
	// Records folded in, and records skipped as folded in before.
	Folded, Skipped int
	// Transactions written.
	Writes int
}

// FoldLedger folds the ledger entries of a shard's stream records, in
// order, into the day aggregates, exactly once. A record whose entries do
// not parse is an error: the batch is retried (and, if it persists, sent
// to the aggregate function's failure destination), never half applied.
func (s *Store) FoldLedger(ctx context.Context, shardID string, recs []StreamRecord) (FoldStats, error) {
	var st FoldStats
	parsed := make([][]entry, len(recs))
	for i, r := range recs {
		for _, l := range r.Ledger {
			e, err := parseEntry(l)
			if err != nil {
				return st, fmt.Errorf("stream record %s: %w", r.Seq, err)
			}
			parsed[i] = append(parsed[i], e)
		}
	}
	for tries := 0; ; tries++ {
		cp, err := s.checkpoint(ctx, shardID)
		if err != nil {
			return st, err
		}
		start := 0
		for start < len(recs) && !seqAfter(recs[start].Seq, cp) {
			start++
		}
		st.Skipped = start
		st.Folded = 0
		moved := false
		for start < len(recs) {
			end, sums := foldChunk(recs, parsed, start)
			if len(sums) == 0 {
				// Nothing to fold (items without entries): nothing to
				// write, and nothing lost if they are read again.
				start = end
				continue
			}
			err := s.writeFold(ctx, shardID, cp, recs[end-1].Seq, sums)
			if errors.Is(err, errCheckpointMoved) {
				moved = true
				break
			}
			if err != nil {
				return st, err
			}
			st.Writes++
			st.Folded += end - start
			cp, start = recs[end-1].Seq, end
		}
		if !moved {
			return st, nil
		}
		if tries >= 3 {
			return st, fmt.Errorf("ledger checkpoint of shard %s keeps moving: is another aggregate function folding it?", shardID)
		}
	}
}

// foldChunk sums the entries of records from start on until one more
// record would need more than maxFoldItems aggregates (a record's
// entries are never split), returning where it stopped.
func foldChunk(recs []StreamRecord, parsed [][]entry, start int) (int, map[[3]string]counts) {
	sums := map[[3]string]counts{}
	end := start
	for ; end < len(recs); end++ {
		fresh := 0
		for _, e := range parsed[end] {
			if _, ok := sums[[3]string{e.day, e.dim, e.id}]; !ok {
				fresh++
			}
		}
		if end > start && len(sums)+fresh > maxFoldItems {
			break
		}
		for _, e := range parsed[end] {
			k := [3]string{e.day, e.dim, e.id}
			if sums[k] == nil {
				sums[k] = counts{}
			}
			for name, n := range e.add {
				sums[k][name] += n
			}
		}
	}
	return end, sums
}

var errCheckpointMoved = errors.New("ledger checkpoint moved")

// writeFold writes a chunk's sums with the shard's checkpoint, moved from
// prev (empty: none yet) to last.
func (s *Store) writeFold(ctx context.Context, shardID, prev, last string, sums map[[3]string]counts) error {
	t := &txn{}
	keys := make([][3]string, 0, len(sums))
	for k := range sums {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b [3]string) int {
		return cmp.Or(strings.Compare(a[0], b[0]), strings.Compare(a[1], b[1]), strings.Compare(a[2], b[2]))
	})
	for _, k := range keys {
		add := counts{}
		for name, n := range sums[k] {
			if n != 0 {
				add[name] = n
			}
		}
		if len(add) == 0 {
			continue
		}
		t.update("aggregate:"+strings.Join(k[:], "|"), s.aggregateUpdate(entry{day: k[0], dim: k[1], id: k[2], add: add}))
	}
	pk, sk := checkpointKey(shardID)
	it := key(pk, sk)
	it["seq"] = str(last)
	it["at"] = str(s.now().UTC().Format(time.RFC3339Nano))
	it[attrExpires] = expiry(s.now().Add(7 * 24 * time.Hour)) // shards live at most a day
	put := &types.Put{TableName: aws.String(s.table), Item: it}
	if prev == "" {
		put.ConditionExpression = aws.String("attribute_not_exists(pk)")
	} else {
		put.ConditionExpression = aws.String("seq = :prev")
		put.ExpressionAttributeValues = map[string]types.AttributeValue{":prev": str(prev)}
	}
	t.put("checkpoint", put)
	err := s.transact(ctx, t)
	if f := t.failures(err); f != nil {
		if _, ok := f["checkpoint"]; ok {
			return errCheckpointMoved
		}
	}
	if err != nil {
		return fmt.Errorf("fold ledger of shard %s: %w", shardID, err)
	}
	return nil
}

// checkpoint reads a shard's checkpoint ("" if none).
func (s *Store) checkpoint(ctx context.Context, shardID string) (string, error) {
	pk, sk := checkpointKey(shardID)
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.table), Key: key(pk, sk), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return "", fmt.Errorf("read ledger checkpoint of shard %s: %w", shardID, err)
	}
	var cp struct {
		Seq string `dynamodbav:"seq"`
	}
	if err := attributevalue.UnmarshalMap(out.Item, &cp); err != nil {
		return "", fmt.Errorf("decode ledger checkpoint of shard %s: %w", shardID, err)
	}
	return cp.Seq, nil
}

// seqAfter reports whether stream sequence number a comes after b ("" is
// before every number). Sequence numbers are decimal strings of up to 40
// digits: longer is later, and equal lengths compare as strings.
func seqAfter(a, b string) bool {
	a, b = strings.TrimLeft(a, "0"), strings.TrimLeft(b, "0")
	if len(a) != len(b) {
		return len(a) > len(b)
	}
	return a > b
}
