package ingest

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/leadrelay/leadrelay/shared/config"
	"github.com/leadrelay/leadrelay/shared/httpapi"
	"github.com/leadrelay/leadrelay/shared/lead"
	"github.com/leadrelay/leadrelay/shared/scoring"
	"github.com/leadrelay/leadrelay/shared/store"
)

// Models gives a campaign's current scoring model (nil, nil: none yet).
type Models interface {
	Model(ctx context.Context, campaign string) (*scoring.Model, error)
}

// Recents reads the velocity of a lead's contact values.
type Recents interface {
	RecentLeads(ctx context.Context, contacts []store.Contact, window time.Duration, now time.Time) ([]store.Recent, error)
}

// scored is a lead's score, and what its velocity read found.
type scored struct {
	detail lead.ScoreDetail
	recent []store.Recent
}

// score scores a posted lead before it is written: its signals (with the
// velocity of its phone, email and IP across sources), and the campaign's
// model once it has learned enough. A source with reject_below refuses a
// lead whose rule score is under it. Neither a failed velocity read nor a
// model that cannot be read refuses a lead: it is scored without them.
func (h *Handler) score(ctx context.Context, ix *config.Index, p posted, contacts []store.Contact, now time.Time) (scored, *httpapi.Response) {
	sc := p.camp.Scoring
	window := sc.VelocityWindow.D()
	if window <= 0 {
		window = config.DefaultVelocityWindow.D()
	}
	in := scoring.Input{Campaign: p.camp, Source: p.src.ID, Fields: p.fields, At: now, Zone: ix.LeadZone(p.camp, p.fields)}
	if s, ok := p.fields["sub_id"].(string); ok {
		in.SubID = s
	}
	var out scored
	if h.Recents != nil && len(contacts) > 0 {
		recent, err := h.Recents.RecentLeads(ctx, contacts, window, now)
		if err != nil {
			h.Log.WarnContext(ctx, "read velocity; scored without it", "source", p.src.ID, "error", err)
		}
		out.recent = recent
		in.Velocity = velocity(recent, p.src.ID)
	}
	var model *scoring.Model
	if h.Models != nil {
		m, err := h.Models.Model(ctx, p.camp.ID)
		if err != nil {
			h.Log.WarnContext(ctx, "read scoring model; scored by rules", "campaign", p.camp.ID, "error", err)
		}
		model = m
	}
	minLabels := sc.MinLabels
	if minLabels <= 0 {
		minLabels = config.DefaultMinLabels
	}
	out.detail = scoring.Score(in, model, minLabels)
	if min := p.src.RejectBelow; min > 0 && out.detail.Rule < min {
		r := lowScore(out.detail, min)
		return scored{}, &r
	}
	return out, nil
}

// velocity sums what the contact values' items say, counting the other
// sources among them.
func velocity(recent []store.Recent, source string) scoring.Velocity {
	var v scoring.Velocity
	others := map[string]bool{}
	for _, r := range recent {
		switch r.Kind {
		case store.ContactPhone:
			v.Phone += r.Leads
		case store.ContactEmail:
			v.Email += r.Leads
		case store.ContactIP:
			v.IP += r.Leads
		}
		for _, s := range r.Sources {
			if s != source {
				others[s] = true
			}
		}
	}
	v.Sources = len(others)
	return v
}

// lowScore refuses a lead whose signals score under the source's minimum,
// naming each signal that took points away.
func lowScore(d lead.ScoreDetail, min int) httpapi.Response {
	var probs []httpapi.FieldProblem
	for _, s := range d.Signals {
		if s.Points < 0 {
			probs = append(probs, httpapi.FieldProblem{Field: s.Name, Code: "low_score", Message: fmt.Sprintf("%s (%+g)", s.Why, s.Points)})
		}
	}
	return httpapi.Fields(http.StatusBadRequest, "low_score",
		fmt.Sprintf("the lead's signals score %d, under this source's minimum of %d; nothing was stored", d.Rule, min), probs)
}

// StoredTerms is how many of the model's terms a lead keeps.
const StoredTerms = 3

// stored is what a lead keeps of its score's detail: the signals that
// moved it (a signal worth no points says nothing) and the model's largest
// terms, so that the lead's first item stays within 1 KB (one write unit).
func stored(d lead.ScoreDetail) lead.ScoreDetail {
	var moved []lead.Signal
	for _, s := range d.Signals {
		if s.Points != 0 {
			moved = append(moved, s)
		}
	}
	d.Signals = moved
	if d.Model != nil {
		m := *d.Model
		m.Terms = m.Terms[:min(len(m.Terms), StoredTerms)]
		d.Model = &m
	}
	return d
}

// scoredEvent is the timeline's account of a lead's score.
func scoredEvent(now time.Time, d lead.ScoreDetail) lead.Event {
	var why []string // what cost it points; score_detail has every signal
	for _, s := range d.Signals {
		if s.Points < 0 {
			why = append(why, fmt.Sprintf("%s %s %+g", s.Name, s.Value, s.Points))
		}
	}
	detail := fmt.Sprintf("scored %d (rules %d", d.Score, d.Rule)
	if m := d.Model; m != nil {
		detail += fmt.Sprintf("; model v%d %.2f at %.0f%%", m.Version, m.Probability, 100*m.Blend)
	}
	detail += ")"
	if len(why) > 0 {
		detail += ": " + strings.Join(why, ", ")
	}
	// The detail is the lead's score_detail; the event says it in words.
	return lead.Event{At: now, Type: lead.EventScored, Detail: detail}
}

// ipContact is the consumer's IP address, from the campaign's IP field.
func ipContact(camp *config.Campaign, fields map[string]any) (store.Contact, bool) {
	name := camp.Scoring.IPField
	if name == "" {
		name = config.DefaultIPField
	}
	s, _ := fields[name].(string)
	ip := net.ParseIP(strings.TrimSpace(s))
	if ip == nil {
		return store.Contact{}, false
	}
	return store.Contact{Field: name, Kind: store.ContactIP, Value: ip.String()}, true
}
