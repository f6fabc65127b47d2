package config

import (
	"errors"
	"testing"
	"time"
)

func TestBreakerPolicy(t *testing.T) {
	c, err := Parse(deliveryDoc("type: webhook\nurl: https://buyer.example.com/leads"))
	if err != nil {
		t.Fatal(err)
	}
	if p := c.Buyers[0].Delivery.BreakerPolicy(); p.Failures != 5 || p.Cooldown.D() != 60*time.Second {
		t.Fatalf("default policy %+v", p)
	}
	c, err = Parse(deliveryDoc("type: webhook\nurl: https://buyer.example.com/leads\nbreaker: {failures: 3, cooldown: 90s}"))
	if err != nil {
		t.Fatal(err)
	}
	if p := c.Buyers[0].Delivery.BreakerPolicy(); p.Failures != 3 || p.Cooldown.D() != 90*time.Second {
		t.Fatalf("policy %+v", p)
	}
	c, err = Parse(deliveryDoc("type: webhook\nurl: https://buyer.example.com/leads\nbreaker: {cooldown: 5s}"))
	if err != nil {
		t.Fatal(err)
	}
	if p := c.Buyers[0].Delivery.BreakerPolicy(); p.Failures != 5 || p.Cooldown.D() != 5*time.Second {
		t.Fatalf("partial policy %+v", p)
	}
}

func TestBreakerProblems(t *testing.T) {
	for _, c := range []struct{ block, field string }{
		{"breaker: {failures: -1}", "buyers[0].delivery.breaker.failures"},
		{"breaker: {failures: 101}", "buyers[0].delivery.breaker.failures"},
		{"breaker: {cooldown: 500ms}", "buyers[0].delivery.breaker.cooldown"},
		{"breaker: {cooldown: 25h}", "buyers[0].delivery.breaker.cooldown"},
	} {
		_, err := Parse(deliveryDoc("type: webhook\nurl: https://buyer.example.com/leads\n" + c.block))
		var ce *Error
		if !errors.As(err, &ce) || len(ce.Problems) != 1 || ce.Problems[0].Field != c.field || ce.Problems[0].Code != CodeInvalid || ce.Problems[0].Line == 0 {
			t.Fatalf("%s: got %v; want %s invalid", c.block, err, c.field)
		}
	}
}
