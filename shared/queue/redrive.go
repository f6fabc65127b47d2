package queue

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// Queue names an operator may redrive.
const (
	NameRouting  = "routing"
	NameDelivery = "delivery"
	// NameMeta is the queue of Meta Lead Ads leads to fetch.
	NameMeta = "meta"
)

// AttrRedriven is the message attribute ("true") of a message moved back
// from its DLQ: its consumer treats it as redelivered (it may be about a
// round the lead has left) although its receive count starts again at 1.
const AttrRedriven = "redriven"

// Redriven reports whether a received message was moved back from a DLQ.
func Redriven(attrs map[string]events.SQSMessageAttribute) bool {
	v, ok := attrs[AttrRedriven]
	return ok && v.StringValue != nil && *v.StringValue == "true"
}

// MaxRedrive bounds the messages one redrive moves.
const MaxRedrive = 1000

// RedriveAPI is the part of the SQS client a redrive uses.
type RedriveAPI interface {
	ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, opts ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error)
	SendMessage(ctx context.Context, in *sqs.SendMessageInput, opts ...func(*sqs.Options)) (*sqs.SendMessageOutput, error)
	DeleteMessage(ctx context.Context, in *sqs.DeleteMessageInput, opts ...func(*sqs.Options)) (*sqs.DeleteMessageOutput, error)
	GetQueueAttributes(ctx context.Context, in *sqs.GetQueueAttributesInput, opts ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error)
}

// Redriver moves messages from a DLQ back to its queue by receive, send,
// delete: SQS's StartMessageMoveTask is not available on every endpoint
// (moto answers 500). A message is deleted from the DLQ only after its
// copy was sent, so a failure part-way leaves it in the DLQ (visible again
// after the visibility timeout) rather than losing it; at worst a message
// is moved twice, which the consumers' round checks make harmless.
type Redriver struct {
	api  RedriveAPI
	urls URLs
}

// NewRedriver returns a redriver for the queues.
func NewRedriver(api RedriveAPI, urls URLs) *Redriver { return &Redriver{api: api, urls: urls} }

// ErrUnknownQueue reports a queue name other than routing, delivery or
// meta.
var ErrUnknownQueue = errors.New("unknown queue")

// emptyReceives is how many empty receives end a redrive: SQS's short
// polling samples a subset of its servers and may answer empty once while
// messages wait.
const emptyReceives = 2

// Redrive moves up to max messages from the named queue's DLQ back to it
// and returns how many it moved. Each moved message carries the
// AttrRedriven attribute besides its own.
func (r *Redriver) Redrive(ctx context.Context, name string, max int) (int, error) {
	var from, to string
	switch name {
	case NameRouting:
		from, to = r.urls.RoutingDLQ, r.urls.Routing
	case NameDelivery:
		from, to = r.urls.DeliveryDLQ, r.urls.Delivery
	case NameMeta:
		from, to = r.urls.MetaDLQ, r.urls.Meta
	default:
		return 0, fmt.Errorf("%w %q", ErrUnknownQueue, name)
	}
	max = min(max, MaxRedrive)
	moved, empty := 0, 0
	for moved < max && empty < emptyReceives {
		out, err := r.api.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(from), MaxNumberOfMessages: int32(min(10, max-moved)),
			VisibilityTimeout: 60, MessageAttributeNames: []string{"All"},
		})
		if err != nil {
			return moved, fmt.Errorf("receive from the %s DLQ: %w", name, err)
		}
		if len(out.Messages) == 0 {
			empty++
			continue
		}
		empty = 0
		for _, m := range out.Messages {
			attrs := make(map[string]types.MessageAttributeValue, len(m.MessageAttributes)+1)
			for k, v := range m.MessageAttributes {
				attrs[k] = v
			}
			attrs[AttrRedriven] = types.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String("true")}
			if _, err := r.api.SendMessage(ctx, &sqs.SendMessageInput{
				QueueUrl: aws.String(to), MessageBody: m.Body, MessageAttributes: attrs,
			}); err != nil {
				return moved, fmt.Errorf("send message %s back to the %s queue: %w", aws.ToString(m.MessageId), name, err)
			}
			if _, err := r.api.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(from), ReceiptHandle: m.ReceiptHandle}); err != nil {
				return moved, fmt.Errorf("delete message %s from the %s DLQ after moving it: %w", aws.ToString(m.MessageId), name, err)
			}
			moved++
		}
	}
	return moved, nil
}

// Depth is how many messages wait in a DLQ: visible ones, and those in
// flight (received by a redrive under way). SQS's counts are approximate.
type Depth struct {
	Queue    string `json:"queue"`
	Messages int    `json:"messages"`
	InFlight int    `json:"in_flight"`
}

// Depths reads the depth of each DLQ an operator may redrive: routing,
// delivery and Meta, in that order. One GetQueueAttributes a queue.
func (r *Redriver) Depths(ctx context.Context) ([]Depth, error) {
	out := make([]Depth, 0, 3)
	for _, q := range []struct{ name, url string }{
		{NameRouting, r.urls.RoutingDLQ}, {NameDelivery, r.urls.DeliveryDLQ}, {NameMeta, r.urls.MetaDLQ},
	} {
		if q.url == "" {
			continue
		}
		attrs, err := r.api.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
			QueueUrl: aws.String(q.url),
			AttributeNames: []types.QueueAttributeName{
				types.QueueAttributeNameApproximateNumberOfMessages, types.QueueAttributeNameApproximateNumberOfMessagesNotVisible,
			},
		})
		if err != nil {
			return nil, fmt.Errorf("read the depth of the %s DLQ: %w", q.name, err)
		}
		d := Depth{Queue: q.name}
		d.Messages, _ = strconv.Atoi(attrs.Attributes[string(types.QueueAttributeNameApproximateNumberOfMessages)])
		d.InFlight, _ = strconv.Atoi(attrs.Attributes[string(types.QueueAttributeNameApproximateNumberOfMessagesNotVisible)])
		out = append(out, d)
	}
	return out, nil
}
