package main

import (
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/jsii-runtime-go"
)

// DefaultMetaAppSecretParam is the SSM SecureString parameter holding the
// Meta app's secret, which verifies Meta Lead Ads notifications; operators
// create it before connecting a page (docs/integrations.md).
const DefaultMetaAppSecretParam = "/leadrelay/meta-app-secret"

// DefaultTwilioAuthTokenParam is the SSM SecureString parameter holding
// the Twilio account's auth token, which checks Twilio's voice webhooks'
// signatures; operators create it before pointing a number at the stack
// (docs/calls.md).
const DefaultTwilioAuthTokenParam = "/leadrelay/twilio-auth-token"

// DefaultMetaGraphURL is the Graph API, version included, the ingest
// function fetches Meta leads from (shared/settings.DefaultMetaGraphURL).
const DefaultMetaGraphURL = "https://graph.facebook.com/v21.0"

// DefaultGoogleAdsURL is the Google Ads API, version included, the admin
// function's ad spend import reads (shared/settings.DefaultGoogleAdsURL).
const DefaultGoogleAdsURL = "https://googleads.googleapis.com/v18"

// grantSpendTokens lets the admin function read the ad spend accounts'
// tokens, SSM parameters under /leadrelay/ that the configuration
// references (ssm:/leadrelay/...), with ssm:GetParameter and nothing else
// in SSM.
func (s *LeadRelayStack) grantSpendTokens(admin awslambda.Function) {
	admin.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions: jsii.Strings("ssm:GetParameter"),
		Resources: jsii.Strings(*s.FormatArn(&awscdk.ArnComponents{
			Service: jsii.String("ssm"), Resource: jsii.String("parameter"), ResourceName: jsii.String(SecretParamPrefix + "*"),
		})),
	}))
}

// grantMeta lets the ingest function take Meta Lead Ads leads: send the
// webhook's notified leads to the Meta queue (its event source mapping
// consumes them, connectQueues), and read the Meta app's secret and the
// pages' tokens, SSM parameters under /leadrelay/ that the configuration
// references (ssm:/leadrelay/...), with ssm:GetParameter and nothing else
// in SSM.
func (s *LeadRelayStack) grantMeta(ingest awslambda.Function) {
	s.MetaQueue.GrantSendMessages(ingest)
	param := func(name string) string {
		return *s.FormatArn(&awscdk.ArnComponents{
			Service: jsii.String("ssm"), Resource: jsii.String("parameter"), ResourceName: jsii.String(name),
		})
	}
	ingest.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions: jsii.Strings("ssm:GetParameter"),
		Resources: jsii.Strings(param(strings.TrimPrefix(DefaultMetaAppSecretParam, "/")), param(strings.TrimPrefix(DefaultTwilioAuthTokenParam, "/")),
			param(SecretParamPrefix+"*")),
	}))
}
