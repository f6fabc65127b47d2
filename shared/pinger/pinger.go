// Package pinger asks buyers' ping URLs for bids over HTTP: the auction's
// Pinger on the wire. It posts the ping body the auction built, tells the
// buyer how long it has left (X-Ping-Time-Left-Ms), and reads the bid from
// the answer where the order's ping_response rules say.
package pinger

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/leadrelay/leadrelay/shared/auction"
	"github.com/leadrelay/leadrelay/shared/config"
	"github.com/leadrelay/leadrelay/shared/money"
	"github.com/leadrelay/leadrelay/shared/webhook"
)

// HeaderTimeLeft tells a buyer how many milliseconds it has to answer.
const HeaderTimeLeft = "X-Ping-Time-Left-Ms"

// MaxAnswer bounds a ping answer's body.
const MaxAnswer = 16 << 10

// HTTP pings buyers over HTTP. Client should come from webhook.NewClient
// (SSRF guard, connection reuse).
type HTTP struct {
	Client *http.Client
}

// Ping posts the ping body to the order's ping URL and reads the bid:
// {"bid": 12.50, "bid_id": "..."} by default, or where the order's
// ping_response rules say.
func (h *HTTP) Ping(ctx context.Context, b auction.Bidder, body []byte) (auction.Answer, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, b.Ref.Order.PingURL, bytes.NewReader(body))
	if err != nil {
		return auction.Answer{}, fmt.Errorf("ping request: %w", webhook.Redacted(err, false))
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", webhook.UserAgent)
	if dl, ok := ctx.Deadline(); ok {
		req.Header.Set(HeaderTimeLeft, strconv.FormatInt(time.Until(dl).Milliseconds(), 10))
	}
	resp, err := h.Client.Do(req)
	if err != nil {
		// The ping URL's query may hold a key: the error goes to the timeline.
		return auction.Answer{}, fmt.Errorf("ping %s: %w", b.Ref.Key(), webhook.Redacted(err, false))
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, MaxAnswer))
	if err != nil {
		return auction.Answer{}, fmt.Errorf("read ping answer of %s: %w", b.Ref.Key(), err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return auction.Answer{NoBid: fmt.Sprintf("status %d", resp.StatusCode)}, nil
	}
	return parseAnswer(raw, b.Ref.Order.PingResponse), nil
}

var (
	defaultBid   = &config.Rule{JSON: "bid"}
	defaultBidID = &config.Rule{JSON: "bid_id"}
)

func parseAnswer(raw []byte, rules *config.PingResponse) auction.Answer {
	bidRule, idRule := defaultBid, defaultBidID
	if rules != nil {
		if rules.Bid != nil {
			bidRule = rules.Bid
		}
		if rules.BidID != nil {
			idRule = rules.BidID
		}
	}
	text, ok := webhook.Extract(raw, bidRule)
	if !ok || text == "" {
		return auction.Answer{NoBid: "no bid in the answer"}
	}
	price, err := money.ParseRounded(text)
	if err != nil {
		return auction.Answer{NoBid: fmt.Sprintf("bid %q is not an amount", text)}
	}
	if price <= 0 {
		return auction.Answer{NoBid: "bid " + price.String()}
	}
	id, _ := webhook.Extract(raw, idRule)
	return auction.Answer{Price: price, BidID: id}
}
