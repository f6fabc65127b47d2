package runner

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	streamtypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
)

// streamPoller reads the table's stream and hands each shard's records to
// the aggregate handler the way Lambda's event source mapping does with a
// tumbling window: batches of one shard, in order, with the shard's id; a
// batch whose handler fails is handed again.
type streamPoller struct {
	api     *dynamodbstreams.Client
	ddb     *dynamodb.Client
	table   string
	handle  func(context.Context, events.DynamoDBTimeWindowEvent) (events.DynamoDBTimeWindowEventResponse, error)
	log     *slog.Logger
	every   time.Duration
	batch   int32
	shards  map[string]*string // shard id → next iterator
	pending map[string][]streamtypes.Record
	// described is when the stream's shards were last listed: a shard
	// is new every few hours on AWS, so they are listed every few seconds.
	described time.Time
	list      []streamtypes.Shard

	mu   sync.Mutex
	cond *sync.Cond
	// pass counts the polling passes begun; idle is the latest pass that
	// found nothing to hand over, and failed every shard's batch handed.
	pass, idle int
}

func newStreamPoller(api *dynamodbstreams.Client, ddb *dynamodb.Client, table string,
	handle func(context.Context, events.DynamoDBTimeWindowEvent) (events.DynamoDBTimeWindowEventResponse, error), log *slog.Logger) *streamPoller {
	p := &streamPoller{api: api, ddb: ddb, table: table, handle: handle, log: log, every: 100 * time.Millisecond, batch: 1000,
		shards: map[string]*string{}, pending: map[string][]streamtypes.Record{}}
	p.cond = sync.NewCond(&p.mu)
	return p
}

func (p *streamPoller) run(ctx context.Context) {
	arn := ""
	for ctx.Err() == nil {
		p.mu.Lock()
		p.pass++
		pass := p.pass
		p.mu.Unlock()
		busy, err := p.poll(ctx, &arn)
		if err != nil && ctx.Err() == nil {
			p.log.Warn("read the table's stream", "error", err)
		}
		if !busy && err == nil {
			p.mu.Lock()
			p.idle = pass
			p.cond.Broadcast()
			p.mu.Unlock()
		}
		if !busy {
			select {
			case <-ctx.Done():
			case <-time.After(p.every):
			}
		}
	}
	p.mu.Lock()
	p.idle = -1
	p.cond.Broadcast()
	p.mu.Unlock()
}

// poll makes one pass over the stream's shards; busy reports that it
// handed records over.
func (p *streamPoller) poll(ctx context.Context, arn *string) (busy bool, err error) {
	if *arn == "" {
		out, err := p.ddb.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(p.table)})
		if err != nil {
			return false, err
		}
		if out.Table.LatestStreamArn == nil {
			return false, fmt.Errorf("table %s has no stream", p.table)
		}
		*arn = *out.Table.LatestStreamArn
	}
	if time.Since(p.described) > 2*time.Second {
		desc, err := p.api.DescribeStream(ctx, &dynamodbstreams.DescribeStreamInput{StreamArn: arn})
		if err != nil {
			return false, err
		}
		p.list, p.described = desc.StreamDescription.Shards, time.Now()
	}
	for _, sh := range p.list {
		id := aws.ToString(sh.ShardId)
		if _, ok := p.shards[id]; !ok {
			it, err := p.api.GetShardIterator(ctx, &dynamodbstreams.GetShardIteratorInput{
				StreamArn: arn, ShardId: sh.ShardId, ShardIteratorType: streamtypes.ShardIteratorTypeTrimHorizon,
			})
			if err != nil {
				return busy, err
			}
			p.shards[id] = it.ShardIterator
		}
		recs := p.pending[id]
		if len(recs) == 0 && p.shards[id] != nil {
			out, err := p.api.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: p.shards[id], Limit: aws.Int32(p.batch)})
			if err != nil {
				return busy, err
			}
			recs, p.shards[id] = out.Records, out.NextShardIterator
		}
		ev := events.DynamoDBTimeWindowEvent{}
		ev.ShardID = id
		ev.EventSourceARN = *arn
		for _, r := range recs {
			// The event source mapping's filter: inserts only.
			if r.EventName == streamtypes.OperationTypeInsert {
				ev.Records = append(ev.Records, eventRecord(r, *arn))
			}
		}
		if len(ev.Records) == 0 {
			continue
		}
		busy = true
		if _, err := p.handle(context.WithoutCancel(ctx), ev); err != nil {
			// Lambda hands the same batch again.
			p.pending[id] = recs
			p.log.Error("aggregate batch failed; retrying", "shard", id, "error", err)
			continue
		}
		delete(p.pending, id)
	}
	return busy, nil
}

// settle waits until a pass begun after the call found the stream
// drained: every record written before the call is folded in.
func (p *streamPoller) settle(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() {
		p.mu.Lock()
		p.cond.Broadcast()
		p.mu.Unlock()
	})
	defer stop()
	p.mu.Lock()
	defer p.mu.Unlock()
	after := p.pass
	for p.idle <= after && p.idle >= 0 {
		if ctx.Err() != nil {
			return fmt.Errorf("the stream did not drain: %w", ctx.Err())
		}
		p.cond.Wait()
	}
	if p.idle < 0 {
		return fmt.Errorf("the stream poller stopped")
	}
	return nil
}

// eventRecord is a stream record as Lambda hands it over.
func eventRecord(r streamtypes.Record, arn string) events.DynamoDBEventRecord {
	out := events.DynamoDBEventRecord{
		EventID: aws.ToString(r.EventID), EventName: string(r.EventName), EventSource: "aws:dynamodb",
		EventVersion: aws.ToString(r.EventVersion), AWSRegion: aws.ToString(r.AwsRegion), EventSourceArn: arn,
	}
	if d := r.Dynamodb; d != nil {
		out.Change = events.DynamoDBStreamRecord{
			SequenceNumber: aws.ToString(d.SequenceNumber), SizeBytes: aws.ToInt64(d.SizeBytes),
			StreamViewType: string(d.StreamViewType),
			Keys:           eventAttrs(d.Keys), NewImage: eventAttrs(d.NewImage), OldImage: eventAttrs(d.OldImage),
		}
	}
	return out
}

func eventAttrs(m map[string]streamtypes.AttributeValue) map[string]events.DynamoDBAttributeValue {
	if m == nil {
		return nil
	}
	out := make(map[string]events.DynamoDBAttributeValue, len(m))
	for k, v := range m {
		out[k] = eventAttr(v)
	}
	return out
}

func eventAttr(v streamtypes.AttributeValue) events.DynamoDBAttributeValue {
	switch v := v.(type) {
	case *streamtypes.AttributeValueMemberS:
		return events.NewStringAttribute(v.Value)
	case *streamtypes.AttributeValueMemberN:
		return events.NewNumberAttribute(v.Value)
	case *streamtypes.AttributeValueMemberB:
		return events.NewBinaryAttribute(v.Value)
	case *streamtypes.AttributeValueMemberBOOL:
		return events.NewBooleanAttribute(v.Value)
	case *streamtypes.AttributeValueMemberNULL:
		return events.NewNullAttribute()
	case *streamtypes.AttributeValueMemberSS:
		return events.NewStringSetAttribute(v.Value)
	case *streamtypes.AttributeValueMemberNS:
		return events.NewNumberSetAttribute(v.Value)
	case *streamtypes.AttributeValueMemberBS:
		return events.NewBinarySetAttribute(v.Value)
	case *streamtypes.AttributeValueMemberL:
		l := make([]events.DynamoDBAttributeValue, len(v.Value))
		for i, e := range v.Value {
			l[i] = eventAttr(e)
		}
		return events.NewListAttribute(l)
	case *streamtypes.AttributeValueMemberM:
		return events.NewMapAttribute(eventAttrs(v.Value))
	}
	return events.NewNullAttribute()
}
