package adspend

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/leadrelay/leadrelay/shared/money"
)

// Google reads a Google Ads customer's daily campaign cost with
// googleAds:searchStream.
type Google struct {
	// BaseURL is the Google Ads API's base URL, version included
	// (settings.GoogleAdsURL).
	BaseURL string
	Client  *http.Client
}

// GoogleQuery is one customer's cost query.
type GoogleQuery struct {
	CustomerID string
	// Token is an OAuth access token; DeveloperToken the API's developer
	// token; LoginCustomerID the manager account, if any.
	Token, DeveloperToken, LoginCustomerID string
	// Since and Until are the days, YYYY-MM-DD, both included.
	Since, Until string
}

// googleBatch is one of searchStream's answers.
type googleBatch struct {
	Results []struct {
		Campaign struct {
			ID json.Number `json:"id"`
		} `json:"campaign"`
		Segments struct {
			Date string `json:"date"`
		} `json:"segments"`
		Metrics struct {
			CostMicros json.Number `json:"costMicros"`
		} `json:"metrics"`
	} `json:"results"`
}

// CampaignCost reads each campaign's cost per day on the days, in cents
// (cost_micros / 10^4, rounded half up).
func (g *Google) CampaignCost(ctx context.Context, q GoogleQuery) ([]Row, error) {
	for _, d := range []string{q.Since, q.Until} {
		if _, err := time.Parse(time.DateOnly, d); err != nil {
			return nil, &Error{Platform: "Google Ads", Err: fmt.Errorf("day %q: want YYYY-MM-DD", d)}
		}
	}
	gaql := fmt.Sprintf("SELECT campaign.id, segments.date, metrics.cost_micros FROM campaign WHERE segments.date BETWEEN '%s' AND '%s'", q.Since, q.Until)
	body, _ := json.Marshal(map[string]string{"query": gaql})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost,
		g.BaseURL+"/customers/"+url.PathEscape(q.CustomerID)+"/googleAds:searchStream", bytes.NewReader(body))
	if err != nil {
		return nil, &Error{Platform: "Google Ads", Err: err}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+q.Token)
	req.Header.Set("developer-token", q.DeveloperToken)
	if q.LoginCustomerID != "" {
		req.Header.Set("login-customer-id", q.LoginCustomerID)
	}
	answer, err := get(g.Client, req, "Google Ads", q.Token, q.DeveloperToken)
	if err != nil {
		return nil, err
	}
	var batches []googleBatch
	if err := json.Unmarshal(answer, &batches); err != nil {
		return nil, &Error{Platform: "Google Ads", Status: http.StatusOK, Err: fmt.Errorf("the answer is not searchStream's: %w", err)}
	}
	var rows []Row
	for _, b := range batches {
		for _, r := range b.Results {
			micros, err := strconv.ParseInt(r.Metrics.CostMicros.String(), 10, 64)
			if r.Metrics.CostMicros == "" {
				micros, err = 0, nil // a campaign without cost has no costMicros
			}
			if err != nil || micros < 0 || r.Campaign.ID == "" || r.Segments.Date == "" {
				return nil, &Error{Platform: "Google Ads", Status: http.StatusOK,
					Err: fmt.Errorf("a row without its campaign id, date or cost (cost_micros %q)", r.Metrics.CostMicros)}
			}
			rows = append(rows, Row{Day: r.Segments.Date, ID: r.Campaign.ID.String(), Amount: Micros(micros)})
		}
	}
	return rows, nil
}

// Micros converts an amount in millionths of the currency unit to cents,
// rounded half up (cost_micros 1_235_000 is $1.24).
func Micros(micros int64) money.Amount {
	return money.Amount((micros + 5000) / 10000)
}
