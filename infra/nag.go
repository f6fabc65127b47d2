package main

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscognito"
	"github.com/aws/aws-cdk-go/awscdk/v2/cxapi"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

// addNagChecks runs cdk-nag's AwsSolutions pack over scope when it is
// synthesized: each finding becomes an annotation (an error or a warning)
// on its resource in the cloud assembly, unless a suppression in the
// stack (nagSuppressions) names it. No report files.
func addNagChecks(scope constructs.IConstruct) {
	awscdk.Aspects_Of(scope).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{
		Reports: jsii.Bool(false),
	}), nil)
}

// The deliberate exceptions to the AwsSolutions rules, each on the
// resource it is about, with its reason (cdk-nag writes both into the
// template's Metadata, "cdk_nag"). What the pack found otherwise was fixed
// in the stack: the functions' roles carry no AWS managed policy (their own
// log group only), the alarm topic takes TLS only, the API stage logs
// errors (into a log group the stack keeps for 30 days).
const (
	// AwsSolutions-APIG4 and COG4: the methods open to API Gateway.
	reasonSourceKey = "Sources authenticate with their API key (X-API-Key or Authorization: Bearer, stored as SHA-256 only) in the handler, which answers 401/403 itself (DESIGN.md, Public interfaces); a Cognito user pool or an IAM authorizer does not fit sellers' servers posting leads machine to machine."
	reasonBuyerKey  = "Buyers authenticate with their API key (X-API-Key or Authorization: Bearer, stored as SHA-256 only) in the ingest handler, which answers 401/403 itself; a Cognito user pool or an IAM authorizer does not fit buyers' systems posting returns and outcomes machine to machine."
	reasonStripe    = "Stripe's webhook events are signed (Stripe-Signature: an HMAC-SHA256 of the timestamp and the raw body under the endpoint's signing secret); the ingest handler verifies the signature and the timestamp's age before reading the event, and answers 400 itself."
	reasonGoogleKey = "Google Ads lead form webhooks carry the form's google_key in the body (Google sends no header to authorize with); the ingest handler compares it, as a SHA-256 in constant time, with the configured form's and answers 403 itself."
	reasonTwilio    = "Twilio's voice webhooks are signed (X-Twilio-Signature: an HMAC-SHA1 of the stage's public URL and the sorted POST parameters under the account's auth token, an SSM SecureString); the ingest handler checks it in constant time before reading the call and answers 403 otherwise. Twilio sends no credential an authorizer could check."
	reasonMeta      = "Meta Lead Ads' webhook: Meta signs each notification with X-Hub-Signature-256 (an HMAC-SHA256 of the raw body under the Meta app's secret), which the ingest handler checks in constant time before reading the body (401 otherwise); the subscription check (GET) is answered only for the verify token whose SHA-256 is configured (403 otherwise). Meta sends no credential an authorizer could check."
	reasonHealth    = "GET /v1/health is the unauthenticated readiness probe: it answers 200 and no data."
	reasonAdminIAM  = "The admin API is authorized with AWS_IAM (SigV4-signed by operators' IAM principals, execute-api:Invoke); operators are IAM principals, not a Cognito user pool."
	reasonConsole   = "The operators' console (server-rendered pages in a browser) authenticates operators itself: the stack's Cognito user pool's hosted login, the code traded with a PKCE verifier and the ID token's signature, issuer, audience and expiry checked in the admin function, then its own session cookie (HttpOnly, Secure, SameSite=Strict) on every request and a CSRF token on every change; signed out it answers only its sign-in pages. A Cognito authorizer wants a bearer token in a header, which a browser following links and posting forms does not send, and would lock out the sign-in pages."

	// AwsSolutions-COG2 and COG3: the operators' user pool.
	reasonPoolMFA    = "MFA is optional and TOTP only (an authenticator app, no SMS): operators are a handful of invited people (no self sign-up) with 12-character passwords of four character classes; an agency that wants it for everyone deploys with -c cognitoMfa=required, and every operator enrolls an authenticator app at the next sign-in (docs/deploy.md, Console sign-in)."
	reasonPoolThreat = "Threat protection (advanced security, ENFORCED) needs the Plus feature plan, billed per monthly active user with no free tier, for a pool of a handful of invited operators without self sign-up, strong passwords and optional TOTP; the Essentials plan is used. An agency that wants it switches the pool to Plus with threat protection enforced (docs/deploy.md, Console sign-in)."

	reasonRequestValidation = "The handlers validate every request and answer the contract's 4xx bodies (400 validation_failed with per-field errors, 413, 415...): JSON and form-encoded posts, against each campaign's field rules in the stored configuration, which an API Gateway model cannot express; a validator would answer with its own body instead."
	reasonWAF               = "No AWS WAF web ACL by default (a monthly cost per ACL and rule): the stage throttles at 100 req/s (burst 200) and ingest enforces each source's rate; associate a web ACL with the stage where a deployment needs one (docs/deploy.md)."
	reasonCloudWatchRole    = "The account's API Gateway CloudWatch Logs role, one per account and region and shared by every REST API there: AmazonAPIGatewayPushToCloudWatchLogs is the policy API Gateway documents for it; an inline policy narrowed to this API would break the logging of other APIs in the account."
	reasonLedgerDLQ         = "LedgerDLQ is a dead-letter queue itself: the on-failure destination of the aggregate function's stream mapping (the shard and sequence numbers of a failed batch), watched by its alarm. cdk-nag recognizes only DLQs named in a queue's redrive policy."
	reasonXRay              = "Resource::* is X-Ray's: PutTraceSegments and PutTelemetryRecords have no resource-level permissions (active tracing)."
	reasonXRayListStreams   = "Resource::* is X-Ray's (PutTraceSegments and PutTelemetryRecords have no resource-level permissions) and dynamodb:ListStreams's, which takes no resource and which the stream's event source mapping needs."
)

// nagSuppression is one suppression the stack added, by construct path.
type nagSuppression struct {
	Path, Rule, Reason string
}

// suppressNag adds the stack's cdk-nag suppressions.
func (s *LeadRelayStack) suppressNag() {
	suppress := func(c constructs.IConstruct, children bool, rule, reason string, appliesTo ...string) {
		s.nagSuppressions = append(s.nagSuppressions, nagSuppression{*c.Node().Path(), rule, reason})
		sup := &cdknag.NagPackSuppression{Id: jsii.String(rule), Reason: jsii.String(reason)}
		if len(appliesTo) > 0 {
			a := make([]any, len(appliesTo))
			for i, x := range appliesTo {
				a[i] = x
			}
			sup.AppliesTo = &a
		}
		cdknag.NagSuppressions_AddResourceSuppressions(c, &[]*cdknag.NagPackSuppression{sup}, jsii.Bool(children))
	}
	for key, reason := range map[string]string{
		"POST /v1/leads":                       reasonSourceKey,
		"GET /v1/leads/{id}":                   reasonSourceKey,
		"POST /v1/pings":                       reasonSourceKey,
		"POST /v1/returns":                     reasonBuyerKey,
		"POST /v1/outcomes":                    reasonBuyerKey,
		"POST /v1/integrations/google/webhook": reasonGoogleKey,
		"POST /v1/integrations/stripe/webhook": reasonStripe,
		"GET /v1/integrations/meta/webhook":    reasonMeta,
		"POST /v1/voice/incoming":              reasonTwilio,
		"POST /v1/voice/dial-done":             reasonTwilio,
		"POST /v1/voice/status":                reasonTwilio,
		"POST /v1/integrations/meta/webhook":   reasonMeta,
		"GET /v1/health":                       reasonHealth,
		"GET /console":                         reasonConsole,
		"ANY /console/{proxy+}":                reasonConsole,
	} {
		m := s.apiMethods[key]
		suppress(m, false, "AwsSolutions-APIG4", reason)
		suppress(m, false, "AwsSolutions-COG4", reason)
	}
	suppress(s.apiMethods["ANY /v1/admin/{proxy+}"], false, "AwsSolutions-COG4", reasonAdminIAM)
	if s.UserPool != nil {
		if mfa, _ := cognitoMFA(s.Stack); mfa != awscognito.Mfa_REQUIRED {
			suppress(s.UserPool, false, "AwsSolutions-COG2", reasonPoolMFA)
		}
		suppress(s.UserPool, false, "AwsSolutions-COG3", reasonPoolThreat)
	}
	suppress(s.API, false, "AwsSolutions-APIG2", reasonRequestValidation)
	suppress(s.API.DeploymentStage(), false, "AwsSolutions-APIG3", reasonWAF)
	suppress(s.API.Node().FindChild(jsii.String("CloudWatchRole")), false, "AwsSolutions-IAM4", reasonCloudWatchRole,
		"Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs")
	suppress(s.LedgerDLQ, false, "AwsSolutions-SQS3", reasonLedgerDLQ)
	for name, fn := range s.Functions {
		reason := reasonXRay
		if name == FnAggregate {
			reason = reasonXRayListStreams
		}
		suppress(fn.Role(), true, "AwsSolutions-IAM5", reason, "Resource::*")
	}
	for _, name := range []string{FnRouter, FnDelivery, FnIngest, FnAdmin} {
		suppress(s.Functions[name].Role(), true, "AwsSolutions-IAM5", reasonSecretParams,
			"Resource::arn:<AWS::Partition>:ssm:<AWS::Region>:<AWS::AccountId>:parameter/"+SecretParamPrefix+"*")
	}
}

// reasonSecretParams: the configuration's secret fields may reference any
// SSM parameter under /leadrelay/ (ssm:/leadrelay/…), named by operators.
const reasonSecretParams = "The configuration's secret fields may reference SSM SecureString parameters (ssm:/leadrelay/...) that operators name; router and delivery read them, ingest the Meta pages' access tokens, and admin the ad spend accounts' tokens, only under /leadrelay/."

// nagFinding is one unsuppressed cdk-nag finding.
type nagFinding struct {
	Level string // "error" or "warning"
	Path  string // the construct path of the resource
	Text  string // "AwsSolutions-XXX: ..." or "AwsSolutions-XXX[finding]: ..."
}

func (f nagFinding) String() string { return fmt.Sprintf("[%s at %s] %s", f.Level, f.Path, f.Text) }

// Rule is the finding's rule id ("AwsSolutions-IAM5").
func (f nagFinding) Rule() string {
	r, _, _ := strings.Cut(f.Text, ":")
	r, _, _ = strings.Cut(r, "[")
	return r
}

// nagFindings reads the unsuppressed cdk-nag findings (errors and
// warnings) of a synthesized assembly's stacks.
func nagFindings(asm cxapi.CloudAssembly) []nagFinding {
	var out []nagFinding
	for _, st := range *asm.Stacks() {
		for _, m := range *st.Messages() {
			text := strings.TrimSpace(fmt.Sprint(m.Entry.Data))
			level := string(m.Level)
			if level != string(cxapi.SynthesisMessageLevel_ERROR) && level != string(cxapi.SynthesisMessageLevel_WARNING) {
				continue
			}
			if !strings.HasPrefix(text, "AwsSolutions-") && !strings.HasPrefix(text, "CdkNagValidationFailure") {
				continue
			}
			out = append(out, nagFinding{Level: level, Path: *m.Id, Text: text})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}

// reportNag prints the findings and fails on any: the stack has none that
// is not fixed or suppressed with a reason.
func reportNag(w io.Writer, findings []nagFinding) error {
	for _, f := range findings {
		fmt.Fprintln(w, f)
	}
	if len(findings) > 0 {
		return fmt.Errorf("cdk-nag AwsSolutions: %d unsuppressed finding(s); fix them, or suppress one with its reason in infra/nag.go", len(findings))
	}
	fmt.Fprintln(w, "cdk-nag AwsSolutions: no unsuppressed findings")
	return nil
}
