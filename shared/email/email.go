// Package email delivers leads to buyers by email through Amazon SES (v2),
// for buyers whose delivery is `{type: email, to: ...}`. It is a delivery
// Poster: the delivery handler judges its verdict like a webhook's.
package email

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sesv2/types"
	"github.com/aws/smithy-go"

	"github.com/leadrelay/leadrelay/shared/config"
	"github.com/leadrelay/leadrelay/shared/webhook"
)

// API is the part of the SES v2 client the sender uses.
type API interface {
	SendEmail(ctx context.Context, in *sesv2.SendEmailInput, opts ...func(*sesv2.Options)) (*sesv2.SendEmailOutput, error)
}

// Sender sends lead emails from one address.
type Sender struct {
	API  API
	From string
}

// Message is a lead email's subject and plain-text body.
type Message struct {
	Subject string
	Body    string
}

// Compose writes the email for a lead: the subject names the campaign and
// the lead; the body lists the price and every field, one a line, sorted.
// Control characters in values (newlines among them) become spaces, so a
// value can neither start a line of its own nor reach a header.
func Compose(p webhook.Post) Message {
	l := p.Lead
	var b strings.Builder
	fmt.Fprintf(&b, "Lead %s (campaign %s)\n", clean(l.ID), clean(l.Campaign))
	fmt.Fprintf(&b, "Price: %s\n", p.Price)
	if p.BidID != "" {
		fmt.Fprintf(&b, "Bid: %s\n", clean(p.BidID))
	}
	if l.Test {
		b.WriteString("TEST LEAD: not sold, do not contact\n")
	}
	b.WriteString("\n")
	names := make([]string, 0, len(l.Fields))
	for k := range l.Fields {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		fmt.Fprintf(&b, "%s: %s\n", clean(k), clean(fmt.Sprint(l.Fields[k])))
	}
	return Message{Subject: clean(fmt.Sprintf("New lead %s %s", l.Campaign, l.ID)), Body: b.String()}
}

func clean(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return ' '
		}
		return r
	}, s)
}

// Send emails the lead to the buyer's address. SES accepting the message
// is an acceptance; a refusal of the message or the address is a
// rejection; throttling and service errors are transient.
func (s *Sender) Send(ctx context.Context, d *config.Delivery, p webhook.Post) webhook.Verdict {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, d.Timeout.D())
	defer cancel()
	m := Compose(p)
	out, err := s.API.SendEmail(ctx, &sesv2.SendEmailInput{
		FromEmailAddress: aws.String(s.From),
		Destination:      &types.Destination{ToAddresses: []string{d.To}},
		Content: &types.EmailContent{Simple: &types.Message{
			Subject: &types.Content{Data: aws.String(m.Subject), Charset: aws.String("UTF-8")},
			Body:    &types.Body{Text: &types.Content{Data: aws.String(m.Body), Charset: aws.String("UTF-8")}},
		}},
		EmailTags: []types.MessageTag{{Name: aws.String("lead_id"), Value: aws.String(tagValue(p.Lead.ID))}},
	})
	v := webhook.Verdict{Latency: time.Since(start)}
	if err == nil {
		v.Outcome, v.Reason, v.Detail = webhook.Accepted, "email_sent", "SES accepted the email to "+d.To
		v.Response = "message id " + aws.ToString(out.MessageId)
		return v
	}
	v.Outcome, v.Reason, v.Detail = webhook.Transient, "email_error", err.Error()
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "MessageRejected", "MailFromDomainNotVerifiedException", "BadRequestException",
			"NotFoundException", "AccountSuspendedException", "SendingPausedException":
			v.Outcome, v.Reason = webhook.Rejected, "email_refused"
		}
	}
	if ctx.Err() != nil {
		v.Reason = webhook.ReasonTimeout
	}
	return v
}

// tagValue keeps the characters SES allows in a tag value.
func tagValue(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 128 && (unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_' || r == '-') {
			return r
		}
		return '_'
	}, s)
}
