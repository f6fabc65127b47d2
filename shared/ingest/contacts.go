package ingest

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/leadrelay/leadrelay/shared/config"
	"github.com/leadrelay/leadrelay/shared/httpapi"
	"github.com/leadrelay/leadrelay/shared/store"
)

// contacts are a lead's phone numbers and email addresses: the values of
// its campaign's phone and email fields, normalised; and the consumer's IP
// address when the lead carries one (velocity). The store writes a
// lookup item for each (lead search) and checks each against the
// suppression lists, test leads included: a test lead runs everything.
func contacts(camp *config.Campaign, fields map[string]any) []store.Contact {
	var out []store.Contact
	for name, f := range camp.Fields {
		if f.Type != config.TypePhone && f.Type != config.TypeEmail {
			continue
		}
		if v, ok := fields[name]; ok {
			out = append(out, store.Contact{Field: name, Kind: f.Type, Value: fmt.Sprint(v)})
		}
	}
	if ip, ok := ipContact(camp, fields); ok {
		out = append(out, ip)
	}
	slices.SortFunc(out, func(a, b store.Contact) int { return strings.Compare(a.Field, b.Field) })
	return out
}

// suppressed answers a lead refused for a phone number or email address on
// a suppression list: 403, naming the field.
func suppressed(e *store.SuppressedError) httpapi.Response {
	return httpapi.Fields(http.StatusForbidden, "suppressed", "the lead's "+e.Field+" is on a suppression list; nothing was stored",
		[]httpapi.FieldProblem{{Field: e.Field, Code: "suppressed", Message: fmt.Sprintf("this %s is on suppression list %q", e.Kind, e.List)}})
}
