package main

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/leadrelay/leadrelay/shared/scoring"
)

// write prints the report.
func (r report) write(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	p := func(format string, args ...any) { fmt.Fprintf(tw, format, args...) }
	p("synthetic market: %d leads over %d days (seed %d), %.1f%% good, %.1f%% from fraud rings\n",
		r.cfg.leads, r.days, r.cfg.seed, 100*r.goodRate, 100*r.ringShare)
	p("\nheld out: the last %d leads, each scored as it arrived, with the model as it was then\n", r.heldOut)
	p("score\tAUC\tlog loss\n")
	for _, s := range r.scores {
		p("%s\t%.3f\t%.3f\n", s.name, s.auc, s.logLoss)
	}
	p("(log loss of a score: score/100 as a probability)\n")

	p("\nblend: AUC of (1-share)*rule + share*100*p\n")
	p("share\theld out\tearly (%d leads, model at %d-%d labels)\n", r.early, defaultOptions().minLabels, 4*defaultOptions().minLabels)
	for _, b := range r.blends {
		p("%s\t%.3f\t%.3f\n", b.name, b.heldOut, b.earlyAUC)
	}

	p("\noptimiser\talpha\tL1\tL2\tAUC\tlog loss\n")
	for _, o := range r.optimisers {
		p("%s\t%s\t%s\t%s\t%.3f\t%.3f\n", o.opt.Optimizer, setting(o.opt.Alpha, scoring.DefaultAlpha),
			setting(o.opt.L1, scoring.DefaultL1), setting(o.opt.L2, scoring.DefaultL2), o.auc, o.logLoss)
	}

	p("\nthe model's largest terms at the end\n")
	for _, t := range r.largest {
		p("%s\t%+.3f\n", t.Feature, t.Weight)
	}

	p("\nmoney: premium $%.0f a lead (cap %.0f%% of the daily leads, returns bad leads), cheap $%.0f; min_score %d\n",
		premiumPrice, 100*premiumCap, cheapPrice, r.cfg.minScore)
	p("policy\tpremium\tcheap\trejected\trefused\treturned\trevenue\trefunds\tnet\tsource cost\tprofit\tpauses\trestores\n")
	for _, row := range r.policies {
		m := row.money
		p("%s\t%d\t%d\t%d\t%d\t%d\t%.0f\t%.0f\t%.0f\t%.0f\t%.0f\t%d\t%d\n", row.pol.name, m.premium, m.cheap, m.rejected,
			m.refused, m.returned, m.revenue, m.refunds, m.net(), m.cost, m.profit(), m.pauses, m.restores)
	}
	p("\nmin_score alone, swept\n")
	p("policy\tpremium\treturned\tnet\tprofit\n")
	for _, row := range r.sweep {
		m := row.money
		p("%s\t%d\t%d\t%.0f\t%.0f\n", row.pol.name, m.premium, m.returned, m.net(), m.profit())
	}
	return tw.Flush()
}

// setting prints an option, its default when unset, "none" when negative.
func setting(v, def float64) string {
	switch {
	case v < 0:
		return "none"
	case v == 0:
		return fmt.Sprint(def)
	}
	return fmt.Sprint(v)
}
