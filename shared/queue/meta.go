package queue

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// Meta is one new lead of a Meta Lead Ads notification (a leadgen
// change): the ingest function's webhook queues it and answers Meta at
// once, and its consumer fetches the lead from the Graph API and ingests
// it.
type Meta struct {
	LeadgenID string `json:"leadgen_id"`
	PageID    string `json:"page_id"`
	FormID    string `json:"form_id"`
	// CreatedTime is when the lead was submitted (Unix seconds).
	CreatedTime int64 `json:"created_time"`
}

// Meta puts a Meta Lead Ads lead on the Meta queue. The message carries
// the leadgen_id as an attribute (it has no lead id yet).
func (s *Sender) Meta(ctx context.Context, m Meta) error {
	body, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("encode Meta lead %s: %w", m.LeadgenID, err)
	}
	_, err = s.api.SendMessage(ctx, &sqs.SendMessageInput{
		QueueUrl:    aws.String(s.urls.Meta),
		MessageBody: aws.String(string(body)),
		MessageAttributes: map[string]types.MessageAttributeValue{
			"leadgen_id": {DataType: aws.String("String"), StringValue: aws.String(m.LeadgenID)},
		},
	})
	if err != nil {
		return fmt.Errorf("send Meta lead %s to %s: %w", m.LeadgenID, s.urls.Meta, err)
	}
	return nil
}
