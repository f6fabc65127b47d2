package queue

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/leadrelay/leadrelay/shared/limits"
)

// SetupAPI is the part of the SQS client that creating queues uses.
type SetupAPI interface {
	CreateQueue(ctx context.Context, in *sqs.CreateQueueInput, opts ...func(*sqs.Options)) (*sqs.CreateQueueOutput, error)
	GetQueueAttributes(ctx context.Context, in *sqs.GetQueueAttributesInput, opts ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error)
}

// MaxReceiveCount is how often a message is received before SQS moves it
// to the DLQ: the backstop behind delivery's own retry limit, above the
// largest max_attempts (see package limits).
const MaxReceiveCount = limits.QueueMaxReceiveCount

// Ensure creates the routing, delivery and Meta queues with their DLQs,
// named with the prefix, as the CDK stack does, and returns their URLs
// (always as the endpoint names them). visibility is the queues'
// visibility timeout in seconds.
func Ensure(ctx context.Context, api SetupAPI, prefix string, visibility int) (URLs, error) {
	var u URLs
	var err error
	for _, q := range []struct {
		name       string
		url, dlq   *string
		maxReceive int
	}{
		{"routing", &u.Routing, &u.RoutingDLQ, MaxReceiveCount},
		{"delivery", &u.Delivery, &u.DeliveryDLQ, MaxReceiveCount},
		{"meta", &u.Meta, &u.MetaDLQ, limits.MetaMaxReceiveCount},
	} {
		if *q.dlq, err = create(ctx, api, prefix+q.name+"-dlq", nil); err != nil {
			return u, err
		}
		if *q.url, err = createWithDLQ(ctx, api, prefix+q.name, *q.dlq, visibility, q.maxReceive); err != nil {
			return u, err
		}
	}
	return u, nil
}

func createWithDLQ(ctx context.Context, api SetupAPI, name, dlqURL string, visibility, maxReceive int) (string, error) {
	out, err := api.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl: aws.String(dlqURL), AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameQueueArn},
	})
	if err != nil {
		return "", fmt.Errorf("read DLQ of %s: %w", name, err)
	}
	policy, _ := json.Marshal(map[string]any{
		"deadLetterTargetArn": out.Attributes[string(types.QueueAttributeNameQueueArn)],
		"maxReceiveCount":     maxReceive,
	})
	return create(ctx, api, name, map[string]string{
		string(types.QueueAttributeNameRedrivePolicy):     string(policy),
		string(types.QueueAttributeNameVisibilityTimeout): fmt.Sprint(visibility),
	})
}

func create(ctx context.Context, api SetupAPI, name string, attrs map[string]string) (string, error) {
	out, err := api.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name), Attributes: attrs})
	if err != nil {
		return "", fmt.Errorf("create queue %s: %w", name, err)
	}
	return aws.ToString(out.QueueUrl), nil
}
