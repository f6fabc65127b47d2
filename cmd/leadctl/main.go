// Command leadctl operates LeadRelay over its admin API: configuration as
// code (apply, diff), listings, pausing buyers and orders, lead timelines,
// re-routing and redrive. See docs/operators.md.
package main

import (
	"context"
	"os"
	"os/signal"

	"github.com/leadrelay/leadrelay/cmd/leadctl/commands"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := commands.Execute(ctx, commands.IO{
		In: os.Stdin, Out: os.Stdout, Err: os.Stderr, Getenv: os.Getenv,
		IsTerminal: func() bool {
			fi, err := os.Stdin.Stat()
			return err == nil && fi.Mode()&os.ModeCharDevice != 0
		},
	}, os.Args[1:])
	stop()
	os.Exit(code)
}
