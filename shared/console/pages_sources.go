package console

import (
	"context"
	"net/http"
	"strconv"

	"github.com/leadrelay/leadrelay/shared/httpapi"
)

func (s *Server) sourceRoutes(m *httpapi.Mux) {
	m.Handle("GET /console/sources", s.view(s.sources))
}

type sourceRow struct {
	pnlRow
	Acceptance string
	ReturnRate string
}

type sourcesData struct {
	From, To string
	Rows     []sourceRow
	Totals   sourceRow
}

// sources shows each source's volume, acceptance, duplicates, return
// rate, payout (cost) and profit: the P&L by source over a range (the
// last 7 days unless given). Two admin calls.
func (s *Server) sources(ctx context.Context, req httpapi.Request, _ map[string]string, op operator) httpapi.Response {
	cfg, err := s.configSummary(ctx, op)
	if err != nil {
		return s.apiFailure(ctx, req, err)
	}
	from, to := dayRange(s.Now(), cfg.location(), req.QueryStringParameters["from"], req.QueryStringParameters["to"], PnLDays)
	rep, err := s.pnl(ctx, op, from, to, "source")
	if err != nil {
		return s.apiFailure(ctx, req, err)
	}
	row := func(r pnlRow) sourceRow {
		return sourceRow{pnlRow: r, Acceptance: pct(float64(r.Accepted), float64(r.Leads)),
			ReturnRate: strconv.FormatFloat(100*r.ReturnRate, 'f', 1, 64) + "%"}
	}
	d := sourcesData{From: from, To: to, Totals: row(rep.Totals)}
	for _, r := range rep.Rows {
		d.Rows = append(d.Rows, row(r))
	}
	return s.render(ctx, req, http.StatusOK, "sources", forOperator(op, "Sources", "sources"), d)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
