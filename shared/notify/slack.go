// Package notify tells people about leads: a buyer's Slack channel through
// an incoming webhook. Notifications are best-effort: a failure is the
// caller's to log, and never holds up a lead.
package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/leadrelay/leadrelay/shared/webhook"
)

// Timeout bounds one notification.
const Timeout = 2 * time.Second

// Slack posts messages to Slack incoming webhooks. Client should come
// from webhook.NewClient (SSRF guard).
type Slack struct {
	Client *http.Client
}

// Post sends text to an incoming-webhook URL.
func (s *Slack) Post(ctx context.Context, url, text string) error {
	body, err := json.Marshal(map[string]string{"text": text})
	if err != nil {
		return fmt.Errorf("encode Slack message: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return errors.New("Slack request: the webhook URL does not parse")
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.Client.Do(req)
	if err != nil {
		// An incoming webhook's path is its secret: errors show the host.
		return fmt.Errorf("post to Slack: %w", webhook.Redacted(err, true))
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("post to Slack: status %d", resp.StatusCode)
	}
	return nil
}
