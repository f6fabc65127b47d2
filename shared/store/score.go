package store

import (
	"strconv"
	"strings"

	"github.com/leadrelay/leadrelay/shared/lead"
)

// storedScore is a lead's score detail as its round 0 keeps it: each
// signal one string ("velocity 2-3 -15"), not a map of three named
// attributes, which keeps a typical lead's first item within 1 KB.
type storedScore struct {
	Score   int             `dynamodbav:"score"`
	Rule    int             `dynamodbav:"rule"`
	Signals []string        `dynamodbav:"signals,omitempty"`
	Model   *lead.ModelPart `dynamodbav:"model,omitempty"`
}

func compactScore(d *lead.ScoreDetail) storedScore {
	c := storedScore{Score: d.Score, Rule: d.Rule, Model: d.Model}
	for _, s := range d.Signals {
		c.Signals = append(c.Signals, s.Name+" "+s.Value+" "+strconv.FormatFloat(s.Points, 'g', -1, 64))
	}
	return c
}

// detail reads the stored form back; a signal that does not parse keeps
// its text as its name.
func (c storedScore) detail() *lead.ScoreDetail {
	d := &lead.ScoreDetail{Score: c.Score, Rule: c.Rule, Model: c.Model}
	for _, s := range c.Signals {
		name, rest, _ := strings.Cut(s, " ")
		i := strings.LastIndexByte(rest, ' ')
		if i < 0 {
			d.Signals = append(d.Signals, lead.Signal{Name: s})
			continue
		}
		p, err := strconv.ParseFloat(rest[i+1:], 64)
		if err != nil {
			d.Signals = append(d.Signals, lead.Signal{Name: s})
			continue
		}
		d.Signals = append(d.Signals, lead.Signal{Name: name, Value: rest[:i], Points: p})
	}
	return d
}
