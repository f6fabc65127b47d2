// Package queue is LeadRelay's SQS adapter and the shapes of the messages
// on its queues: routing (ingest and delivery → router), delivery
// (router → delivery) and Meta (the Meta Lead Ads webhook → the ingest
// function's fetch, meta.go). A routing or delivery message carries the
// whole lead, so its consumer need not read it back from the table.
package queue

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/leadrelay/leadrelay/shared/auction"
	"github.com/leadrelay/leadrelay/shared/lead"
)

// Route asks the router to route a lead for round Seq.
type Route struct {
	Lead lead.Lead `json:"lead"`
	Seq  int       `json:"seq"`
	// Tried are the orders ("buyer/order") already offered the lead.
	Tried []string `json:"tried,omitempty"`
	// Bought are the buyers that bought it (shared leads).
	Bought []string `json:"bought,omitempty"`
	// Rejected counts the buyers that refused it.
	Rejected int `json:"rejected,omitempty"`
	// Recovered marks a message sent again because the first was lost.
	Recovered bool `json:"recovered,omitempty"`
	// Bids are a ping-post auction's bids still valid: the next offer
	// takes the next bid without pinging again.
	Bids *Bids `json:"bids,omitempty"`
}

// Bids are an auction's ranked bids and when they stop being valid.
type Bids struct {
	PingID  string        `json:"ping_id"`
	Ranked  []auction.Bid `json:"ranked"`
	Expires time.Time     `json:"expires"`
}

// Deliver asks delivery to post a lead to its assignment of round Seq.
type Deliver struct {
	Lead       lead.Lead       `json:"lead"`
	Seq        int             `json:"seq"`
	Assignment lead.Assignment `json:"assignment"`
	Tried      []string        `json:"tried,omitempty"`
	Bought     []string        `json:"bought,omitempty"`
	Rejected   int             `json:"rejected,omitempty"`
	Recovered  bool            `json:"recovered,omitempty"`
	Bids       *Bids           `json:"bids,omitempty"`
}

// API is the part of the SQS client the sender uses.
type API interface {
	SendMessage(ctx context.Context, in *sqs.SendMessageInput, opts ...func(*sqs.Options)) (*sqs.SendMessageOutput, error)
	ChangeMessageVisibility(ctx context.Context, in *sqs.ChangeMessageVisibilityInput, opts ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error)
}

// URLs are the queues' URLs.
type URLs struct {
	Routing, RoutingDLQ, Delivery, DeliveryDLQ string
	// Meta holds Meta Lead Ads leads to fetch; MetaDLQ those that could
	// not be fetched or ingested.
	Meta, MetaDLQ string
}

// Sender puts messages on the queues.
type Sender struct {
	api  API
	urls URLs
}

// NewSender returns a sender for the queues.
func NewSender(api API, urls URLs) *Sender { return &Sender{api: api, urls: urls} }

// URLs returns the queues' URLs.
func (s *Sender) URLs() URLs { return s.urls }

func (s *Sender) send(ctx context.Context, url string, v any, leadID string, delay time.Duration) error {
	body, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode message for lead %s: %w", leadID, err)
	}
	_, err = s.api.SendMessage(ctx, &sqs.SendMessageInput{
		QueueUrl:     aws.String(url),
		MessageBody:  aws.String(string(body)),
		DelaySeconds: int32(delay / time.Second),
		MessageAttributes: map[string]types.MessageAttributeValue{
			"lead_id": {DataType: aws.String("String"), StringValue: aws.String(leadID)},
		},
	})
	if err != nil {
		return fmt.Errorf("send lead %s to %s: %w", leadID, url, err)
	}
	return nil
}

// Route puts a routing message on the routing queue.
func (s *Sender) Route(ctx context.Context, m Route) error {
	return s.send(ctx, s.urls.Routing, m, m.Lead.ID, 0)
}

// Deliver puts a delivery message on the delivery queue.
func (s *Sender) Deliver(ctx context.Context, m Deliver) error {
	return s.send(ctx, s.urls.Delivery, m, m.Lead.ID, 0)
}

// RecoveryDelay is how long a re-sent delivery message waits before it is
// seen: long enough for the original, if it was not lost after all, to
// have settled the round or recorded an attempt, which the re-sent copy
// then sees and drops itself.
const RecoveryDelay = 60 * time.Second

// DeliverLater puts a re-sent delivery message on the queue, visible after
// RecoveryDelay.
func (s *Sender) DeliverLater(ctx context.Context, m Deliver) error {
	return s.send(ctx, s.urls.Delivery, m, m.Lead.ID, RecoveryDelay)
}

// DeadLetter copies a delivery job that gave up to the delivery DLQ, with
// the reason, so operators see it and can replay it.
func (s *Sender) DeadLetter(ctx context.Context, m Deliver, reason string) error {
	return s.deadLetter(ctx, s.urls.DeliveryDLQ, m, m.Lead.ID, reason)
}

// DeadLetterRoute puts a routing message in the routing DLQ, with the
// reason: a lead the sweeper gave up on, for an operator (the DLQ's alarm).
func (s *Sender) DeadLetterRoute(ctx context.Context, m Route, reason string) error {
	return s.deadLetter(ctx, s.urls.RoutingDLQ, m, m.Lead.ID, reason)
}

func (s *Sender) deadLetter(ctx context.Context, url string, m any, leadID, reason string) error {
	body, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("encode dead letter for lead %s: %w", leadID, err)
	}
	_, err = s.api.SendMessage(ctx, &sqs.SendMessageInput{
		QueueUrl:    aws.String(url),
		MessageBody: aws.String(string(body)),
		MessageAttributes: map[string]types.MessageAttributeValue{
			"lead_id": {DataType: aws.String("String"), StringValue: aws.String(leadID)},
			"reason":  {DataType: aws.String("String"), StringValue: aws.String(reason)},
		},
	})
	if err != nil {
		return fmt.Errorf("dead-letter lead %s: %w", leadID, err)
	}
	return nil
}

// Delay hides a received message for d before it is delivered again: the
// backoff between delivery attempts. d is capped at SQS's 12 hours.
func (s *Sender) Delay(ctx context.Context, queueURL, receipt string, d time.Duration) error {
	secs := int32(d / time.Second)
	if secs > 12*3600-1 {
		secs = 12*3600 - 1
	}
	_, err := s.api.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{
		QueueUrl: aws.String(queueURL), ReceiptHandle: aws.String(receipt), VisibilityTimeout: secs,
	})
	if err != nil {
		return fmt.Errorf("delay message: %w", err)
	}
	return nil
}

// LeadID reads the lead_id attribute every message carries ("" if absent).
func LeadID(attrs map[string]events.SQSMessageAttribute) string {
	if a, ok := attrs["lead_id"]; ok && a.StringValue != nil {
		return *a.StringValue
	}
	return ""
}

// ReceiveCount reads the ApproximateReceiveCount of an SQS message's
// attributes (1 when absent).
func ReceiveCount(attrs map[string]string) int {
	n, err := strconv.Atoi(attrs["ApproximateReceiveCount"])
	if err != nil || n < 1 {
		return 1
	}
	return n
}
