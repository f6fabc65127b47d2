# LeadRelay — the front door. `make run` runs the whole platform locally on
# an AWS-compatible emulator; `make test` runs every test.
SHELL := /bin/bash
GO ?= go
EMULATOR_ENV := AWS_ENDPOINT_URL=$${AWS_ENDPOINT_URL:-http://127.0.0.1:4566} AWS_REGION=$${AWS_REGION:-us-east-1} \
	AWS_ACCESS_KEY_ID=$${AWS_ACCESS_KEY_ID:-test} AWS_SECRET_ACCESS_KEY=$${AWS_SECRET_ACCESS_KEY:-test}

.PHONY: run test unit vet bench fmt tools clean fuzz disposable-domains eval

## run: the whole platform on the emulator with the demo configuration
run:
	$(EMULATOR_ENV) ./localstack/with-emulator.sh $(GO) run ./localstack/run

## test: every test, unit and integration (starts the emulator when needed,
## with transactions holding their items 15 ms as on DynamoDB)
test: vet tools lint-openapi fuzz
	$(EMULATOR_ENV) LEADRELAY_REQUIRE_EMULATOR=1 LEADRELAY_REQUIRE_BROWSER=1 LEADRELAY_MOTO_HOLD_MS=$${LEADRELAY_MOTO_HOLD_MS:-15} \
		./localstack/with-emulator.sh $(GO) test -count=1 -timeout 20m ./...

## fuzz: a few seconds of fuzzing of what parses outside input: the lead
## decoders (JSON and form) and the configuration parser
FUZZ_TARGETS := FuzzDecodeJSON:./shared/ingest FuzzDecodeForm:./shared/ingest FuzzParse:./shared/config
FUZZ_TIME ?= 3s
fuzz:
	@for t in $(FUZZ_TARGETS); do name=$${t%%:*}; pkg=$${t#*:}; \
		out=$$($(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZ_TIME) $$pkg 2>&1) || { echo "$$out"; echo "fuzz: $$name failed (the input is saved under $$pkg/testdata/fuzz)"; exit 1; }; \
	done

## unit: the tests that need no emulator (the others skip)
unit:
	$(GO) test ./...

vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))" || { echo "gofmt needed:"; gofmt -l .; exit 1; }
	$(GO) vet ./...
	@$(GO) mod tidy -diff >/dev/null || { echo "go.mod or go.sum is not tidy: run go mod tidy"; $(GO) mod tidy -diff; exit 1; }

## tools: what the tests need beyond Go (Node for CDK synth, Debian's
## Chromium for the console's browser tests)
tools:
	@command -v node >/dev/null 2>&1 || { echo "installing Node.js for CDK synth"; \
		(apt-get update -qq && apt-get install -y -qq nodejs) >/dev/null; }
	@command -v chromium >/dev/null 2>&1 || [ -n "$$LEADRELAY_CHROMIUM" ] || { echo "installing Chromium for the console's browser tests"; \
		(apt-get update -qq && apt-get install -y -qq chromium) >/dev/null; }

## lint-openapi: docs/openapi.yaml against redocly's recommended rules
## (docs/redocly.yaml). npx fetches the pinned CLI into npm's cache once;
## --prefer-offline runs it from there without asking the registry again.
## Quiet unless it fails (Node 20 makes the CLI print a banner every run).
.PHONY: lint-openapi
REDOCLY := npx --yes --prefer-offline @redocly/cli@2.77.0
lint-openapi: tools
	@command -v npx >/dev/null 2>&1 || { echo "lint-openapi: npx not found: install Node.js 20.19+ or 22.12+ with npm"; exit 1; }
	@out=$$(REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true \
		$(REDOCLY) lint --config docs/redocly.yaml docs/openapi.yaml 2>&1) || { echo "$$out"; exit 1; }

## bench: the hot paths' benchmarks, then what a lead sold to its first
## buyer costs: AWS requests, DynamoDB write units, dollars per million
## (measured on the emulator, which it starts when needed), then each
## function's cold start: bootstrap size for arm64, package init time, AWS
## requests before the first event (infra/coldstart; docs/deploy.md)
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./shared/...
	@$(EMULATOR_ENV) ./localstack/with-emulator.sh $(GO) test -count=1 -run '^TestRequestsAndCostPerSoldLead$$' -v ./localstack/runner/ \
		| sed -n '/a lead sold to its first buyer/,/target:/p' | sed 's/^        //'
	@$(GO) run ./infra/coldstart $(LAMBDA_FUNCTIONS)

## eval: lead scoring on a synthetic market whose ground truth is known:
## the model's, the blended score's and the rule score's AUC against the
## best possible, and what min_score and the source feedback loop earn
## (cmd/scoreeval; docs/scoring.md). EVAL_FLAGS="-seed 2 -leads 40000"
eval:
	$(GO) run ./cmd/scoreeval $(EVAL_FLAGS)

clean:
	rm -rf dist cdk.out

## disposable-domains: refresh shared/scoring/data/disposable_domains.txt
## (and its README and LICENSE) from the npm package
## disposable-email-domains, at its latest dist-tag or DISPOSABLE_VERSION
disposable-domains:
	./shared/scoring/data/refresh.sh $(DISPOSABLE_VERSION)

-include infra/infra.mk
