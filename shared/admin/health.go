package admin

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/leadrelay/leadrelay/shared/breaker"
	"github.com/leadrelay/leadrelay/shared/config"
	"github.com/leadrelay/leadrelay/shared/httpapi"
	"github.com/leadrelay/leadrelay/shared/money"
	"github.com/leadrelay/leadrelay/shared/routing"
	"github.com/leadrelay/leadrelay/shared/store"
)

// The buyers' health: GET /v1/admin/buyers/health, the operators'
// console's Buyers page. For every buyer and order in configuration
// order: the caps used in their current buckets, the circuit breaker, and
// over a window of days the acceptance rate (sales / offers) and the
// average response time of the buyer's deliveries.
//
// Its cost does not grow with the leads: one configuration read, one Query
// of the breakers, the cap counters by BatchGetItem (a hundred keys a
// request) and one Query per day of the window for the ledger's day
// aggregates (store.LedgerDays).

// Window of the acceptance rate and response time (?days=N).
const (
	DefaultHealthDays = 7
	MaxHealthDays     = 31
)

// BuyersHealth is the answer of GET /v1/admin/buyers/health.
type BuyersHealth struct {
	At time.Time `json:"at"`
	// WindowDays is the window of the orders' figures: today and the
	// days before it, in the agency's timezone.
	WindowDays int           `json:"window_days"`
	Buyers     []BuyerHealth `json:"buyers"`
}

// BuyerHealth is one buyer's health.
type BuyerHealth struct {
	Buyer string `json:"buyer"`
	// Name is what the console shows: the configuration has no display
	// name for a buyer, so it is the buyer's id.
	Name    string        `json:"name"`
	Status  string        `json:"status"`
	Breaker BreakerHealth `json:"breaker"`
	// Caps are the buyer's caps across its orders, when it has any.
	Caps   []CapHealth   `json:"caps,omitempty"`
	Orders []OrderHealth `json:"orders"`
}

// BreakerHealth is a buyer's circuit breaker now (package breaker).
type BreakerHealth struct {
	State breaker.Phase `json:"state"`
	// Failures is the buyer's streak of transient delivery failures.
	Failures int `json:"failures"`
	// OpenUntil is when an open breaker lets a trial lead through (past
	// for a half-open one); absent when closed.
	OpenUntil *time.Time `json:"open_until,omitempty"`
}

// OrderHealth is one order's health.
type OrderHealth struct {
	Order    string       `json:"order"`
	Campaign string       `json:"campaign"`
	Status   string       `json:"status"`
	Price    money.Amount `json:"price"`
	Caps     []CapHealth  `json:"caps"`
	// Offered and Sold count the window's offers of a lead to the order
	// and its sales (test leads are not counted).
	Offered int64 `json:"offered"`
	Sold    int64 `json:"sold"`
	// Acceptance is Sold / Offered; absent when nothing was offered.
	Acceptance *Ratio `json:"acceptance,omitempty"`
	// Responses counts the window's delivery attempts the buyer answered
	// or let time out; AvgResponseMS is their mean latency, absent when
	// there were none.
	Responses     int64  `json:"responses"`
	AvgResponseMS *int64 `json:"avg_response_ms,omitempty"`
}

// CapHealth is one cap and what its current bucket holds. A count cap
// (kind leads) counts leads; a budget (kind budget) money, in JSON as a
// decimal number of the currency unit like every amount of the API. The
// leads counted are those reserved: sold, and offered but not yet
// answered.
type CapHealth struct {
	Period string      `json:"period"` // hourly, daily, weekly, monthly
	Kind   string      `json:"kind"`   // leads, budget
	Limit  json.Number `json:"limit"`
	Used   json.Number `json:"used"`
	// Bucket names the current bucket in the buyer's timezone:
	// "2026-12-01T13", "2026-12-01", "2026-W49", "2026-12".
	Bucket string `json:"bucket"`
}

// Cap kinds.
const (
	CapKindLeads  = "leads"
	CapKindBudget = "budget"
)

// capPeriods names the routing periods as the configuration does.
var capPeriods = map[string]string{
	routing.PeriodHour: "hourly", routing.PeriodDay: "daily", routing.PeriodWeek: "weekly", routing.PeriodMonth: "monthly",
}

func (h *Handler) healthRoutes(m *httpapi.Mux) {
	m.Handle("GET /v1/admin/buyers/health", func(ctx context.Context, req httpapi.Request, _ map[string]string) httpapi.Response {
		return h.buyersHealth(ctx, req)
	})
}

// parseHealthDays reads ?days=N (1 to MaxHealthDays, default
// DefaultHealthDays).
func parseHealthDays(q map[string]string) (int, []httpapi.FieldProblem) {
	v := strings.TrimSpace(q["days"])
	if v == "" {
		return DefaultHealthDays, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > MaxHealthDays {
		return 0, []httpapi.FieldProblem{{Field: "days", Code: "invalid",
			Message: fmt.Sprintf("days %q: want a whole number of days from 1 to %d", v, MaxHealthDays)}}
	}
	return n, nil
}

func (h *Handler) buyersHealth(ctx context.Context, req httpapi.Request) httpapi.Response {
	days, probs := parseHealthDays(req.QueryStringParameters)
	if len(probs) > 0 {
		return httpapi.Fields(http.StatusBadRequest, "validation_failed", "the query is not valid", probs)
	}
	if h.Ledger == nil {
		return httpapi.Error(http.StatusServiceUnavailable, "unavailable", "the ledger is not configured in this deployment")
	}
	rep, err := h.BuyersHealth(ctx, days)
	if err != nil {
		h.Log.ErrorContext(ctx, "read the buyers' health", "error", err)
		return httpapi.Error(http.StatusServiceUnavailable, "unavailable", "retry")
	}
	return httpapi.JSON(http.StatusOK, rep)
}

// BuyersHealth reads every buyer's health now, its orders' figures over
// the last days ledger days (today included).
func (h *Handler) BuyersHealth(ctx context.Context, days int) (*BuyersHealth, error) {
	c, err := h.Store.LoadConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("load configuration: %w", err)
	}
	now := h.Now().UTC().Truncate(time.Second)
	ix := config.NewIndex(c)
	rep := &BuyersHealth{At: now, WindowDays: days, Buyers: make([]BuyerHealth, 0, len(c.Buyers))}

	// What to read: every cap's current bucket, and the window's days.
	var keys []string
	specs := make([][][]routing.CapSpec, len(c.Buyers)) // [buyer][0: buyer caps, 1+j: order j]
	for i := range c.Buyers {
		b := &c.Buyers[i]
		local := now.In(ix.Location(b.Timezone))
		specs[i] = make([][]routing.CapSpec, 1+len(b.Orders))
		specs[i][0] = routing.CapSpecs(routing.BuyerScope(b.ID), b.Caps, local)
		for j := range b.Orders {
			specs[i][1+j] = routing.CapSpecs(routing.OrderScope(b.ID, b.Orders[j].ID), b.Orders[j].Caps, local)
		}
		for _, ss := range specs[i] {
			for _, cs := range ss {
				keys = append(keys, store.CapKey(cs.Scope, cs.Period, cs.Bucket))
			}
		}
	}
	window := windowDays(now, days, ix.LedgerLocation())

	var (
		wg       sync.WaitGroup
		breakers map[string]breaker.State
		used     map[string]store.CapUse
		rows     []store.LedgerRow
		errs     [3]error
	)
	wg.Add(3)
	go func() {
		defer wg.Done()
		breakers, errs[0] = h.Store.Breakers(ctx)
	}()
	go func() {
		defer wg.Done()
		used, errs[1] = h.Store.CapCounts(ctx, keys)
	}()
	go func() {
		defer wg.Done()
		rows, errs[2] = h.Ledger.LedgerDays(ctx, window)
	}()
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}

	figures := orderFigures(rows, window[0])
	for i := range c.Buyers {
		b := &c.Buyers[i]
		bh := BuyerHealth{
			Buyer: b.ID, Name: b.ID, Status: orActive(b.Status),
			Breaker: breakerHealth(breakers[b.ID], now),
			Caps:    capHealth(specs[i][0], used),
			Orders:  make([]OrderHealth, 0, len(b.Orders)),
		}
		for j := range b.Orders {
			o := &b.Orders[j]
			oh := OrderHealth{
				Order: o.ID, Campaign: o.Campaign, Status: orActive(o.Status), Price: o.Price,
				Caps: capHealth(specs[i][1+j], used),
			}
			if oh.Caps == nil {
				oh.Caps = []CapHealth{}
			}
			if f := figures[config.OrderKey(b.ID, o.ID)]; f != nil {
				oh.Offered, oh.Sold, oh.Responses = f.Offered, f.Sales, f.Responses
				if f.Offered > 0 {
					r := NewRatio(f.Sales, f.Offered)
					oh.Acceptance = &r
				}
				if f.Responses > 0 {
					avg := divRound(f.ResponseMS, f.Responses)
					oh.AvgResponseMS = &avg
				}
			}
			bh.Orders = append(bh.Orders, oh)
		}
		rep.Buyers = append(rep.Buyers, bh)
	}
	return rep, nil
}

func orActive(status string) string {
	if status == "" {
		return config.StatusActive
	}
	return status
}

// breakerHealth is a stored breaker as it stands at now.
func breakerHealth(st breaker.State, now time.Time) BreakerHealth {
	out := BreakerHealth{State: breaker.PhaseAt(st, now), Failures: st.Failures}
	if out.State != breaker.Closed {
		until := st.OpenUntil.UTC()
		out.OpenUntil = &until
	}
	return out
}

// capHealth lists the caps of specs with what their counters hold: a
// spec's count and budget (daily, monthly) share one counter.
func capHealth(specs []routing.CapSpec, used map[string]store.CapUse) []CapHealth {
	var out []CapHealth
	for _, cs := range specs {
		u := used[store.CapKey(cs.Scope, cs.Period, cs.Bucket)]
		period := capPeriods[cs.Period]
		if cs.Limit > 0 {
			out = append(out, CapHealth{Period: period, Kind: CapKindLeads, Bucket: cs.Bucket,
				Limit: json.Number(strconv.FormatInt(cs.Limit, 10)), Used: json.Number(strconv.FormatInt(u.N, 10))})
		}
		if cs.Budget > 0 {
			out = append(out, CapHealth{Period: period, Kind: CapKindBudget, Bucket: cs.Bucket,
				Limit: json.Number(cs.Budget.Decimal()), Used: json.Number(u.Amount.Decimal())})
		}
	}
	return out
}

// windowDays are the ledger days of a window of n days that ends today
// (now's date in the agency's timezone), oldest first.
func windowDays(now time.Time, n int, loc *time.Location) []string {
	today, _ := time.Parse(time.DateOnly, store.LedgerDay(now, loc))
	out := make([]string, n)
	for i := range n {
		out[i] = today.AddDate(0, 0, i-n+1).Format(time.DateOnly)
	}
	return out
}

// orderFigure is an order's figures over a window, from the ledger's
// order dimension: offers and sales (its acceptance rate: the console,
// the feedback loop) and the buyer's answers with their summed latency.
type orderFigure struct {
	Offered, Sales        int64
	Responses, ResponseMS int64
}

// orderFigures sums the order dimension's day aggregates of the days
// from first on (YYYY-MM-DD), by order key ("buyer/order").
func orderFigures(rows []store.LedgerRow, first string) map[string]*orderFigure {
	out := map[string]*orderFigure{}
	for _, r := range rows {
		if r.Dimension != store.DimOrder || r.Day < first {
			continue
		}
		f := out[r.ID]
		if f == nil {
			f = &orderFigure{}
			out[r.ID] = f
		}
		f.Offered += r.Counts["offered"]
		f.Sales += r.Counts["sales"]
		f.Responses += r.Counts[store.CountResponses]
		f.ResponseMS += r.Counts[store.CountResponseMS]
	}
	return out
}
