package commands

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
)

// spendCmd imports ad spend: leadctl spend import FILE (CSV with the
// columns source,campaign,date,amount, or JSON).
func spendCmd(g *globals) *cobra.Command {
	spend := &cobra.Command{Use: "spend", Short: "Ad spend: what traffic cost, counted in the P&L"}
	spend.AddCommand(&cobra.Command{
		Use:   "import FILE",
		Short: "Set ad spend from a CSV (source,campaign,date,amount) or JSON file, replacing what was imported for the same days; - for standard input",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var body []byte
			var err error
			if args[0] == "-" {
				body, err = io.ReadAll(g.in)
			} else {
				body, err = os.ReadFile(args[0])
			}
			if err != nil {
				return fmt.Errorf("read ad spend: %w", err)
			}
			ct := "text/csv"
			if strings.HasSuffix(args[0], ".json") {
				ct = "application/json"
			}
			c, err := newClient(cmd.Context(), g)
			if err != nil {
				return err
			}
			var res struct {
				Rows  int             `json:"rows"`
				Days  []string        `json:"days"`
				Total json.RawMessage `json:"total"`
			}
			if _, err := c.do(cmd.Context(), request{method: "POST", path: "/v1/admin/spend", body: body, contentType: ct}, &res); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Added %d row(s), %s in all, on %d day(s).\n", res.Rows, res.Total, len(res.Days))
			return nil
		},
	})
	return spend
}

// reportCmd prints the P&L: leadctl report pnl --from --to --by source.
func reportCmd(g *globals) *cobra.Command {
	report := &cobra.Command{Use: "report", Short: "Reports"}
	var from, to, by string
	var asJSON bool
	pnl := &cobra.Command{
		Use:   "pnl --from YYYY-MM-DD --to YYYY-MM-DD [--by campaign|source|buyer|buyer_source|day]",
		Short: "Profit and loss over a range of days (in the agency's timezone)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if from == "" || to == "" {
				return errors.New("give the range with --from and --to (YYYY-MM-DD)")
			}
			c, err := newClient(cmd.Context(), g)
			if err != nil {
				return err
			}
			q := url.Values{"from": {from}, "to": {to}, "group_by": {by}}
			type row map[string]json.RawMessage
			var rep struct {
				Rows   []row `json:"rows"`
				Totals row   `json:"totals"`
			}
			var raw json.RawMessage
			if _, err := c.do(cmd.Context(), request{method: "GET", path: "/v1/admin/reports/pnl?" + q.Encode()}, &raw); err != nil {
				return err
			}
			if asJSON {
				_, err := fmt.Fprintln(cmd.OutOrStdout(), string(raw))
				return err
			}
			if err := json.Unmarshal(raw, &rep); err != nil {
				return fmt.Errorf("decode report: %w", err)
			}
			cols := []string{"key", "leads", "sold", "unsold", "rejected", "duplicates", "returned", "revenue", "cost", "ad_spend", "profit", "margin", "return_rate"}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', tabwriter.AlignRight)
			fmt.Fprintln(w, strings.ToUpper(strings.Join(cols, "\t"))+"\t")
			for _, r := range append(rep.Rows, rep.Totals) {
				cells := make([]string, len(cols))
				for i, c := range cols {
					cells[i] = strings.Trim(string(r[c]), `"`)
				}
				fmt.Fprintln(w, strings.Join(cells, "\t")+"\t")
			}
			return w.Flush()
		},
	}
	f := pnl.Flags()
	f.StringVar(&from, "from", "", "first day (YYYY-MM-DD)")
	f.StringVar(&to, "to", "", "last day (YYYY-MM-DD)")
	f.StringVar(&by, "by", "campaign", "group by campaign, source, buyer, buyer_source or day")
	f.BoolVar(&asJSON, "json", false, "print the API's JSON")
	report.AddCommand(pnl)
	return report
}
