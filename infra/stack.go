package main

import (
	"errors"
	"fmt"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigateway"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatchactions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscognito"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventstargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambdaeventsources"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssnssubscriptions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/leadrelay/leadrelay/shared/limits"
)

// Function names: each is a main package at functions/<name> and an asset
// directory <AssetsDir>/<name> holding its bootstrap binary.
const (
	FnIngest   = "ingest"
	FnRouter   = "router"
	FnDelivery = "delivery"
	FnAdmin    = "admin"
	FnPing     = "ping"
	// FnAggregate folds the table's stream into the P&L's daily aggregates.
	FnAggregate = "aggregate"
	// FnSweeper re-sends, every minute, the messages of leads that were lost.
	FnSweeper = "sweeper"
)

// SecretParamPrefix is where the ssm: references of the configuration's
// secrets live: the functions may read the parameters under it.
const SecretParamPrefix = "leadrelay/"

// DefaultPingSecretParam is the SSM SecureString parameter holding the
// secret that signs ping_ids; operators create it before deploying
// (docs/pingpost.md). CloudFormation cannot create SecureStrings.
const DefaultPingSecretParam = "/leadrelay/ping-secret"

// FunctionNames lists the functions the stack deploys, in a stable order.
func FunctionNames() []string {
	return []string{FnIngest, FnRouter, FnDelivery, FnAdmin, FnPing, FnAggregate, FnSweeper}
}

// Tunables of the stack. The function timeouts, the queues'
// maxReceiveCount and their visibility timeouts (a multiple of the consuming
// function's timeout) come from package limits, which config validation
// reads too: a setting cannot outgrow the deployment it runs in.
const (
	memoryMB     = 256
	logRetention = awslogs.RetentionDays_ONE_MONTH
	// StageName is the API Gateway stage; the API is served under /<StageName>/v1/...
	StageName = "prod"
)

// functionSpec is what differs between the functions.
type functionSpec struct {
	name        string
	timeout     time.Duration
	description string
	// reservedConcurrency, when above 0, caps the function's concurrent
	// executions (and reserves them).
	reservedConcurrency int
	// openSecrets: the function opens the configuration's secrets (KMS)
	// and resolves its ssm: references through the Parameters and
	// Secrets extension (a layer), not an SSM client of its own.
	openSecrets bool
}

func functionSpecs() []functionSpec {
	return []functionSpec{
		{name: FnIngest, timeout: limits.IngestFunctionTimeout,
			description: "LeadRelay ingest: REST API for sources and buyers (leads, returns, outcomes, Google Ads and Meta lead forms, health); Meta leads fetched from the Meta queue"},
		{name: FnRouter, timeout: limits.RouterFunctionTimeout, openSecrets: true,
			description: "LeadRelay router: picks buyers and reserves caps for leads on the routing queue"},
		{name: FnDelivery, timeout: limits.DeliveryFunctionTimeout, openSecrets: true,
			description: "LeadRelay delivery: posts leads to buyers from the delivery queue"},
		{name: FnAdmin, timeout: limits.AdminFunctionTimeout,
			description: "LeadRelay admin: operator API (configuration, lead timelines, P&L, DLQ redrive)"},
		{name: FnPing, timeout: limits.PingFunctionTimeout,
			description: "LeadRelay ping: sellers' pings answered synchronously with claimable bids"},
		{name: FnAggregate, timeout: limits.AggregateFunctionTimeout,
			description: "LeadRelay aggregate: folds lead changes from the table's stream into the P&L's daily aggregates, exactly once"},
		// One sweeper at a time: two overlapping sweeps would both re-send
		// the same lost leads.
		{name: FnSweeper, timeout: limits.SweeperFunctionTimeout, reservedConcurrency: 1,
			description: "LeadRelay sweeper: every minute, re-sends the routing or delivery of leads whose message was lost"},
	}
}

// seconds turns a duration into the CDK's.
func seconds(d time.Duration) awscdk.Duration {
	return awscdk.Duration_Seconds(jsii.Number(d.Seconds()))
}

// LeadRelayStackProps configures NewLeadRelayStack.
type LeadRelayStackProps struct {
	awscdk.StackProps

	// AssetsDir holds one directory per function, each with a `bootstrap`
	// executable (see FunctionNames). Required.
	AssetsDir string
	// Arch is the Lambda architecture, ArchARM64 (default) or ArchX8664.
	Arch string
	// DeletionProtection turns on the table's deletion protection.
	DeletionProtection bool
	// AlarmEmail, when set, subscribes this address to the DLQ alarm topic.
	AlarmEmail string
}

// LeadRelayStack is the synthesized stack with handles on its main resources.
type LeadRelayStack struct {
	awscdk.Stack

	Table         awsdynamodb.Table
	RoutingQueue  awssqs.Queue
	RoutingDLQ    awssqs.Queue
	DeliveryQueue awssqs.Queue
	DeliveryDLQ   awssqs.Queue
	// MetaQueue holds the Meta Lead Ads leads the webhook was notified of,
	// for the ingest function to fetch from the Graph API; MetaDLQ those
	// it could not fetch or ingest (meta.go).
	MetaQueue awssqs.Queue
	MetaDLQ   awssqs.Queue
	// LedgerDLQ receives the description (shard, sequence numbers) of a
	// batch of the table's stream that the aggregate function failed on
	// until its retries ran out.
	LedgerDLQ awssqs.Queue
	// SecretsKey seals the configuration's secrets (package secrets).
	SecretsKey awskms.Key
	Functions  map[string]awslambda.Function
	API        awsapigateway.RestApi
	AlarmTopic awssns.Topic
	// SweepSchedule runs the sweeper every limits.SweepInterval.
	SweepSchedule awsevents.Rule
	// TrainSchedule, FeedbackSchedule, SpendSchedule,
	// ConversionsSchedule and BillingSchedule run the admin function's
	// scheduled tasks: the scoring models' training (daily), the feedback
	// loops (every limits.FeedbackInterval), the ad spend import (hourly),
	// the lead stages sent to Meta (every limits.ConversionsInterval) and
	// buyer billing through Stripe (every limits.BillingInterval).
	TrainSchedule, FeedbackSchedule, SpendSchedule, ConversionsSchedule, BillingSchedule awsevents.Rule
	// UserPool holds the console's operators, UserPoolDomain is its hosted
	// login and UserPoolClient the console's app client (console.go); all
	// nil when the cognito context value is false.
	UserPool       awscognito.UserPool
	UserPoolDomain awscognito.UserPoolDomain
	UserPoolClient awscognito.UserPoolClient
	// apiMethods are the API's methods by "VERB /path".
	apiMethods map[string]awsapigateway.Method
	// nagSuppressions are the cdk-nag suppressions added (nag.go).
	nagSuppressions []nagSuppression
}

// NewLeadRelayStack defines the whole LeadRelay deployment: the table and its
// stream, the routing and delivery queues with their DLQs and alarms, the
// functions with least-privilege grants, the aggregate function on the
// table's stream, the sweeper's schedule, and the REST API in front of
// ingest, ping and admin, the operators' console (admin) and its user
// pool.
func NewLeadRelayStack(scope constructs.Construct, id string, props *LeadRelayStackProps) (*LeadRelayStack, error) {
	if props == nil {
		return nil, errors.New("leadrelay stack: props are required")
	}
	arch, err := lambdaArchitecture(props.Arch)
	if err != nil {
		return nil, fmt.Errorf("leadrelay stack: %w", err)
	}
	if err := checkAssetDirs(props.AssetsDir, FunctionNames()); err != nil {
		return nil, fmt.Errorf("leadrelay stack: %w", err)
	}

	stackProps := props.StackProps
	if stackProps.Description == nil {
		stackProps.Description = jsii.String("LeadRelay lead distribution: API, routing and delivery (github.com/leadrelay/leadrelay)")
	}
	stack := awscdk.NewStack(scope, jsii.String(id), &stackProps)
	awscdk.Tags_Of(stack).Add(jsii.String("app"), jsii.String("leadrelay"), nil)
	s := &LeadRelayStack{Stack: stack, Functions: map[string]awslambda.Function{}}

	s.Table = newTable(stack, props.DeletionProtection)

	specs := functionSpecs()
	timeouts := map[string]time.Duration{}
	for _, sp := range specs {
		timeouts[sp.name] = sp.timeout
	}
	s.RoutingQueue, s.RoutingDLQ = newQueuePair(stack, "Routing", timeouts[FnRouter], limits.QueueMaxReceiveCount)
	s.DeliveryQueue, s.DeliveryDLQ = newQueuePair(stack, "Delivery", timeouts[FnDelivery], limits.QueueMaxReceiveCount)
	s.MetaQueue, s.MetaDLQ = newQueuePair(stack, "Meta", timeouts[FnIngest], limits.MetaMaxReceiveCount)
	s.LedgerDLQ = newDLQ(stack, "LedgerDLQ")
	// The configuration's secrets are sealed under data keys of this key
	// (package secrets): stored, they are never in clear.
	s.SecretsKey = awskms.NewKey(stack, jsii.String("SecretsKey"), &awskms.KeyProps{
		Description:       jsii.String("LeadRelay: seals the configuration's secrets (webhook secrets, credentials, postback secrets, Slack URLs)"),
		EnableKeyRotation: jsii.Bool(true),
		RemovalPolicy:     awscdk.RemovalPolicy_RETAIN,
	})

	from := emailFrom(stack)
	env := map[string]*string{
		"LEADRELAY_TABLE":                   s.Table.TableName(),
		"LEADRELAY_ROUTING_QUEUE_URL":       s.RoutingQueue.QueueUrl(),
		"LEADRELAY_DELIVERY_QUEUE_URL":      s.DeliveryQueue.QueueUrl(),
		"LEADRELAY_ROUTING_DLQ_URL":         s.RoutingDLQ.QueueUrl(),
		"LEADRELAY_DELIVERY_DLQ_URL":        s.DeliveryDLQ.QueueUrl(),
		"LEADRELAY_ALLOW_PRIVATE_TARGETS":   jsii.String("false"),
		"LEADRELAY_PING_SECRET_PARAM":       jsii.String(DefaultPingSecretParam),
		"LEADRELAY_EMAIL_FROM":              jsii.String(from),
		"LEADRELAY_SECRETS_KEY_ID":          s.SecretsKey.KeyArn(),
		"LEADRELAY_META_QUEUE_URL":          s.MetaQueue.QueueUrl(),
		"LEADRELAY_META_DLQ_URL":            s.MetaDLQ.QueueUrl(),
		"LEADRELAY_META_APP_SECRET_PARAM":   jsii.String(DefaultMetaAppSecretParam),
		"LEADRELAY_META_GRAPH_URL":          jsii.String(DefaultMetaGraphURL),
		"LEADRELAY_GOOGLE_ADS_URL":          jsii.String(DefaultGoogleAdsURL),
		"LEADRELAY_SHEETS_URL":              jsii.String(DefaultSheetsURL),
		"LEADRELAY_GOOGLE_TOKEN_URL":        jsii.String(DefaultGoogleTokenURL),
		"LEADRELAY_STRIPE_URL":              jsii.String(DefaultStripeURL),
		"LEADRELAY_TWILIO_AUTH_TOKEN_PARAM": jsii.String(DefaultTwilioAuthTokenParam),
	}
	for _, sp := range specs {
		s.Functions[sp.name] = newFunction(stack, sp, arch, props.AssetsDir, env)
	}
	if err := s.grant(from); err != nil {
		return nil, fmt.Errorf("leadrelay stack: %w", err)
	}
	s.connectQueues()
	s.connectStream()
	s.SweepSchedule = s.newSweepSchedule()
	s.TrainSchedule, s.FeedbackSchedule, s.SpendSchedule, s.ConversionsSchedule, s.BillingSchedule = s.newAdminSchedules()
	s.API = s.newAPI()
	// Twilio signs its voice webhooks over the URL it was given, and the
	// console's sign-in comes back to it: the stage's own (the functions
	// refer to the API, not the API to them).
	publicURL := awscdk.Fn_Join(jsii.String(""), &[]*string{
		jsii.String("https://"), s.API.RestApiId(), jsii.String(".execute-api."), s.Region(), jsii.String("."), s.UrlSuffix(), jsii.String("/" + StageName),
	})
	for _, name := range []string{FnIngest, FnAdmin} {
		s.Functions[name].AddEnvironment(jsii.String("LEADRELAY_PUBLIC_URL"), publicURL, nil)
	}
	if cognitoWanted(stack) {
		if err := s.newOperatorPool(publicURL, props.DeletionProtection); err != nil {
			return nil, fmt.Errorf("leadrelay stack: %w", err)
		}
	}
	s.AlarmTopic = s.newAlarms(props.AlarmEmail)
	s.outputs(publicURL)
	s.suppressNag()
	return s, nil
}

// lambdaArchitecture maps an architecture name to CDK's; empty means arm64.
func lambdaArchitecture(name string) (awslambda.Architecture, error) {
	if name == "" {
		return awslambda.Architecture_ARM_64(), nil
	}
	arch, err := normalizeArch(name)
	if err != nil {
		return nil, err
	}
	if arch == ArchX8664 {
		return awslambda.Architecture_X86_64(), nil
	}
	return awslambda.Architecture_ARM_64(), nil
}

// checkAssetDirs reports every function whose bootstrap file is missing.
func checkAssetDirs(dir string, names []string) error {
	if dir == "" {
		return errors.New("AssetsDir is required")
	}
	var errs []error
	for _, name := range names {
		p := filepath.Join(dir, name, "bootstrap")
		fi, err := os.Stat(p)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("asset for %s: %w", name, err))
		case !fi.Mode().IsRegular():
			errs = append(errs, fmt.Errorf("asset for %s: %s is not a regular file", name, p))
		}
	}
	return errors.Join(errs...)
}

func newTable(stack awscdk.Stack, deletionProtection bool) awsdynamodb.Table {
	table := awsdynamodb.NewTable(stack, jsii.String("Table"), &awsdynamodb.TableProps{
		PartitionKey: &awsdynamodb.Attribute{Name: jsii.String("pk"), Type: awsdynamodb.AttributeType_STRING},
		SortKey:      &awsdynamodb.Attribute{Name: jsii.String("sk"), Type: awsdynamodb.AttributeType_STRING},
		BillingMode:  awsdynamodb.BillingMode_PAY_PER_REQUEST,
		PointInTimeRecoverySpecification: &awsdynamodb.PointInTimeRecoverySpecification{
			PointInTimeRecoveryEnabled: jsii.Bool(true),
		},
		TimeToLiveAttribute: jsii.String("expires_at"),
		RemovalPolicy:       awscdk.RemovalPolicy_RETAIN,
		DeletionProtection:  jsii.Bool(deletionProtection),
		// The aggregate function reads new items from the stream.
		Stream: awsdynamodb.StreamViewType_NEW_IMAGE,
	})
	// gsi1 holds the keys and the lead's source, no more: every other read
	// through it fetches the item itself. Changing a GSI's projection
	// replaces the index, which CloudFormation cannot do in place
	// (docs/deploy.md: "Upgrading").
	table.AddGlobalSecondaryIndex(&awsdynamodb.GlobalSecondaryIndexProps{
		IndexName:        jsii.String(indexGSI1),
		PartitionKey:     &awsdynamodb.Attribute{Name: jsii.String("gsi1pk"), Type: awsdynamodb.AttributeType_STRING},
		SortKey:          &awsdynamodb.Attribute{Name: jsii.String("gsi1sk"), Type: awsdynamodb.AttributeType_STRING},
		ProjectionType:   awsdynamodb.ProjectionType_INCLUDE,
		NonKeyAttributes: jsii.Strings("source"),
	})
	return table
}

// newQueuePair makes a work queue and its DLQ, which takes a message after
// maxReceive receives. The work queue keeps messages 7 days:
// limits.QueueMaxReceiveCount (25) receives with delivery's backoff (at
// most 15 min each) and a visibility timeout each take well under a day.
// A standard queue's DLQ keeps a message's original enqueue time, so the
// DLQ keeps 14 days: a message moved there late still waits there a week
// for an operator after its alarm fires.
func newQueuePair(stack awscdk.Stack, name string, consumerTimeout time.Duration, maxReceive int) (queue, dlq awssqs.Queue) {
	dlq = newDLQ(stack, name+"DLQ")
	queue = awssqs.NewQueue(stack, jsii.String(name+"Queue"), &awssqs.QueueProps{
		VisibilityTimeout: seconds(time.Duration(limits.VisibilityPerTimeout) * consumerTimeout),
		RetentionPeriod:   awscdk.Duration_Days(jsii.Number(7)),
		Encryption:        awssqs.QueueEncryption_SQS_MANAGED,
		EnforceSSL:        jsii.Bool(true),
		DeadLetterQueue: &awssqs.DeadLetterQueue{
			Queue:           dlq,
			MaxReceiveCount: jsii.Number(float64(maxReceive)),
		},
	})
	return queue, dlq
}

// newDLQ makes a dead-letter queue: 14 days' retention, SSE-SQS, TLS only.
func newDLQ(stack awscdk.Stack, id string) awssqs.Queue {
	return awssqs.NewQueue(stack, jsii.String(id), &awssqs.QueueProps{
		RetentionPeriod: awscdk.Duration_Days(jsii.Number(14)),
		Encryption:      awssqs.QueueEncryption_SQS_MANAGED,
		EnforceSSL:      jsii.Bool(true),
	})
}

func newFunction(stack awscdk.Stack, sp functionSpec, arch awslambda.Architecture, assetsDir string, env map[string]*string) awslambda.Function {
	id := constructID(sp.name)
	logGroup := awslogs.NewLogGroup(stack, jsii.String(id+"Logs"), &awslogs.LogGroupProps{
		Retention: logRetention,
	})
	// The function's own role, without AWS managed policies: it may write
	// its own log group (the AWSLambdaBasicExecutionRole policy CDK would
	// attach lets it write every log group of the account); grant() adds
	// the rest, and active tracing its X-Ray actions.
	role := awsiam.NewRole(stack, jsii.String(id+"Role"), &awsiam.RoleProps{
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("lambda.amazonaws.com"), nil),
		Description: jsii.String("LeadRelay " + sp.name + " function"),
	})
	logGroup.GrantWrite(role)
	props := &awslambda.FunctionProps{
		Role:          role,
		Description:   jsii.String(sp.description),
		Runtime:       awslambda.Runtime_PROVIDED_AL2023(),
		Handler:       jsii.String("bootstrap"),
		Code:          awslambda.Code_FromAsset(jsii.String(filepath.Join(assetsDir, sp.name)), nil),
		Architecture:  arch,
		MemorySize:    jsii.Number(memoryMB),
		Timeout:       seconds(sp.timeout),
		Environment:   &env,
		LoggingFormat: awslambda.LoggingFormat_JSON,
		LogGroup:      logGroup,
		Tracing:       awslambda.Tracing_ACTIVE,
	}
	if sp.reservedConcurrency > 0 {
		props.ReservedConcurrentExecutions = jsii.Number(float64(sp.reservedConcurrency))
	}
	if sp.openSecrets {
		props.ParamsAndSecrets = awslambda.ParamsAndSecretsLayerVersion_FromVersion(awslambda.ParamsAndSecretsVersions_V1_0_103,
			&awslambda.ParamsAndSecretsOptions{ParameterStoreTtl: awscdk.Duration_Minutes(jsii.Number(5))})
	}
	return awslambda.NewFunction(stack, jsii.String(id+"Function"), props)
}

// constructID turns "ingest" into "Ingest".
func constructID(name string) string {
	if name == "" {
		return name
	}
	return string(name[0]-'a'+'A') + name[1:]
}

// grant gives each function exactly what it needs: its partitions of the
// table (access.go), its queues, the ping secret, SES. Consuming the work queues
// and reading the table's stream are granted by the event source mappings
// (connectQueues, connectStream), and so is the aggregate function's sending
// to the LedgerDLQ.
func (s *LeadRelayStack) grant(from string) error {
	for _, name := range FunctionNames() {
		s.grantTable(s.Functions[name], tableAccessOf(name))
	}
	s.grantPingSecret(s.Functions[FnPing], s.Functions[FnIngest])
	ingest, router := s.Functions[FnIngest], s.Functions[FnRouter]
	delivery, admin := s.Functions[FnDelivery], s.Functions[FnAdmin]

	s.RoutingQueue.GrantSendMessages(ingest)
	s.grantMeta(ingest)

	s.DeliveryQueue.GrantSendMessages(router)

	s.RoutingQueue.GrantSendMessages(delivery)
	s.DeliveryDLQ.GrantSendMessages(delivery)
	if err := s.grantSendEmail(delivery, from); err != nil {
		return err
	}

	// Secrets: admin seals them (a data key, and opening the stored ones
	// to tell a value put again from a new one); router and delivery open
	// them, and read the ssm: references under /leadrelay/ (through the
	// extension, with their own role).
	s.SecretsKey.Grant(admin, jsii.String("kms:GenerateDataKey"), jsii.String("kms:Decrypt"))
	for _, fn := range []awslambda.Function{router, delivery} {
		s.SecretsKey.GrantDecrypt(fn)
		fn.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Actions: jsii.Strings("ssm:GetParameter"),
			Resources: jsii.Strings(*s.FormatArn(&awscdk.ArnComponents{
				Service: jsii.String("ssm"), Resource: jsii.String("parameter"), ResourceName: jsii.String(SecretParamPrefix + "*"),
			})),
		}))
	}

	s.RoutingQueue.GrantSendMessages(admin)
	s.DeliveryQueue.GrantSendMessages(admin)
	s.RoutingDLQ.GrantConsumeMessages(admin)
	s.DeliveryDLQ.GrantConsumeMessages(admin)
	s.MetaQueue.GrantSendMessages(admin) // redrive of the Meta DLQ
	s.MetaDLQ.GrantConsumeMessages(admin)
	s.grantSpendTokens(admin)

	// The sweeper re-sends lost messages, and dead-letters a lead it gave
	// up on (queue.Sender.DeadLetterRoute, DeadLetter) for an operator.
	sweeper := s.Functions[FnSweeper]
	s.RoutingQueue.GrantSendMessages(sweeper)
	s.DeliveryQueue.GrantSendMessages(sweeper)
	s.RoutingDLQ.GrantSendMessages(sweeper)
	s.DeliveryDLQ.GrantSendMessages(sweeper)
	return nil
}

// grantSendEmail lets fn send email from the sender address and nothing
// else: ses:SendEmail on the address's SES identity and on its domain's
// (SES authorizes a send against the identity that verifies the sender,
// the address or, when only the domain is verified, the domain). The
// deliveries name no configuration set, so none is granted.
func (s *LeadRelayStack) grantSendEmail(fn awslambda.Function, from string) error {
	ids, err := sesIdentities(from)
	if err != nil {
		return err
	}
	var arns []*string
	for _, id := range ids {
		arns = append(arns, s.FormatArn(&awscdk.ArnComponents{
			Service:      jsii.String("ses"),
			Resource:     jsii.String("identity"),
			ResourceName: jsii.String(id),
		}))
	}
	fn.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("ses:SendEmail"),
		Resources: &arns,
	}))
	return nil
}

// sesIdentities are the SES identities that may verify a sender address:
// the address itself and its domain.
func sesIdentities(from string) ([]string, error) {
	addr, err := mail.ParseAddress(from)
	if err != nil {
		return nil, fmt.Errorf("emailFrom %q: %w", from, err)
	}
	at := strings.LastIndex(addr.Address, "@")
	if at <= 0 || at == len(addr.Address)-1 || strings.ContainsAny(addr.Address, "*?") {
		return nil, fmt.Errorf("emailFrom %q: not an email address", from)
	}
	return []string{addr.Address, strings.ToLower(addr.Address[at+1:])}, nil
}

// connectQueues attaches the router and delivery functions to their queues,
// and the ingest function to the Meta queue, the way the local runner's
// pollers do: batches of 10, partial failures.
func (s *LeadRelayStack) connectQueues() {
	props := func() *awslambdaeventsources.SqsEventSourceProps {
		return &awslambdaeventsources.SqsEventSourceProps{
			BatchSize:               jsii.Number(10),
			MaxBatchingWindow:       awscdk.Duration_Seconds(jsii.Number(1)),
			ReportBatchItemFailures: jsii.Bool(true),
		}
	}
	s.Functions[FnRouter].AddEventSource(awslambdaeventsources.NewSqsEventSource(s.RoutingQueue, props()))
	s.Functions[FnDelivery].AddEventSource(awslambdaeventsources.NewSqsEventSource(s.DeliveryQueue, props()))
	s.Functions[FnIngest].AddEventSource(awslambdaeventsources.NewSqsEventSource(s.MetaQueue, props()))
}

// connectStream feeds the table's stream to the aggregate function: new
// items only (the P&L counts each lead change once, as it is inserted), in
// the stream's order, every record retried until it is folded.
func (s *LeadRelayStack) connectStream() {
	s.Functions[FnAggregate].AddEventSource(awslambdaeventsources.NewDynamoEventSource(s.Table, &awslambdaeventsources.DynamoEventSourceProps{
		// From the oldest record the stream still holds (24 h): a new or
		// re-created mapping misses nothing.
		StartingPosition:  awslambda.StartingPosition_TRIM_HORIZON,
		BatchSize:         jsii.Number(1000),
		MaxBatchingWindow: awscdk.Duration_Seconds(jsii.Number(1)),
		// A tumbling window makes Lambda pass the stream's shard id in the
		// event (shardId, next to the window and its state); the function
		// needs it for its per-shard checkpoint, which makes folding a
		// redelivered batch a no-op (exactly once). The window's own state
		// is not used.
		TumblingWindow: awscdk.Duration_Seconds(jsii.Number(60)),
		// One batch per shard at a time: records of a shard (all changes of
		// one item among them) are folded in the stream's order, and the
		// checkpoint only moves forward.
		ParallelizationFactor: jsii.Number(1),
		// The whole batch or nothing: the checkpoint covers a batch, a
		// bisected half would fold twice.
		BisectBatchOnError: jsii.Bool(false),
		// The most Lambda allows short of unlimited: a batch that keeps
		// failing ends in the LedgerDLQ (its shard and sequence numbers,
		// for a replay) and its alarm, instead of holding up its shard
		// until the stream drops the records after 24 h.
		RetryAttempts: jsii.Number(10000),
		OnFailure:     awslambdaeventsources.NewSqsDlq(s.LedgerDLQ),
		Filters: &[]*map[string]any{
			awslambda.FilterCriteria_Filter(&map[string]any{
				"eventName": awslambda.FilterRule_IsEqual(jsii.String("INSERT")),
			}),
		},
	}))
}

// newSweepSchedule runs the sweeper every limits.SweepInterval. The
// sweeper's reserved concurrency of 1 keeps two sweeps from overlapping
// (limits.SweeperFunctionTimeout is at most the interval); a sweep that
// could not run is not worth retrying late, the next one comes within the
// interval.
func (s *LeadRelayStack) newSweepSchedule() awsevents.Rule {
	sweeper := s.Functions[FnSweeper]
	sweeper.ConfigureAsyncInvoke(&awslambda.EventInvokeConfigOptions{
		RetryAttempts: jsii.Number(0),
		MaxEventAge:   awscdk.Duration_Minutes(jsii.Number(1)), // Lambda's minimum
	})
	return awsevents.NewRule(s.Stack, jsii.String("SweepSchedule"), &awsevents.RuleProps{
		Description: jsii.String("LeadRelay: runs the sweeper"),
		Schedule:    awsevents.Schedule_Rate(seconds(limits.SweepInterval)),
		Targets: &[]awsevents.IRuleTarget{
			awseventstargets.NewLambdaFunction(sweeper, &awseventstargets.LambdaFunctionProps{
				RetryAttempts: jsii.Number(0),
			}),
		},
	})
}

// newAdminSchedules invoke the admin function with its scheduled tasks
// (admin.RunTask): {"task": "train"} daily, {"task": "feedback"} every
// limits.FeedbackInterval, {"task": "spend"} hourly, {"task":
// "conversions"} every limits.ConversionsInterval, {"task": "billing"}
// every limits.BillingInterval. A missed run is not retried: the next one
// comes (the spend import reads yesterday and today again; the
// conversions and the charges wait in the table).
func (s *LeadRelayStack) newAdminSchedules() (awsevents.Rule, awsevents.Rule, awsevents.Rule, awsevents.Rule, awsevents.Rule) {
	admin := s.Functions[FnAdmin]
	rule := func(id, description string, every awscdk.Duration, task string) awsevents.Rule {
		return awsevents.NewRule(s.Stack, jsii.String(id), &awsevents.RuleProps{
			Description: jsii.String(description),
			Schedule:    awsevents.Schedule_Rate(every),
			Targets: &[]awsevents.IRuleTarget{
				awseventstargets.NewLambdaFunction(admin, &awseventstargets.LambdaFunctionProps{
					RetryAttempts: jsii.Number(0),
					Event:         awsevents.RuleTargetInput_FromObject(map[string]string{"task": task}),
				}),
			},
		})
	}
	return rule("TrainSchedule", "LeadRelay: trains the campaigns' scoring models", awscdk.Duration_Days(jsii.Number(1)), "train"),
		rule("FeedbackSchedule", "LeadRelay: runs the feedback loops", seconds(limits.FeedbackInterval), "feedback"),
		rule("SpendSchedule", "LeadRelay: imports the ad platforms' spend of yesterday and today", awscdk.Duration_Hours(jsii.Number(1)), "spend"),
		rule("ConversionsSchedule", "LeadRelay: sends Meta's leads' stages to the Conversions API", seconds(limits.ConversionsInterval), "conversions"),
		rule("BillingSchedule", "LeadRelay: bills buyers through Stripe: invoiced sales and returns, prepaid balances' notices and recharges", seconds(limits.BillingInterval), "billing")
}

// newAPI defines the REST API (v1). Every method is a Lambda proxy
// integration; the handlers validate requests and answer 4xx themselves, so
// there is no API Gateway request validator. Source and buyer routes carry
// their own API keys; the admin routes need SigV4 (AWS_IAM).
// Requests a second the API takes: the stage as a whole, and each route
// (method and path, as API Gateway names them in a stage's method
// settings). Bursts are twice the rate.
const stageRateLimit = 2000

var routeRateLimits = map[string]float64{
	"/v1/leads/POST":     limits.LeadsRouteRate,
	"/v1/leads/{id}/GET": 200,
	"/v1/pings/POST":     limits.PingsRouteRate,
	"/v1/returns/POST":   50,
	"/v1/outcomes/POST":  100,
	// Google Ads' lead form webhooks and Meta Lead Ads' notifications
	// (each a batch of leads); each form's source is held to its rate too.
	// Meta's subscription check comes once per setup.
	"/v1/integrations/google/webhook/POST": 100,
	"/v1/integrations/meta/webhook/POST":   100,
	"/v1/integrations/meta/webhook/GET":    10,
	// Stripe's billing events: top-ups, a few a minute at most.
	"/v1/integrations/stripe/webhook/POST": 25,
	// Twilio's voice webhooks: an inbound call, its dials' ends and their
	// progress (a few requests a call).
	"/v1/voice/incoming/POST":  50,
	"/v1/voice/dial-done/POST": 100,
	"/v1/voice/status/POST":    200,
	"/v1/health/GET":           10,
	"/v1/admin/{proxy+}/*":     25,
	// The operators' console: a handful of people, its pages, their
	// fragments and the live feed's polls.
	"/console/GET":        5,
	"/console/{proxy+}/*": 25,
}

// routeThrottles are the stage's method settings: each route's limit.
func routeThrottles() *map[string]*awsapigateway.MethodDeploymentOptions {
	out := map[string]*awsapigateway.MethodDeploymentOptions{}
	for route, rate := range routeRateLimits {
		out[route] = &awsapigateway.MethodDeploymentOptions{
			ThrottlingRateLimit:  jsii.Number(rate),
			ThrottlingBurstLimit: jsii.Number(2 * rate),
		}
	}
	return &out
}

func (s *LeadRelayStack) newAPI() awsapigateway.RestApi {
	accessLogs := awslogs.NewLogGroup(s.Stack, jsii.String("ApiAccessLogs"), &awslogs.LogGroupProps{
		Retention: logRetention,
	})
	api := awsapigateway.NewRestApi(s.Stack, jsii.String("Api"), &awsapigateway.RestApiProps{
		RestApiName:   jsii.String("LeadRelay"),
		Description:   jsii.String("LeadRelay REST API v1"),
		EndpointTypes: &[]awsapigateway.EndpointType{awsapigateway.EndpointType_REGIONAL},
		// Access logging needs the account-level CloudWatch role.
		CloudWatchRole: jsii.Bool(true),
		DeployOptions: &awsapigateway.StageOptions{
			StageName: jsii.String(StageName),
			// The stage's limit, and each route's own (routeThrottles): the
			// admin API, status polls, returns and pings each have a limit of
			// their own, so none of them can starve the leads, nor the
			// leads them. Per source, ingest and ping limit each source's
			// requests themselves (docs/deploy.md).
			ThrottlingRateLimit:  jsii.Number(stageRateLimit),
			ThrottlingBurstLimit: jsii.Number(2 * stageRateLimit),
			MethodOptions:        routeThrottles(),
			MetricsEnabled:       jsii.Bool(true),
			TracingEnabled:       jsii.Bool(true),
			DataTraceEnabled:     jsii.Bool(false), // request bodies hold PII
			// Execution logs of errors only (integration failures, throttles,
			// authorization): no bodies. Into executionLogs, below.
			LoggingLevel:         awsapigateway.MethodLoggingLevel_ERROR,
			AccessLogDestination: awsapigateway.NewLogGroupLogDestination(accessLogs),
			AccessLogFormat: awsapigateway.AccessLogFormat_JsonWithStandardFields(&awsapigateway.JsonWithStandardFieldProps{
				Caller: jsii.Bool(true), HttpMethod: jsii.Bool(true), Ip: jsii.Bool(true),
				Protocol: jsii.Bool(true), RequestTime: jsii.Bool(true), ResourcePath: jsii.Bool(true),
				ResponseLength: jsii.Bool(true), Status: jsii.Bool(true), User: jsii.Bool(true),
			}),
		},
	})

	// API Gateway writes execution logs to a log group of this name, which
	// it would create itself, kept forever: the stack makes it first, with
	// the stack's retention.
	executionLogs := awslogs.NewLogGroup(s.Stack, jsii.String("ApiExecutionLogs"), &awslogs.LogGroupProps{
		LogGroupName: awscdk.Fn_Join(jsii.String(""), &[]*string{
			jsii.String("API-Gateway-Execution-Logs_"), api.RestApiId(), jsii.String("/" + StageName),
		}),
		Retention: logRetention,
	})
	api.DeploymentStage().Node().AddDependency(executionLogs)

	integration := func(fn awslambda.Function) awsapigateway.LambdaIntegration {
		return awsapigateway.NewLambdaIntegration(fn, &awsapigateway.LambdaIntegrationOptions{
			Proxy:           jsii.Bool(true),
			AllowTestInvoke: jsii.Bool(false),
		})
	}
	ingest, ping := integration(s.Functions[FnIngest]), integration(s.Functions[FnPing])
	open := &awsapigateway.MethodOptions{AuthorizationType: awsapigateway.AuthorizationType_NONE}

	s.apiMethods = map[string]awsapigateway.Method{}
	add := func(r awsapigateway.IResource, verb string, in awsapigateway.Integration, opts *awsapigateway.MethodOptions) {
		s.apiMethods[verb+" "+*r.Path()] = r.AddMethod(jsii.String(verb), in, opts)
	}
	v1 := api.Root().AddResource(jsii.String("v1"), nil)
	leads := v1.AddResource(jsii.String("leads"), nil)
	add(leads, "POST", ingest, open)
	add(leads.AddResource(jsii.String("{id}"), nil), "GET", ingest, open)
	add(v1.AddResource(jsii.String("health"), nil), "GET", ingest, open)
	add(v1.AddResource(jsii.String("pings"), nil), "POST", ping, open)
	add(v1.AddResource(jsii.String("returns"), nil), "POST", ingest, open)
	add(v1.AddResource(jsii.String("outcomes"), nil), "POST", ingest, open)
	integrations := v1.AddResource(jsii.String("integrations"), nil)
	add(integrations.AddResource(jsii.String("google"), nil).AddResource(jsii.String("webhook"), nil), "POST", ingest, open)
	metaHook := integrations.AddResource(jsii.String("meta"), nil).AddResource(jsii.String("webhook"), nil)
	add(metaHook, "GET", ingest, open)
	add(metaHook, "POST", ingest, open)
	add(integrations.AddResource(jsii.String("stripe"), nil).AddResource(jsii.String("webhook"), nil), "POST", ingest, open)
	voice := v1.AddResource(jsii.String("voice"), nil)
	for _, hook := range []string{"incoming", "dial-done", "status"} {
		add(voice.AddResource(jsii.String(hook), nil), "POST", ingest, open)
	}
	admin := integration(s.Functions[FnAdmin])
	add(v1.AddResource(jsii.String("admin"), nil).AddResource(jsii.String("{proxy+}"), nil), "ANY",
		admin, &awsapigateway.MethodOptions{AuthorizationType: awsapigateway.AuthorizationType_IAM})
	// The operators' console, served by the admin function: open to API
	// Gateway, it signs operators in itself (Cognito's hosted login, then
	// its own session cookie and CSRF tokens; console.go).
	console := api.Root().AddResource(jsii.String(strings.TrimPrefix(ConsolePath, "/")), nil)
	add(console, "GET", admin, open)
	add(console.AddResource(jsii.String("{proxy+}"), nil), "ANY", admin, open)
	return api
}

// newAlarms watches the DLQs: one visible message in the routing or delivery
// DLQ is one lead that needs an operator (invariant 1), in the Meta DLQ one
// Meta lead that could not be fetched or ingested; one in the LedgerDLQ
// is a batch of the table's stream missing from the P&L's aggregates. The
// topic takes an email subscription when asked.
func (s *LeadRelayStack) newAlarms(email string) awssns.Topic {
	topic := awssns.NewTopic(s.Stack, jsii.String("AlarmTopic"), &awssns.TopicProps{
		DisplayName: jsii.String("LeadRelay alarms"),
		// CloudWatch publishes over TLS; so must everyone else.
		EnforceSSL: jsii.Bool(true),
	})
	if email != "" {
		topic.AddSubscription(awssnssubscriptions.NewEmailSubscription(jsii.String(email), nil))
	}
	action := awscloudwatchactions.NewSnsAction(topic)
	for _, q := range []struct {
		id   string
		dlq  awssqs.Queue
		desc string
	}{
		{"RoutingDLQAlarm", s.RoutingDLQ, "LeadRelay: messages in a dead-letter queue; inspect and redrive them with the admin API"},
		{"DeliveryDLQAlarm", s.DeliveryDLQ, "LeadRelay: messages in a dead-letter queue; inspect and redrive them with the admin API"},
		{"MetaDLQAlarm", s.MetaDLQ, "LeadRelay: Meta Lead Ads leads that could not be fetched from the Graph API or ingested; fix the cause (page token, source, campaign), then redrive the meta queue with the admin API"},
		{"LedgerDLQAlarm", s.LedgerDLQ, "LeadRelay: a batch of the table's stream failed in the aggregate function; the P&L's aggregates miss it until it is replayed"},
	} {
		alarm := awscloudwatch.NewAlarm(s.Stack, jsii.String(q.id), &awscloudwatch.AlarmProps{
			AlarmDescription: jsii.String(q.desc),
			Metric: q.dlq.MetricApproximateNumberOfMessagesVisible(&awscloudwatch.MetricOptions{
				Period:    awscdk.Duration_Minutes(jsii.Number(1)),
				Statistic: jsii.String("Maximum"),
			}),
			Threshold:          jsii.Number(1),
			EvaluationPeriods:  jsii.Number(1),
			ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
			TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
		})
		alarm.AddAlarmAction(action)
		alarm.AddOkAction(action)
	}
	return topic
}

func (s *LeadRelayStack) outputs(publicURL *string) {
	out := func(id string, value *string, desc string) {
		awscdk.NewCfnOutput(s.Stack, jsii.String(id), &awscdk.CfnOutputProps{
			Value:       value,
			Description: jsii.String(desc),
		})
	}
	out("ApiUrl", s.API.Url(), "Base URL of the REST API stage; append v1/leads etc.")
	out("TableName", s.Table.TableName(), "DynamoDB table")
	out("RoutingQueueUrl", s.RoutingQueue.QueueUrl(), "Routing queue")
	out("DeliveryQueueUrl", s.DeliveryQueue.QueueUrl(), "Delivery queue")
	out("RoutingDlqUrl", s.RoutingDLQ.QueueUrl(), "Routing dead-letter queue")
	out("DeliveryDlqUrl", s.DeliveryDLQ.QueueUrl(), "Delivery dead-letter queue")
	out("MetaQueueUrl", s.MetaQueue.QueueUrl(), "Meta Lead Ads leads to fetch from the Graph API")
	out("MetaDlqUrl", s.MetaDLQ.QueueUrl(), "Meta Lead Ads leads that could not be fetched or ingested")
	out("LedgerDlqUrl", s.LedgerDLQ.QueueUrl(), "Batches of the table's stream the aggregate function failed on")
	out("AlarmTopicArn", s.AlarmTopic.TopicArn(), "SNS topic the DLQ alarms notify")
	out("ConsoleUrl", awscdk.Fn_Join(jsii.String(""), &[]*string{publicURL, jsii.String(ConsolePath)}), "The operators' console")
	if s.UserPool != nil {
		out("UserPoolId", s.UserPool.UserPoolId(), "Cognito user pool of the console's operators; invite one with aws cognito-idp admin-create-user (docs/deploy.md)")
	}
}

// emailFrom is the sender of email deliveries: the context value
// "emailFrom", or leads@leadrelay.local (verify it, or your own, in SES).
func emailFrom(stack awscdk.Stack) string {
	if v, ok := stack.Node().TryGetContext(jsii.String("emailFrom")).(string); ok && v != "" {
		return v
	}
	return "leads@leadrelay.local"
}
