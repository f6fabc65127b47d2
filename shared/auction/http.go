package auction

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/leadrelay/leadrelay/shared/config"
	"github.com/leadrelay/leadrelay/shared/money"
	"github.com/leadrelay/leadrelay/shared/webhook"
)

// HeaderTimeLeft tells a buyer how many milliseconds it has to answer.
const HeaderTimeLeft = "X-Ping-Time-Left-Ms"

// MaxAnswer bounds a ping answer's body.
const MaxAnswer = 16 << 10

type pingMessage struct {
	PingID   string         `json:"ping_id"`
	Campaign string         `json:"campaign"`
	Fields   map[string]any `json:"fields"`
}

func pingBody(req Request) []byte {
	b, err := json.Marshal(pingMessage{PingID: req.PingID, Campaign: req.Campaign, Fields: req.Fields})
	if err != nil {
		// Fields come from validation: strings, numbers and booleans.
		b, _ = json.Marshal(pingMessage{PingID: req.PingID, Campaign: req.Campaign, Fields: map[string]any{}})
	}
	return b
}

// HTTP pings buyers over HTTP. Client should come from webhook.NewClient
// (SSRF guard, connection reuse).
type HTTP struct {
	Client *http.Client
}

// Ping posts the ping body to the order's ping URL and reads the bid:
// {"bid": 12.50, "bid_id": "..."} by default, or where the order's
// ping_response rules say.
func (h *HTTP) Ping(ctx context.Context, b Bidder, body []byte) (Answer, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, b.Ref.Order.PingURL, bytes.NewReader(body))
	if err != nil {
		return Answer{}, fmt.Errorf("ping request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", webhook.UserAgent)
	if dl, ok := ctx.Deadline(); ok {
		req.Header.Set(HeaderTimeLeft, strconv.FormatInt(time.Until(dl).Milliseconds(), 10))
	}
	resp, err := h.Client.Do(req)
	if err != nil {
		return Answer{}, fmt.Errorf("ping %s: %w", b.Ref.Key(), err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, MaxAnswer))
	if err != nil {
		return Answer{}, fmt.Errorf("read ping answer of %s: %w", b.Ref.Key(), err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return Answer{NoBid: fmt.Sprintf("status %d", resp.StatusCode)}, nil
	}
	return parseAnswer(raw, b.Ref.Order.PingResponse), nil
}

var (
	defaultBid   = &config.Rule{JSON: "bid"}
	defaultBidID = &config.Rule{JSON: "bid_id"}
)

func parseAnswer(raw []byte, rules *config.PingResponse) Answer {
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
		return Answer{NoBid: "no bid in the answer"}
	}
	price, err := money.ParseRounded(text)
	if err != nil {
		return Answer{NoBid: fmt.Sprintf("bid %q is not an amount", text)}
	}
	if price <= 0 {
		return Answer{NoBid: "bid " + price.String()}
	}
	id, _ := webhook.Extract(raw, idRule)
	return Answer{Price: price, BidID: id}
}
