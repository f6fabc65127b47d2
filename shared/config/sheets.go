package config

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// A Google Sheets delivery ({type: sheets}) appends one row per sold lead
// to the table at Range in the spreadsheet SpreadsheetID, as the service
// account whose JSON key Credentials references. Its columns are the
// delivery's Fields, in order, one column each; the lead id is always in
// the row, in the first field mapped from $lead_id or, without one, in an
// extra first column, because LeadRelay reads that column back to tell
// whether an append it could not confirm landed (shared/sheets).

// SheetRange is a Sheets range in A1 notation with its sheet's name:
// "Leads!A1", "'My Leads'!B2:H2", "Leads!A:F".
type SheetRange struct {
	// Sheet is the sheet's (tab's) name, unquoted.
	Sheet string
	// Col is the first column, 1 for A; Row the first row, 0 when the
	// range names whole columns (A:F).
	Col, Row int
}

// a1Range reads "<sheet>!<col><row>[:<col>[<row>]]". An unquoted sheet
// name is letters, digits, '_' and '.'; any other is in single quotes,
// a single quote inside it written twice.
var a1Range = regexp.MustCompile(`^('(?:[^']|'')+'|[\p{L}\p{N}_.]+)!([A-Z]{1,3})([1-9][0-9]{0,6})?(?::([A-Z]{1,3})([1-9][0-9]{0,6})?)?$`)

// ParseSheetRange reads a range in A1 notation that names its sheet and
// starts at a column: Leads!A1, Leads!A1:F1, Leads!A:F, 'My Leads'!B2.
func ParseSheetRange(s string) (SheetRange, error) {
	m := a1Range.FindStringSubmatch(s)
	if m == nil {
		return SheetRange{}, fmt.Errorf("range %q: want A1 notation with the sheet's name, such as Leads!A1 or 'My Leads'!A1:F1", s)
	}
	r := SheetRange{Sheet: m[1], Col: ColumnNumber(m[2])}
	if q, ok := strings.CutPrefix(r.Sheet, "'"); ok {
		r.Sheet = strings.ReplaceAll(strings.TrimSuffix(q, "'"), "''", "'")
	}
	if m[3] != "" {
		r.Row, _ = strconv.Atoi(m[3]) // 1 to 7 digits
	}
	if m[4] != "" && ColumnNumber(m[4]) < r.Col {
		return SheetRange{}, fmt.Errorf("range %q ends left of where it starts", s)
	}
	if m[5] != "" && m[3] == "" {
		return SheetRange{}, fmt.Errorf("range %q: give the first cell's row too, such as Leads!A1:F1", s)
	}
	return r, nil
}

// Column is the range's column n places right of its first (0: the
// first), with the rows the range starts at, in A1 notation: for
// Leads!B2 and n=1, 'Leads'!C2:C (the sheet's name always quoted).
func (r SheetRange) Column(n int) string {
	col := ColumnName(r.Col + n)
	q := "'" + strings.ReplaceAll(r.Sheet, "'", "''") + "'!"
	if r.Row == 0 {
		return q + col + ":" + col
	}
	return fmt.Sprintf("%s%s%d:%s", q, col, r.Row, col)
}

// ColumnNumber is the number of a column's letters: A is 1, Z 26, AA 27.
func ColumnNumber(letters string) int {
	n := 0
	for _, c := range letters {
		n = n*26 + int(c-'A'+1)
	}
	return n
}

// ColumnName is the letters of a column's number: 1 is A, 27 AA.
func ColumnName(n int) string {
	var b []byte
	for ; n > 0; n = (n - 1) / 26 {
		b = append(b, byte('A'+(n-1)%26))
	}
	slices.Reverse(b)
	return string(b)
}

// spreadsheetID is what a spreadsheet's id is made of (the part of its
// URL after /spreadsheets/d/).
var spreadsheetID = regexp.MustCompile(`^[A-Za-z0-9_-]{10,200}$`)

// sheets checks a Google Sheets delivery at path p: the spreadsheet, the
// range, the credentials (always a reference), the columns, and no
// webhook or email settings.
func (k *checker) sheets(p string, d Delivery) {
	switch {
	case d.SpreadsheetID == "":
		k.add(p+".spreadsheet_id", CodeRequired, "sheets delivery needs a spreadsheet_id: the id in the sheet's URL, docs.google.com/spreadsheets/d/<id>/edit")
	case strings.Contains(d.SpreadsheetID, "/spreadsheets/d/"):
		k.add(p+".spreadsheet_id", CodeInvalid, "spreadsheet_id is the id in the sheet's URL (after /spreadsheets/d/), not the URL")
	case !spreadsheetID.MatchString(d.SpreadsheetID):
		k.add(p+".spreadsheet_id", CodeInvalid, "spreadsheet_id %q is not a spreadsheet's id (letters, digits, '-' and '_', from the sheet's URL)", d.SpreadsheetID)
	}
	if d.Range == "" {
		k.add(p+".range", CodeRequired, "sheets delivery needs a range: the table's first cell with its sheet's name, such as Leads!A1")
	} else if _, err := ParseSheetRange(d.Range); err != nil {
		k.add(p+".range", CodeInvalid, "%v", err)
	}
	switch {
	case d.Credentials == "":
		k.add(p+".credentials", CodeRequired, "sheets delivery needs credentials: an ssm:/leadrelay/... reference to the SSM SecureString parameter holding the service account's JSON key")
	case !IsSecretRef(d.Credentials):
		// The value is not echoed: it may be the key itself.
		k.add(p+".credentials", CodeInvalid, "credentials must be an ssm:/leadrelay/... reference to an SSM SecureString parameter holding the service account's JSON key, never the key itself")
	}
	if len(d.Fields) == 0 {
		k.add(p+".fields", CodeRequired, "sheets delivery needs fields: the sheet's columns, in order, such as {name: Phone, from: phone}")
	}
	for i, f := range d.Fields {
		if f.From == "$lead_id" && (len(f.Map) > 0 || f.Phone != "" || f.Date != "") {
			k.add(fmt.Sprintf("%s.fields[%d]", p, i), CodeInvalid, "the $lead_id column is written as it is: LeadRelay reads it back to append each lead once (no map, phone or date)")
		}
	}
	for _, s := range []struct {
		name string
		set  bool
	}{
		{"url", d.URL != ""}, {"format", d.Format != ""}, {"secret", d.Secret != ""}, {"previous_secret", d.PreviousSecret != ""},
		{"headers", len(d.Headers) > 0}, {"auth", d.Auth != nil}, {"response", d.Response != nil}, {"to", d.To != ""},
	} {
		if s.set {
			k.add(p+"."+s.name, CodeInvalid, "%s does not belong to sheets delivery", s.name)
		}
	}
}

// notSheets refuses a Google Sheets delivery's settings on another type.
func (k *checker) notSheets(p string, d Delivery) {
	for _, s := range []struct{ name, v string }{{"spreadsheet_id", d.SpreadsheetID}, {"range", d.Range}, {"credentials", d.Credentials}} {
		if s.v != "" {
			k.add(p+"."+s.name, CodeInvalid, "%s is for sheets delivery", s.name)
		}
	}
}
