package admin

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/leadrelay/leadrelay/shared/httpapi"
)

// Hours reads when a campaign's leads were created from the campaign
// listing's index (store.CreatedTimes): keys only, never a lead.
type Hours interface {
	CreatedTimes(ctx context.Context, campaign string, from, to time.Time) ([]time.Time, error)
}

func (h *Handler) hourlyRoutes(m *httpapi.Mux) {
	m.Handle("GET /v1/admin/reports/hourly", func(ctx context.Context, req httpapi.Request, _ map[string]string) httpapi.Response {
		return h.hourly(ctx, req)
	})
}

// hourlyCampaign is one campaign's leads by hour of the day.
type hourlyCampaign struct {
	Campaign string  `json:"campaign"`
	Hours    []int64 `json:"hours"`
}

type hourlyReport struct {
	Date      string           `json:"date"`
	Timezone  string           `json:"timezone"`
	Hours     []int64          `json:"hours"`
	Campaigns []hourlyCampaign `json:"campaigns"`
}

// hourly answers GET /v1/admin/reports/hourly?date=YYYY-MM-DD: the leads
// received in each hour of a day (the agency's timezone; today by
// default), by campaign and in all. The ledger keeps days, so hours are
// counted from the campaigns' listing index: IndexShards queries a
// campaign, keys only, whatever the number of leads. Test leads count
// too (the P&L leaves them out).
func (h *Handler) hourly(ctx context.Context, req httpapi.Request) httpapi.Response {
	if h.Hours == nil {
		return httpapi.Error(http.StatusNotImplemented, "not_configured", "hourly counts are not configured in this deployment")
	}
	cfg, err := h.Store.LoadConfig(ctx)
	if err != nil {
		h.Log.ErrorContext(ctx, "load config", "error", err)
		return httpapi.Error(http.StatusServiceUnavailable, "unavailable", "retry")
	}
	loc := time.UTC
	if cfg.Timezone != "" {
		if l, err := time.LoadLocation(cfg.Timezone); err == nil {
			loc = l
		}
	}
	day := h.Now().In(loc)
	if v := strings.TrimSpace(req.QueryStringParameters["date"]); v != "" {
		d, err := time.ParseInLocation(time.DateOnly, v, loc)
		if err != nil {
			return httpapi.Fields(http.StatusBadRequest, "validation_failed", "the report query is not valid",
				[]httpapi.FieldProblem{{Field: "date", Code: "invalid", Message: "want a date YYYY-MM-DD (the agency's timezone)"}})
		}
		day = d
	}
	start := time.Date(day.Year(), day.Month(), day.Day(), 0, 0, 0, 0, loc)
	end := start.AddDate(0, 0, 1)
	rep := hourlyReport{Date: start.Format(time.DateOnly), Timezone: loc.String(), Hours: make([]int64, 24), Campaigns: []hourlyCampaign{}}
	for _, c := range cfg.Campaigns {
		// (from, to]: a lead created at midnight sharp is the day's.
		times, err := h.Hours.CreatedTimes(ctx, c.ID, start.Add(-time.Nanosecond), end.Add(-time.Nanosecond))
		if err != nil {
			h.Log.ErrorContext(ctx, "read lead creation times", "campaign", c.ID, "error", err)
			return httpapi.Error(http.StatusServiceUnavailable, "unavailable", "retry")
		}
		hc := hourlyCampaign{Campaign: c.ID, Hours: make([]int64, 24)}
		for _, t := range times {
			hr := t.In(loc).Hour()
			hc.Hours[hr]++
			rep.Hours[hr]++
		}
		rep.Campaigns = append(rep.Campaigns, hc)
	}
	return httpapi.JSON(http.StatusOK, rep)
}
