package sheets

import (
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/leadrelay/leadrelay/shared/config"
	"github.com/leadrelay/leadrelay/shared/lead"
	"github.com/leadrelay/leadrelay/shared/webhook"
)

// Cells keep their JSON types: text as strings, numbers and prices as
// numbers, booleans as booleans, times as RFC 3339 text, nothing as an
// empty cell.
func TestRowCells(t *testing.T) {
	created := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	p := webhook.Post{Price: 1999, BidID: "b-1", Lead: &lead.Lead{ID: "L1", Campaign: "auto", CreatedAt: created, Test: true,
		Fields: map[string]any{"age": float64(34), "tcpa": true, "dob": "1985-04-12", "tags": []any{"a", "b"}}}}
	fields := []config.FieldMap{
		{Name: "Age", From: "age"}, {Name: "TCPA", From: "tcpa"}, {Name: "DOB", From: "dob", Date: config.DateUS},
		{Name: "DOBUnix", From: "dob", Date: config.DateUnix}, {Name: "Created", From: "$created_at"}, {Name: "Price", From: "$price"},
		{Name: "Bid", From: "$bid_id"}, {Name: "Test", From: "$test"}, {Name: "Tags", From: "tags"},
		{Name: "Missing", From: "nope"}, {Name: "Default", From: "nope", Default: "n/a"}, {Name: "Lead", From: "$lead_id"},
	}
	row, idCol, err := Row(fields, p)
	if err != nil {
		t.Fatal(err)
	}
	want := []any{float64(34), true, "04/12/1985", int64(482112000), "2026-01-02T03:04:05Z", json.Number("19.99"),
		"b-1", true, `["a","b"]`, "", "n/a", "L1"}
	if !reflect.DeepEqual(row, want) || idCol != 11 {
		t.Fatalf("row %#v (id at %d)\nwant %#v", row, idCol, want)
	}
	// A $lead_id field that changes the id is no lead-id column: the id
	// gets a first column of its own.
	row, idCol, err = Row([]config.FieldMap{{Name: "Ref", From: "$lead_id", Map: map[string]string{"L1": "x"}}}, p)
	if err != nil || idCol != 0 || !reflect.DeepEqual(row, []any{"L1", "x"}) {
		t.Fatalf("row %#v, id at %d, %v", row, idCol, err)
	}
}

// What a cell cannot hold exactly is an error, never a silent change.
func TestRowRefusesWhatACellCannotHold(t *testing.T) {
	for name, v := range map[string]any{"bad utf-8": "\xff\xfe", "too long": strings.Repeat("x", MaxCellChars+1)} {
		p := webhook.Post{Lead: &lead.Lead{ID: "L1", Fields: map[string]any{"f": v}}}
		if _, _, err := Row([]config.FieldMap{{Name: "F", From: "f"}}, p); !errors.Is(err, webhook.ErrUnencodable) || !strings.Contains(err.Error(), "column F") {
			t.Errorf("%s: %v", name, err)
		}
	}
	if c, err := cell(math.Inf(1)); err != nil || c != "+Inf" {
		t.Errorf("infinity: %v, %v", c, err)
	}
}
