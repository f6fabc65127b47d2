package webhook

import "github.com/leadrelay/leadrelay/shared/config"

// Columns computes a mapping's values as a row of a table: one value per
// field, in the mapping's order, each as a mapped body has it (renamed,
// translated, a phone or a date formatted, a default applied). A field
// the lead has no value for and no default is nil, an empty cell, so that
// the columns after it never shift. A value that cannot be formatted (a
// phone number that is not one) is an error, as it is for a body.
func Columns(fields []config.FieldMap, p Post) ([]any, error) {
	items, err := mapFields(fields, p)
	if err != nil {
		return nil, err
	}
	// mapFields keeps the mapping's order and leaves missing fields out;
	// names are unique (config checks it).
	row := make([]any, len(fields))
	j := 0
	for i, f := range fields {
		if j < len(items) && items[j].name == f.Name {
			row[i] = items[j].value
			j++
		}
	}
	return row, nil
}

// Text writes a value as form fields, query parameters and XML carry it:
// numbers without an exponent, prices as decimals, times in RFC 3339,
// lists and objects as JSON.
func Text(v any) string { return text(v) }
