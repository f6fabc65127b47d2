package admin

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/leadrelay/leadrelay/shared/config"
	"github.com/leadrelay/leadrelay/shared/httpapi"
	"github.com/leadrelay/leadrelay/shared/store"
)

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
// accepted in each hour of a day (the agency's timezone; today by
// default), by campaign and in all. Each lead's ledger entry counts its
// hour in its campaign's day aggregate (store.HourCounter), so the
// report is the day's one ledger query, whatever the number of leads.
// Like the P&L, it leaves test leads out.
func (h *Handler) hourly(ctx context.Context, req httpapi.Request) httpapi.Response {
	cfg, err := h.Store.LoadConfig(ctx)
	if err != nil {
		h.Log.ErrorContext(ctx, "load config", "error", err)
		return httpapi.Error(http.StatusServiceUnavailable, "unavailable", "retry")
	}
	loc := config.NewIndex(cfg).Location(cfg.Timezone)
	day := h.Now().In(loc)
	if v := strings.TrimSpace(req.QueryStringParameters["date"]); v != "" {
		d, err := time.ParseInLocation(time.DateOnly, v, loc)
		if err != nil {
			return httpapi.Fields(http.StatusBadRequest, "validation_failed", "the report query is not valid",
				[]httpapi.FieldProblem{{Field: "date", Code: "invalid", Message: "want a date YYYY-MM-DD (the agency's timezone)"}})
		}
		day = d
	}
	date := day.Format(time.DateOnly)
	rows, err := h.Ledger.LedgerDays(ctx, []string{date})
	if err != nil {
		h.Log.ErrorContext(ctx, "read the ledger", "error", err)
		return httpapi.Error(http.StatusServiceUnavailable, "unavailable", "retry")
	}
	byCampaign := map[string]map[string]int64{}
	for _, r := range rows {
		if r.Dimension == store.DimCampaign {
			byCampaign[r.ID] = r.Counts
		}
	}
	rep := hourlyReport{Date: date, Timezone: loc.String(), Hours: make([]int64, 24), Campaigns: []hourlyCampaign{}}
	for _, c := range cfg.Campaigns {
		hc := hourlyCampaign{Campaign: c.ID, Hours: make([]int64, 24)}
		for hr := range 24 {
			n := byCampaign[c.ID][store.HourCounter(hr)]
			hc.Hours[hr] = n
			rep.Hours[hr] += n
		}
		rep.Campaigns = append(rep.Campaigns, hc)
	}
	return httpapi.JSON(http.StatusOK, rep)
}
