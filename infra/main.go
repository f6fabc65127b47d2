// Command infra is the LeadRelay CDK app: it synthesizes the "LeadRelay"
// CloudFormation stack (API Gateway REST API, Lambda functions, SQS queues,
// DynamoDB table, alarms).
//
// Run it through the CDK CLI (cdk.json at the repository root has
// `"app": "go run ./infra"`) or directly, offline, from the repository root:
//
//	CDK_OUTDIR=cdk.out go run ./infra
//
// It reads the bootstrap binaries from dist/lambda/<function>/bootstrap
// (built by `make build-lambdas`). Context values, given as
// `cdk ... -c key=value`:
//
//	assetsDir           directory of the bootstrap binaries (default dist/lambda)
//	lambdaArch          arm64 (default) or x86_64; also LEADRELAY_LAMBDA_ARCH
//	deletionProtection  false turns off the table's deletion protection (default true)
//	alarmEmail          address subscribed to the DLQ alarm topic
//	nag                 true runs cdk-nag's AwsSolutions checks (`make nag`):
//	                    unsuppressed findings are printed and fail the synth
package main

import (
	"fmt"
	"os"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"
)

// StackName is the CloudFormation stack the app defines.
const StackName = "LeadRelay"

func main() {
	err := run()
	jsii.Close()
	if err != nil {
		fmt.Fprintln(os.Stderr, "infra:", err)
		os.Exit(1)
	}
}

func run() error {
	app := newApp("")
	s, err := settingsFrom(func(key string) any {
		return app.Node().TryGetContext(jsii.String(key))
	}, os.Getenv)
	if err != nil {
		return err
	}
	if err := checkBootstraps(s.AssetsDir, s.Arch, FunctionNames()); err != nil {
		return err
	}
	stack, err := NewLeadRelayStack(app, StackName, &LeadRelayStackProps{
		AssetsDir:          s.AssetsDir,
		Arch:               s.Arch,
		DeletionProtection: s.DeletionProtection,
		AlarmEmail:         s.AlarmEmail,
	})
	if err != nil {
		return err
	}
	// cdk-nag only when asked: the infra tests run it on every change
	// (nag_test.go), and a plain synth or deploy need not load it.
	if s.Nag {
		addNagChecks(stack.Stack)
	}
	asm := app.Synth(nil)
	if s.Nag {
		return reportNag(os.Stderr, nagFindings(asm))
	}
	return nil
}

// newApp makes the CDK app with LeadRelay's feature flags. An empty outdir
// leaves the choice to the CDK (CDK_OUTDIR, set by the CLI, or a temp dir).
func newApp(outdir string) awscdk.App {
	props := &awscdk.AppProps{Context: featureFlags()}
	if outdir != "" {
		props.Outdir = jsii.String(outdir)
	}
	return awscdk.NewApp(props)
}

// featureFlags are the CDK feature flags the stack is written and tested
// against: the recommended values of aws-cdk-lib 2.270 for the services used.
// They live here rather than in cdk.json so that the CLI, `make synth`
// (`go run ./infra` without the CLI) and the tests synthesize the same template.
// Context from the CLI or cdk.json still takes precedence.
func featureFlags() *map[string]any {
	return &map[string]any{
		"@aws-cdk/core:target-partitions":                                                []any{"aws", "aws-cn"},
		"@aws-cdk/core:enablePartitionLiterals":                                          true,
		"@aws-cdk/core:includePrefixInUniqueNameGeneration":                              true,
		"@aws-cdk/aws-iam:minimizePolicies":                                              true,
		"@aws-cdk/aws-apigateway:disableCloudWatchRole":                                  true,
		"@aws-cdk/aws-apigateway:authorizerChangeDeploymentLogicalId":                    true,
		"@aws-cdk/aws-apigateway:requestValidatorUniqueId":                               true,
		"@aws-cdk/aws-lambda:recognizeLayerVersion":                                      true,
		"@aws-cdk/aws-lambda:useCdkManagedLogGroup":                                      true,
		"@aws-cdk/aws-cloudwatch-actions:changeLambdaPermissionLogicalIdForLambdaAction": true,
	}
}
