# LeadRelay — the front door. `make run` runs the whole platform locally on
# an AWS-compatible emulator; `make test` runs every test.
SHELL := /bin/bash
GO ?= go
EMULATOR_ENV := AWS_ENDPOINT_URL=$${AWS_ENDPOINT_URL:-http://127.0.0.1:4566} AWS_REGION=$${AWS_REGION:-us-east-1} \
	AWS_ACCESS_KEY_ID=$${AWS_ACCESS_KEY_ID:-test} AWS_SECRET_ACCESS_KEY=$${AWS_SECRET_ACCESS_KEY:-test}

.PHONY: run test unit vet bench fmt tools clean

## run: the whole platform on the emulator with the demo configuration
run:
	$(EMULATOR_ENV) ./localstack/with-emulator.sh $(GO) run ./localstack/run

## test: every test, unit and integration (starts the emulator when needed,
## with transactions holding their items 15 ms as on DynamoDB)
test: vet tools
	$(EMULATOR_ENV) LEADRELAY_REQUIRE_EMULATOR=1 LEADRELAY_MOTO_HOLD_MS=$${LEADRELAY_MOTO_HOLD_MS:-15} \
		./localstack/with-emulator.sh $(GO) test -count=1 -timeout 20m ./...

## unit: the tests that need no emulator (the others skip)
unit:
	$(GO) test ./...

vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))" || { echo "gofmt needed:"; gofmt -l .; exit 1; }
	$(GO) vet ./...

## tools: what the tests need beyond Go (Node for CDK synth)
tools:
	@command -v node >/dev/null 2>&1 || { echo "installing Node.js for CDK synth"; \
		(apt-get update -qq && apt-get install -y -qq nodejs) >/dev/null; }

## bench: the hot paths' benchmarks, then what a lead sold to its first
## buyer costs: AWS requests, DynamoDB write units, dollars per million
## (measured on the emulator, which it starts when needed)
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./shared/...
	@$(EMULATOR_ENV) ./localstack/with-emulator.sh $(GO) test -count=1 -run '^TestRequestsAndCostPerSoldLead$$' -v ./localstack/runner/ \
		| sed -n '/a lead sold to its first buyer/,/target:/p' | sed 's/^        //'

clean:
	rm -rf dist cdk.out

-include infra/infra.mk
