package commands

import (
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/leadrelay/leadrelay/shared/lead"
)

// applied is the answer to a configuration change.
type applied struct {
	Version int64 `json:"version"`
	Changed bool  `json:"changed"`
}

// statusCmd is pause or resume: of a buyer, or of one order
// ("BUYER/ORDER").
func statusCmd(g *globals, verb string) *cobra.Command {
	cmd := &cobra.Command{
		Use:   verb + " buyer ID | order BUYER/ORDER",
		Short: strings.ToUpper(verb[:1]) + verb[1:] + " a buyer or one of its orders",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			var path string
			switch args[0] {
			case "buyer":
				path = "/v1/admin/buyers/" + url.PathEscape(args[1]) + "/" + verb
			case "order":
				buyer, order, ok := strings.Cut(args[1], "/")
				if !ok || buyer == "" || order == "" {
					return fmt.Errorf("name the order as BUYER/ORDER, not %q", args[1])
				}
				path = "/v1/admin/buyers/" + url.PathEscape(buyer) + "/orders/" + url.PathEscape(order) + "/" + verb
			default:
				return fmt.Errorf("%s what? want buyer or order, not %q", verb, args[0])
			}
			c, err := newClient(cmd.Context(), g)
			if err != nil {
				return err
			}
			var res applied
			if _, err := c.do(cmd.Context(), request{method: "POST", path: path}, &res); err != nil {
				return err
			}
			state := map[string]string{"pause": "paused", "resume": "active"}[verb]
			if res.Changed {
				fmt.Fprintf(cmd.OutOrStdout(), "%s %s is %s (version %d).\n", args[0], args[1], state, res.Version)
			} else {
				fmt.Fprintf(cmd.OutOrStdout(), "%s %s was already %s (version %d).\n", args[0], args[1], state, res.Version)
			}
			return nil
		},
	}
	return cmd
}

func leadsCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "leads", Short: "Find leads, look at a lead's timeline, send it through routing again, mark it returned"}
	cmd.AddCommand(&cobra.Command{
		Use:   "get ID",
		Short: "Show a lead and its timeline",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := newClient(cmd.Context(), g)
			if err != nil {
				return err
			}
			var rec lead.Record
			if _, err := c.do(cmd.Context(), request{method: "GET", path: "/v1/admin/leads/" + url.PathEscape(args[0])}, &rec); err != nil {
				return err
			}
			printLead(cmd.OutOrStdout(), &rec)
			return nil
		},
	}, &cobra.Command{
		Use:   "reroute ID",
		Short: "Send an unsold or rejected lead through routing again",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := newClient(cmd.Context(), g)
			if err != nil {
				return err
			}
			var res struct {
				LeadID string `json:"lead_id"`
				Status string `json:"status"`
			}
			if _, err := c.do(cmd.Context(), request{method: "POST", path: "/v1/admin/leads/" + url.PathEscape(args[0]) + "/reroute"}, &res); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "lead %s is %s again.\n", res.LeadID, res.Status)
			return nil
		},
	}, leadsSearchCmd(g), leadsReturnCmd(g))
	return cmd
}

func printLead(w io.Writer, rec *lead.Record) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "lead\t%s\n", rec.ID)
	fmt.Fprintf(tw, "campaign\t%s\n", rec.Campaign)
	fmt.Fprintf(tw, "source\t%s\n", rec.Source)
	fmt.Fprintf(tw, "status\t%s (round %d)\n", rec.Status, rec.Seq)
	fmt.Fprintf(tw, "created\t%s\n", rec.CreatedAt.UTC().Format(time.RFC3339))
	if rec.Test {
		fmt.Fprintf(tw, "test\tyes\n")
	}
	for _, s := range rec.Sales {
		fmt.Fprintf(tw, "sold to\t%s/%s at %s (source payout %s)\n", s.Buyer, s.Order, s.Price.Decimal(), s.Payout.Decimal())
	}
	keys := make([]string, 0, len(rec.Fields))
	for k := range rec.Fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(tw, "  %s\t%v\n", k, rec.Fields[k])
	}
	tw.Flush()
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row(tw, "TIME", "EVENT", "BUYER/ORDER", "DETAIL")
	for _, ev := range rec.Events {
		who := ""
		if ev.Buyer != "" {
			who = ev.Buyer + "/" + ev.Order
		}
		detail := ev.Detail
		if len(ev.Data) > 0 {
			raw, _ := json.Marshal(ev.Data)
			d := string(raw)
			if len(d) > 120 {
				d = d[:117] + "..."
			}
			detail = strings.TrimSpace(detail + " " + d)
		}
		row(tw, ev.At.UTC().Format("2006-01-02T15:04:05.000Z"), ev.Type, who, detail)
	}
	tw.Flush()
	printExplanations(w, rec)
}

func redriveCmd(g *globals) *cobra.Command {
	var queue string
	var max int
	cmd := &cobra.Command{
		Use:   "redrive",
		Short: "Move dead letters back to their queue",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := newClient(cmd.Context(), g)
			if err != nil {
				return err
			}
			in := map[string]any{"queue": queue}
			if max > 0 {
				in["max"] = max
			}
			body, _ := json.Marshal(in)
			var res struct {
				Moved int `json:"moved"`
			}
			if _, err := c.do(cmd.Context(), request{method: "POST", path: "/v1/admin/redrive", body: body}, &res); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "moved %d message(s) from the %s DLQ back to its queue.\n", res.Moved, queue)
			return nil
		},
	}
	cmd.Flags().StringVar(&queue, "queue", "delivery", "the queue whose DLQ to redrive: delivery, routing or meta")
	cmd.Flags().IntVar(&max, "max", 0, "move at most this many messages (default: the server's, 100)")
	return cmd
}

func keysCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "keys", Short: "Issue API keys"}
	cmd.AddCommand(&cobra.Command{
		Use:   "issue source|buyer ID",
		Short: "Issue a new API key (shown once); the old key stops working",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if args[0] != "source" && args[0] != "buyer" {
				return fmt.Errorf("keys for what? want source or buyer, not %q", args[0])
			}
			c, err := newClient(cmd.Context(), g)
			if err != nil {
				return err
			}
			var res struct {
				APIKey  string `json:"api_key"`
				Version int64  `json:"version"`
			}
			if _, err := c.do(cmd.Context(), request{method: "POST", path: "/v1/admin/" + args[0] + "s/" + url.PathEscape(args[1]) + "/keys"}, &res); err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "New key for %s %s (version %d); it is shown only now:\n", args[0], args[1], res.Version)
			fmt.Fprintln(cmd.OutOrStdout(), res.APIKey)
			return nil
		},
	})
	return cmd
}

func auditCmd(g *globals) *cobra.Command {
	var limit int
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Show the newest configuration changes: who, when, what",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := newClient(cmd.Context(), g)
			if err != nil {
				return err
			}
			var res struct {
				Records []struct {
					Version int64     `json:"version"`
					At      time.Time `json:"at"`
					Actor   string    `json:"actor"`
					Action  string    `json:"action"`
					Target  string    `json:"target"`
					Changes []struct {
						Kind, ID, Action string
					} `json:"changes"`
				} `json:"records"`
			}
			if _, err := c.do(cmd.Context(), request{method: "GET", path: fmt.Sprintf("/v1/admin/audit?limit=%d", limit)}, &res); err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
			row(tw, "VERSION", "TIME", "ACTOR", "ACTION", "CHANGES")
			for _, r := range res.Records {
				var ch []string
				for _, c := range r.Changes {
					ch = append(ch, map[string]string{"add": "+", "change": "~", "remove": "-"}[c.Action]+c.Kind+" "+c.ID)
				}
				row(tw, r.Version, r.At.UTC().Format(time.RFC3339), r.Actor, r.Action, strings.Join(ch, ", "))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().IntVar(&limit, "limit", 20, "how many changes (1 to 200)")
	return cmd
}
