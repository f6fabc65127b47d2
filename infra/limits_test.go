package main

import (
	"testing"
	"time"

	"github.com/leadrelay/leadrelay/shared/limits"
)

// TestDeploymentLimits reads the synthesized template and holds it to
// package limits, which config validation reads too: the functions'
// timeouts, the work queues' maxReceiveCount and visibility timeouts are the
// ones the configuration's bounds were derived from.
func TestDeploymentLimits(t *testing.T) {
	f := synthDefault(t)
	timeouts := map[string]time.Duration{
		"IngestFunction":    limits.IngestFunctionTimeout,
		"RouterFunction":    limits.RouterFunctionTimeout,
		"DeliveryFunction":  limits.DeliveryFunctionTimeout,
		"AdminFunction":     limits.AdminFunctionTimeout,
		"PingFunction":      limits.PingFunctionTimeout,
		"AggregateFunction": limits.AggregateFunctionTimeout,
		"SweeperFunction":   limits.SweeperFunctionTimeout,
	}
	for prefix, want := range timeouts {
		id, fn := f.onlyResource(t, "AWS::Lambda::Function", prefix)
		if got := number(t, props(fn)["Timeout"]); got != want.Seconds() {
			t.Errorf("%s: Timeout %vs, want limits' %v", id, got, want)
		}
	}
	if n := len(f.resources("AWS::Lambda::Function")); n != len(timeouts) {
		t.Errorf("%d functions, %d with a timeout in package limits", n, len(timeouts))
	}

	for _, c := range consumers {
		qid, q := f.onlyResource(t, "AWS::SQS::Queue", c.queue)
		rp, _ := props(q)["RedrivePolicy"].(map[string]any)
		got := number(t, rp["maxReceiveCount"])
		if got != float64(c.maxReceive) {
			t.Errorf("%s: maxReceiveCount %v, want limits' %d", qid, got, c.maxReceive)
		}
		// Every delivery attempt is one receive: max_attempts past
		// maxReceiveCount would never happen.
		if c.queue == "DeliveryQueue" && got <= float64(limits.MaxDeliveryAttempts) {
			t.Errorf("%s: maxReceiveCount %v, want above limits.MaxDeliveryAttempts %d", qid, got, limits.MaxDeliveryAttempts)
		}
		consumer := timeouts[c.function]
		want := time.Duration(limits.VisibilityPerTimeout) * consumer
		if vis := number(t, props(q)["VisibilityTimeout"]); vis != want.Seconds() {
			t.Errorf("%s: visibility timeout %vs, want %d × %s's %v = %v", qid, vis, limits.VisibilityPerTimeout, c.function, consumer, want)
		}
	}

	// The settings' bounds fit the functions as deployed.
	_, delivery := f.onlyResource(t, "AWS::Lambda::Function", "DeliveryFunction")
	if d := number(t, props(delivery)["Timeout"]); 2*limits.MaxDeliveryTimeout.Seconds() > d {
		t.Errorf("2 × MaxDeliveryTimeout %v > the delivery function's %vs", limits.MaxDeliveryTimeout, d)
	}
	for _, prefix := range []string{"PingFunction", "RouterFunction"} {
		_, fn := f.onlyResource(t, "AWS::Lambda::Function", prefix)
		if d := number(t, props(fn)["Timeout"]); limits.MaxPingTimeout.Seconds() >= d {
			t.Errorf("MaxPingTimeout %v >= %s's %vs", limits.MaxPingTimeout, prefix, d)
		}
	}
}
