package limits_test

import (
	"testing"
	"time"

	"github.com/leadrelay/leadrelay/shared/limits"
	"github.com/leadrelay/leadrelay/shared/ping"
)

// The relations the limits must keep: a setting's largest value must fit
// the deployment limit it runs under.

func TestDeliveryAttemptsBelowMaxReceiveCount(t *testing.T) {
	// Every delivery attempt is a receive: attempts at or past
	// maxReceiveCount never happen, SQS dead-letters the message first.
	if limits.MaxDeliveryAttempts >= limits.QueueMaxReceiveCount {
		t.Errorf("MaxDeliveryAttempts %d >= QueueMaxReceiveCount %d", limits.MaxDeliveryAttempts, limits.QueueMaxReceiveCount)
	}
	if slack := limits.QueueMaxReceiveCount - limits.MaxDeliveryAttempts; slack < limits.ReceiveSlack || limits.ReceiveSlack < 1 {
		t.Errorf("%d receives of slack after the last attempt, want ReceiveSlack %d >= 1", slack, limits.ReceiveSlack)
	}
	// Lambda's advice for SQS event sources (DESIGN.md): at least 5.
	if limits.QueueMaxReceiveCount < 5 {
		t.Errorf("QueueMaxReceiveCount %d, want >= 5", limits.QueueMaxReceiveCount)
	}
	if limits.MetaMaxReceiveCount < 5 {
		t.Errorf("MetaMaxReceiveCount %d, want >= 5", limits.MetaMaxReceiveCount)
	}
	if limits.MaxDeliveryAttempts < 1 {
		t.Errorf("MaxDeliveryAttempts %d, want >= 1", limits.MaxDeliveryAttempts)
	}
}

func TestDeliveryTimeoutFitsTheDeliveryFunction(t *testing.T) {
	// The post plus the lead's reads and writes around it.
	if 2*limits.MaxDeliveryTimeout > limits.DeliveryFunctionTimeout {
		t.Errorf("2 × MaxDeliveryTimeout %v > DeliveryFunctionTimeout %v", limits.MaxDeliveryTimeout, limits.DeliveryFunctionTimeout)
	}
}

func TestPingTimeoutFitsThePingAndRouterFunctions(t *testing.T) {
	// A seller's ping is answered within ping.Budget(ping.timeout); the
	// ping function needs at least a second besides (cold start, the
	// configuration read, signing the answer).
	const pingMargin = time.Second
	if b := ping.Budget(limits.MaxPingTimeout); b+pingMargin > limits.PingFunctionTimeout {
		t.Errorf("a ping answered within %v (of MaxPingTimeout %v) + %v > PingFunctionTimeout %v",
			b, limits.MaxPingTimeout, pingMargin, limits.PingFunctionTimeout)
	}
	if limits.MaxPingTimeout >= limits.PingFunctionTimeout {
		t.Errorf("MaxPingTimeout %v >= PingFunctionTimeout %v", limits.MaxPingTimeout, limits.PingFunctionTimeout)
	}
	// The router's auction waits up to the whole ping.timeout, then
	// reserves caps and queues the delivery: at most half its time.
	if 2*limits.MaxPingTimeout > limits.RouterFunctionTimeout {
		t.Errorf("2 × MaxPingTimeout %v > RouterFunctionTimeout %v", limits.MaxPingTimeout, limits.RouterFunctionTimeout)
	}
}

func TestSweepsDoNotOverlap(t *testing.T) {
	// With reserved concurrency 1 a sweep that outlived the interval
	// would have the next scheduled one throttled.
	if limits.SweeperFunctionTimeout > limits.SweepInterval {
		t.Errorf("SweeperFunctionTimeout %v > SweepInterval %v", limits.SweeperFunctionTimeout, limits.SweepInterval)
	}
}

func TestVisibility(t *testing.T) {
	if limits.VisibilityPerTimeout < 6 {
		t.Errorf("VisibilityPerTimeout %d, want >= 6 (Lambda's rule for SQS event sources)", limits.VisibilityPerTimeout)
	}
	// SQS's visibility timeout is at most 12 hours.
	for name, d := range map[string]time.Duration{"router": limits.RouterFunctionTimeout, "delivery": limits.DeliveryFunctionTimeout} {
		if v := time.Duration(limits.VisibilityPerTimeout) * d; v > 12*time.Hour {
			t.Errorf("%s queue visibility %v > 12h", name, v)
		}
	}
}

func TestFunctionTimeoutsAreLambdas(t *testing.T) {
	for name, d := range map[string]time.Duration{
		"ingest": limits.IngestFunctionTimeout, "router": limits.RouterFunctionTimeout,
		"delivery": limits.DeliveryFunctionTimeout, "admin": limits.AdminFunctionTimeout,
		"ping": limits.PingFunctionTimeout, "aggregate": limits.AggregateFunctionTimeout,
		"sweeper": limits.SweeperFunctionTimeout,
	} {
		if d < time.Second || d > 15*time.Minute || d%time.Second != 0 {
			t.Errorf("%s function timeout %v: Lambda takes whole seconds, 1 s to 15 min", name, d)
		}
	}
}
