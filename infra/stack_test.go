package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"

	"github.com/leadrelay/leadrelay/shared/limits"
)

func TestTable(t *testing.T) {
	f := synthDefault(t)
	assert(t, "one table", func() { f.template.ResourceCountIs(jsii.String("AWS::DynamoDB::Table"), jsii.Number(1)) })
	assert(t, "table properties", func() {
		f.template.HasResourceProperties(jsii.String("AWS::DynamoDB::Table"), obj{
			"KeySchema": []any{
				obj{"AttributeName": "pk", "KeyType": "HASH"},
				obj{"AttributeName": "sk", "KeyType": "RANGE"},
			},
			"AttributeDefinitions": assertions.Match_ArrayWith(list(
				obj{"AttributeName": "pk", "AttributeType": "S"},
				obj{"AttributeName": "sk", "AttributeType": "S"},
				obj{"AttributeName": "gsi1pk", "AttributeType": "S"},
				obj{"AttributeName": "gsi1sk", "AttributeType": "S"},
			)),
			"BillingMode":                      "PAY_PER_REQUEST",
			"PointInTimeRecoverySpecification": obj{"PointInTimeRecoveryEnabled": true},
			"TimeToLiveSpecification":          obj{"AttributeName": "expires_at", "Enabled": true},
			"DeletionProtectionEnabled":        true,
			"GlobalSecondaryIndexes": []any{obj{
				"IndexName": "gsi1",
				"KeySchema": []any{
					obj{"AttributeName": "gsi1pk", "KeyType": "HASH"},
					obj{"AttributeName": "gsi1sk", "KeyType": "RANGE"},
				},
				// Keys and the lead's source only (docs/deploy.md: upgrading
				// from ALL needs the index dropped and re-created).
				"Projection": obj{"ProjectionType": "INCLUDE", "NonKeyAttributes": []any{"source"}},
			}},
			"ProvisionedThroughput": assertions.Match_Absent(),
			// The aggregate function reads new items from the stream.
			"StreamSpecification": obj{"StreamViewType": "NEW_IMAGE"},
		})
	})
	assert(t, "table retained", func() {
		f.template.HasResource(jsii.String("AWS::DynamoDB::Table"), obj{
			"DeletionPolicy":      "Retain",
			"UpdateReplacePolicy": "Retain",
		})
	})
}

// consumers maps each work queue's logical ID prefix to its DLQ, the
// function that consumes it, and its maxReceiveCount.
var consumers = []struct {
	queue, dlq, function string
	maxReceive           int
}{
	{"RoutingQueue", "RoutingDLQ", "RouterFunction", limits.QueueMaxReceiveCount},
	{"DeliveryQueue", "DeliveryDLQ", "DeliveryFunction", limits.QueueMaxReceiveCount},
	{"MetaQueue", "MetaDLQ", "IngestFunction", limits.MetaMaxReceiveCount},
}

// dlqs are the logical ID prefixes of every dead-letter queue: the work
// queues' and the LedgerDLQ, where the aggregate function's failed stream
// batches go.
var dlqs = []string{"RoutingDLQ", "DeliveryDLQ", "MetaDLQ", "LedgerDLQ"}

func TestQueues(t *testing.T) {
	f := synthDefault(t)
	queues := f.resources("AWS::SQS::Queue")
	if want := len(consumers) + len(dlqs); len(queues) != want {
		t.Fatalf("got %d queues, want %d (three work queues, four DLQs)", len(queues), want)
	}
	tlsOnly := map[string]bool{}
	for _, pol := range f.resources("AWS::SQS::QueuePolicy") {
		doc, _ := props(pol)["PolicyDocument"].(map[string]any)
		for _, st := range asList(doc["Statement"]) {
			st, _ := st.(map[string]any)
			cond, _ := st["Condition"].(map[string]any)
			b, _ := cond["Bool"].(map[string]any)
			if st["Effect"] == "Deny" && b["aws:SecureTransport"] == "false" {
				tlsOnly[refID(st["Resource"])] = true
			}
		}
	}
	for id, q := range queues {
		if got := props(q)["SqsManagedSseEnabled"]; got != true {
			t.Errorf("queue %s: SqsManagedSseEnabled = %v, want true", id, got)
		}
		if _, fifo := props(q)["FifoQueue"]; fifo {
			t.Errorf("queue %s: want a standard queue", id)
		}
		if !tlsOnly[id] {
			t.Errorf("queue %s: no policy denies it without TLS", id)
		}
	}
	for _, prefix := range dlqs {
		id, dlq := f.onlyResource(t, "AWS::SQS::Queue", prefix)
		if got := number(t, props(dlq)["MessageRetentionPeriod"]); got != 14*24*3600 {
			t.Errorf("%s: retention %vs, want 14 days", id, got)
		}
		if _, ok := props(dlq)["RedrivePolicy"]; ok {
			t.Errorf("%s: a DLQ with a DLQ", id)
		}
	}
	for _, c := range consumers {
		qid, q := f.onlyResource(t, "AWS::SQS::Queue", c.queue)
		dlqID, dlq := f.onlyResource(t, "AWS::SQS::Queue", c.dlq)
		_, fn := f.onlyResource(t, "AWS::Lambda::Function", c.function)

		rp, _ := props(q)["RedrivePolicy"].(map[string]any)
		if rp == nil {
			t.Errorf("%s: no RedrivePolicy", qid)
			continue
		}
		if got := refID(rp["deadLetterTargetArn"]); got != dlqID {
			t.Errorf("%s: dead-letter target %q, want %s", qid, got, dlqID)
		}
		if n := number(t, rp["maxReceiveCount"]); n < 5 {
			t.Errorf("%s: maxReceiveCount %v, want >= 5", qid, n)
		}
		// A standard queue's DLQ keeps the original enqueue time, so the DLQ
		// must keep messages longer than the work queue does.
		if w, d := number(t, props(q)["MessageRetentionPeriod"]), number(t, props(dlq)["MessageRetentionPeriod"]); w >= d {
			t.Errorf("%s: retention %vs, want less than its DLQ's %vs", qid, w, d)
		}
		vis, timeout := number(t, props(q)["VisibilityTimeout"]), number(t, props(fn)["Timeout"])
		if vis < 6*timeout {
			t.Errorf("%s: visibility timeout %vs < 6 × %s timeout %vs", qid, vis, c.function, timeout)
		}
	}
}

func TestFunctions(t *testing.T) {
	f := synthDefault(t)
	tableID, _ := f.onlyResource(t, "AWS::DynamoDB::Table", "Table")
	queueID := func(prefix string) string { id, _ := f.onlyResource(t, "AWS::SQS::Queue", prefix); return id }
	wantEnvRefs := map[string]string{
		"LEADRELAY_TABLE":              tableID,
		"LEADRELAY_ROUTING_QUEUE_URL":  queueID("RoutingQueue"),
		"LEADRELAY_DELIVERY_QUEUE_URL": queueID("DeliveryQueue"),
		"LEADRELAY_ROUTING_DLQ_URL":    queueID("RoutingDLQ"),
		"LEADRELAY_DELIVERY_DLQ_URL":   queueID("DeliveryDLQ"),
		"LEADRELAY_META_QUEUE_URL":     queueID("MetaQueue"),
		"LEADRELAY_META_DLQ_URL":       queueID("MetaDLQ"),
	}
	want := map[string]time.Duration{
		"Ingest": limits.IngestFunctionTimeout, "Router": limits.RouterFunctionTimeout,
		"Delivery": limits.DeliveryFunctionTimeout, "Admin": limits.AdminFunctionTimeout,
		"Ping": limits.PingFunctionTimeout, "Aggregate": limits.AggregateFunctionTimeout,
		"Sweeper": limits.SweeperFunctionTimeout,
	}
	if n := len(f.resources("AWS::Lambda::Function")); n != len(want) {
		t.Errorf("got %d functions, want %d", n, len(want))
	}
	if n := len(FunctionNames()); n != len(want) {
		t.Errorf("FunctionNames has %d names, want %d", n, len(want))
	}
	for _, name := range FunctionNames() {
		if _, ok := want[constructID(name)]; !ok {
			t.Errorf("function %s: not tested", name)
		}
	}
	for name, timeout := range want {
		id, fn := f.onlyResource(t, "AWS::Lambda::Function", name+"Function")
		p := props(fn)
		if p["Runtime"] != "provided.al2023" || p["Handler"] != "bootstrap" {
			t.Errorf("%s: runtime %v handler %v, want provided.al2023 bootstrap", id, p["Runtime"], p["Handler"])
		}
		if got, _ := p["Architectures"].([]any); !slices.Equal(got, []any{"arm64"}) {
			t.Errorf("%s: architectures %v, want [arm64]", id, got)
		}
		if got := number(t, p["Timeout"]); got != timeout.Seconds() {
			t.Errorf("%s: timeout %vs, want %v", id, got, timeout)
		}
		// Only the sweeper reserves (and caps) its concurrency.
		if rc, ok := p["ReservedConcurrentExecutions"]; name == "Sweeper" {
			if !ok || number(t, rc) != 1 {
				t.Errorf("%s: reserved concurrency %v, want 1 (sweeps must not overlap)", id, rc)
			}
		} else if ok {
			t.Errorf("%s: reserved concurrency %v, want none", id, rc)
		}
		if got := number(t, p["MemorySize"]); got != 256 {
			t.Errorf("%s: memory %v, want 256", id, got)
		}
		if got, _ := p["TracingConfig"].(map[string]any); got["Mode"] != "Active" {
			t.Errorf("%s: tracing %v, want Active", id, got)
		}
		logging, _ := p["LoggingConfig"].(map[string]any)
		if logging["LogFormat"] != "JSON" {
			t.Errorf("%s: log format %v, want JSON", id, logging["LogFormat"])
		}
		lg := f.resources("AWS::Logs::LogGroup")[refID(logging["LogGroup"])]
		if lg == nil || number(t, props(lg)["RetentionInDays"]) != 30 {
			t.Errorf("%s: log group %v, want one with 30 days retention", id, logging["LogGroup"])
		}
		// Its own role, no AWS managed policy: it writes its own log group
		// and no other.
		roleID := refID(p["Role"])
		if role := f.resources("AWS::IAM::Role")[roleID]; role == nil || props(role)["ManagedPolicyArns"] != nil {
			t.Errorf("%s: role %s with managed policies %v, want none", id, roleID, props(role)["ManagedPolicyArns"])
		}
		g := f.roleGrants(t)[roleID]
		for _, a := range []string{"logs:CreateLogStream", "logs:PutLogEvents"} {
			if rs := g.resourcesFor(a); !slices.Equal(rs, []string{refID(logging["LogGroup"])}) {
				t.Errorf("%s: %s on %v, want its own log group only", id, a, rs)
			}
		}
		if len(g["logs:CreateLogGroup"]) > 0 {
			t.Errorf("%s: may create log groups", id)
		}
		code, _ := p["Code"].(map[string]any)
		if code["S3Key"] == nil {
			t.Errorf("%s: code %v, want an S3 asset", id, code)
		}

		env, _ := p["Environment"].(map[string]any)
		vars, _ := env["Variables"].(map[string]any)
		for k, ref := range wantEnvRefs {
			if got := refID(vars[k]); got != ref {
				t.Errorf("%s: env %s = %v, want a reference to %s", id, k, vars[k], ref)
			}
		}
		if vars["LEADRELAY_PING_SECRET_PARAM"] != DefaultPingSecretParam {
			t.Errorf("%s: LEADRELAY_PING_SECRET_PARAM = %v, want %s", id, vars["LEADRELAY_PING_SECRET_PARAM"], DefaultPingSecretParam)
		}
		if vars["LEADRELAY_GOOGLE_ADS_URL"] != DefaultGoogleAdsURL {
			t.Errorf("%s: LEADRELAY_GOOGLE_ADS_URL = %v, want %s", id, vars["LEADRELAY_GOOGLE_ADS_URL"], DefaultGoogleAdsURL)
		}
		if vars["LEADRELAY_TWILIO_AUTH_TOKEN_PARAM"] != DefaultTwilioAuthTokenParam {
			t.Errorf("%s: LEADRELAY_TWILIO_AUTH_TOKEN_PARAM = %v, want %s", id, vars["LEADRELAY_TWILIO_AUTH_TOKEN_PARAM"], DefaultTwilioAuthTokenParam)
		}
		if vars["LEADRELAY_META_APP_SECRET_PARAM"] != DefaultMetaAppSecretParam || vars["LEADRELAY_META_GRAPH_URL"] != DefaultMetaGraphURL {
			t.Errorf("%s: LEADRELAY_META_APP_SECRET_PARAM = %v, LEADRELAY_META_GRAPH_URL = %v", id, vars["LEADRELAY_META_APP_SECRET_PARAM"], vars["LEADRELAY_META_GRAPH_URL"])
		}
		if vars["LEADRELAY_EMAIL_FROM"] != "leads@leadrelay.local" {
			t.Errorf("%s: LEADRELAY_EMAIL_FROM = %v", id, vars["LEADRELAY_EMAIL_FROM"])
		}
		if vars["LEADRELAY_ALLOW_PRIVATE_TARGETS"] != "false" {
			t.Errorf("%s: LEADRELAY_ALLOW_PRIVATE_TARGETS = %v, want false", id, vars["LEADRELAY_ALLOW_PRIVATE_TARGETS"])
		}
	}
	// Every function has its own asset: the fake binaries differ.
	keys := map[any]bool{}
	for _, fn := range f.resources("AWS::Lambda::Function") {
		keys[props(fn)["Code"].(map[string]any)["S3Key"]] = true
	}
	if len(keys) != len(want) {
		t.Errorf("functions share code assets: %d distinct S3 keys, want %d", len(keys), len(want))
	}
}

func TestEventSourceMappings(t *testing.T) {
	f := synthDefault(t)
	esms := f.resources("AWS::Lambda::EventSourceMapping")
	if want := len(consumers) + 1; len(esms) != want {
		t.Fatalf("got %d event source mappings, want %d (the work queues and the table's stream)", len(esms), want)
	}
	queues := f.resources("AWS::SQS::Queue")
	for id, m := range esms {
		p := props(m)
		if _, ok := queues[refID(p["EventSourceArn"])]; !ok {
			continue // the table's stream: TestAggregateStream
		}
		if got, _ := p["FunctionResponseTypes"].([]any); !slices.Equal(got, []any{"ReportBatchItemFailures"}) {
			t.Errorf("%s: function response types %v, want [ReportBatchItemFailures]", id, got)
		}
		if got := number(t, p["BatchSize"]); got != 10 {
			t.Errorf("%s: batch size %v, want 10", id, got)
		}
	}
	for _, c := range consumers {
		qid, _ := f.onlyResource(t, "AWS::SQS::Queue", c.queue)
		fid, _ := f.onlyResource(t, "AWS::Lambda::Function", c.function)
		found := false
		for id, m := range esms {
			p := props(m)
			if refID(p["EventSourceArn"]) != qid {
				continue
			}
			found = true
			if got := refID(p["FunctionName"]); got != fid {
				t.Errorf("%s: %s feeds %s, want %s", id, qid, got, fid)
			}
			if w, ok := p["MaximumBatchingWindowInSeconds"]; ok && number(t, w) > 1 {
				t.Errorf("%s: batching window %vs, want at most 1", id, w)
			}
		}
		if !found {
			t.Errorf("no event source mapping reads %s", qid)
		}
	}
}

// apiMethod is one method of the REST API, as deployed.
type apiMethod struct {
	verb, path, auth, target string
}

func TestAPI(t *testing.T) {
	f := synthDefault(t)
	ingest, _ := f.onlyResource(t, "AWS::Lambda::Function", "IngestFunction")
	admin, _ := f.onlyResource(t, "AWS::Lambda::Function", "AdminFunction")
	ping, _ := f.onlyResource(t, "AWS::Lambda::Function", "PingFunction")

	resources := f.resources("AWS::ApiGateway::Resource")
	var path func(id string) string
	path = func(id string) string {
		r, ok := resources[id]
		if !ok {
			return "" // the root resource
		}
		p := props(r)
		return path(refID(p["ParentId"])) + "/" + p["PathPart"].(string)
	}
	var got []apiMethod
	for id, m := range f.resources("AWS::ApiGateway::Method") {
		p := props(m)
		integ, _ := p["Integration"].(map[string]any)
		if integ["Type"] != "AWS_PROXY" {
			t.Errorf("method %s: integration %v, want AWS_PROXY", id, integ["Type"])
		}
		target := strings.Join(refsIn(integ["Uri"]), ",")
		got = append(got, apiMethod{p["HttpMethod"].(string), path(refID(p["ResourceId"])), p["AuthorizationType"].(string), target})
	}
	want := []apiMethod{
		{"POST", "/v1/leads", "NONE", ingest},
		{"GET", "/v1/leads/{id}", "NONE", ingest},
		{"GET", "/v1/health", "NONE", ingest},
		{"POST", "/v1/pings", "NONE", ping}, // its own function, answered synchronously
		{"POST", "/v1/returns", "NONE", ingest},
		{"POST", "/v1/outcomes", "NONE", ingest},
		{"POST", "/v1/integrations/google/webhook", "NONE", ingest},
		{"POST", "/v1/integrations/stripe/webhook", "NONE", ingest},
		{"POST", "/v1/voice/incoming", "NONE", ingest}, // Twilio's, signed
		{"POST", "/v1/voice/dial-done", "NONE", ingest},
		{"POST", "/v1/voice/status", "NONE", ingest},
		{"GET", "/v1/integrations/meta/webhook", "NONE", ingest},
		{"POST", "/v1/integrations/meta/webhook", "NONE", ingest},
		{"ANY", "/v1/admin/{proxy+}", "AWS_IAM", admin},
		// The operators' console: it signs operators in itself (Cognito,
		// then its session cookie and CSRF tokens), no IAM.
		{"GET", "/console", "NONE", admin},
		{"ANY", "/console/{proxy+}", "NONE", admin},
	}
	less := func(a, b apiMethod) int { return strings.Compare(a.path+" "+a.verb, b.path+" "+b.verb) }
	slices.SortFunc(got, less)
	slices.SortFunc(want, less)
	if !slices.Equal(got, want) {
		t.Errorf("API methods:\n got %v\nwant %v", got, want)
	}

	// The handlers answer 4xx with the contract's bodies: no API-level validation.
	assert(t, "no request validator", func() {
		f.template.ResourceCountIs(jsii.String("AWS::ApiGateway::RequestValidator"), jsii.Number(0))
	})
	assert(t, "no request models", func() {
		f.template.ResourceCountIs(jsii.String("AWS::ApiGateway::Model"), jsii.Number(0))
	})
	assert(t, "stage", func() {
		f.template.HasResourceProperties(jsii.String("AWS::ApiGateway::Stage"), obj{
			"StageName":      StageName,
			"TracingEnabled": true,
			"AccessLogSetting": obj{
				"DestinationArn": assertions.Match_AnyValue(),
				"Format":         assertions.Match_StringLikeRegexp(jsii.String(`"status":"\$context.status"`)),
			},
			"MethodSettings": assertions.Match_ArrayWith(list(assertions.Match_ObjectLike(&obj{
				"HttpMethod":           "*",
				"ResourcePath":         "/*",
				"ThrottlingRateLimit":  assertions.Match_AnyValue(),
				"ThrottlingBurstLimit": assertions.Match_AnyValue(),
				"LoggingLevel":         "ERROR",
				"DataTraceEnabled":     false,
			}))),
		})
	})
	// API Gateway's execution log group exists before the stage logs to
	// it, with the stack's retention.
	execID, execLogs := f.onlyResource(t, "AWS::Logs::LogGroup", "ApiExecutionLogs")
	apiID, _ := f.onlyResource(t, "AWS::ApiGateway::RestApi", "Api")
	if got := resourceKey(props(execLogs)["LogGroupName"]); got != "API-Gateway-Execution-Logs_"+apiID+"/"+StageName {
		t.Errorf("execution log group name %q", got)
	}
	if number(t, props(execLogs)["RetentionInDays"]) != 30 {
		t.Errorf("execution log group retention %v, want 30", props(execLogs)["RetentionInDays"])
	}
	_, stage := f.onlyResource(t, "AWS::ApiGateway::Stage", "ApiDeploymentStage")
	if !slices.Contains(asList(stage["DependsOn"]), any(execID)) {
		t.Errorf("stage depends on %v, want %s among them", stage["DependsOn"], execID)
	}
	// API Gateway may invoke each function only from this API; EventBridge
	// only the sweeper from its schedule, and admin from its five.
	sweeper, _ := f.onlyResource(t, "AWS::Lambda::Function", "SweeperFunction")
	rule, _ := f.onlyResource(t, "AWS::Events::Rule", "SweepSchedule")
	train, _ := f.onlyResource(t, "AWS::Events::Rule", "TrainSchedule")
	loops, _ := f.onlyResource(t, "AWS::Events::Rule", "FeedbackSchedule")
	spend, _ := f.onlyResource(t, "AWS::Events::Rule", "SpendSchedule")
	convs, _ := f.onlyResource(t, "AWS::Events::Rule", "ConversionsSchedule")
	bills, _ := f.onlyResource(t, "AWS::Events::Rule", "BillingSchedule")
	for id, perm := range f.resources("AWS::Lambda::Permission") {
		p := props(perm)
		fn := refID(p["FunctionName"])
		if p["Principal"] == "events.amazonaws.com" {
			from := refID(p["SourceArn"])
			if !(fn == sweeper && from == rule) && !(fn == admin && (from == train || from == loops || from == spend || from == convs || from == bills)) {
				t.Errorf("permission %s: EventBridge may invoke %s from %v, want the sweeper from %s, admin from %s, %s, %s, %s and %s", id, fn, from, rule, train, loops, spend, convs, bills)
			}
			continue
		}
		if fn != ingest && fn != admin && fn != ping {
			t.Errorf("permission %s: grants invoke on %s", id, fn)
		}
		if p["Principal"] != "apigateway.amazonaws.com" || p["SourceArn"] == nil {
			t.Errorf("permission %s: principal %v source %v, want API Gateway scoped to the API", id, p["Principal"], p["SourceArn"])
		}
	}
}

func TestAlarms(t *testing.T) {
	f := synthDefault(t)
	topicID, _ := f.onlyResource(t, "AWS::SNS::Topic", "AlarmTopic")
	alarms := f.resources("AWS::CloudWatch::Alarm")
	watched := map[string]bool{}
	for id, a := range alarms {
		p := props(a)
		if p["MetricName"] != "ApproximateNumberOfMessagesVisible" || p["Namespace"] != "AWS/SQS" {
			t.Errorf("alarm %s: metric %v/%v", id, p["Namespace"], p["MetricName"])
		}
		if p["ComparisonOperator"] != "GreaterThanOrEqualToThreshold" || number(t, p["Threshold"]) != 1 ||
			number(t, p["EvaluationPeriods"]) != 1 || number(t, p["Period"]) != 60 {
			t.Errorf("alarm %s: %v %v over %v × %vs, want >= 1 over 1 × 60s",
				id, p["ComparisonOperator"], p["Threshold"], p["EvaluationPeriods"], p["Period"])
		}
		if !slices.Contains(refsIn(p["AlarmActions"]), topicID) {
			t.Errorf("alarm %s: actions %v, want the alarm topic %s", id, p["AlarmActions"], topicID)
		}
		for _, d := range p["Dimensions"].([]any) {
			dim := d.(map[string]any)
			if dim["Name"] == "QueueName" {
				watched[refID(dim["Value"])] = true
			}
		}
	}
	for _, prefix := range dlqs {
		dlqID, _ := f.onlyResource(t, "AWS::SQS::Queue", prefix)
		if !watched[dlqID] {
			t.Errorf("no alarm watches %s (watched: %v)", dlqID, watched)
		}
	}
	if len(alarms) != len(dlqs) {
		t.Errorf("got %d alarms, want %d", len(alarms), len(dlqs))
	}
	// Publishing takes TLS.
	assert(t, "TLS-only topic", func() {
		f.template.HasResourceProperties(jsii.String("AWS::SNS::TopicPolicy"), obj{
			"Topics": list(obj{"Ref": topicID}),
			"PolicyDocument": obj{"Statement": assertions.Match_ArrayWith(list(assertions.Match_ObjectLike(&obj{
				"Effect":    "Deny",
				"Condition": obj{"Bool": obj{"aws:SecureTransport": "false"}},
			})))},
		})
	})
	assert(t, "email subscription", func() {
		f.template.HasResourceProperties(jsii.String("AWS::SNS::Subscription"), obj{
			"Protocol": "email",
			"Endpoint": testAlarmEmail,
			"TopicArn": obj{"Ref": topicID},
		})
	})
}

func TestOutputs(t *testing.T) {
	f := synthDefault(t)
	for _, name := range []string{"ApiUrl", "TableName", "RoutingQueueUrl", "DeliveryQueueUrl", "RoutingDlqUrl", "DeliveryDlqUrl",
		"MetaQueueUrl", "MetaDlqUrl", "LedgerDlqUrl", "AlarmTopicArn", "ConsoleUrl", "UserPoolId"} {
		assert(t, "output "+name, func() {
			f.template.HasOutput(jsii.String(name), obj{"Value": assertions.Match_AnyValue()})
		})
	}
	topicID, _ := f.onlyResource(t, "AWS::SNS::Topic", "AlarmTopic")
	tableID, _ := f.onlyResource(t, "AWS::DynamoDB::Table", "Table")
	outputs := f.json["Outputs"].(map[string]any)
	if got := refsIn(outputs["AlarmTopicArn"]); !slices.Equal(got, []string{topicID}) {
		t.Errorf("AlarmTopicArn refers to %v, want %s", got, topicID)
	}
	if got := refsIn(outputs["TableName"]); !slices.Equal(got, []string{tableID}) {
		t.Errorf("TableName refers to %v, want %s", got, tableID)
	}
	ledgerDLQ, _ := f.onlyResource(t, "AWS::SQS::Queue", "LedgerDLQ")
	if got := refsIn(outputs["LedgerDlqUrl"]); !slices.Equal(got, []string{ledgerDLQ}) {
		t.Errorf("LedgerDlqUrl refers to %v, want %s", got, ledgerDLQ)
	}
	if s := strings.Join(refsIn(outputs["ApiUrl"]), ","); !strings.Contains(s, "Api") {
		t.Errorf("ApiUrl refers to %v, want the REST API", s)
	}
	poolID, _ := f.onlyResource(t, "AWS::Cognito::UserPool", "OperatorPool")
	if got := refsIn(outputs["UserPoolId"]); !slices.Equal(got, []string{poolID}) {
		t.Errorf("UserPoolId refers to %v, want %s", got, poolID)
	}
	if got, want := resourceKey(outputs["ConsoleUrl"].(map[string]any)["Value"]), stageURL(t, f)+"/console"; got != want {
		t.Errorf("ConsoleUrl %q, want %q", got, want)
	}
}

// stageURL is the stage's URL as resourceKey renders the join of it.
func stageURL(t *testing.T, f *fixture) string {
	apiID, _ := f.onlyResource(t, "AWS::ApiGateway::RestApi", "Api")
	return "https://" + apiID + ".execute-api.AWS::Region.AWS::URLSuffix/" + StageName
}

// Deployed, the console's operators sign in through the stack's user
// pool: invited only, by email, strong passwords, optional TOTP, kept
// when the stack goes; its hosted login on a domain of the stack's own;
// the console's app client public (no secret: the code is traded with a
// PKCE verifier), code flow only, back to <stage>/console/callback.
func TestConsoleSignIn(t *testing.T) {
	f := synthDefault(t)
	poolID, pool := f.onlyResource(t, "AWS::Cognito::UserPool", "OperatorPool")
	assert(t, "user pool", func() {
		f.template.HasResourceProperties(jsii.String("AWS::Cognito::UserPool"), obj{
			"AdminCreateUserConfig": obj{
				"AllowAdminCreateUserOnly": true,
				"InviteMessageTemplate":    assertions.Match_ObjectLike(&obj{"EmailSubject": assertions.Match_AnyValue()}),
			},
			"UsernameAttributes":     []any{"email"},
			"UsernameConfiguration":  obj{"CaseSensitive": false},
			"AutoVerifiedAttributes": []any{"email"},
			"AccountRecoverySetting": obj{"RecoveryMechanisms": []any{obj{"Name": "verified_email", "Priority": 1}}},
			"Policies": obj{"PasswordPolicy": obj{
				"MinimumLength": 12, "RequireLowercase": true, "RequireUppercase": true, "RequireNumbers": true, "RequireSymbols": true,
				"TemporaryPasswordValidityDays": 7,
			}},
			"MfaConfiguration":   "OPTIONAL",
			"EnabledMfas":        []any{"SOFTWARE_TOKEN_MFA"},
			"DeletionProtection": "ACTIVE",
		})
	})
	if pool["DeletionPolicy"] != "Retain" || pool["UpdateReplacePolicy"] != "Retain" {
		t.Errorf("pool %s: deletion policy %v/%v, want Retain", poolID, pool["DeletionPolicy"], pool["UpdateReplacePolicy"])
	}
	// The invitation names the console's address and carries the
	// placeholders Cognito requires.
	invite := resourceKey(props(pool)["AdminCreateUserConfig"].(map[string]any)["InviteMessageTemplate"].(map[string]any)["EmailMessage"])
	for _, want := range []string{stageURL(t, f) + "/console", "{username}", "{####}"} {
		if !strings.Contains(invite, want) {
			t.Errorf("invitation %q: want %q in it", invite, want)
		}
	}

	// The hosted login's domain: the stack's name and id, unique and lowercase.
	_, domain := f.onlyResource(t, "AWS::Cognito::UserPoolDomain", "OperatorPool")
	if got := refID(props(domain)["UserPoolId"]); got != poolID {
		t.Errorf("domain of pool %q, want %s", got, poolID)
	}
	join, _ := props(domain)["Domain"].(map[string]any)["Fn::Join"].([]any)
	if len(join) != 2 || !slices.Contains(refsInAll(join[1]), "AWS::StackId") || join[1].([]any)[0] != "leadrelay-" {
		t.Errorf("domain prefix %v, want leadrelay-<the stack's id>", props(domain)["Domain"])
	}

	clientID, client := f.onlyResource(t, "AWS::Cognito::UserPoolClient", "OperatorPool")
	p := props(client)
	if refID(p["UserPoolId"]) != poolID {
		t.Errorf("client %s: pool %v", clientID, p["UserPoolId"])
	}
	for k, want := range map[string]any{
		"GenerateSecret": false, "AllowedOAuthFlowsUserPoolClient": true, "PreventUserExistenceErrors": "ENABLED",
		"EnableTokenRevocation": true,
	} {
		if p[k] != want {
			t.Errorf("client %s: %s = %v, want %v", clientID, k, p[k], want)
		}
	}
	for k, want := range map[string][]any{
		"AllowedOAuthFlows":          {"code"},
		"AllowedOAuthScopes":         {"openid", "email"},
		"SupportedIdentityProviders": {"COGNITO"},
	} {
		if got, _ := p[k].([]any); !slices.Equal(got, want) {
			t.Errorf("client %s: %s = %v, want %v", clientID, k, p[k], want)
		}
	}
	if got, _ := p["ExplicitAuthFlows"].([]any); slices.ContainsFunc(got, func(v any) bool {
		return v == "ALLOW_USER_PASSWORD_AUTH" || v == "ALLOW_ADMIN_USER_PASSWORD_AUTH" || v == "ALLOW_CUSTOM_AUTH"
	}) {
		t.Errorf("client %s: auth flows %v, want SRP and refresh only", clientID, got)
	}
	for k, want := range map[string]string{"CallbackURLs": "/console/callback", "LogoutURLs": "/console/login"} {
		urls, _ := p[k].([]any)
		if len(urls) != 1 || resourceKey(urls[0]) != stageURL(t, f)+want {
			t.Errorf("client %s: %s = %v, want the stage's %s", clientID, k, p[k], want)
		}
	}
	units, _ := p["TokenValidityUnits"].(map[string]any)
	for k, minutes := range map[string]float64{"IdToken": 60, "AccessToken": 60, "RefreshToken": 12 * 60} {
		if units[k] != "minutes" || number(t, p[k+"Validity"]) != minutes {
			t.Errorf("client %s: %sValidity %v %v, want %v minutes", clientID, k, p[k+"Validity"], units[k], minutes)
		}
	}

	// The admin function serves the console: it is told the pool, the
	// client, the hosted login and the stage's URL; no other function
	// hears of Cognito.
	domainID, _ := f.onlyResource(t, "AWS::Cognito::UserPoolDomain", "OperatorPool")
	for id, fn := range f.resources("AWS::Lambda::Function") {
		vars, _ := props(fn)["Environment"].(map[string]any)["Variables"].(map[string]any)
		if !strings.HasPrefix(id, "AdminFunction") {
			for k := range vars {
				if strings.HasPrefix(k, "LEADRELAY_COGNITO_") {
					t.Errorf("%s: %s set, want it on the admin function only", id, k)
				}
			}
			continue
		}
		for k, want := range map[string]string{
			"LEADRELAY_COGNITO_DOMAIN":    "https://" + domainID + ".auth.AWS::Region.amazoncognito.com",
			"LEADRELAY_COGNITO_CLIENT_ID": clientID,
			"LEADRELAY_COGNITO_ISSUER":    "https://" + poolID + ".ProviderURL",
			"LEADRELAY_PUBLIC_URL":        stageURL(t, f),
		} {
			if got := joinKey(vars[k]); got != want {
				t.Errorf("%s: %s = %v (%q), want %q", id, k, vars[k], got, want)
			}
		}
	}
}

// joinKey is resourceKey, with a GetAtt of an attribute inside a join
// rendered as id.Attribute.
func joinKey(v any) string {
	m, ok := v.(map[string]any)
	if !ok {
		return resourceKey(v)
	}
	j, ok := m["Fn::Join"].([]any)
	if !ok || len(j) != 2 {
		return resourceKey(v)
	}
	var b strings.Builder
	for _, part := range j[1].([]any) {
		if s, ok := part.(string); ok {
			b.WriteString(s)
		} else {
			b.WriteString(resourceKey(part))
		}
	}
	return b.String()
}

// refsInAll is refsIn with the pseudo parameters (AWS::StackId...).
func refsInAll(v any) []string {
	var out []string
	var walk func(any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if id, ok := x["Ref"].(string); ok {
				out = append(out, id)
			}
			for _, e := range x {
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(v)
	return out
}

// The console's sign-in settings, as CDK context: cognito=false leaves
// the pool out (LocalStack's free edition has no Cognito) and keeps the
// console's routes; cognitoDomainPrefix names the hosted login's domain;
// cognitoMfa=required makes TOTP everyone's.
func TestConsoleSignInContext(t *testing.T) {
	if testing.Short() {
		t.Skip("more synths; skipped with -short")
	}
	f, err := synthWithContext("nocognito", map[string]any{"cognito": "false"})
	if err != nil {
		t.Fatal(err)
	}
	for _, typ := range []string{"AWS::Cognito::UserPool", "AWS::Cognito::UserPoolClient", "AWS::Cognito::UserPoolDomain"} {
		if n := len(f.resources(typ)); n != 0 {
			t.Errorf("cognito=false: %d %s", n, typ)
		}
	}
	_, admin := f.onlyResource(t, "AWS::Lambda::Function", "AdminFunction")
	vars, _ := props(admin)["Environment"].(map[string]any)["Variables"].(map[string]any)
	for k := range vars {
		if strings.HasPrefix(k, "LEADRELAY_COGNITO_") {
			t.Errorf("cognito=false: the admin function has %s", k)
		}
	}
	if vars["LEADRELAY_PUBLIC_URL"] == nil {
		t.Error("cognito=false: the admin function lost LEADRELAY_PUBLIC_URL")
	}
	if _, ok := f.stack.apiMethods["ANY /console/{proxy+}"]; !ok {
		t.Error("cognito=false: no console routes")
	}
	if _, ok := f.json["Outputs"].(map[string]any)["UserPoolId"]; ok {
		t.Error("cognito=false: a UserPoolId output")
	}

	f, err = synthWithContext("cognitoctx", map[string]any{"cognitoDomainPrefix": "acme-leads", "cognitoMfa": "required"})
	if err != nil {
		t.Fatal(err)
	}
	_, domain := f.onlyResource(t, "AWS::Cognito::UserPoolDomain", "OperatorPool")
	if got := props(domain)["Domain"]; got != "acme-leads" {
		t.Errorf("domain %v, want acme-leads", got)
	}
	_, pool := f.onlyResource(t, "AWS::Cognito::UserPool", "OperatorPool")
	if got := props(pool)["MfaConfiguration"]; got != "ON" {
		t.Errorf("cognitoMfa=required: MfaConfiguration %v, want ON", got)
	}

	for _, ctx := range []map[string]any{
		{"cognitoDomainPrefix": "Acme"}, {"cognitoDomainPrefix": "my-cognito-login"}, {"cognitoDomainPrefix": "-acme"},
		{"cognitoMfa": "sometimes"},
	} {
		if _, err := synthWithContext("badctx", ctx); err == nil {
			t.Errorf("context %v: synthesized, want an error", ctx)
		}
	}
}

func TestCheckDomainPrefix(t *testing.T) {
	for p, ok := range map[string]bool{
		"leadrelay": true, "acme-leads-2": true, "a": true, strings.Repeat("a", 63): true,
		"": false, "Acme": false, "acme_leads": false, "acme-": false, "-acme": false, strings.Repeat("a", 64): false,
		"my-aws-login": false, "amazonleads": false, "cognito": false,
	} {
		if err := checkDomainPrefix(p); (err == nil) != ok {
			t.Errorf("checkDomainPrefix(%q) = %v, want ok %v", p, err, ok)
		}
	}
}

// synthWithContext synthesizes the default stack with CDK context values
// (as `cdk -c key=value` gives them).
func synthWithContext(name string, ctx map[string]any) (f *fixture, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("synth %s: %v", name, r)
		}
	}()
	base := filepath.Join(testRoot, name)
	assets := filepath.Join(base, "assets")
	for _, fn := range FunctionNames() {
		dir := filepath.Join(assets, fn)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(dir, "bootstrap"), []byte("#!/bin/sh\n# fake "+fn+"\n"), 0o755); err != nil {
			return nil, err
		}
	}
	app := newApp(filepath.Join(base, "cdk.out"))
	for k, v := range ctx {
		app.Node().SetContext(jsii.String(k), v)
	}
	stack, err := NewLeadRelayStack(app, StackName, &LeadRelayStackProps{AssetsDir: assets, Arch: ArchARM64, DeletionProtection: true})
	if err != nil {
		return nil, err
	}
	tmpl := assertions.Template_FromStack(stack.Stack, nil)
	raw, err := json.Marshal(*tmpl.ToJSON())
	if err != nil {
		return nil, err
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, err
	}
	return &fixture{stack: stack, template: tmpl, json: doc}, nil
}

// TestLocalStackVariant synthesizes the stack as `make localstack-deploy` does
// on an amd64 host: x86_64 functions, no deletion protection, no alarm email.
func TestLocalStackVariant(t *testing.T) {
	if testing.Short() {
		t.Skip("a second synth; skipped with -short")
	}
	f, err := synth("localstack", &LeadRelayStackProps{Arch: ArchX8664, DeletionProtection: false})
	if err != nil {
		t.Fatal(err)
	}
	for id, fn := range f.resources("AWS::Lambda::Function") {
		if got, _ := props(fn)["Architectures"].([]any); !slices.Equal(got, []any{"x86_64"}) {
			t.Errorf("%s: architectures %v, want [x86_64]", id, got)
		}
	}
	assert(t, "deletion protection off", func() {
		f.template.HasResourceProperties(jsii.String("AWS::DynamoDB::Table"), obj{"DeletionProtectionEnabled": false})
	})
	assert(t, "still retained", func() {
		f.template.HasResource(jsii.String("AWS::DynamoDB::Table"), obj{"DeletionPolicy": "Retain"})
	})
	assert(t, "no email subscription", func() {
		f.template.ResourceCountIs(jsii.String("AWS::SNS::Subscription"), jsii.Number(0))
	})
	assert(t, "user pool without deletion protection, still retained", func() {
		f.template.HasResource(jsii.String("AWS::Cognito::UserPool"), obj{
			"Properties":     assertions.Match_ObjectLike(&obj{"DeletionProtection": "INACTIVE"}),
			"DeletionPolicy": "Retain",
		})
	})
	assert(t, "alarms still notify the topic", func() {
		f.template.ResourceCountIs(jsii.String("AWS::CloudWatch::Alarm"), jsii.Number(float64(len(dlqs))))
	})
}
