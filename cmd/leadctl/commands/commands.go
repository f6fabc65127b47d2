// Package commands is leadctl, the operators' command line: configuration
// as code (apply, diff), listings, pausing buyers and orders, lead
// timelines, re-routing and redrive, over the admin API.
package commands

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/leadrelay/leadrelay/shared/config"
)

// DefaultEndpoint is the local runner's address.
const DefaultEndpoint = "http://127.0.0.1:8080"

// IO is leadctl's environment: its streams, its environment variables,
// and whether standard input is a terminal (apply asks for confirmation
// only there).
type IO struct {
	In         io.Reader
	Out, Err   io.Writer
	Getenv     func(string) string
	IsTerminal func() bool
}

type globals struct {
	endpoint, token string
	sigv4           bool
	region, profile string
	timeout         time.Duration
	in              io.Reader
	isTerminal      func() bool
}

// New returns the root command.
func New(env IO) *cobra.Command {
	g := &globals{in: env.In, isTerminal: env.IsTerminal}
	endpoint := env.Getenv("LEADRELAY_ENDPOINT")
	if endpoint == "" {
		endpoint = DefaultEndpoint
	}
	root := &cobra.Command{
		Use:           "leadctl",
		Short:         "Operate LeadRelay: configuration as code, buyers, leads and queues",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(env.In)
	root.SetOut(env.Out)
	root.SetErr(env.Err)
	f := root.PersistentFlags()
	f.StringVar(&g.endpoint, "endpoint", endpoint, "the API's base URL (env LEADRELAY_ENDPOINT)")
	f.StringVar(&g.token, "token", env.Getenv("LEADRELAY_ADMIN_TOKEN"), "the operator token of the local runner (env LEADRELAY_ADMIN_TOKEN)")
	f.BoolVar(&g.sigv4, "sigv4", false, "sign requests with AWS SigV4 (the default when no token is set and the endpoint is https)")
	f.StringVar(&g.region, "region", "", "AWS region for SigV4 (default: the AWS profile's)")
	f.StringVar(&g.profile, "profile", "", "AWS profile for SigV4 (default: AWS_PROFILE or default)")
	f.DurationVar(&g.timeout, "timeout", 30*time.Second, "how long one API call may take")

	root.AddCommand(applyCmd(g), diffCmd(g), getCmd(g), statusCmd(g, "pause"), statusCmd(g, "resume"),
		leadsCmd(g), redriveCmd(g), keysCmd(g), auditCmd(g), spendCmd(g), reportCmd(g), suppressCmd(g),
		buyersCmd(g))
	return root
}

// Execute runs leadctl with args and returns the process's exit code.
func Execute(ctx context.Context, env IO, args []string) int {
	root := New(env)
	root.SetArgs(args)
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintln(env.Err, "error:", err)
		return 1
	}
	return 0
}

func readFile(g *globals, path string) ([]byte, error) {
	if path == "" {
		return nil, errors.New("name the configuration with -f file.yaml")
	}
	if path == "-" {
		return io.ReadAll(g.in)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read configuration: %w", err)
	}
	return b, nil
}

func contentType(path string) string {
	if strings.HasSuffix(path, ".json") {
		return "application/json"
	}
	return "application/yaml"
}

// plan asks the API what applying the file would change.
func plan(ctx context.Context, c *client, doc []byte, ct string) (config.Plan, error) {
	var p config.Plan
	_, err := c.do(ctx, request{method: "POST", path: "/v1/admin/config/plan", body: doc, contentType: ct}, &p)
	return p, err
}

func diffCmd(g *globals) *cobra.Command {
	var file string
	cmd := &cobra.Command{
		Use:   "diff -f file.yaml",
		Short: "Show what apply would add, change and remove, without changing anything",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			doc, err := readFile(g, file)
			if err != nil {
				return err
			}
			c, err := newClient(cmd.Context(), g)
			if err != nil {
				return err
			}
			p, err := plan(cmd.Context(), c, doc, contentType(file))
			if err != nil {
				return err
			}
			fmt.Fprint(cmd.OutOrStdout(), p.String())
			return nil
		},
	}
	cmd.Flags().StringVarP(&file, "file", "f", "", "the configuration (YAML or JSON; - for standard input)")
	return cmd
}

func applyCmd(g *globals) *cobra.Command {
	var file string
	var yes bool
	cmd := &cobra.Command{
		Use:   "apply -f file.yaml",
		Short: "Apply a whole configuration: show the plan, confirm, apply it unless it changed meanwhile",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, out := cmd.Context(), cmd.OutOrStdout()
			doc, err := readFile(g, file)
			if err != nil {
				return err
			}
			c, err := newClient(ctx, g)
			if err != nil {
				return err
			}
			p, err := plan(ctx, c, doc, contentType(file))
			if err != nil {
				return err
			}
			fmt.Fprint(out, p.String())
			if len(p.Changes) == 0 {
				return nil
			}
			if !yes {
				if file == "-" || g.isTerminal == nil || !g.isTerminal() {
					return errors.New("not applied: standard input is not a terminal; pass --yes to apply without confirmation")
				}
				fmt.Fprintf(out, "Apply these changes over version %d? [y/N] ", p.Version)
				answer, _ := bufio.NewReader(g.in).ReadString('\n')
				if a := strings.ToLower(strings.TrimSpace(answer)); a != "y" && a != "yes" {
					fmt.Fprintln(out, "Not applied.")
					return nil
				}
			}
			var res struct {
				Version int64 `json:"version"`
				Changed bool  `json:"changed"`
			}
			_, err = c.do(ctx, request{method: "PUT", path: "/v1/admin/config", body: doc, contentType: contentType(file), ifMatch: fmt.Sprint(p.Version)}, &res)
			var ae *apiError
			if errors.As(err, &ae) && ae.Detail.Code == "version_conflict" {
				return fmt.Errorf("not applied: someone changed the configuration after the plan was made; run leadctl diff again\n  %w", err)
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "Applied: version %d.\n", res.Version)
			return nil
		},
	}
	cmd.Flags().StringVarP(&file, "file", "f", "", "the configuration (YAML or JSON)")
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "apply without asking (scripts, CI)")
	return cmd
}
