package admin

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/leadrelay/leadrelay/shared/config"
	"github.com/leadrelay/leadrelay/shared/feedback"
	"github.com/leadrelay/leadrelay/shared/store"
)

// LoopActor is the audit log's actor for the feedback loops' changes.
const LoopActor = "feedback-loop"

// Notifier tells people what the loops did (a Slack incoming webhook).
type Notifier interface {
	Post(ctx context.Context, url, text string) error
}

// RunLoops runs the feedback loops once (on a schedule): each judges the
// window's figures from the ledger (returns and fraud returns per source
// and sub-id; offers and sales per order) and what it did, by itself, is a
// configuration change like an operator's — in the audit log under
// LoopActor, announced on the loops' Slack channel, and undone by an
// operator the same way (resume the source; put the order back).
func (h *Handler) RunLoops(ctx context.Context) ([]feedback.Action, error) {
	cur, err := h.Store.LoadConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("load configuration: %w", err)
	}
	fb := cur.Feedback
	if fb.Sources == nil && fb.Orders == nil {
		return nil, nil
	}
	sources, orders, err := h.loopStats(ctx, cur, fb)
	if err != nil {
		return nil, err
	}
	actions := feedback.Evaluate(fb, sources, orders, loopState(cur))
	actions = slices.DeleteFunc(actions, func(a feedback.Action) bool { return exempt(cur, a) })
	if len(actions) == 0 {
		return nil, nil
	}
	_, _, err = h.commitAs(ctx, LoopActor, -1, "feedback loop", "", func(c *config.Config) (*config.Config, error) {
		for _, a := range actions {
			applyAction(c, a)
		}
		return config.Check(c, nil, "")
	})
	if err != nil {
		return nil, fmt.Errorf("apply the loops' actions: %w", err)
	}
	for _, a := range actions {
		h.Log.WarnContext(ctx, "feedback loop acted", "kind", a.Kind, "source", a.Source, "sub_id", a.SubID,
			"buyer", a.Buyer, "order", a.Order, "rate", a.Rate, "limit", a.Limit, "reason", a.Reason)
	}
	h.announce(ctx, cur, actions)
	return actions, nil
}

// loopStats reads the loops' windows from the ledger's day aggregates:
// every day the window touches, in the agency's timezone.
func (h *Handler) loopStats(ctx context.Context, c *config.Config, fb config.Feedback) ([]feedback.SourceStats, []feedback.OrderStats, error) {
	var window time.Duration
	if fb.Sources != nil {
		window = fb.Sources.Window.D()
	}
	if fb.Orders != nil {
		window = max(window, fb.Orders.Window.D())
	}
	loc := config.NewIndex(c).Location(c.Timezone)
	now := h.Now()
	var days []string
	for d := now.Add(-window); ; d = d.Add(time.Hour) { // by the hour: days of 23 or 25 hours
		if d.After(now) {
			d = now
		}
		if day := store.LedgerDay(d, loc); len(days) == 0 || days[len(days)-1] != day {
			days = append(days, day)
		}
		if d.Equal(now) {
			break
		}
	}
	rows, err := h.Ledger.LedgerDays(ctx, days)
	if err != nil {
		return nil, nil, fmt.Errorf("read the ledger: %w", err)
	}
	inWindow := func(day string, w config.Duration) bool {
		first := store.LedgerDay(now.Add(-w.D()), loc)
		return day >= first
	}
	src := map[string]*feedback.SourceStats{}
	for _, r := range rows {
		switch {
		case fb.Sources != nil && (r.Dimension == store.DimSource || r.Dimension == store.DimSubID) && inWindow(r.Day, fb.Sources.Window):
			s := src[r.Dimension+"#"+r.ID]
			if s == nil {
				s = &feedback.SourceStats{Source: r.ID}
				if r.Dimension == store.DimSubID {
					s.Source, s.SubID, _ = strings.Cut(r.ID, "/")
				}
				src[r.Dimension+"#"+r.ID] = s
			}
			s.Sold += int(r.Counts["sales"])
			s.Returned += int(r.Counts["returned"])
			s.Fraud += int(r.Counts["returned_fraud"])
		}
	}
	var sources []feedback.SourceStats
	for _, k := range slices.Sorted(maps.Keys(src)) {
		sources = append(sources, *src[k])
	}
	var orders []feedback.OrderStats
	if fb.Orders != nil {
		ord := orderFigures(rows, store.LedgerDay(now.Add(-fb.Orders.Window.D()), loc))
		for _, k := range slices.Sorted(maps.Keys(ord)) {
			o := feedback.OrderStats{Offered: int(ord[k].Offered), Accepted: int(ord[k].Sales)}
			o.Buyer, o.Order, _ = strings.Cut(k, "/")
			orders = append(orders, o)
		}
	}
	return sources, orders, nil
}

// loopState is what the loops paused and demoted, as the configuration
// records it.
func loopState(c *config.Config) feedback.State {
	st := feedback.State{Paused: map[string]bool{}, Demoted: map[string]bool{}}
	for _, s := range c.Sources {
		if s.Status == config.StatusPaused && s.PausedBy == config.PausedByFeedback {
			st.Paused[feedback.SourceKey(s.ID, "")] = true
		}
		for _, sub := range s.PausedSubIDs {
			st.Paused[feedback.SourceKey(s.ID, sub)] = true
		}
	}
	for _, b := range c.Buyers {
		for _, o := range b.Orders {
			if o.Demoted != nil {
				st.Demoted[config.OrderKey(b.ID, o.ID)] = true
			}
		}
	}
	return st
}

// exempt reports an action on a source or order that the loops must leave
// alone: exempt, paused by an operator, or gone.
func exempt(c *config.Config, a feedback.Action) bool {
	switch a.Kind {
	case feedback.PauseSource, feedback.RestoreSource:
		i := slices.IndexFunc(c.Sources, func(s config.Source) bool { return s.ID == a.Source })
		if i < 0 || c.Sources[i].FeedbackExempt {
			return true
		}
		s := c.Sources[i]
		// A source an operator paused stays the operator's.
		return a.SubID == "" && s.Status == config.StatusPaused && s.PausedBy != config.PausedByFeedback
	default:
		o := findOrder(c, a.Buyer, a.Order)
		return o == nil || o.FeedbackExempt
	}
}

func findOrder(c *config.Config, buyer, order string) *config.Order {
	for i := range c.Buyers {
		if c.Buyers[i].ID != buyer {
			continue
		}
		for j := range c.Buyers[i].Orders {
			if c.Buyers[i].Orders[j].ID == order {
				return &c.Buyers[i].Orders[j]
			}
		}
	}
	return nil
}

// applyAction makes one action's change to the configuration.
func applyAction(c *config.Config, a feedback.Action) {
	switch a.Kind {
	case feedback.PauseSource, feedback.RestoreSource:
		i := slices.IndexFunc(c.Sources, func(s config.Source) bool { return s.ID == a.Source })
		if i < 0 {
			return
		}
		s := &c.Sources[i]
		pause := a.Kind == feedback.PauseSource
		switch {
		case a.SubID != "" && pause && !slices.Contains(s.PausedSubIDs, a.SubID):
			s.PausedSubIDs = append(s.PausedSubIDs, a.SubID)
		case a.SubID != "" && !pause:
			s.PausedSubIDs = slices.DeleteFunc(s.PausedSubIDs, func(v string) bool { return v == a.SubID })
		case a.SubID == "" && pause:
			s.Status, s.PausedBy = config.StatusPaused, config.PausedByFeedback
		case a.SubID == "" && s.PausedBy == config.PausedByFeedback:
			s.Status, s.PausedBy = config.StatusActive, ""
		}
	case feedback.DemoteOrder:
		if o := findOrder(c, a.Buyer, a.Order); o != nil && o.Demoted == nil {
			was := config.Demotion{Priority: o.Priority, Weight: o.Weight}
			*o = feedback.Demote(*o)
			o.Demoted = &was
		}
	case feedback.RestoreOrder:
		if o := findOrder(c, a.Buyer, a.Order); o != nil && o.Demoted != nil {
			o.Priority, o.Weight, o.Demoted = o.Demoted.Priority, o.Demoted.Weight, nil
		}
	}
}

// announce tells the loops' Slack channel what they did.
func (h *Handler) announce(ctx context.Context, c *config.Config, actions []feedback.Action) {
	if c.Feedback.SlackURL == "" || h.Slack == nil || h.Secrets == nil {
		return
	}
	url, err := h.Secrets.Open(ctx, c.Feedback.SlackURL)
	if err != nil {
		h.Log.WarnContext(ctx, "open the loops' Slack URL", "error", err)
		return
	}
	var b strings.Builder
	b.WriteString("LeadRelay feedback loops:")
	for _, a := range actions {
		fmt.Fprintf(&b, "\n• %s", describe(a))
	}
	if err := h.Slack.Post(ctx, url, b.String()); err != nil {
		h.Log.WarnContext(ctx, "tell Slack what the loops did", "error", err)
	}
}

// describe says an action in a sentence.
func describe(a feedback.Action) string {
	what := "source " + a.Source
	if a.SubID != "" {
		what = "sub-id " + a.SubID + " of source " + a.Source
	}
	if a.Buyer != "" {
		what = "order " + config.OrderKey(a.Buyer, a.Order)
	}
	verb := map[string]string{
		feedback.PauseSource: "paused", feedback.RestoreSource: "restored",
		feedback.DemoteOrder: "demoted", feedback.RestoreOrder: "restored",
	}[a.Kind]
	return fmt.Sprintf("%s %s: %s", what, verb, a.Reason)
}
