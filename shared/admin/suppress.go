package admin

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strings"

	"github.com/leadrelay/leadrelay/shared/httpapi"
	"github.com/leadrelay/leadrelay/shared/store"
	"github.com/leadrelay/leadrelay/shared/validate"
)

// Bounds of one suppression request (leadctl sends 500 values a request).
const (
	MaxSuppressBody   = 1 << 20
	MaxSuppressValues = 5000
	// DefaultSuppressionList names the list of a request that names none.
	DefaultSuppressionList = "dnc"
)

var listName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)

func (h *Handler) suppressionRoutes(m *httpapi.Mux) {
	m.Handle("POST /v1/admin/suppressions", func(ctx context.Context, req httpapi.Request, _ map[string]string) httpapi.Response {
		return h.suppress(ctx, req, true)
	})
	m.Handle("DELETE /v1/admin/suppressions", func(ctx context.Context, req httpapi.Request, _ map[string]string) httpapi.Response {
		return h.suppress(ctx, req, false)
	})
}

// invalidValue is a value of a suppression request that is not a phone
// number or email address: its CSV line, or its JSON place
// ("phones[2]").
type invalidValue struct {
	Line    int    `json:"line,omitempty"`
	Field   string `json:"field,omitempty"`
	Value   string `json:"value"`
	Message string `json:"message"`
}

type suppressAnswer struct {
	Added   *int           `json:"added,omitempty"`
	Removed *int           `json:"removed,omitempty"`
	List    string         `json:"list,omitempty"`
	Invalid []invalidValue `json:"invalid"`
}

// suppressionRequest is a parsed request: the valid values, normalised,
// and the invalid ones.
type suppressionRequest struct {
	list    string
	values  []store.Contact
	invalid []invalidValue
}

// suppress puts values on a suppression list (add) or takes them off:
// JSON {"phones": [...], "emails": [...], "list": "dnc"}, or CSV
// (text/csv; the list in ?list=) with one value a line or a header naming
// the columns phone and email. Valid values are written, invalid ones
// reported; a request without one valid value changes nothing (400).
func (h *Handler) suppress(ctx context.Context, req httpapi.Request, add bool) httpapi.Response {
	body, refused := httpapi.BodyWithin(req, MaxSuppressBody, "a suppression request (split the file)")
	if refused != nil {
		return *refused
	}
	in := suppressionRequest{list: strings.TrimSpace(req.QueryStringParameters["list"])}
	var probs []httpapi.FieldProblem
	var err error
	switch mt := httpapi.MediaType(req); mt {
	case "application/json":
		probs, err = in.decodeJSON(body)
		if err != nil {
			return httpapi.Error(http.StatusBadRequest, "invalid_json", "the body is not a JSON suppression request: %v", err)
		}
	case "text/csv":
		if err := in.decodeCSV(body); err != nil {
			return httpapi.Error(http.StatusBadRequest, "invalid_csv", "the body is not CSV: %v", err)
		}
	default:
		return httpapi.Error(http.StatusUnsupportedMediaType, "unsupported_media_type",
			"Content-Type %q is not accepted: use application/json or text/csv", mt)
	}
	if in.list == "" {
		in.list = DefaultSuppressionList
	}
	if !listName.MatchString(in.list) {
		probs = append(probs, httpapi.FieldProblem{Field: "list", Code: "invalid", Message: "a list name is 1 to 64 lower-case letters, digits, - and _"})
	}
	if n := len(in.values) + len(in.invalid); n > MaxSuppressValues {
		probs = append(probs, httpapi.FieldProblem{Field: "values", Code: "too_many", Message: fmt.Sprintf("%d values: at most %d a request", n, MaxSuppressValues)})
	}
	if len(probs) == 0 && len(in.values) == 0 {
		if len(in.invalid) == 0 {
			probs = append(probs, httpapi.FieldProblem{Field: "values", Code: "required", Message: "send at least one phone number or email address"})
		}
		for _, v := range in.invalid {
			f := v.Field
			if f == "" {
				f = fmt.Sprintf("line %d", v.Line)
			}
			probs = append(probs, httpapi.FieldProblem{Field: f, Code: "invalid", Message: v.Message, Line: v.Line})
		}
	}
	if len(probs) > 0 {
		return httpapi.Fields(http.StatusBadRequest, "validation_failed", "the suppression request is not valid; nothing was changed", probs)
	}
	out := suppressAnswer{Invalid: in.invalid}
	if out.Invalid == nil {
		out.Invalid = []invalidValue{}
	}
	if add {
		n, err := h.Store.Suppress(ctx, in.list, in.values)
		if err != nil {
			h.Log.ErrorContext(ctx, "suppress", "list", in.list, "values", len(in.values), "error", err)
			return httpapi.Error(http.StatusServiceUnavailable, "unavailable", "the values may be partly written; send the request again")
		}
		out.Added, out.List = &n, in.list
		h.Log.InfoContext(ctx, "values suppressed", "list", in.list, "added", n, "invalid", len(in.invalid))
	} else {
		n, err := h.Store.Unsuppress(ctx, in.values)
		if err != nil {
			h.Log.ErrorContext(ctx, "unsuppress", "values", len(in.values), "error", err)
			return httpapi.Error(http.StatusServiceUnavailable, "unavailable", "the values may be partly removed; send the request again")
		}
		out.Removed = &n
		h.Log.InfoContext(ctx, "values unsuppressed", "removed", n, "invalid", len(in.invalid))
	}
	return httpapi.JSON(http.StatusOK, out)
}

// value normalises one value of the kind (phone or email), keeping it or
// reporting it invalid at line or field.
func (in *suppressionRequest) value(kind, raw string, line int, field string) {
	norm := validate.Phone
	if kind == store.ContactEmail {
		norm = validate.Email
	}
	v, err := norm(raw)
	if err != nil {
		shown := raw
		if len(shown) > 256 {
			shown = shown[:256]
		}
		in.invalid = append(in.invalid, invalidValue{Line: line, Field: field, Value: shown, Message: fmt.Sprintf("not a valid %s: %v", kind, err)})
		return
	}
	in.values = append(in.values, store.Contact{Kind: kind, Value: v})
}

func (in *suppressionRequest) decodeJSON(body []byte) ([]httpapi.FieldProblem, error) {
	raw, err := httpapi.DecodeObject(body)
	if err != nil {
		return nil, err
	}
	var probs []httpapi.FieldProblem
	for _, k := range slices.Sorted(maps.Keys(raw)) {
		v := raw[k]
		switch k {
		case "list":
			s, ok := v.(string)
			if !ok {
				probs = append(probs, httpapi.FieldProblem{Field: k, Code: "invalid", Message: "list must be a string"})
				continue
			}
			in.list = strings.TrimSpace(s)
		case "phones", "emails":
			kind := strings.TrimSuffix(k, "s")
			list, ok := v.([]any)
			if !ok {
				probs = append(probs, httpapi.FieldProblem{Field: k, Code: "invalid", Message: k + " must be a list of strings"})
				continue
			}
			for i, x := range list {
				s, ok := x.(string)
				if !ok {
					probs = append(probs, httpapi.FieldProblem{Field: fmt.Sprintf("%s[%d]", k, i), Code: "invalid", Message: "must be a string"})
					continue
				}
				in.value(kind, s, 0, fmt.Sprintf("%s[%d]", k, i))
			}
		default:
			probs = append(probs, httpapi.FieldProblem{Field: k, Code: "unknown", Message: "unknown property; a suppression request has phones, emails and list"})
		}
	}
	return probs, nil
}

// decodeCSV reads one value a line (an email address has an @, anything
// else is a phone number), or, when the first line names the columns
// phone and email, a value of each kind a line.
func (in *suppressionRequest) decodeCSV(body []byte) error {
	cr := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(body, []byte("\ufeff"))))
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	var columns []string // the header's kinds, by column
	for first := true; ; first = false {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		line, _ := cr.FieldPos(0)
		if first && isSuppressionHeader(rec) {
			for _, c := range rec {
				columns = append(columns, strings.ToLower(strings.TrimSpace(c)))
			}
			continue
		}
		for i, cell := range rec {
			cell = strings.TrimSpace(cell)
			if cell == "" {
				continue
			}
			kind := store.ContactPhone
			switch {
			case columns != nil && i < len(columns):
				kind = columns[i]
			case columns != nil:
				in.invalid = append(in.invalid, invalidValue{Line: line, Value: cell, Message: fmt.Sprintf("column %d has no header", i+1)})
				continue
			case strings.Contains(cell, "@"):
				kind = store.ContactEmail
			}
			in.value(kind, cell, line, "")
		}
	}
}

// isSuppressionHeader reports whether a suppression CSV's first record
// names its columns: each one phone or email.
func isSuppressionHeader(rec []string) bool {
	for _, c := range rec {
		if c := strings.ToLower(strings.TrimSpace(c)); c != store.ContactPhone && c != store.ContactEmail {
			return false
		}
	}
	return len(rec) > 0
}
