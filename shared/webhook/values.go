package webhook

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/leadrelay/leadrelay/shared/config"
	"github.com/leadrelay/leadrelay/shared/money"
)

// mapFields computes the buyer's fields of a mapped body, in mapping order.
// A field whose source the lead lacks takes its default or is left out.
func mapFields(fields []config.FieldMap, p Post) ([]item, error) {
	items := make([]item, 0, len(fields))
	for _, f := range fields {
		v, ok := f.Value, f.Value != nil
		if f.From != "" {
			v, ok = lookup(p, f.From)
			if !ok && f.Default != nil {
				v, ok = f.Default, true
			}
		}
		if !ok {
			continue
		}
		if len(f.Map) > 0 {
			if m, found := f.Map[text(v)]; found {
				v = m
			}
		}
		var err error
		switch {
		case f.Phone != "":
			v, err = formatPhone(v, f.Phone)
		case f.Date != "":
			v, err = formatDate(v, f.Date)
		}
		if err != nil {
			return nil, fmt.Errorf("webhook: field %s: %w", f.Name, err)
		}
		items = append(items, item{name: f.Name, value: v})
	}
	return items, nil
}

// lookup finds a lead field or an envelope value ($lead_id, $price, ...).
func lookup(p Post, from string) (any, bool) {
	l := p.Lead
	switch from {
	case "$lead_id":
		return l.ID, true
	case "$campaign":
		return l.Campaign, true
	case "$source":
		return l.Source, l.Source != ""
	case "$external_id":
		return l.ExternalID, l.ExternalID != ""
	case "$price":
		return p.Price, true
	case "$bid_id":
		return p.BidID, p.BidID != ""
	case "$created_at":
		return l.CreatedAt, !l.CreatedAt.IsZero()
	case "$test":
		return l.Test, true
	}
	v, ok := l.Fields[from]
	return v, ok && v != nil
}

// text writes a value as form fields, query parameters and XML carry it.
// Whole floats have no exponent or fraction: 30, not 3e+01.
func text(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case int64:
		return strconv.FormatInt(x, 10)
	case int:
		return strconv.Itoa(x)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	case money.Amount:
		return x.Decimal()
	case time.Time:
		return x.Format(time.RFC3339)
	case json.Number:
		return x.String()
	case nil:
		return ""
	case []any, map[string]any:
		b, err := json.Marshal(x)
		if err != nil {
			return fmt.Sprint(x)
		}
		return string(b)
	default:
		return fmt.Sprint(x)
	}
}

// formatPhone writes a phone number in one of config.PhoneFormats. A
// number is North American when it has 10 digits, or 11 starting with 1.
func formatPhone(v any, format string) (string, error) {
	s := strings.TrimSpace(text(v))
	plus := strings.HasPrefix(s, "+")
	digits := make([]byte, 0, 16)
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= '0' && c <= '9' {
			digits = append(digits, c)
		}
	}
	var n string // the 10 North American digits
	switch {
	case len(digits) == 11 && digits[0] == '1':
		n = string(digits[1:])
	case len(digits) == 10 && !plus:
		n = string(digits)
	}
	if format == config.PhoneE164 {
		switch {
		case n != "":
			return "+1" + n, nil
		case plus && len(digits) >= 8 && len(digits) <= 15:
			return "+" + string(digits), nil
		}
		return "", fmt.Errorf("phone value is not a number E.164 can write")
	}
	if n == "" {
		return "", fmt.Errorf("phone value is not a 10-digit North American number")
	}
	switch format {
	case config.PhoneTenDigit:
		return n, nil
	case config.PhoneNational:
		return "(" + n[:3] + ") " + n[3:6] + "-" + n[6:], nil
	case config.PhoneDashed:
		return n[:3] + "-" + n[3:6] + "-" + n[6:], nil
	}
	return "", fmt.Errorf("unknown phone format %q", format)
}

// dateInputs are the layouts a lead's date may be written in.
var dateInputs = []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02 15:04:05", time.DateOnly, "01/02/2006", "1/2/2006"}

// formatDate writes a date in a named format or a Go layout. The value is
// a time, unix seconds, or text in one of dateInputs. DateUnix gives an
// integer, so JSON carries it as a number.
func formatDate(v any, format string) (any, error) {
	var t time.Time
	switch x := v.(type) {
	case time.Time:
		t = x
	case int64:
		t = time.Unix(x, 0).UTC()
	case int:
		t = time.Unix(int64(x), 0).UTC()
	case float64:
		t = time.Unix(int64(x), 0).UTC()
	case string:
		s, found := strings.TrimSpace(x), false
		for _, layout := range dateInputs {
			var err error
			if t, err = time.Parse(layout, s); err == nil {
				found = true
				break
			}
		}
		if !found {
			return nil, fmt.Errorf("date value is not a date such as 2006-01-02 or 01/02/2006")
		}
	default:
		return nil, fmt.Errorf("date value of type %T is not a date", v)
	}
	if format == config.DateUnix {
		return t.Unix(), nil
	}
	layout, ok := config.DateLayout(format)
	if !ok {
		return nil, fmt.Errorf("unknown date format %q", format)
	}
	return t.Format(layout), nil
}
