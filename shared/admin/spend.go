package admin

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/leadrelay/leadrelay/shared/config"
	"github.com/leadrelay/leadrelay/shared/httpapi"
	"github.com/leadrelay/leadrelay/shared/money"
	"github.com/leadrelay/leadrelay/shared/store"
)

// Bounds of one ad spend import.
const (
	MaxSpendBody = 1 << 20
	MaxSpendRows = 10000
)

// spendRow is one line of ad spend as posted.
type spendRow struct {
	Source   string       `json:"source"`
	Campaign string       `json:"campaign"`
	Date     string       `json:"date"`
	Amount   money.Amount `json:"amount"`
}

// spent is the answer to an import.
type spent struct {
	Rows  int          `json:"rows"`
	Days  []string     `json:"days"`
	Total money.Amount `json:"total"`
}

// spend sets the manual ad spend of sources and campaigns for days: a JSON
// object {"source","campaign","date","amount"}, a JSON array of them, or
// CSV (text/csv) with a header naming those columns. Every row is checked
// before anything is written. An import states each day's figure (its rows
// for the same source, campaign and day are summed) and replaces the one
// imported before: posting the same file again changes nothing, and a
// correction is the right figure posted again (0 clears it).
func (h *Handler) spend(ctx context.Context, req httpapi.Request) httpapi.Response {
	body, refused := httpapi.BodyWithin(req, MaxSpendBody, "an ad spend import")
	if refused != nil {
		return *refused
	}
	var rows []spendRow
	var probs []httpapi.FieldProblem
	var err error
	switch mt := httpapi.MediaType(req); mt {
	case "application/json":
		rows, probs, err = decodeSpendJSON(body)
		if err != nil {
			return httpapi.Error(http.StatusBadRequest, "invalid_json", "the body is not ad spend JSON: %v", err)
		}
	case "text/csv":
		rows, probs, err = decodeSpendCSV(body)
		if err != nil {
			return httpapi.Error(http.StatusBadRequest, "invalid_csv", "the body is not ad spend CSV: %v", err)
		}
	default:
		return httpapi.Error(http.StatusUnsupportedMediaType, "unsupported_media_type",
			"Content-Type %q is not accepted: use application/json or text/csv", mt)
	}
	if len(probs) > 0 {
		return httpapi.Fields(http.StatusBadRequest, "validation_failed", "the ad spend is not valid; nothing was set", probs)
	}
	if len(rows) == 0 {
		return httpapi.Fields(http.StatusBadRequest, "validation_failed", "no ad spend rows", []httpapi.FieldProblem{{Field: "rows", Code: "required", Message: "send at least one row"}})
	}
	if len(rows) > MaxSpendRows {
		return httpapi.Fields(http.StatusBadRequest, "validation_failed", "too many rows", []httpapi.FieldProblem{{Field: "rows", Code: "too_many", Message: fmt.Sprintf("at most %d rows an import", MaxSpendRows)}})
	}
	cfg, err := h.Store.LoadConfig(ctx)
	if err != nil {
		h.Log.ErrorContext(ctx, "load config", "error", err)
		return httpapi.Error(http.StatusServiceUnavailable, "unavailable", "retry")
	}
	spends, probs := checkSpend(config.NewIndex(cfg), rows)
	if len(probs) > 0 {
		return httpapi.Fields(http.StatusBadRequest, "validation_failed", "the ad spend is not valid; nothing was set", probs)
	}
	if h.Ledger == nil {
		return httpapi.Error(http.StatusServiceUnavailable, "unavailable", "the ledger is not configured in this deployment")
	}
	days, err := h.Ledger.SetSpend(ctx, spends)
	var se *store.SpendError
	if errors.As(err, &se) {
		h.Log.ErrorContext(ctx, "set ad spend", "error", err, "applied_days", se.Applied)
		return httpapi.Error(http.StatusServiceUnavailable, "partially_applied",
			"ad spend was set for days %s only; post the import again (what is set already does not change): %v", strings.Join(se.Applied, ", "), se.Err)
	}
	if err != nil {
		h.Log.ErrorContext(ctx, "set ad spend", "error", err)
		return httpapi.Error(http.StatusServiceUnavailable, "unavailable", "nothing was set; retry")
	}
	var total money.Amount
	for _, s := range spends {
		total += s.Amount
	}
	h.Log.InfoContext(ctx, "ad spend set", "rows", len(spends), "days", len(days), "total", total.Decimal())
	return httpapi.JSON(http.StatusOK, spent{Rows: len(spends), Days: days, Total: total})
}

// checkSpend validates rows against the configuration.
func checkSpend(ix *config.Index, rows []spendRow) ([]store.Spend, []httpapi.FieldProblem) {
	var out []store.Spend
	var probs []httpapi.FieldProblem
	for i, r := range rows {
		p := fmt.Sprintf("rows[%d]", i)
		if r.Source == "" {
			probs = append(probs, httpapi.FieldProblem{Field: p + ".source", Code: "required", Message: "source is required"})
		} else if ix.Source(r.Source) == nil {
			probs = append(probs, httpapi.FieldProblem{Field: p + ".source", Code: "unknown_reference", Message: fmt.Sprintf("no source %q", r.Source)})
		}
		if r.Campaign == "" {
			probs = append(probs, httpapi.FieldProblem{Field: p + ".campaign", Code: "required", Message: "campaign is required"})
		} else if ix.Campaign(r.Campaign) == nil {
			probs = append(probs, httpapi.FieldProblem{Field: p + ".campaign", Code: "unknown_reference", Message: fmt.Sprintf("no campaign %q", r.Campaign)})
		}
		if _, err := time.Parse(time.DateOnly, r.Date); err != nil {
			probs = append(probs, httpapi.FieldProblem{Field: p + ".date", Code: "invalid", Message: fmt.Sprintf("date %q: want YYYY-MM-DD (a day in the agency's timezone)", r.Date)})
		}
		if r.Amount < 0 {
			probs = append(probs, httpapi.FieldProblem{Field: p + ".amount", Code: "invalid", Message: "amount must not be negative: an import states the day's spend, and replaces what was imported before"})
		}
		out = append(out, store.Spend{Source: r.Source, Campaign: r.Campaign, Day: r.Date, Amount: r.Amount, Origin: store.SpendManual})
	}
	return out, probs
}

func decodeSpendJSON(body []byte) ([]spendRow, []httpapi.FieldProblem, error) {
	trimmed := bytes.TrimSpace(body)
	var raws []json.RawMessage
	if bytes.HasPrefix(trimmed, []byte("[")) {
		if err := json.Unmarshal(trimmed, &raws); err != nil {
			return nil, nil, err
		}
	} else {
		raws = []json.RawMessage{trimmed}
	}
	var rows []spendRow
	var probs []httpapi.FieldProblem
	for i, raw := range raws {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		var r spendRow
		if err := dec.Decode(&r); err != nil {
			probs = append(probs, httpapi.FieldProblem{Field: fmt.Sprintf("rows[%d]", i), Code: "invalid", Message: err.Error()})
			continue
		}
		if _, err := dec.Token(); err != io.EOF {
			return nil, nil, errors.New("trailing data after the JSON value")
		}
		rows = append(rows, r)
	}
	return rows, probs, nil
}

var spendColumns = []string{"source", "campaign", "date", "amount"}

func decodeSpendCSV(body []byte) ([]spendRow, []httpapi.FieldProblem, error) {
	cr := csv.NewReader(bytes.NewReader(body))
	cr.TrimLeadingSpace = true
	recs, err := cr.ReadAll()
	if err != nil {
		return nil, nil, err
	}
	if len(recs) == 0 {
		return nil, nil, errors.New("empty: the first line names the columns source,campaign,date,amount")
	}
	col := map[string]int{}
	var probs []httpapi.FieldProblem
	for i, name := range recs[0] {
		name = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(name, "\ufeff")))
		if !slices.Contains(spendColumns, name) {
			probs = append(probs, httpapi.FieldProblem{Field: "line 1", Code: "unknown", Message: fmt.Sprintf("unknown column %q: want source, campaign, date, amount", name)})
		}
		col[name] = i
	}
	for _, name := range spendColumns {
		if _, ok := col[name]; !ok {
			probs = append(probs, httpapi.FieldProblem{Field: "line 1", Code: "required", Message: "missing column " + name})
		}
	}
	if len(probs) > 0 {
		return nil, probs, nil
	}
	var rows []spendRow
	for i, rec := range recs[1:] {
		r := spendRow{Source: strings.TrimSpace(rec[col["source"]]), Campaign: strings.TrimSpace(rec[col["campaign"]]), Date: strings.TrimSpace(rec[col["date"]])}
		amt, err := money.Parse(rec[col["amount"]])
		if err != nil {
			// Rows are numbered as checkSpend numbers them; the line is i+2.
			probs = append(probs, httpapi.FieldProblem{Field: fmt.Sprintf("rows[%d].amount", i), Code: "invalid", Message: fmt.Sprintf("line %d: %v", i+2, err)})
		}
		r.Amount = amt
		rows = append(rows, r)
	}
	return rows, probs, nil
}
