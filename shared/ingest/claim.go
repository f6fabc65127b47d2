package ingest

import (
	"context"
	"net/http"
	"time"

	"github.com/leadrelay/leadrelay/shared/config"
	"github.com/leadrelay/leadrelay/shared/httpapi"
	"github.com/leadrelay/leadrelay/shared/lead"
	"github.com/leadrelay/leadrelay/shared/pingtoken"
)

// EventPingClaimed is the timeline event of a lead that claimed a ping's bids.
const EventPingClaimed = "ping_claimed"

// claim checks a posted lead's ping_id (docs/pingpost.md): nil, nil when
// the lead claims no ping; otherwise the bids it claims, or the answer
// that refuses it. The claim itself (once per ping_id) is written with the
// lead (store.PutLead). A secret that cannot be read answers 503: the
// source may post the lead again.
func (h *Handler) claim(ctx context.Context, env envelope, camp *config.Campaign, src *config.Source, fields map[string]any) (*pingtoken.Claim, *httpapi.Response) {
	if env.PingID == "" {
		if len(env.BidIDs) > 0 {
			r := httpapi.Fields(http.StatusBadRequest, "validation_failed", "bid_ids need a ping_id",
				[]httpapi.FieldProblem{{Field: "bid_ids", Code: "invalid", Message: "bid_ids claim bids of a ping: send its ping_id too"}})
			return nil, &r
		}
		return nil, nil
	}
	var secret []byte
	if h.PingSecret != nil {
		var err error
		if secret, err = h.PingSecret(ctx); err != nil {
			h.Log.ErrorContext(ctx, "read the ping secret", "error", err)
			r := httpapi.Error(http.StatusServiceUnavailable, "unavailable", "ping claims cannot be checked now; retry")
			return nil, &r
		}
	}
	c, cerr := pingtoken.Check(secret, pingtoken.ClaimInput{
		Token: env.PingID, BidIDs: env.BidIDs, Campaign: camp, Source: src.ID,
		Fields: fields, Test: env.Test, Now: h.Now(),
	})
	if cerr == nil {
		return c, nil
	}
	var r httpapi.Response
	if len(cerr.Fields) > 0 {
		fp := make([]httpapi.FieldProblem, len(cerr.Fields))
		for i, f := range cerr.Fields {
			fp[i] = httpapi.FieldProblem{Field: f, Code: "mismatch", Message: "differs from the ping"}
			if cerr.Code == pingtoken.CodeBadBidIDs {
				fp[i] = httpapi.FieldProblem{Field: f, Code: "invalid", Message: cerr.Message}
			}
		}
		r = httpapi.Fields(claimStatus[cerr.Code], cerr.Code, cerr.Message, fp)
	} else {
		r = httpapi.Error(claimStatus[cerr.Code], cerr.Code, "%s", cerr.Message)
	}
	return nil, &r
}

// claimStatus is the HTTP status of each refused claim
// (docs/pingpost.md).
var claimStatus = map[string]int{
	pingtoken.CodeInvalid:   http.StatusUnauthorized,
	pingtoken.CodeExpired:   http.StatusGone,
	pingtoken.CodeMismatch:  http.StatusConflict,
	pingtoken.CodeNoBid:     http.StatusConflict,
	pingtoken.CodeBadBidIDs: http.StatusBadRequest,
}

// bidIDs reads the JSON "bid_ids": a list of strings.
func bidIDs(v any, probs []httpapi.FieldProblem) ([]string, []httpapi.FieldProblem) {
	list, ok := v.([]any)
	var out []string
	for _, x := range list {
		s, isStr := x.(string)
		if !isStr {
			ok = false
			break
		}
		out = append(out, s)
	}
	if !ok {
		return nil, append(probs, httpapi.FieldProblem{Field: "bid_ids", Code: "invalid", Message: "bid_ids must be a list of bid ids (strings)"})
	}
	return out, probs
}

// claimEvent is the timeline entry of a claim: the bids claimed, best
// first, with the buyer price and the seller price quoted for each.
func claimEvent(now time.Time, c *pingtoken.Claim) lead.Event {
	rows := make([]any, len(c.Bids))
	for i, b := range c.Bids {
		rows[i] = map[string]any{"order": b.Key(), "bid": b.Price.Decimal(), "seller_price": b.Payout.Decimal(), "bid_id": b.BidID}
	}
	return lead.Event{At: now, Type: EventPingClaimed, Detail: "claims the bids of ping " + c.PingID,
		Data: map[string]any{"ping_id": c.PingID, "expires": c.Expires.UTC().Format(time.RFC3339Nano), "bids": rows}}
}
