package email

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/smithy-go"

	"github.com/leadrelay/leadrelay/shared/config"
	"github.com/leadrelay/leadrelay/shared/lead"
	"github.com/leadrelay/leadrelay/shared/webhook"
)

type fakeSES struct {
	in  *sesv2.SendEmailInput
	err error
}

func (f *fakeSES) SendEmail(_ context.Context, in *sesv2.SendEmailInput, _ ...func(*sesv2.Options)) (*sesv2.SendEmailOutput, error) {
	f.in = in
	if f.err != nil {
		return nil, f.err
	}
	return &sesv2.SendEmailOutput{MessageId: aws.String("m-1")}, nil
}

func post() webhook.Post {
	return webhook.Post{Price: 2550, Lead: &lead.Lead{ID: "L1", Campaign: "auto\r\nBcc: evil@example.com", Fields: map[string]any{
		"phone": "+14158927310", "notes": "line one\nFrom: boss@example.com\r\nline two", "age": int64(34),
	}}}
}

func TestComposeNeverLetsAValueMakeALine(t *testing.T) {
	m := Compose(post())
	if strings.ContainsAny(m.Subject, "\r\n") {
		t.Fatalf("subject: %q", m.Subject)
	}
	lines := strings.Split(strings.TrimSuffix(m.Body, "\n"), "\n")
	// header, price, blank, then one line a field
	if len(lines) != 3+3 {
		t.Fatalf("body has %d lines:\n%s", len(lines), m.Body)
	}
	for _, l := range lines {
		if strings.HasPrefix(l, "From:") || strings.HasPrefix(l, "Bcc:") {
			t.Fatalf("a value started a line: %q", l)
		}
	}
	if !strings.Contains(m.Body, "Price: 25.50") || !strings.Contains(m.Body, "age: 34") {
		t.Fatalf("body:\n%s", m.Body)
	}
}

func TestSendJudgesSESAnswers(t *testing.T) {
	d := &config.Delivery{Type: config.DeliveryEmail, To: "leads@buyer.example", Timeout: config.Duration(time.Second)}
	f := &fakeSES{}
	s := &Sender{API: f, From: "leads@leadrelay.local"}
	v := s.Send(context.Background(), d, post())
	if v.Outcome != webhook.Accepted || aws.ToString(f.in.FromEmailAddress) != "leads@leadrelay.local" || f.in.Destination.ToAddresses[0] != "leads@buyer.example" {
		t.Fatalf("verdict %+v, input %+v", v, f.in)
	}
	f.err = &smithy.GenericAPIError{Code: "MessageRejected", Message: "Email address is not verified."}
	if v := s.Send(context.Background(), d, post()); v.Outcome != webhook.Rejected {
		t.Fatalf("rejected message: %+v", v)
	}
	f.err = &smithy.GenericAPIError{Code: "TooManyRequestsException"}
	if v := s.Send(context.Background(), d, post()); v.Outcome != webhook.Transient {
		t.Fatalf("throttled: %+v", v)
	}
	f.err = errors.New("connection reset")
	if v := s.Send(context.Background(), d, post()); v.Outcome != webhook.Transient {
		t.Fatalf("network error: %+v", v)
	}
}
