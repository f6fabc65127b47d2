package config

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/leadrelay/leadrelay/shared/limits"
)

// The settings bounded by deployment limits (package limits) are accepted
// at exactly the limit and refused just past it, naming the field and the
// limit.
func TestBoundsAtTheDeploymentLimits(t *testing.T) {
	const base = "type: webhook\nurl: https://b.example.com/x\n"
	pingDoc := func(timeout string) []byte {
		return []byte("campaigns:\n  - id: auto\n    fields:\n      phone: {type: phone}\n" +
			"    distribution: ping_post\n    ping: {timeout: " + timeout + "}\n")
	}
	cases := []struct {
		name       string
		ok, bad    []byte
		field      string
		mentioning string
	}{
		{
			"max_attempts",
			deliveryDoc(base + fmt.Sprintf("max_attempts: %d", limits.MaxDeliveryAttempts)),
			deliveryDoc(base + fmt.Sprintf("max_attempts: %d", limits.MaxDeliveryAttempts+1)),
			"buyers[0].delivery.max_attempts",
			fmt.Sprintf("max_attempts must be 1 to %d (the delivery queue's maxReceiveCount is %d)", limits.MaxDeliveryAttempts, limits.QueueMaxReceiveCount),
		},
		{
			"delivery timeout",
			deliveryDoc(base + "timeout: " + limits.MaxDeliveryTimeout.String()),
			deliveryDoc(base + "timeout: " + (limits.MaxDeliveryTimeout + time.Nanosecond).String()),
			"buyers[0].delivery.timeout",
			fmt.Sprintf("timeout must be 100ms to %s (the delivery function's timeout is 60s)", limits.MaxDeliveryTimeout),
		},
		{
			"delivery timeout minimum",
			deliveryDoc(base + "timeout: " + MinDeliveryTimeout.String()),
			deliveryDoc(base + "timeout: " + (MinDeliveryTimeout - time.Nanosecond).String()),
			"buyers[0].delivery.timeout",
			"timeout must be 100ms to",
		},
		{
			"ping timeout",
			pingDoc(limits.MaxPingTimeout.String()),
			pingDoc((limits.MaxPingTimeout + time.Nanosecond).String()),
			"campaigns[0].ping.timeout",
			fmt.Sprintf("ping timeout must be 50ms to %s (the ping function's timeout is 5s)", limits.MaxPingTimeout),
		},
		{
			"ping timeout minimum",
			pingDoc(MinPingTimeout.String()),
			pingDoc((MinPingTimeout - time.Nanosecond).String()),
			"campaigns[0].ping.timeout",
			"ping timeout must be 50ms to",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := Parse(c.ok); err != nil {
				t.Fatalf("at the limit: %v", err)
			}
			_, err := Parse(c.bad)
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("past the limit: want *Error, got %v", err)
			}
			for _, p := range ce.Problems {
				if p.Field == c.field && p.Code == CodeInvalid {
					if !strings.Contains(p.Message, c.mentioning) {
						t.Errorf("message %q, want it to contain %q", p.Message, c.mentioning)
					}
					if p.Line == 0 {
						t.Errorf("problem without a line: %+v", p)
					}
					return
				}
			}
			t.Fatalf("past the limit: got %+v; want field %q code %q", ce.Problems, c.field, CodeInvalid)
		})
	}
}

// The documented figures (README, docs/deploy.md, docs/delivery.md) are
// these; a change of the limits changes the docs.
func TestDocumentedLimits(t *testing.T) {
	if limits.MaxDeliveryAttempts != 20 || limits.QueueMaxReceiveCount != 25 ||
		limits.MaxDeliveryTimeout != 30*time.Second || limits.MaxPingTimeout != 4*time.Second {
		t.Errorf("limits changed (attempts %d, maxReceiveCount %d, delivery timeout %v, ping timeout %v): update the docs and this test",
			limits.MaxDeliveryAttempts, limits.QueueMaxReceiveCount, limits.MaxDeliveryTimeout, limits.MaxPingTimeout)
	}
}
