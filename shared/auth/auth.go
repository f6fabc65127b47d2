// Package auth authenticates the callers of the public API: sources (their
// leads and pings) and buyers (their returns), by the API key they send in
// X-API-Key or Authorization: Bearer, against the hashes in the
// configuration; and admits a source's lead or ping to its campaign.
package auth

import (
	"fmt"
	"net/http"

	"github.com/leadrelay/leadrelay/shared/config"
	"github.com/leadrelay/leadrelay/shared/httpapi"
)

// Source returns the active source whose key the request carries, or the
// answer to give instead (401 without or with an unknown key, 403 for a
// paused source).
func Source(ix *config.Index, req httpapi.Request) (*config.Source, *httpapi.Response) {
	key := httpapi.BearerOrKey(req)
	if key == "" {
		return nil, refuse(http.StatusUnauthorized, "unauthorized", "send the source's API key in X-API-Key or Authorization: Bearer")
	}
	src := ix.SourceByKey(key)
	if src == nil {
		return nil, refuse(http.StatusUnauthorized, "unauthorized", "unknown API key")
	}
	if src.Status == config.StatusPaused {
		return nil, refuse(http.StatusForbidden, "source_paused", "source "+src.ID+" is paused")
	}
	return src, nil
}

// Campaign returns the campaign a source's lead or ping names, or the
// answer to give instead: 404 for an unknown campaign, 403 when the
// source may not post to it or it is paused.
func Campaign(ix *config.Index, src *config.Source, id string) (*config.Campaign, *httpapi.Response) {
	camp := ix.Campaign(id)
	if camp == nil {
		return nil, refuse(http.StatusNotFound, "campaign_not_found", fmt.Sprintf("no campaign %q", id))
	}
	if !src.Allows(camp.ID) {
		return nil, refuse(http.StatusForbidden, "campaign_not_allowed", "source "+src.ID+" may not post to campaign "+camp.ID)
	}
	if camp.Status == config.StatusPaused {
		return nil, refuse(http.StatusForbidden, "campaign_paused", "campaign "+camp.ID+" is paused")
	}
	return camp, nil
}

// Buyer returns the buyer whose key the request carries, or the answer to
// give instead (401).
func Buyer(ix *config.Index, req httpapi.Request) (*config.Buyer, *httpapi.Response) {
	key := httpapi.BearerOrKey(req)
	if key == "" {
		return nil, refuse(http.StatusUnauthorized, "unauthorized", "send the buyer's API key in X-API-Key or Authorization: Bearer")
	}
	b := ix.BuyerByKey(key)
	if b == nil {
		return nil, refuse(http.StatusUnauthorized, "unauthorized", "unknown API key")
	}
	return b, nil
}

func refuse(status int, code, msg string) *httpapi.Response {
	r := httpapi.Error(status, code, "%s", msg)
	return &r
}
