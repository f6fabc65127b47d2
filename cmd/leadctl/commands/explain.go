package commands

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/leadrelay/leadrelay/shared/lead"
)

// printExplanations prints, after a lead's timeline, each ping-post
// auction as a table (one row a bidder) and the last routing decision's
// verdicts (one row an order): "why didn't buyer X get this lead?".
func printExplanations(w io.Writer, rec *lead.Record) {
	var last *lead.Event
	for i := range rec.Events {
		ev := &rec.Events[i]
		switch ev.Type {
		case "auction":
			fmt.Fprintf(w, "\nAUCTION %v  floor %v  %v ms (deadline %v ms)\n", ev.Data["ping_id"], ev.Data["floor"], ev.Data["duration_ms"], ev.Data["timeout_ms"])
			tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
			row(tw, "RANK", "ORDER", "OUTCOME", "BID", "BID ID", "LATENCY", "DETAIL")
			rows, _ := ev.Data["bids"].([]any)
			for _, r := range rows {
				m, _ := r.(map[string]any)
				row(tw, text(m["rank"]), text(m["order"]), text(m["outcome"]), text(m["bid"]), text(m["bid_id"]), text(m["latency_ms"])+" ms", text(m["detail"]))
			}
			tw.Flush()
		case lead.EventRouted, lead.EventNoBuyer:
			last = ev
		}
	}
	if last == nil {
		return
	}
	verdicts, _ := last.Data["verdicts"].([]any)
	if len(verdicts) == 0 {
		return
	}
	fmt.Fprintf(w, "\nROUTING (%s at %s)\n", last.Type, last.At.UTC().Format("15:04:05.000Z"))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row(tw, "ORDER", "ELIGIBLE", "RANK", "REASON", "DETAIL")
	for _, v := range verdicts {
		m, _ := v.(map[string]any)
		row(tw, text(m["order"]), text(m["eligible"]), text(m["rank"]), text(m["reason"]), text(m["detail"]))
	}
	tw.Flush()
	if n, _ := last.Data["orders"].(float64); int(n) > len(verdicts) {
		fmt.Fprintf(w, "(%d of %d orders shown; by reason: %v)\n", len(verdicts), int(n), last.Data["by_reason"])
	}
}

func text(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case float64:
		if x == float64(int64(x)) {
			return fmt.Sprint(int64(x))
		}
		return fmt.Sprint(x)
	}
	return fmt.Sprint(v)
}
