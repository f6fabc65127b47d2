package main

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/leadrelay/leadrelay/shared/limits"
)

// TestAggregateStream checks the aggregate function's mapping on the
// table's stream: only inserts, in order per shard, with the shard id in the
// event (tumbling window), retried, failures to the LedgerDLQ.
func TestAggregateStream(t *testing.T) {
	f := synthDefault(t)
	tableID, _ := f.onlyResource(t, "AWS::DynamoDB::Table", "Table")
	fnID, _ := f.onlyResource(t, "AWS::Lambda::Function", "AggregateFunction")
	dlqID, _ := f.onlyResource(t, "AWS::SQS::Queue", "LedgerDLQ")

	var found []string
	for id, m := range f.resources("AWS::Lambda::EventSourceMapping") {
		p := props(m)
		src, _ := p["EventSourceArn"].(map[string]any)
		ga, _ := src["Fn::GetAtt"].([]any)
		if len(ga) != 2 || ga[0] != tableID || ga[1] != "StreamArn" {
			continue
		}
		found = append(found, id)
		if got := refID(p["FunctionName"]); got != fnID {
			t.Errorf("%s: the stream feeds %s, want %s", id, got, fnID)
		}
		for key, want := range map[string]any{
			"StartingPosition":               "TRIM_HORIZON",
			"BatchSize":                      1000.0,
			"MaximumBatchingWindowInSeconds": 1.0,
			// The tumbling window is what puts the shard id in the event.
			"TumblingWindowInSeconds": 60.0,
			// One batch per shard at a time: the stream's order.
			"ParallelizationFactor":      1.0,
			"BisectBatchOnFunctionError": false,
			"MaximumRetryAttempts":       10000.0,
		} {
			if got := p[key]; got != want {
				t.Errorf("%s: %s = %v, want %v", id, key, got, want)
			}
		}
		dc, _ := p["DestinationConfig"].(map[string]any)
		of, _ := dc["OnFailure"].(map[string]any)
		if got := refID(of["Destination"]); got != dlqID {
			t.Errorf("%s: on-failure destination %v, want the LedgerDLQ %s", id, of["Destination"], dlqID)
		}
		fc, _ := p["FilterCriteria"].(map[string]any)
		filters, _ := fc["Filters"].([]any)
		if len(filters) != 1 {
			t.Fatalf("%s: filters %v, want one", id, fc)
		}
		pattern, _ := filters[0].(map[string]any)["Pattern"].(string)
		var got any
		if err := json.Unmarshal([]byte(pattern), &got); err != nil {
			t.Fatalf("%s: filter pattern %q: %v", id, pattern, err)
		}
		if want := map[string]any{"eventName": []any{"INSERT"}}; !reflect.DeepEqual(got, want) {
			t.Errorf("%s: filter %v, want %v (inserts only)", id, got, want)
		}
	}
	if len(found) != 1 {
		t.Errorf("mappings on the table's stream: %v, want exactly one", found)
	}
}

// TestAdminSchedules checks the admin function's scheduled tasks: each rule
// invokes it with its task, the training daily, the loops every
// limits.FeedbackInterval, the ad spend import hourly, the conversions
// every limits.ConversionsInterval and billing every
// limits.BillingInterval.
func TestAdminSchedules(t *testing.T) {
	f := synthDefault(t)
	fnID, _ := f.onlyResource(t, "AWS::Lambda::Function", "AdminFunction")
	for _, c := range []struct{ rule, every, task string }{
		{"TrainSchedule", "rate(1 day)", `{"task":"train"}`},
		{"FeedbackSchedule", "rate(5 minutes)", `{"task":"feedback"}`},
		{"SpendSchedule", "rate(1 hour)", `{"task":"spend"}`},
		{"ConversionsSchedule", "rate(1 minute)", `{"task":"conversions"}`},
		{"BillingSchedule", "rate(1 minute)", `{"task":"billing"}`},
	} {
		id, rule := f.onlyResource(t, "AWS::Events::Rule", c.rule)
		p := props(rule)
		if p["ScheduleExpression"] != c.every {
			t.Errorf("%s: schedule %v, want %s", id, p["ScheduleExpression"], c.every)
		}
		targets, _ := p["Targets"].([]any)
		if len(targets) != 1 {
			t.Fatalf("%s: targets %v", id, targets)
		}
		target := targets[0].(map[string]any)
		if refID(target["Arn"]) != fnID || target["Input"] != c.task {
			t.Errorf("%s: target %v, want %s with %s", id, target, fnID, c.task)
		}
	}
	if limits.FeedbackInterval != 5*time.Minute {
		t.Errorf("limits.FeedbackInterval %v: the schedule's expression above says 5 minutes", limits.FeedbackInterval)
	}
	if limits.ConversionsInterval != time.Minute || limits.BillingInterval != time.Minute {
		t.Errorf("limits.ConversionsInterval %v, BillingInterval %v: the schedules' expressions above say 1 minute", limits.ConversionsInterval, limits.BillingInterval)
	}
}

// TestSweepSchedule checks that the sweeper runs every minute, alone.
func TestSweepSchedule(t *testing.T) {
	f := synthDefault(t)
	fnID, fn := f.onlyResource(t, "AWS::Lambda::Function", "SweeperFunction")
	rules := f.resources("AWS::Events::Rule")
	if len(rules) != 6 {
		t.Fatalf("got %d EventBridge rules, want 6 (the sweeper's, the admin function's five tasks)", len(rules))
	}
	ruleID, rule := f.onlyResource(t, "AWS::Events::Rule", "SweepSchedule")
	p := props(rule)
	if limits.SweepInterval.Minutes() != 1 || p["ScheduleExpression"] != "rate(1 minute)" {
		t.Errorf("%s: schedule %v, want rate(1 minute) (limits.SweepInterval %v)", ruleID, p["ScheduleExpression"], limits.SweepInterval)
	}
	if p["State"] != "ENABLED" {
		t.Errorf("%s: state %v", ruleID, p["State"])
	}
	targets, _ := p["Targets"].([]any)
	if len(targets) != 1 || refID(targets[0].(map[string]any)["Arn"]) != fnID {
		t.Errorf("%s: targets %v, want only %s", ruleID, targets, fnID)
	}
	if got := number(t, props(fn)["ReservedConcurrentExecutions"]); got != 1 {
		t.Errorf("%s: reserved concurrency %v, want 1 (sweeps must not overlap)", fnID, got)
	}
	if got, limit := number(t, props(fn)["Timeout"]), limits.SweepInterval.Seconds(); got > limit {
		t.Errorf("%s: timeout %vs outlives the sweep interval %vs", fnID, got, limit)
	}
	// A sweep that could not run is dropped, not queued up behind the next.
	_, cfg := f.onlyResource(t, "AWS::Lambda::EventInvokeConfig", "SweeperFunction")
	if refID(props(cfg)["FunctionName"]) != fnID || number(t, props(cfg)["MaximumRetryAttempts"]) != 0 ||
		number(t, props(cfg)["MaximumEventAgeInSeconds"]) != 60 {
		t.Errorf("sweeper's async invoke config %v, want no retries, events at most 60 s old", props(cfg))
	}
}
