// Package postback tells sources what became of their leads: when a lead
// is sold, or ends unsold or rejected, its source's postback_url (if any)
// gets a JSON POST with the lead id, the status and the payout, signed
// like buyer webhooks (Standard Webhooks) with the source's
// postback_secret. Postbacks are best effort: they are sent once, after
// the lead's state is written, with a short timeout; a failure is logged
// and changes nothing about the lead.
package postback

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/leadrelay/leadrelay/shared/config"
	"github.com/leadrelay/leadrelay/shared/lead"
	"github.com/leadrelay/leadrelay/shared/money"
	"github.com/leadrelay/leadrelay/shared/webhook"
)

// DefaultTimeout bounds one postback.
const DefaultTimeout = 3 * time.Second

// Configs returns the current configuration.
type Configs interface {
	Get(ctx context.Context) (*config.Index, error)
}

// Sender sends postbacks.
type Sender struct {
	Configs Configs
	// Client posts (webhook.NewClient: no redirects, SSRF guard).
	Client  *http.Client
	Timeout time.Duration
	Now     func() time.Time
	Log     *slog.Logger
}

// Body is what a source's postback_url receives.
type Body struct {
	LeadID     string       `json:"lead_id"`
	ExternalID string       `json:"external_id,omitempty"`
	Campaign   string       `json:"campaign"`
	Status     lead.Status  `json:"status"`
	Payout     money.Amount `json:"payout"`
	Test       bool         `json:"test,omitempty"`
	At         time.Time    `json:"at"`
}

// Notify posts the lead's outcome to its source's postback_url, if the
// source has one. It never fails: problems are logged with the lead id.
func (s *Sender) Notify(ctx context.Context, l *lead.Lead, status lead.Status, payout money.Amount) {
	if s == nil {
		return
	}
	log := s.Log.With("lead_id", l.ID, "source", l.Source, "status", status)
	ix, err := s.Configs.Get(ctx)
	if err != nil {
		log.WarnContext(ctx, "postback skipped: no configuration", "error", err)
		return
	}
	src := ix.Source(l.Source)
	if src == nil || src.PostbackURL == "" {
		return
	}
	now := s.Now().UTC()
	body, err := json.Marshal(Body{LeadID: l.ID, ExternalID: l.ExternalID, Campaign: l.Campaign, Status: status, Payout: payout, Test: l.Test, At: now})
	if err != nil {
		log.ErrorContext(ctx, "encode postback", "error", err)
		return
	}
	if err := s.post(ctx, src, l.ID+"."+string(status), now, body); err != nil {
		log.WarnContext(ctx, "postback failed", "url", webhook.ShownURL(src.PostbackURL), "error", webhook.Redacted(err, false))
		return
	}
	log.InfoContext(ctx, "postback sent", "payout", payout.Decimal())
}

func (s *Sender) post(ctx context.Context, src *config.Source, msgID string, now time.Time, body []byte) error {
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, src.PostbackURL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "LeadRelay-Postback/1")
	req.Header.Set(webhook.HeaderID, msgID)
	req.Header.Set(webhook.HeaderTimestamp, strconv.FormatInt(now.Unix(), 10))
	req.Header.Set(webhook.HeaderSignature, webhook.Sign(src.PostbackSecret, msgID, now, body))
	resp, err := s.Client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("answered %d", resp.StatusCode)
	}
	return nil
}
