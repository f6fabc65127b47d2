package main

import (
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/jsii-runtime-go"
)

// grantPingSecret lets the functions that sign (ping) and verify (ingest)
// ping_ids read the secret's SSM parameter, and nothing else in SSM. A
// SecureString under the account's default aws/ssm key needs no KMS grant
// of its own; a customer-managed key needs kms:Decrypt added for it.
func (s *LeadRelayStack) grantPingSecret(fns ...awslambda.Function) {
	arn := s.FormatArn(&awscdk.ArnComponents{
		Service:      jsii.String("ssm"),
		Resource:     jsii.String("parameter"),
		ResourceName: jsii.String(strings.TrimPrefix(DefaultPingSecretParam, "/")),
	})
	for _, fn := range fns {
		fn.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Actions:   jsii.Strings("ssm:GetParameter"),
			Resources: jsii.Strings(*arn),
		}))
	}
}
