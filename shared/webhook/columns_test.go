package webhook

import (
	"reflect"
	"testing"

	"github.com/leadrelay/leadrelay/shared/config"
	"github.com/leadrelay/leadrelay/shared/lead"
)

// Columns keeps one value per field, in order, with nil where the lead
// has nothing, so the columns after a missing field never shift.
func TestColumnsKeepTheirPlaces(t *testing.T) {
	p := Post{Price: 2550, Lead: &lead.Lead{ID: "L1", Fields: map[string]any{"phone": "4158927310", "state": "CA"}}}
	row, err := Columns([]config.FieldMap{
		{Name: "Missing", From: "email"}, {Name: "Phone", From: "phone", Phone: config.PhoneDashed},
		{Name: "State", From: "state", Map: map[string]string{"CA": "California"}}, {Name: "Price", From: "$price"},
		{Name: "Zip", From: "zip", Default: "00000"}, {Name: "Const", Value: 7}, {Name: "Bid", From: "$bid_id"},
	}, p)
	if err != nil {
		t.Fatal(err)
	}
	want := []any{nil, "415-892-7310", "California", p.Price, "00000", 7, nil}
	if !reflect.DeepEqual(row, want) {
		t.Fatalf("row %#v, want %#v", row, want)
	}
	if _, err := Columns([]config.FieldMap{{Name: "Phone", From: "state", Phone: config.PhoneE164}}, p); err == nil {
		t.Fatal("an unformattable phone made a row")
	}
}
