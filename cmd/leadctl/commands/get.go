package commands

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/leadrelay/leadrelay/shared/config"
)

func getCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:       "get campaigns|sources|buyers|orders",
		Short:     "List the configuration's campaigns, sources, buyers or orders as a table",
		Args:      cobra.MatchAll(cobra.ExactArgs(1), cobra.OnlyValidArgs),
		ValidArgs: []string{"campaigns", "sources", "buyers", "orders"},
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := newClient(cmd.Context(), g)
			if err != nil {
				return err
			}
			cfg, err := loadConfig(cmd.Context(), c)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
			switch args[0] {
			case "campaigns":
				listCampaigns(tw, cfg)
			case "sources":
				listSources(tw, cfg)
			case "buyers":
				listBuyers(tw, cfg)
			case "orders":
				listOrders(tw, cfg)
			}
			return tw.Flush()
		},
	}
}

func loadConfig(ctx context.Context, c *client) (*config.Config, error) {
	var cfg config.Config
	ver, err := c.do(ctx, request{method: "GET", path: "/v1/admin/config"}, &cfg)
	if err != nil {
		return nil, err
	}
	cfg.Version, _ = strconv.ParseInt(ver, 10, 64)
	return &cfg, nil
}

func row(w io.Writer, cols ...any) {
	s := make([]string, len(cols))
	for i, c := range cols {
		s[i] = fmt.Sprint(c)
		if s[i] == "" {
			s[i] = "-"
		}
	}
	fmt.Fprintln(w, strings.Join(s, "\t"))
}

func listCampaigns(w io.Writer, cfg *config.Config) {
	row(w, "ID", "STATUS", "DISTRIBUTION", "MAX_SALES", "FIELDS", "DEDUPE")
	for _, c := range cfg.Campaigns {
		row(w, c.ID, c.Status, c.Distribution, c.MaxSales, len(c.Fields), strings.Join(c.Dedupe.Fields, ","))
	}
}

func listSources(w io.Writer, cfg *config.Config) {
	row(w, "ID", "STATUS", "CAMPAIGNS", "PAYOUT", "RATE_LIMIT")
	for _, s := range cfg.Sources {
		payout := s.Payout.Amount.Decimal()
		if s.Payout.Type == config.PayoutRevshare {
			payout = strconv.FormatFloat(s.Payout.Percent, 'f', -1, 64) + "%"
		}
		rate := "-"
		if s.RateLimit > 0 {
			rate = strconv.Itoa(s.RateLimit) + "/s"
		}
		row(w, s.ID, s.Status, strings.Join(s.Campaigns, ","), payout, rate)
	}
}

func listBuyers(w io.Writer, cfg *config.Config) {
	row(w, "ID", "STATUS", "DELIVERY", "TARGET", "ORDERS", "TIMEZONE")
	for _, b := range cfg.Buyers {
		target := b.Delivery.URL
		if target == "" {
			target = b.Delivery.To
		}
		row(w, b.ID, b.Status, b.Delivery.Type, target, len(b.Orders), b.Timezone)
	}
}

func listOrders(w io.Writer, cfg *config.Config) {
	row(w, "BUYER/ORDER", "STATUS", "CAMPAIGN", "PRICE", "PRIORITY", "WEIGHT", "FILTERS", "CAPS")
	for _, b := range cfg.Buyers {
		for _, o := range b.Orders {
			price := o.Price.Decimal()
			if o.PingURL != "" {
				price = "ping"
			}
			status := o.Status
			if b.Status == config.StatusPaused && status == config.StatusActive {
				status = "active (buyer paused)"
			}
			row(w, b.ID+"/"+o.ID, status, o.Campaign, price, o.Priority, o.Weight, len(o.Filters), caps(o.Caps))
		}
	}
}

func caps(c config.Caps) string {
	var parts []string
	for _, p := range []struct {
		name string
		n    int
	}{{"hourly", c.Hourly}, {"daily", c.Daily}, {"weekly", c.Weekly}, {"monthly", c.Monthly}} {
		if p.n > 0 {
			parts = append(parts, fmt.Sprintf("%s=%d", p.name, p.n))
		}
	}
	if c.DailyBudget > 0 {
		parts = append(parts, "daily_budget="+c.DailyBudget.Decimal())
	}
	if c.MonthlyBudget > 0 {
		parts = append(parts, "monthly_budget="+c.MonthlyBudget.Decimal())
	}
	return strings.Join(parts, ",")
}
