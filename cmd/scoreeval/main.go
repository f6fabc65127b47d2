// Command scoreeval measures lead scoring on a synthetic market whose
// ground truth it knows (`make eval`): how well the learned model, the
// blended score and the rule score rank leads against the best any score
// could, and what min_score and the source feedback loop earn.
//
// Usage:
//
//	go run ./cmd/scoreeval [-seed 1] [-leads 20000] [-min-score 50] [-tune]
//
// See docs/scoring.md for the market and the figures.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
)

func main() {
	var cfg evalConfig
	flag.Uint64Var(&cfg.seed, "seed", 1, "the market's random seed")
	flag.IntVar(&cfg.leads, "leads", 20000, "how many leads to simulate")
	flag.IntVar(&cfg.minScore, "min-score", defaultMinScore, "the premium order's min_score when it is on")
	flag.BoolVar(&cfg.tune, "tune", false, "also compare optimisers and their settings")
	flag.Parse()
	if err := evaluate(os.Stdout, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "scoreeval:", err)
		os.Exit(1)
	}
}

// evalConfig is one evaluation's settings.
type evalConfig struct {
	seed     uint64
	leads    int
	minScore int
	tune     bool
}

// evaluate runs the evaluation and writes its report to w.
func evaluate(w io.Writer, cfg evalConfig) error {
	if cfg.leads < 500 {
		return fmt.Errorf("-leads %d: at least 500 leads are needed", cfg.leads)
	}
	r := measure(cfg)
	return r.write(w)
}
