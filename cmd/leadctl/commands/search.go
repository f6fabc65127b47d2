package commands

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
)

// leadsSearchCmd is leadctl leads search: GET /v1/admin/leads as a table.
func leadsSearchCmd(g *globals) *cobra.Command {
	var campaign, source, buyer, status, from, to, phone, email, cursor string
	var limit int
	var all bool
	cmd := &cobra.Command{
		Use:   "search (--campaign C | --phone P | --email E) [--source S] [--buyer B] [--status S] [--from T] [--to T]",
		Short: "Find leads by phone, email or campaign, newest first",
		Long: `Find leads by phone or email (any notation: the server normalises it as ingest
does), or list a campaign's leads; --source, --buyer, --status, --from and --to
(YYYY-MM-DD, a UTC day, or RFC 3339) narrow the search. One page is printed
with the cursor of the next; --all follows the cursors to the end.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if campaign == "" && phone == "" && email == "" {
				return fmt.Errorf("name what to search: --campaign, --phone or --email")
			}
			c, err := newClient(cmd.Context(), g)
			if err != nil {
				return err
			}
			q := url.Values{}
			for k, v := range map[string]string{"campaign": campaign, "source": source, "buyer": buyer, "status": status,
				"from": from, "to": to, "phone": phone, "email": email, "cursor": cursor} {
				if v != "" {
					q.Set(k, v)
				}
			}
			if limit > 0 {
				q.Set("limit", fmt.Sprint(limit))
			}
			return printLeads(cmd.Context(), c, q, cmd.OutOrStdout(), all)
		},
	}
	f := cmd.Flags()
	f.StringVar(&campaign, "campaign", "", "the campaign's leads (or narrows a phone or email search)")
	f.StringVar(&phone, "phone", "", "the leads carrying this phone number")
	f.StringVar(&email, "email", "", "the leads carrying this email address")
	f.StringVar(&source, "source", "", "only the source's leads")
	f.StringVar(&buyer, "buyer", "", "only leads sold to the buyer")
	f.StringVar(&status, "status", "", "only leads in this status: received, routing, sold, unsold, rejected, duplicate, returned")
	f.StringVar(&from, "from", "", "created at or after: YYYY-MM-DD (UTC) or RFC 3339")
	f.StringVar(&to, "to", "", "created at or before: YYYY-MM-DD (the whole UTC day) or RFC 3339")
	f.IntVar(&limit, "limit", 0, "leads a page, 1 to 500 (default: the server's, 50)")
	f.StringVar(&cursor, "cursor", "", "the page after the one that printed this cursor")
	f.BoolVar(&all, "all", false, "follow the cursors: print every page")
	return cmd
}

// foundLeads is a page of GET /v1/admin/leads.
type foundLeads struct {
	Leads []struct {
		LeadID    string          `json:"lead_id"`
		Campaign  string          `json:"campaign"`
		Source    string          `json:"source"`
		Status    string          `json:"status"`
		CreatedAt time.Time       `json:"created_at"`
		Buyers    []string        `json:"buyers"`
		Revenue   json.RawMessage `json:"revenue"`
		Test      bool            `json:"test"`
	} `json:"leads"`
	NextCursor string `json:"next_cursor"`
}

// printLeads prints the leads the search q finds as a table: one page
// and the cursor of the next, or with all every page.
func printLeads(ctx context.Context, c *client, q url.Values, w io.Writer, all bool) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row(tw, "LEAD", "CAMPAIGN", "SOURCE", "STATUS", "CREATED", "BUYERS", "REVENUE")
	n := 0
	for {
		var page foundLeads
		if _, err := c.do(ctx, request{method: "GET", path: "/v1/admin/leads?" + q.Encode()}, &page); err != nil {
			return err
		}
		for _, l := range page.Leads {
			st := l.Status
			if l.Test {
				st += " (test)"
			}
			row(tw, l.LeadID, l.Campaign, l.Source, st, l.CreatedAt.UTC().Format(time.RFC3339), strings.Join(l.Buyers, ","), string(l.Revenue))
		}
		n += len(page.Leads)
		if page.NextCursor == "" {
			tw.Flush()
			fmt.Fprintf(w, "%d lead(s).\n", n)
			return nil
		}
		if !all {
			tw.Flush()
			fmt.Fprintf(w, "%d lead(s) on this page; the next: --cursor %s\n", n, page.NextCursor)
			return nil
		}
		q.Set("cursor", page.NextCursor)
	}
}

// leadsReturnCmd is leadctl leads return: an operator marks a sale returned.
func leadsReturnCmd(g *globals) *cobra.Command {
	var buyer, reason string
	cmd := &cobra.Command{
		Use:   "return ID --buyer B --reason R",
		Short: "Mark a buyer's purchase of a lead returned (credited as the buyer's own return, whatever the return window)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if buyer == "" || reason == "" {
				return fmt.Errorf("give the buyer whose sale is returned (--buyer) and why (--reason)")
			}
			c, err := newClient(cmd.Context(), g)
			if err != nil {
				return err
			}
			body, _ := json.Marshal(map[string]string{"buyer": buyer, "reason": reason})
			var res struct {
				LeadID   string          `json:"lead_id"`
				Status   string          `json:"status"`
				Credited json.RawMessage `json:"credited"`
				Clawback json.RawMessage `json:"clawback"`
			}
			path := "/v1/admin/leads/" + url.PathEscape(args[0]) + "/return"
			if _, err := c.do(cmd.Context(), request{method: "POST", path: path, body: body}, &res); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Returned: lead %s by %s, %s credited, %s clawed back; the lead is %s.\n",
				res.LeadID, buyer, res.Credited, res.Clawback, res.Status)
			return nil
		},
	}
	cmd.Flags().StringVar(&buyer, "buyer", "", "the buyer whose sale is returned")
	cmd.Flags().StringVar(&reason, "reason", "", "why (recorded on the sale and in the timeline)")
	return cmd
}
