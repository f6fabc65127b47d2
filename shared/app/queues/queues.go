// Package queues builds the SQS client and the sender of the routing,
// delivery and Meta queues, for the functions that send messages.
package queues

import (
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/leadrelay/leadrelay/shared/queue"
	"github.com/leadrelay/leadrelay/shared/settings"
)

// New builds the SQS client from an AWS configuration (which honours
// AWS_ENDPOINT_URL) and the sender of the queues the settings name. It
// calls no AWS API.
func New(s settings.Settings, cfg aws.Config) (*sqs.Client, *queue.Sender) {
	sq := sqs.NewFromConfig(cfg, func(o *sqs.Options) {
		o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) { so.MaxAttempts = 4 })
	})
	return sq, queue.NewSender(sq, queue.URLs{
		Routing: s.RoutingQueueURL, RoutingDLQ: s.RoutingDLQURL,
		Delivery: s.DeliveryQueueURL, DeliveryDLQ: s.DeliveryDLQURL,
		Meta: s.MetaQueueURL, MetaDLQ: s.MetaDLQURL,
	})
}
