package adspend

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"

	"github.com/leadrelay/leadrelay/shared/config"
	"github.com/leadrelay/leadrelay/shared/money"
	"github.com/leadrelay/leadrelay/shared/webhook"
)

// Meta reads a Meta ad account's daily spend from the Marketing API's
// insights.
type Meta struct {
	// GraphURL is the Graph API's base URL, version included
	// (settings.MetaGraphURL).
	GraphURL string
	Client   *http.Client
}

// metaInsights is a page of insights.
type metaInsights struct {
	Data []struct {
		Spend      string `json:"spend"`
		CampaignID string `json:"campaign_id"`
		AdsetID    string `json:"adset_id"`
		AdID       string `json:"ad_id"`
		DateStart  string `json:"date_start"`
	} `json:"data"`
	Paging struct {
		Next string `json:"next"`
	} `json:"paging"`
}

// Insights reads the account's spend per day at the level (campaign,
// adset or ad) on the days since..until, every page of it.
func (m *Meta) Insights(ctx context.Context, accountID, token, level, since, until string) ([]Row, error) {
	tr, _ := json.Marshal(map[string]string{"since": since, "until": until})
	q := url.Values{
		"level": {level}, "fields": {"spend,campaign_id,adset_id,ad_id"}, "time_range": {string(tr)},
		"time_increment": {"1"}, "access_token": {token},
	}
	base, err := url.Parse(m.GraphURL)
	if err != nil {
		return nil, &Error{Platform: "Meta", Err: fmt.Errorf("graph URL %q: %w", webhook.ShownURL(m.GraphURL), err)}
	}
	next := m.GraphURL + "/" + url.PathEscape(accountID) + "/insights?" + q.Encode()
	var rows []Row
	for page := 0; next != ""; page++ {
		if page == maxPages {
			return nil, &Error{Platform: "Meta", Status: http.StatusOK, Err: fmt.Errorf("more than %d pages of insights", maxPages)}
		}
		// paging.next carries the token: it is followed only to the
		// Graph API itself.
		u, err := url.Parse(next)
		if err != nil || u.Scheme != base.Scheme || u.Host != base.Host {
			return nil, &Error{Platform: "Meta", Status: http.StatusOK, Err: fmt.Errorf("paging.next leads to %s, not the Graph API", webhook.ShownHost(next))}
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, next, nil)
		if err != nil {
			return nil, &Error{Platform: "Meta", Err: webhook.Redacted(err, false)}
		}
		body, err := get(m.Client, req, "Meta", token)
		if err != nil {
			return nil, err
		}
		var p metaInsights
		if err := json.Unmarshal(body, &p); err != nil {
			return nil, &Error{Platform: "Meta", Status: http.StatusOK, Err: fmt.Errorf("insights are not JSON: %w", err)}
		}
		for _, d := range p.Data {
			id := d.CampaignID
			switch level {
			case config.SpendLevelAdset:
				id = d.AdsetID
			case config.SpendLevelAd:
				id = d.AdID
			}
			amt, err := money.ParseRounded(d.Spend)
			if err != nil || id == "" || d.DateStart == "" {
				return nil, &Error{Platform: "Meta", Status: http.StatusOK, Err: fmt.Errorf("an insights row without its %s id, day or spend (spend %q)", level, d.Spend)}
			}
			rows = append(rows, Row{Day: d.DateStart, ID: id, Amount: amt})
		}
		next = p.Paging.Next
	}
	return rows, nil
}
