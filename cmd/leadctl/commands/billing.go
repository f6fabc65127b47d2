package commands

import (
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/leadrelay/leadrelay/shared/money"
)

// buyersCmd is buyer billing and health: leadctl buyers
// balance|topup|billing|health.
func buyersCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "buyers", Short: "Buyers: their health, prepaid balances, top-up links, statements (docs/billing.md)"}
	cmd.AddCommand(buyersBalanceCmd(g), buyersTopUpCmd(g), buyersBillingCmd(g), buyersHealthCmd(g))
	return cmd
}

// balanceView is GET /v1/admin/buyers/{id}/balance.
type balanceView struct {
	Buyer        string       `json:"buyer"`
	Mode         string       `json:"mode"`
	Balance      money.Amount `json:"balance"`
	Funded       money.Amount `json:"funded"`
	Currency     string       `json:"currency"`
	LastTopUpAt  *time.Time   `json:"last_topup_at"`
	LowBalance   money.Amount `json:"low_balance"`
	AutoRecharge *struct {
		Below  money.Amount `json:"below"`
		Amount money.Amount `json:"amount"`
	} `json:"auto_recharge"`
	Notice string `json:"notice"`
}

func buyersBalanceCmd(g *globals) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "balance ID",
		Short: "Show a prepaid buyer's balance",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := newClient(cmd.Context(), g)
			if err != nil {
				return err
			}
			var raw json.RawMessage
			if _, err := c.do(cmd.Context(), request{method: "GET", path: "/v1/admin/buyers/" + url.PathEscape(args[0]) + "/balance"}, &raw); err != nil {
				return err
			}
			if asJSON {
				_, err := fmt.Fprintln(cmd.OutOrStdout(), string(raw))
				return err
			}
			var v balanceView
			if err := json.Unmarshal(raw, &v); err != nil {
				return fmt.Errorf("decode balance: %w", err)
			}
			printBalance(cmd.OutOrStdout(), &v)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the API's JSON")
	return cmd
}

func printBalance(w io.Writer, v *balanceView) {
	cur := strings.ToUpper(v.Currency)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "buyer\t%s (%s)\n", v.Buyer, v.Mode)
	balance := v.Balance.String() + " " + cur
	if v.Notice != "" {
		balance += "  (" + v.Notice + ")"
	}
	fmt.Fprintf(tw, "balance\t%s\n", balance)
	fmt.Fprintf(tw, "funded\t%s %s\n", v.Funded, cur)
	last := "never"
	if v.LastTopUpAt != nil {
		last = v.LastTopUpAt.UTC().Format(time.RFC3339)
	}
	fmt.Fprintf(tw, "last top-up\t%s\n", last)
	low := "off"
	if v.LowBalance > 0 {
		low = v.LowBalance.String() + " " + cur
	}
	fmt.Fprintf(tw, "low balance\t%s\n", low)
	recharge := "off"
	if ar := v.AutoRecharge; ar != nil {
		recharge = fmt.Sprintf("%s %s when under %s", ar.Amount, cur, ar.Below)
	}
	fmt.Fprintf(tw, "auto-recharge\t%s\n", recharge)
	tw.Flush()
}

func buyersTopUpCmd(g *globals) *cobra.Command {
	var amount, key string
	cmd := &cobra.Command{
		Use:   "topup ID --amount 200",
		Short: "Make a Stripe Checkout link that tops up a prepaid buyer's balance; send it to the buyer",
		Long: "Creates a Stripe Checkout session of the amount for the buyer's Stripe customer and prints its link.\n" +
			"The balance is credited when the buyer has paid (Stripe's webhook), not now. Running it again\n" +
			"with the same --idempotency-key prints the same link.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			a, err := money.Parse(amount)
			if err != nil || a <= 0 {
				return fmt.Errorf("--amount %q: want a positive amount such as 200 or 49.50", amount)
			}
			c, err := newClient(cmd.Context(), g)
			if err != nil {
				return err
			}
			body, _ := json.Marshal(map[string]money.Amount{"amount": a})
			r := request{method: "POST", path: "/v1/admin/buyers/" + url.PathEscape(args[0]) + "/topup", body: body, idempotencyKey: key}
			var res struct {
				Buyer     string       `json:"buyer"`
				URL       string       `json:"url"`
				SessionID string       `json:"session_id"`
				Amount    money.Amount `json:"amount"`
				Currency  string       `json:"currency"`
			}
			if _, err := c.do(cmd.Context(), r, &res); err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "Top-up of %s %s for %s (Stripe Checkout session %s); send the buyer this link:\n",
				res.Amount, strings.ToUpper(res.Currency), res.Buyer, res.SessionID)
			fmt.Fprintln(cmd.OutOrStdout(), res.URL)
			return nil
		},
	}
	cmd.Flags().StringVar(&amount, "amount", "", "what the buyer pays, in the billing currency (at least 0.50)")
	cmd.Flags().StringVar(&key, "idempotency-key", "", "the same key gives the same link (default: a new link each time)")
	_ = cmd.MarkFlagRequired("amount")
	return cmd
}

// statementView is GET /v1/admin/buyers/{id}/billing.
type statementView struct {
	Buyer    string `json:"buyer"`
	Period   string `json:"period"`
	From     string `json:"from"`
	To       string `json:"to"`
	Mode     string `json:"mode"`
	Customer string `json:"stripe_customer"`
	Currency string `json:"currency"`
	Charges  []struct {
		ID     string       `json:"id"`
		Kind   string       `json:"kind"`
		LeadID string       `json:"lead_id"`
		Amount money.Amount `json:"amount"`
		At     time.Time    `json:"at"`
		Status string       `json:"status"`
		Failed string       `json:"failed"`
	} `json:"charges"`
	Totals struct {
		Sales         int          `json:"sales"`
		SalesAmount   money.Amount `json:"sales_amount"`
		Credits       int          `json:"credits"`
		CreditsAmount money.Amount `json:"credits_amount"`
		Net           money.Amount `json:"net"`
		Sent          int          `json:"sent"`
		Pending       int          `json:"pending"`
		Failed        int          `json:"failed"`
	} `json:"totals"`
}

func buyersBillingCmd(g *globals) *cobra.Command {
	var period string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "billing ID [--period YYYY-MM]",
		Short: "Show what a buyer was billed and credited in a month, charge by charge, and whether Stripe has it",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if period != "" {
				if _, err := time.Parse("2006-01", period); err != nil {
					return fmt.Errorf("--period %q: want a month YYYY-MM", period)
				}
			}
			c, err := newClient(cmd.Context(), g)
			if err != nil {
				return err
			}
			path := "/v1/admin/buyers/" + url.PathEscape(args[0]) + "/billing"
			if period != "" {
				path += "?" + url.Values{"period": {period}}.Encode()
			}
			var raw json.RawMessage
			if _, err := c.do(cmd.Context(), request{method: "GET", path: path}, &raw); err != nil {
				return err
			}
			if asJSON {
				_, err := fmt.Fprintln(cmd.OutOrStdout(), string(raw))
				return err
			}
			var s statementView
			if err := json.Unmarshal(raw, &s); err != nil {
				return fmt.Errorf("decode statement: %w", err)
			}
			return printStatement(cmd.OutOrStdout(), &s)
		},
	}
	cmd.Flags().StringVar(&period, "period", "", "the month, YYYY-MM in the agency's timezone (default: this month)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the API's JSON")
	return cmd
}

func printStatement(w io.Writer, s *statementView) error {
	cur := strings.ToUpper(s.Currency)
	fmt.Fprintf(w, "Buyer %s (%s", s.Buyer, s.Mode)
	if s.Customer != "" {
		fmt.Fprintf(w, ", Stripe %s", s.Customer)
	}
	fmt.Fprintf(w, "), %s (%s to %s), %s\n\n", s.Period, s.From, s.To, cur)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row(tw, "TIME", "KIND", "LEAD", "AMOUNT", "STATUS", "CHARGE")
	for _, c := range s.Charges {
		amt := c.Amount.String()
		if c.Kind == "credit" {
			amt = (-c.Amount).String()
		}
		status := c.Status
		if c.Failed != "" {
			status += ": " + c.Failed
		}
		row(tw, c.At.UTC().Format(time.RFC3339), c.Kind, c.LeadID, amt, status, c.ID)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	t := s.Totals
	fmt.Fprintf(w, "\n%d sale(s) %s, %d credit(s) %s, net %s %s (the P&L's revenue of %s from %s to %s)\n",
		t.Sales, t.SalesAmount, t.Credits, t.CreditsAmount, t.Net, cur, s.Buyer, s.From, s.To)
	fmt.Fprintf(w, "Stripe: %d sent, %d pending, %d failed\n", t.Sent, t.Pending, t.Failed)
	if t.Failed > 0 {
		fmt.Fprintln(w, "Stripe refused the failed charges (STATUS says why): bill or credit them in Stripe by hand.")
	}
	return nil
}
