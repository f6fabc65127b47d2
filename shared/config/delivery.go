package config

import (
	"slices"
	"strings"
	"time"
)

// Delivery types.
const (
	DeliveryWebhook = "webhook"
	DeliveryEmail   = "email"
)

// Delivery says how leads reach a buyer.
type Delivery struct {
	Type    string   `yaml:"type" json:"type"`
	URL     string   `yaml:"url,omitempty" json:"url,omitempty"`
	Format  string   `yaml:"format,omitempty" json:"format,omitempty"`
	Timeout Duration `yaml:"timeout,omitempty" json:"timeout,omitempty"`
	// Secret signs webhooks (Standard Webhooks). It may be a plain string or
	// "whsec_" followed by base64.
	Secret string `yaml:"secret,omitempty" json:"secret,omitempty"`
	// To is the address for email delivery.
	To string `yaml:"to,omitempty" json:"to,omitempty"`
	// Headers are sent with every post.
	Headers map[string]string `yaml:"headers,omitempty" json:"headers,omitempty"`
	// MaxAttempts bounds the tries of one post before the lead moves to the
	// next buyer (default 5).
	MaxAttempts int `yaml:"max_attempts,omitempty" json:"max_attempts,omitempty"`
}

var deliveryFormats = []string{"json", "form", "xml", "get"}

func (k *checker) delivery(p string, d Delivery) {
	switch d.Type {
	case DeliveryWebhook:
		k.url(p+".url", d.URL, true)
		if !slices.Contains(deliveryFormats, d.Format) {
			k.add(p+".format", CodeInvalid, "format %q: want one of %s", d.Format, strings.Join(deliveryFormats, ", "))
		}
	case DeliveryEmail:
		if !strings.Contains(d.To, "@") {
			k.add(p+".to", CodeRequired, "email delivery needs a 'to' address")
		}
	default:
		k.add(p+".type", CodeInvalid, "delivery type %q: want webhook or email", d.Type)
	}
	if t := d.Timeout.D(); t < 100*time.Millisecond || t > 30*time.Second {
		k.add(p+".timeout", CodeInvalid, "timeout must be 100ms to 30s")
	}
	if d.MaxAttempts < 1 || d.MaxAttempts > 20 {
		k.add(p+".max_attempts", CodeInvalid, "max_attempts must be 1 to 20")
	}
}
