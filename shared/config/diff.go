package config

import (
	"encoding/json"
	"fmt"
	"net/url"
	"reflect"
	"slices"
	"sort"
	"strings"
)

// Kinds of entity a plan names.
const (
	KindCampaign = "campaign"
	KindSource   = "source"
	KindBuyer    = "buyer"
	KindOrder    = "order"
)

// Plan actions.
const (
	ActionAdd    = "add"
	ActionChange = "change"
	ActionRemove = "remove"
)

// Redacted replaces secret values in plans and audit records.
const Redacted = "(redacted)"

// Plan is what applying one configuration over another would do: the
// entities added, changed and removed. PUT /v1/admin/config/plan answers
// it and leadctl prints it.
type Plan struct {
	// Version is the stored version the plan was computed against: apply
	// with If-Match set to it so a change in between is refused.
	Version int64    `json:"version"`
	Changes []Change `json:"changes"`
}

// Change is one entity added, changed or removed. A buyer's orders are
// entities of their own (ID "buyer/order"); a buyer's change leaves its
// orders out.
type Change struct {
	Kind   string `json:"kind"`
	ID     string `json:"id"`
	Action string `json:"action"`
	// Fields are the changed values, by path within the entity.
	Fields []FieldChange `json:"fields,omitempty"`
	// Before and After are the whole entity (secrets redacted).
	Before json.RawMessage `json:"before,omitempty"`
	After  json.RawMessage `json:"after,omitempty"`
}

// FieldChange is one value that differs: absent on one side is null.
type FieldChange struct {
	Path   string `json:"path"`
	Before any    `json:"before"`
	After  any    `json:"after"`
}

// Counts returns how many entities the plan adds, changes and removes.
func (p Plan) Counts() (add, change, remove int) {
	for _, c := range p.Changes {
		switch c.Action {
		case ActionAdd:
			add++
		case ActionChange:
			change++
		case ActionRemove:
			remove++
		}
	}
	return add, change, remove
}

// Diff returns the plan that turns before into after. Both are compared
// as parsed (with defaults), so writing a default out changes nothing.
// Changes come in document order: campaigns, sources, buyers, orders.
func Diff(before, after *Config) Plan {
	p := Plan{Version: before.Version, Changes: []Change{}}
	diffList(&p, KindCampaign, keyed(before.Campaigns, func(c Campaign) string { return c.ID }), keyed(after.Campaigns, func(c Campaign) string { return c.ID }))
	diffList(&p, KindSource, keyed(before.Sources, func(s Source) string { return s.ID }), keyed(after.Sources, func(s Source) string { return s.ID }))
	bare := func(b Buyer) Buyer { b.Orders = nil; return b }
	var bb, ab []Buyer
	for _, b := range before.Buyers {
		bb = append(bb, bare(b))
	}
	for _, b := range after.Buyers {
		ab = append(ab, bare(b))
	}
	diffList(&p, KindBuyer, keyed(bb, func(b Buyer) string { return b.ID }), keyed(ab, func(b Buyer) string { return b.ID }))
	diffList(&p, KindOrder, orders(before), orders(after))
	return p
}

type entry struct {
	id string
	v  any
}

func keyed[T any](list []T, id func(T) string) []entry {
	out := make([]entry, len(list))
	for i, v := range list {
		out[i] = entry{id: id(v), v: v}
	}
	return out
}

func orders(c *Config) []entry {
	var out []entry
	for _, b := range c.Buyers {
		for _, o := range b.Orders {
			out = append(out, entry{id: b.ID + "/" + o.ID, v: o})
		}
	}
	return out
}

func diffList(p *Plan, kind string, before, after []entry) {
	old := map[string]any{}
	for _, e := range before {
		old[e.id] = e.v
	}
	seen := map[string]bool{}
	for _, e := range after {
		seen[e.id] = true
		a := flat(e.v)
		prev, ok := old[e.id]
		if !ok {
			p.Changes = append(p.Changes, Change{Kind: kind, ID: e.id, Action: ActionAdd, After: encode(a)})
			continue
		}
		b := flat(prev)
		if fields := fieldChanges(b, a); len(fields) > 0 {
			for i := range fields {
				f := &fields[i]
				switch {
				case secretPath(f.Path):
					f.Before, f.After = redactValue(f.Before), redactValue(f.After)
				case urlPath(f.Path):
					f.Before, f.After = urlValue(f.Before), urlValue(f.After)
					if f.Before == f.After {
						f.After = fmt.Sprint(f.After) + " (query changed)"
					}
				}
			}
			p.Changes = append(p.Changes, Change{Kind: kind, ID: e.id, Action: ActionChange, Fields: fields, Before: encode(b), After: encode(a)})
		}
	}
	for _, e := range before {
		if !seen[e.id] {
			p.Changes = append(p.Changes, Change{Kind: kind, ID: e.id, Action: ActionRemove, Before: encode(flat(e.v))})
		}
	}
}

// flat is an entity as generic JSON values.
func flat(v any) map[string]any {
	raw, err := json.Marshal(v)
	if err != nil {
		return map[string]any{"error": err.Error()}
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		return map[string]any{"error": err.Error()}
	}
	for k, x := range m {
		if x == nil { // a buyer's orders, left out of its own change
			delete(m, k)
		}
	}
	return m
}

// secretKeys name values never shown: webhook secrets, credentials, a
// source's postback secret, a Slack incoming webhook (its URL is its
// secret), a Meta page's access token, an ad spend account's tokens and
// OAuth client secret, a Sheets buyer's credentials, the Stripe keys, and every header a
// delivery sends (they often carry a token).
var secretKeys = []string{"secret", "previous_secret", "password", "token", "access_token", "developer_token", "client_secret", "refresh_token", "key", "postback_secret", "slack_url", "credentials", "secret_key", "webhook_secret"}

// urlKeys name URLs, whose query may carry a key: shown without it.
var urlKeys = []string{"url", "ping_url", "postback_url"}

func urlPath(path string) bool {
	segs := strings.Split(path, ".")
	return slices.Contains(urlKeys, segs[len(segs)-1])
}

// urlValue is a URL as a plan shows it: without user info, query or
// fragment ("?…" says a query was there).
func urlValue(v any) any {
	s, ok := v.(string)
	if !ok || s == "" {
		return v
	}
	u, err := url.Parse(s)
	if err != nil {
		return Redacted
	}
	hadQuery := u.RawQuery != "" || u.ForceQuery
	u.User, u.RawQuery, u.ForceQuery, u.Fragment, u.RawFragment = nil, "", false, "", ""
	if hadQuery {
		return u.String() + "?…"
	}
	return u.String()
}

func secretPath(path string) bool {
	segs := strings.Split(path, ".")
	last := segs[len(segs)-1]
	return slices.Contains(secretKeys, last) || (len(segs) > 1 && segs[len(segs)-2] == "headers")
}

func redactValue(v any) any {
	if v == nil || v == "" {
		return v
	}
	return Redacted
}

func redact(v any, parent string) {
	switch t := v.(type) {
	case map[string]any:
		for k, x := range t {
			if _, isString := x.(string); isString && (slices.Contains(secretKeys, k) || parent == "headers") {
				t[k] = redactValue(x)
				continue
			}
			if _, isString := x.(string); isString && slices.Contains(urlKeys, k) {
				t[k] = urlValue(x)
				continue
			}
			redact(x, k)
		}
	case []any:
		for _, x := range t {
			redact(x, parent)
		}
	}
}

// encode is an entity for a plan: a copy with its secrets redacted.
func encode(m map[string]any) json.RawMessage {
	raw, _ := json.Marshal(m)
	var c map[string]any
	_ = json.Unmarshal(raw, &c)
	redact(c, "")
	raw, _ = json.Marshal(c)
	return raw
}

// fieldChanges lists the leaves that differ; lists are compared whole.
func fieldChanges(before, after map[string]any) []FieldChange {
	lb, la := map[string]any{}, map[string]any{}
	leaves("", before, lb)
	leaves("", after, la)
	var out []FieldChange
	for path, a := range la {
		if b, ok := lb[path]; !ok || !reflect.DeepEqual(a, b) {
			out = append(out, FieldChange{Path: path, Before: lb[path], After: a})
		}
	}
	for path, b := range lb {
		if _, ok := la[path]; !ok {
			out = append(out, FieldChange{Path: path, Before: b})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

func leaves(prefix string, v any, out map[string]any) {
	m, ok := v.(map[string]any)
	if !ok {
		out[prefix] = v
		return
	}
	if len(m) == 0 && prefix != "" {
		out[prefix] = v
		return
	}
	for k, x := range m {
		p := k
		if prefix != "" {
			p = prefix + "." + k
		}
		leaves(p, x, out)
	}
}

// String renders a plan for a terminal: one line per entity ("+ buyer
// acme", "~ order acme/auto", "- source fb-1") and one per changed value.
func (p Plan) String() string {
	if len(p.Changes) == 0 {
		return "No changes.\n"
	}
	var b strings.Builder
	sign := map[string]string{ActionAdd: "+", ActionChange: "~", ActionRemove: "-"}
	for _, c := range p.Changes {
		fmt.Fprintf(&b, "%s %s %s\n", sign[c.Action], c.Kind, c.ID)
		for _, f := range c.Fields {
			fmt.Fprintf(&b, "    %s: %s → %s\n", f.Path, show(f.Before), show(f.After))
		}
	}
	add, change, remove := p.Counts()
	fmt.Fprintf(&b, "Plan: %d to add, %d to change, %d to remove.\n", add, change, remove)
	return b.String()
}

func show(v any) string {
	if v == nil {
		return "(none)"
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(raw)
}
