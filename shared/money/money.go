// Package money holds amounts of currency as integer cents.
//
// Money is never a float inside LeadRelay. Amounts are parsed from decimal
// text exactly; JSON carries them as decimal numbers of the currency unit
// (84.5 means $84.50). Rounding, where a computation needs it (a revenue
// share, a bid quoted with fractions of a cent), is half away from zero to
// the nearest cent.
package money

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Amount is a sum of money in cents.
type Amount int64

// FromUnits converts whole currency units to an Amount (FromUnits(25) is $25.00).
func FromUnits(units int64) Amount { return Amount(units * 100) }

// ErrSyntax reports text that is not a decimal amount.
var ErrSyntax = errors.New("not a decimal amount")

// ErrPrecision reports an amount with more than two decimal places where an
// exact amount is required.
var ErrPrecision = errors.New("more than two decimal places")

// Parse reads an exact decimal amount such as "25", "25.5" or "-3.25".
// More than two decimal places is an error: prices and budgets are exact.
func Parse(s string) (Amount, error) {
	a, exact, err := parse(s)
	if err != nil {
		return 0, err
	}
	if !exact {
		return 0, fmt.Errorf("amount %q: %w", s, ErrPrecision)
	}
	return a, nil
}

// ParseRounded reads a decimal amount and rounds it half away from zero to
// the cent. Buyers' bids use it: "12.505" is $12.51.
func ParseRounded(s string) (Amount, error) {
	a, _, err := parse(s)
	return a, err
}

// parse returns the amount rounded half away from zero, and whether the text
// had no more than two decimal places.
func parse(s string) (Amount, bool, error) {
	t := strings.TrimSpace(s)
	neg := false
	switch {
	case strings.HasPrefix(t, "-"):
		neg, t = true, t[1:]
	case strings.HasPrefix(t, "+"):
		t = t[1:]
	}
	whole, frac, _ := strings.Cut(t, ".")
	if whole == "" && frac == "" || !digits(whole) || !digits(frac) {
		return 0, false, fmt.Errorf("amount %q: %w", s, ErrSyntax)
	}
	if len(whole) > 15 {
		return 0, false, fmt.Errorf("amount %q: too large", s)
	}
	var units int64
	if whole != "" {
		units, _ = strconv.ParseInt(whole, 10, 64)
	}
	exact := len(strings.TrimRight(frac, "0")) <= 2
	padded := frac + "000"
	cents, _ := strconv.ParseInt(padded[:2], 10, 64)
	total := units*100 + cents
	if padded[2] >= '5' {
		total++
	}
	if neg {
		total = -total
	}
	return Amount(total), exact, nil
}

func digits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// Percent returns p percent of a, rounded half away from zero to the cent.
// p may carry decimals (62.5).
func (a Amount) Percent(p float64) Amount {
	// p is configuration, not money: scale it to basis points of a percent
	// (1/10000) once, then stay in integers.
	bp := int64(math.Round(p * 10000))
	num := int64(a) * bp
	const den = 100 * 10000
	q, r := num/den, num%den
	if r < 0 {
		r = -r
	}
	if 2*r >= den {
		if num < 0 {
			q--
		} else {
			q++
		}
	}
	return Amount(q)
}

// String formats the amount with two decimals: "84.50", "-0.05".
func (a Amount) String() string {
	v := int64(a)
	sign := ""
	if v < 0 {
		sign, v = "-", -v
	}
	return fmt.Sprintf("%s%d.%02d", sign, v/100, v%100)
}

// Decimal formats the amount as the shortest decimal: "84.5", "25", "0.05".
func (a Amount) Decimal() string {
	s := a.String()
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}

// MarshalJSON writes a decimal number of the currency unit.
func (a Amount) MarshalJSON() ([]byte, error) { return []byte(a.Decimal()), nil }

// UnmarshalJSON reads a JSON number or a string holding one.
func (a *Amount) UnmarshalJSON(b []byte) error {
	s := string(b)
	if strings.HasPrefix(s, `"`) {
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
	}
	v, err := Parse(s)
	if err != nil {
		return err
	}
	*a = v
	return nil
}

// MarshalYAML writes the amount as a decimal number.
func (a Amount) MarshalYAML() (any, error) {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!float", Value: a.String()}, nil
}

// UnmarshalYAML reads a YAML number or string exactly, from its text.
func (a *Amount) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: an amount must be a number", n.Line)
	}
	v, err := Parse(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*a = v
	return nil
}
