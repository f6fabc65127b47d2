# infra/infra.mk: build, synth and deploy targets for the LeadRelay CDK app.
# Included by the top-level Makefile (`include infra/infra.mk`); every
# variable below can be overridden on the command line or before the include.
# See docs/deploy.md.

# The Lambda functions: functions/<name> builds to $(LAMBDA_DIST)/<name>/bootstrap.
LAMBDA_FUNCTIONS ?= ingest router delivery admin ping aggregate sweeper
LAMBDA_DIST ?= dist/lambda
# Target architecture of the functions on AWS: arm64 (default), or x86_64/amd64.
LAMBDA_ARCH ?= arm64
# LocalStack runs Lambdas on the host's architecture.
HOST_GOARCH := $(shell go env GOARCH)

# Exact CLI versions (they must read cloud assembly schema 54, written by
# aws-cdk-lib 2.270 through github.com/aws/aws-cdk-go/awscdk/v2 v2.270.0).
CDK_CLI_VERSION ?= 2.1148.1
CDKLOCAL_VERSION ?= 3.0.4
CDK ?= npx --yes aws-cdk@$(CDK_CLI_VERSION)
CDKLOCAL ?= npx --yes -p aws-cdk@$(CDK_CLI_VERSION) -p aws-cdk-local@$(CDKLOCAL_VERSION) cdklocal
CDK_OUT ?= cdk.out

# Deploy settings, passed to the app as CDK context (docs/deploy.md).
ALARM_EMAIL ?=
DELETION_PROTECTION ?=
# NAG=true runs cdk-nag's AwsSolutions checks in the synth (`make nag`).
NAG ?=
CDK_DEPLOY_FLAGS ?=

LOCALSTACK_COMPOSE ?= localstack/docker-compose.yml
LOCALSTACK_URL ?= http://127.0.0.1:4566
LOCALSTACK_REGION ?= us-east-1
# cdklocal needs an S3 endpoint with ".s3." in it when AWS_ENDPOINT_URL is set.
LOCALSTACK_S3_URL ?= http://s3.localhost.localstack.cloud:4566
LOCALSTACK_WAIT_SECONDS ?= 180

# Lambda's name for a Go architecture: $(call leadrelay_lambda_arch,amd64) = x86_64.
leadrelay_lambda_arch = $(if $(filter x86_64 amd64,$(1)),x86_64,$(if $(filter arm64 aarch64,$(1)),arm64,$(error unsupported LAMBDA_ARCH '$(1)': use arm64 or x86_64)))
# Go's name for a Lambda architecture: $(call leadrelay_go_arch,x86_64) = amd64.
leadrelay_go_arch = $(if $(filter x86_64,$(call leadrelay_lambda_arch,$(1))),amd64,arm64)

# Context flags for the CDK CLI, and the same as JSON for a CLI-less synth.
leadrelay_empty :=
leadrelay_space := $(leadrelay_empty) $(leadrelay_empty)
leadrelay_comma := ,
LEADRELAY_CDK_CONTEXT = -c assetsDir=$(LAMBDA_DIST) $(if $(ALARM_EMAIL),-c alarmEmail=$(ALARM_EMAIL)) $(if $(DELETION_PROTECTION),-c deletionProtection=$(DELETION_PROTECTION)) $(if $(NAG),-c nag=$(NAG))
LEADRELAY_CDK_CONTEXT_JSON = {$(subst $(leadrelay_space),$(leadrelay_comma),$(strip "assetsDir":"$(LAMBDA_DIST)" $(if $(ALARM_EMAIL),"alarmEmail":"$(ALARM_EMAIL)") $(if $(DELETION_PROTECTION),"deletionProtection":"$(DELETION_PROTECTION)") $(if $(NAG),"nag":"$(NAG)")))}

# jsii prints a banner on every start under Node 20 (end of life); Node 22+ is
# recommended, 20 still works.
LEADRELAY_JSII_ENV = JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=$${JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION:-20}

# cdklocal passes only the AWS_* variables in AWS_ENVAR_ALLOWLIST on to the CDK CLI.
LEADRELAY_LOCALSTACK_ENV = AWS_ENDPOINT_URL=$(LOCALSTACK_URL) AWS_ENDPOINT_URL_S3=$(LOCALSTACK_S3_URL) \
	AWS_ENVAR_ALLOWLIST=AWS_REGION,AWS_DEFAULT_REGION AWS_REGION=$(LOCALSTACK_REGION) AWS_DEFAULT_REGION=$(LOCALSTACK_REGION) \
	AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test $(LEADRELAY_JSII_ENV) \
	LEADRELAY_LAMBDA_ARCH=$(call leadrelay_lambda_arch,$(HOST_GOARCH))

# $(call leadrelay_build_lambdas,<arm64|x86_64|amd64>)
define leadrelay_build_lambdas
	@set -e; for fn in $(LAMBDA_FUNCTIONS); do \
	  echo "build functions/$$fn -> $(LAMBDA_DIST)/$$fn/bootstrap (linux/$(call leadrelay_go_arch,$(1)))"; \
	  CGO_ENABLED=0 GOOS=linux GOARCH=$(call leadrelay_go_arch,$(1)) go build -trimpath -tags lambda.norpc -ldflags "-s -w" \
	    -o $(LAMBDA_DIST)/$$fn/bootstrap ./functions/$$fn; \
	done
endef

.PHONY: build-lambdas build-lambdas-host synth nag cdk-bootstrap deploy diff test-infra \
	localstack-up localstack-down localstack-deploy

## build-lambdas: the bootstrap binaries for AWS (LAMBDA_ARCH, default arm64)
build-lambdas:
	$(call leadrelay_build_lambdas,$(LAMBDA_ARCH))

## build-lambdas-host: the bootstrap binaries for this machine's architecture (LocalStack)
build-lambdas-host:
	$(call leadrelay_build_lambdas,$(HOST_GOARCH))

## synth: offline synth of the CloudFormation template into $(CDK_OUT)
synth: build-lambdas
	$(LEADRELAY_JSII_ENV) CDK_OUTDIR=$(CDK_OUT) CDK_CONTEXT_JSON='$(LEADRELAY_CDK_CONTEXT_JSON)' \
	  LEADRELAY_LAMBDA_ARCH=$(call leadrelay_lambda_arch,$(LAMBDA_ARCH)) go run ./infra
	@echo "template: $(CDK_OUT)/LeadRelay.template.json"

## nag: `make synth` with cdk-nag's AwsSolutions checks; fails on an unsuppressed finding
nag: NAG = true
nag: synth

## cdk-bootstrap: one-time CDK bootstrap of the current AWS account and region
cdk-bootstrap:
	$(LEADRELAY_JSII_ENV) $(CDK) bootstrap

## diff: what `make deploy` would change
diff: build-lambdas
	$(LEADRELAY_JSII_ENV) LEADRELAY_LAMBDA_ARCH=$(call leadrelay_lambda_arch,$(LAMBDA_ARCH)) \
	  $(CDK) diff $(LEADRELAY_CDK_CONTEXT)

## deploy: build and deploy the LeadRelay stack to the current AWS account and region
deploy: build-lambdas
	$(LEADRELAY_JSII_ENV) LEADRELAY_LAMBDA_ARCH=$(call leadrelay_lambda_arch,$(LAMBDA_ARCH)) \
	  $(CDK) deploy $(LEADRELAY_CDK_CONTEXT) --outputs-file $(CDK_OUT)/outputs.json $(CDK_DEPLOY_FLAGS)
	@echo "outputs: $(CDK_OUT)/outputs.json"

## test-infra: the CDK template tests (cfn-lint required)
test-infra:
	$(LEADRELAY_JSII_ENV) LEADRELAY_REQUIRE_CFN_LINT=1 go test ./infra/

## localstack-up: start LocalStack (Docker) and wait until it and its init hooks are ready
localstack-up:
	docker compose -f $(LOCALSTACK_COMPOSE) up -d
	@echo "waiting for LocalStack at $(LOCALSTACK_URL) (up to $(LOCALSTACK_WAIT_SECONDS) s)"; \
	deadline=$$(( $$(date +%s) + $(LOCALSTACK_WAIT_SECONDS) )); \
	until curl -fsS $(LOCALSTACK_URL)/_localstack/health >/dev/null 2>&1 && \
	      curl -fsS $(LOCALSTACK_URL)/_localstack/init/ready 2>/dev/null | grep -Eq '"completed": *true'; do \
	  if [ $$(date +%s) -ge $$deadline ]; then \
	    echo "LocalStack not ready after $(LOCALSTACK_WAIT_SECONDS) s" >&2; \
	    docker compose -f $(LOCALSTACK_COMPOSE) logs --tail 50 >&2; exit 1; \
	  fi; sleep 2; \
	done; echo "LocalStack is ready"

## localstack-down: stop LocalStack and drop its state
localstack-down:
	docker compose -f $(LOCALSTACK_COMPOSE) down

## localstack-deploy: deploy the stack into a running LocalStack (host-arch Lambdas)
localstack-deploy: build-lambdas-host
	$(LEADRELAY_LOCALSTACK_ENV) $(CDKLOCAL) bootstrap
	$(LEADRELAY_LOCALSTACK_ENV) $(CDKLOCAL) deploy --require-approval never \
	  -c assetsDir=$(LAMBDA_DIST) -c lambdaArch=$(call leadrelay_lambda_arch,$(HOST_GOARCH)) -c deletionProtection=false \
	  $(if $(ALARM_EMAIL),-c alarmEmail=$(ALARM_EMAIL)) --outputs-file $(CDK_OUT)/localstack-outputs.json
	@echo "outputs: $(CDK_OUT)/localstack-outputs.json"
