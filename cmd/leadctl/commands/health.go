package commands

import (
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/leadrelay/leadrelay/shared/money"
)

// healthView is GET /v1/admin/buyers/health.
type healthView struct {
	At         time.Time `json:"at"`
	WindowDays int       `json:"window_days"`
	Buyers     []struct {
		Buyer   string `json:"buyer"`
		Status  string `json:"status"`
		Breaker struct {
			State     string     `json:"state"`
			Failures  int        `json:"failures"`
			OpenUntil *time.Time `json:"open_until"`
		} `json:"breaker"`
		Caps   []capView `json:"caps"`
		Orders []struct {
			Order         string    `json:"order"`
			Status        string    `json:"status"`
			Caps          []capView `json:"caps"`
			Offered       int64     `json:"offered"`
			Sold          int64     `json:"sold"`
			Acceptance    *float64  `json:"acceptance"`
			Responses     int64     `json:"responses"`
			AvgResponseMS *int64    `json:"avg_response_ms"`
		} `json:"orders"`
	} `json:"buyers"`
}

type capView struct {
	Period string      `json:"period"`
	Kind   string      `json:"kind"`
	Limit  json.Number `json:"limit"`
	Used   json.Number `json:"used"`
	Bucket string      `json:"bucket"`
}

// String is "daily 12/100" for a count cap, "daily budget 300.00/1000.00"
// for a budget.
func (c capView) String() string {
	if c.Kind == "budget" {
		return fmt.Sprintf("%s budget %s/%s", c.Period, amount(c.Used), amount(c.Limit))
	}
	return fmt.Sprintf("%s %s/%s", c.Period, c.Used, c.Limit)
}

// amount writes a JSON amount with two decimals.
func amount(n json.Number) string {
	a, err := money.ParseRounded(n.String())
	if err != nil {
		return n.String()
	}
	return a.String()
}

func buyersHealthCmd(g *globals) *cobra.Command {
	var days int
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "health [--days 7]",
		Short: "Show every buyer's caps used, circuit breaker, acceptance rate and response time",
		Long: "One row per order, in configuration order (a buyer's own caps on a row of their own): the caps\n" +
			"with what their current bucket holds, the buyer's circuit breaker, and over the last --days days\n" +
			"(today included, in the agency's timezone) the offers, sales, acceptance rate and average\n" +
			"response time of the buyer's deliveries.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := newClient(cmd.Context(), g)
			if err != nil {
				return err
			}
			path := "/v1/admin/buyers/health"
			if cmd.Flags().Changed("days") {
				path += "?" + url.Values{"days": {strconv.Itoa(days)}}.Encode()
			}
			var raw json.RawMessage
			if _, err := c.do(cmd.Context(), request{method: "GET", path: path}, &raw); err != nil {
				return err
			}
			if asJSON {
				_, err := fmt.Fprintln(cmd.OutOrStdout(), string(raw))
				return err
			}
			var v healthView
			if err := json.Unmarshal(raw, &v); err != nil {
				return fmt.Errorf("decode buyers' health: %w", err)
			}
			return printHealth(cmd.OutOrStdout(), &v)
		},
	}
	cmd.Flags().IntVar(&days, "days", 7, "the window of offers, sales, acceptance and response time (1 to 31 days)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the API's JSON")
	return cmd
}

func printHealth(w io.Writer, v *healthView) error {
	fmt.Fprintf(w, "Buyers at %s; offers, sales and responses over %d day(s)\n\n", v.At.UTC().Format(time.RFC3339), v.WindowDays)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row(tw, "BUYER", "BREAKER", "ORDER", "STATUS", "CAPS", "OFFERED", "SOLD", "ACCEPTANCE", "AVG RESPONSE")
	for _, b := range v.Buyers {
		breaker := b.Breaker.State
		if b.Breaker.Failures > 0 {
			breaker += fmt.Sprintf(" (%d failures)", b.Breaker.Failures)
		}
		if u := b.Breaker.OpenUntil; u != nil && b.Breaker.State == "open" {
			breaker += " until " + u.UTC().Format(time.RFC3339)
		}
		buyer := b.Buyer
		if b.Status != "active" {
			buyer += " (" + b.Status + ")"
		}
		if len(b.Caps) > 0 {
			row(tw, buyer, breaker, "(all orders)", "", capList(b.Caps), "", "", "", "")
		}
		for _, o := range b.Orders {
			accept, avg := "", ""
			if o.Acceptance != nil {
				accept = strconv.FormatFloat(*o.Acceptance*100, 'f', 1, 64) + "%"
			}
			if o.AvgResponseMS != nil {
				avg = fmt.Sprintf("%d ms (%d)", *o.AvgResponseMS, o.Responses)
			}
			row(tw, buyer, breaker, b.Buyer+"/"+o.Order, o.Status, capList(o.Caps), o.Offered, o.Sold, accept, avg)
		}
	}
	return tw.Flush()
}

func capList(cs []capView) string {
	s := make([]string, len(cs))
	for i, c := range cs {
		s[i] = c.String()
	}
	return strings.Join(s, ", ")
}
