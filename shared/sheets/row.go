package sheets

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"unicode/utf8"

	"github.com/leadrelay/leadrelay/shared/config"
	"github.com/leadrelay/leadrelay/shared/money"
	"github.com/leadrelay/leadrelay/shared/webhook"
)

// MaxCellChars is the most characters a Sheets cell holds.
const MaxCellChars = 50000

// Row is a lead's row, and the index in it of the lead id's column.
//
// The column order rule: the delivery's fields, in order, one column
// each, as webhook.Columns computes them (renamed, mapped, phones and
// dates formatted, defaults applied); a field the lead has no value for
// is an empty cell, so the columns never shift. The lead id is always in
// the row: in the first field mapped from $lead_id (written as it is), or,
// when no field is, in an extra first column before the fields.
//
// Cells are typed as JSON carries them to the API: text as strings (a
// leading "=", "+" or "'" included: appends are RAW, so nothing is parsed),
// numbers and prices as numbers, booleans as booleans, times as RFC 3339
// text. Text that is not valid UTF-8, or longer than a cell holds, is an
// error (the lead is refused for this buyer with reason render).
func Row(fields []config.FieldMap, p webhook.Post) (row []any, idCol int, err error) {
	vals, err := webhook.Columns(fields, p)
	if err != nil {
		return nil, 0, err
	}
	idCol = slices.IndexFunc(fields, isLeadID)
	if idCol < 0 {
		vals = append([]any{p.Lead.ID}, vals...)
		idCol = 0
	}
	row = make([]any, len(vals))
	for i, v := range vals {
		if row[i], err = cell(v); err != nil {
			name := "lead_id"
			if j := i - (len(vals) - len(fields)); j >= 0 {
				name = fields[j].Name
			}
			return nil, 0, fmt.Errorf("sheets: column %s: %w", name, err)
		}
	}
	return row, idCol, nil
}

// isLeadID reports whether a field is the lead id as it is: the column
// the read-back looks in (config refuses a $lead_id field that changes it).
func isLeadID(f config.FieldMap) bool {
	return f.From == "$lead_id" && len(f.Map) == 0 && f.Phone == "" && f.Date == ""
}

// cell is a value as a RAW append writes it.
func cell(v any) (any, error) {
	switch x := v.(type) {
	case nil:
		return "", nil
	case bool, int, int64, json.Number:
		return x, nil
	case float64:
		if !math.IsNaN(x) && !math.IsInf(x, 0) {
			return x, nil
		}
	case money.Amount:
		return json.Number(x.Decimal()), nil
	}
	s := webhook.Text(v)
	if !utf8.ValidString(s) {
		return nil, fmt.Errorf("invalid UTF-8: %w", webhook.ErrUnencodable)
	}
	if n := utf8.RuneCountInString(s); n > MaxCellChars {
		return nil, fmt.Errorf("%d characters, more than the %d a cell holds: %w", n, MaxCellChars, webhook.ErrUnencodable)
	}
	return s, nil
}
