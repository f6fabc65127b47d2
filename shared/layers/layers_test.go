package layers

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// layer is one row of the table: the packages in it (paths inside the
// module; "x/..." is x and everything under it), the layers they may
// import (their own only when listed), and the outside packages they must
// not import (path prefixes).
type layer struct {
	name   string
	pkgs   []string
	may    []string
	banned []string
}

// awsSDK is the AWS SDK: calls to AWS. (github.com/aws/aws-lambda-go
// holds the event types a handler is given; it calls nothing.)
const awsSDK = "github.com/aws/aws-sdk-go-v2"

// table is the module's layers, from the bottom up. Every package of the
// module is in exactly one.
var table = []layer{
	{
		// The business and its rules: leads, money, the configuration
		// (and its built-in presets), and the pure policies over them —
		// validation, routing, auctions, circuit breakers, returns, ping
		// tokens, the retry schedule, the deployment limits. No I/O: a
		// domain package imports only the domain, never AWS or net/http;
		// what it needs of the world it asks through an interface of its
		// own (auction.Pinger, breaker.Store, pingtoken.ParameterReader).
		name: "domain",
		pkgs: []string{
			"shared/lead", "shared/money", "shared/config/...", "shared/limits", "shared/backoff",
			"shared/validate", "shared/routing", "shared/auction", "shared/breaker", "shared/returns",
			"shared/pingtoken", "shared/scoring", "shared/feedback", "shared/billing",
		},
		may:    []string{"domain"},
		banned: []string{awsSDK, "github.com/aws/aws-lambda-go", "net/http"},
	},
	{
		// The public HTTP API's wire format behind API Gateway (requests,
		// answers, the one error shape, the router of paths) and who is
		// calling (API keys), and how often it may (per-source rates): what
		// every handler that answers HTTP shares.
		name:   "api",
		pkgs:   []string{"shared/httpapi", "shared/auth", "shared/ratelimit"},
		may:    []string{"domain", "api"},
		banned: []string{awsSDK},
	},
	{
		// The outside world: DynamoDB, SQS, SES, SSM Parameter Store, and
		// HTTP to buyers (posts, pings, Google Sheets), sources
		// (postbacks), Slack, the ad platforms' reporting APIs (ad spend)
		// and Meta's Conversions API, and Stripe (with the fakes of
		// Sheets and Stripe that tests on loopback use).
		// An adapter carries the domain to and from one service; it may
		// use another adapter (email renders with webhook), never a
		// handler.
		name: "adapter",
		pkgs: []string{
			"shared/store", "shared/queue", "shared/email", "shared/notify", "shared/webhook",
			"shared/postback", "shared/pinger", "shared/paramstore", "shared/secrets", "shared/adspend",
			"shared/conversions", "shared/sheets/...", "shared/stripe/...",
			// Twilio's webhooks and TwiML; the offer of a lead to an order
			// as the store reserves it (the router's and the calls').
			"shared/twilio", "shared/offer",
			// Amazon Cognito's hosted login and token endpoint, and the
			// ID tokens it signs: the console's operators deployed.
			"shared/cognito",
		},
		may: []string{"domain", "adapter"},
	},
	{
		// One function's logic each: an event comes in, the domain
		// decides, adapters carry it out. A handler never imports another
		// handler — what two of them share belongs in a layer below — nor
		// the AWS SDK, which only adapters call. The operators' console
		// (shared/console) answers the admin function's /console pages
		// over the admin API, called in-process through an interface of
		// its own.
		name: "handler",
		pkgs: []string{
			"shared/ingest", "shared/router", "shared/delivery", "shared/admin", "shared/ping",
			"shared/aggregate", "shared/sweeper", "shared/console",
		},
		may:    []string{"domain", "api", "adapter"},
		banned: []string{awsSDK},
	},
	{
		// Settings from the environment, and the one place that builds
		// the handlers with their adapters and AWS clients (shared/app,
		// with a package per function under it so that each function
		// links only what it serves).
		name: "wiring",
		pkgs: []string{"shared/settings", "shared/app/..."},
		may:  []string{"domain", "api", "adapter", "handler", "wiring"},
	},
	{
		// A Lambda's main.go: settings, AWS config, lambda.Start — the
		// wiring and nothing else.
		name: "function",
		pkgs: []string{"functions/..."},
		may:  []string{"wiring"},
	},
	{
		// leadctl, a client of the operators' API: it reads configuration
		// files and leads (the domain), never the table or a handler.
		name: "cli",
		pkgs: []string{"cmd/..."},
		may:  []string{"domain", "cli"},
	},
	{
		// The CDK app: it shares the deployment limits with the
		// configuration, and nothing else of the code.
		name: "infra",
		pkgs: []string{"infra/..."},
		may:  []string{"domain"},
	},
	{
		// The local runner and the emulator: they run the real handlers in
		// one process against an AWS-compatible endpoint, so they may
		// import anything.
		name: "local",
		pkgs: []string{"localstack/..."},
		may:  []string{"domain", "api", "adapter", "handler", "wiring", "local"},
	},
	{
		// This package: the table and its test.
		name: "layers",
		pkgs: []string{"shared/layers"},
	},
}

// pkg is what `go list` says of a package.
type pkg struct {
	ImportPath string
	Imports    []string
}

// TestImportsRunDownward fails on an import the table does not allow, on
// a banned outside import, and on a package in no layer.
func TestImportsRunDownward(t *testing.T) {
	module, pkgs := list(t)
	layerOf := func(path string) *layer {
		rel, ok := strings.CutPrefix(path, module+"/")
		if !ok {
			return nil
		}
		for i := range table {
			if slices.ContainsFunc(table[i].pkgs, func(p string) bool { return matches(p, rel) }) {
				return &table[i]
			}
		}
		return nil
	}
	for _, p := range pkgs {
		from := layerOf(p.ImportPath)
		if from == nil {
			t.Errorf("%s is in no layer: add it to the table in shared/layers/layers_test.go", p.ImportPath)
			continue
		}
		for _, imp := range p.Imports {
			if strings.HasPrefix(imp, module+"/") {
				to := layerOf(imp)
				if to != nil && !slices.Contains(from.may, to.name) {
					t.Errorf("%s (%s) imports %s (%s): a %s package may import only %v",
						p.ImportPath, from.name, imp, to.name, from.name, from.may)
				}
				continue
			}
			for _, b := range from.banned {
				if imp == b || strings.HasPrefix(imp, b+"/") {
					t.Errorf("%s (%s) imports %s: a %s package never imports %s", p.ImportPath, from.name, imp, from.name, b)
				}
			}
		}
	}
}

// Every row names packages that exist, so the table cannot rot, and no
// package is in two layers.
func TestTableNamesRealPackages(t *testing.T) {
	module, pkgs := list(t)
	for _, p := range pkgs {
		rel := strings.TrimPrefix(p.ImportPath, module+"/")
		var in []string
		for _, l := range table {
			if slices.ContainsFunc(l.pkgs, func(e string) bool { return matches(e, rel) }) {
				in = append(in, l.name)
			}
		}
		if len(in) > 1 {
			t.Errorf("%s is in layers %v: one only", p.ImportPath, in)
		}
	}
	for _, l := range table {
		for _, p := range l.pkgs {
			if !slices.ContainsFunc(pkgs, func(q pkg) bool { return matches(p, strings.TrimPrefix(q.ImportPath, module+"/")) }) {
				t.Errorf("layer %s names %s, which matches no package of %s", l.name, p, module)
			}
		}
	}
}

// matches reports whether a table entry names the package at rel (its
// path inside the module): the package itself, or for "x/..." x and
// everything under it.
func matches(entry, rel string) bool {
	if dir, ok := strings.CutSuffix(entry, "/..."); ok {
		return rel == dir || strings.HasPrefix(rel, dir+"/")
	}
	return rel == entry
}

// list runs `go list` over the module: its path, and every package with
// its imports. Tests' imports are not checked: a test may reach across
// layers (limits' test holds the ping handler's budget to the ping
// function's timeout).
func list(t *testing.T) (string, []pkg) {
	t.Helper()
	goCmd, err := exec.LookPath("go")
	if err != nil {
		goCmd = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	run := func(args ...string) []byte {
		cmd := exec.Command(goCmd, args...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
		}
		return out
	}
	module := strings.TrimSpace(string(run("list", "-m")))
	dec := json.NewDecoder(bytes.NewReader(run("list", "-json=ImportPath,Imports", module+"/...")))
	var pkgs []pkg
	for {
		var p pkg
		err := dec.Decode(&p)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("decode go list: %v", err)
		}
		pkgs = append(pkgs, p)
	}
	if len(pkgs) == 0 {
		t.Fatal("go list found no package")
	}
	return module, pkgs
}
