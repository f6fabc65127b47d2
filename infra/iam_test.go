package main

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// grants is what one role may do: action → resource keys. A resource key is
// the logical ID of the resource named (with a suffix such as "/index/*" for
// ARNs built from it, or ".StreamArn" for an attribute other than its ARN),
// or the literal string.
type grants map[string]map[string]bool

func (g grants) can(action, resource string) bool { return g[action][resource] }

// resourcesFor reports the resources an action is granted on.
func (g grants) resourcesFor(action string) []string {
	var out []string
	for r := range g[action] {
		out = append(out, r)
	}
	return out
}

// roleGrants collects, per role logical ID, the actions its policies allow.
func (f *fixture) roleGrants(t *testing.T) map[string]grants {
	t.Helper()
	out := map[string]grants{}
	for id, pol := range f.resources("AWS::IAM::Policy") {
		p := props(pol)
		doc, _ := p["PolicyDocument"].(map[string]any)
		stmts, _ := doc["Statement"].([]any)
		for _, role := range p["Roles"].([]any) {
			rid := refID(role)
			if rid == "" {
				t.Fatalf("policy %s: role %v is not a reference", id, role)
			}
			if out[rid] == nil {
				out[rid] = grants{}
			}
			for _, s := range stmts {
				st := s.(map[string]any)
				if st["Effect"] != "Allow" {
					continue
				}
				for _, a := range asList(st["Action"]) {
					action := a.(string)
					if out[rid][action] == nil {
						out[rid][action] = map[string]bool{}
					}
					for _, r := range asList(st["Resource"]) {
						out[rid][action][resourceKey(r)] = true
					}
				}
			}
		}
	}
	return out
}

func asList(v any) []any {
	if l, ok := v.([]any); ok {
		return l
	}
	return []any{v}
}

// resourceKey names a policy resource: "Queue123" for a Ref or a GetAtt of
// its Arn, "Table123.StreamArn" for a GetAtt of another attribute,
// "Table123/index/*" for a join onto its ARN, else the JSON of it.
func resourceKey(v any) string {
	if m, ok := v.(map[string]any); ok {
		if ga, ok := m["Fn::GetAtt"].([]any); ok && len(ga) == 2 && ga[1] != "Arn" {
			return fmt.Sprintf("%v.%v", ga[0], ga[1])
		}
	}
	if id := refID(v); id != "" {
		return id
	}
	if m, ok := v.(map[string]any); ok {
		if j, ok := m["Fn::Join"].([]any); ok && len(j) == 2 {
			var b strings.Builder
			for _, part := range j[1].([]any) {
				if s, ok := part.(string); ok {
					b.WriteString(s)
				} else if id := refID(part); id != "" {
					b.WriteString(id)
				}
			}
			return b.String()
		}
	}
	if s, ok := v.(string); ok {
		return s
	}
	return fmt.Sprint(v)
}

func TestLeastPrivilege(t *testing.T) {
	f := synthDefault(t)
	all := f.roleGrants(t)
	role := func(fnPrefix string) grants {
		_, fn := f.onlyResource(t, "AWS::Lambda::Function", fnPrefix)
		rid := refID(props(fn)["Role"])
		if all[rid] == nil {
			t.Fatalf("%s: role %s has no policy", fnPrefix, rid)
		}
		return all[rid]
	}
	id := func(typ, prefix string) string { id, _ := f.onlyResource(t, typ, prefix); return id }
	table := id("AWS::DynamoDB::Table", "Table")
	routing, delivery := id("AWS::SQS::Queue", "RoutingQueue"), id("AWS::SQS::Queue", "DeliveryQueue")
	routingDLQ, deliveryDLQ := id("AWS::SQS::Queue", "RoutingDLQ"), id("AWS::SQS::Queue", "DeliveryDLQ")
	ledgerDLQ := id("AWS::SQS::Queue", "LedgerDLQ")
	meta, metaDLQ := id("AWS::SQS::Queue", "MetaQueue"), id("AWS::SQS::Queue", "MetaDLQ")
	queues := []string{routing, delivery, routingDLQ, deliveryDLQ, meta, metaDLQ, ledgerDLQ}
	stream := table + ".StreamArn"

	ingest, router, deliveryFn, admin := role("IngestFunction"), role("RouterFunction"), role("DeliveryFunction"), role("AdminFunction")
	aggregate, sweeper := role("AggregateFunction"), role("SweeperFunction")

	type rule struct {
		who     string
		g       grants
		action  string
		on      string
		allowed bool
	}
	var rules []rule
	allow := func(who string, g grants, action, on string) {
		rules = append(rules, rule{who, g, action, on, true})
	}
	deny := func(who string, g grants, action, on string) {
		rules = append(rules, rule{who, g, action, on, false})
	}
	// The table: TestTableGrantsInTemplate (which partitions, which
	// actions). No function deletes, scans, writes in batches or reads
	// every index.
	for name, g := range map[string]grants{"ingest": ingest, "router": router, "delivery": deliveryFn, "admin": admin, "aggregate": aggregate, "sweeper": sweeper} {
		for _, a := range []string{"dynamodb:DeleteItem", "dynamodb:Scan", "dynamodb:BatchWriteItem", "dynamodb:PartiQLSelect", "dynamodb:DescribeTable"} {
			deny(name, g, a, table)
		}
		deny(name, g, "dynamodb:Query", table+"/index/*")
	}

	// ingest: send to routing, send to and consume the Meta queue (the
	// webhook queues, its event source mapping consumes), nothing else on
	// any queue.
	allow("ingest", ingest, "sqs:SendMessage", routing)
	allow("ingest", ingest, "sqs:SendMessage", meta)
	allow("ingest", ingest, "sqs:ReceiveMessage", meta)
	allow("ingest", ingest, "sqs:DeleteMessage", meta)
	allow("ingest", ingest, "sqs:ChangeMessageVisibility", meta)
	for _, q := range queues {
		if q == meta {
			continue
		}
		deny("ingest", ingest, "sqs:ReceiveMessage", q)
		deny("ingest", ingest, "sqs:DeleteMessage", q)
		deny("ingest", ingest, "sqs:ChangeMessageVisibility", q)
		if q != routing {
			deny("ingest", ingest, "sqs:SendMessage", q)
		}
	}
	// router: consume routing, send to delivery.
	allow("router", router, "sqs:ReceiveMessage", routing)
	allow("router", router, "sqs:DeleteMessage", routing)
	allow("router", router, "sqs:ChangeMessageVisibility", routing)
	allow("router", router, "sqs:SendMessage", delivery)
	deny("router", router, "sqs:ReceiveMessage", delivery)
	deny("router", router, "sqs:ReceiveMessage", routingDLQ)
	for _, q := range []string{meta, metaDLQ} {
		for name, g := range map[string]grants{"router": router, "delivery": deliveryFn, "sweeper": sweeper} {
			deny(name, g, "sqs:SendMessage", q)
			deny(name, g, "sqs:ReceiveMessage", q)
		}
	}
	deny("router", router, "ses:SendEmail", "*")
	// delivery: consume delivery, send to routing and the delivery DLQ, email.
	allow("delivery", deliveryFn, "sqs:ReceiveMessage", delivery)
	allow("delivery", deliveryFn, "sqs:DeleteMessage", delivery)
	allow("delivery", deliveryFn, "sqs:ChangeMessageVisibility", delivery)
	allow("delivery", deliveryFn, "sqs:SendMessage", routing)
	allow("delivery", deliveryFn, "sqs:SendMessage", deliveryDLQ)
	deny("delivery", deliveryFn, "sqs:ReceiveMessage", routing)
	deny("delivery", deliveryFn, "sqs:ReceiveMessage", deliveryDLQ)
	// admin: send to the work queues, receive/delete on their DLQs
	// (redrive).
	allow("admin", admin, "sqs:SendMessage", routing)
	allow("admin", admin, "sqs:SendMessage", delivery)
	allow("admin", admin, "sqs:SendMessage", meta)
	for _, q := range []string{routingDLQ, deliveryDLQ, metaDLQ} {
		allow("admin", admin, "sqs:ReceiveMessage", q)
		allow("admin", admin, "sqs:DeleteMessage", q)
	}
	deny("admin", admin, "sqs:ReceiveMessage", routing)
	deny("admin", admin, "sqs:ReceiveMessage", delivery)
	deny("admin", admin, "sqs:ReceiveMessage", meta)
	deny("admin", admin, "sqs:ReceiveMessage", ledgerDLQ)
	// aggregate: reads the table's stream (its event source mapping) and
	// sends failed batches to the LedgerDLQ (the mapping's destination).
	for _, a := range []string{"dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator"} {
		allow("aggregate", aggregate, a, stream)
	}
	allow("aggregate", aggregate, "sqs:SendMessage", ledgerDLQ)
	for _, q := range queues {
		deny("aggregate", aggregate, "sqs:ReceiveMessage", q)
		if q != ledgerDLQ {
			deny("aggregate", aggregate, "sqs:SendMessage", q)
		}
	}
	// sweeper: re-sends to both work queues, dead-letters a lead it gave
	// up on to their DLQs, consumes nothing, no stream.
	for _, q := range []string{routing, delivery, routingDLQ, deliveryDLQ} {
		allow("sweeper", sweeper, "sqs:SendMessage", q)
	}
	deny("sweeper", sweeper, "sqs:SendMessage", ledgerDLQ)
	for _, q := range queues {
		deny("sweeper", sweeper, "sqs:ReceiveMessage", q)
		deny("sweeper", sweeper, "sqs:DeleteMessage", q)
	}
	// Only the aggregate function reads the stream.
	for name, g := range map[string]grants{"ingest": ingest, "router": router, "delivery": deliveryFn, "admin": admin, "sweeper": sweeper} {
		deny(name, g, "dynamodb:GetRecords", stream)
		deny(name, g, "dynamodb:GetShardIterator", stream)
	}

	for _, r := range rules {
		if got := r.g.can(r.action, r.on); got != r.allowed {
			t.Errorf("%s may %s on %s: %v, want %v", r.who, r.action, r.on, got, r.allowed)
		}
	}

	// SES only for delivery, and only as the sender: its address's
	// identity and its domain's.
	sesRS := deliveryFn.resourcesFor("ses:SendEmail")
	slices.Sort(sesRS)
	wantSES := []string{"arn:AWS::Partition:ses:AWS::Region:AWS::AccountId:identity/leadrelay.local",
		"arn:AWS::Partition:ses:AWS::Region:AWS::AccountId:identity/leads@leadrelay.local"}
	if !slices.Equal(sesRS, wantSES) {
		t.Errorf("delivery ses:SendEmail on %v, want %v", sesRS, wantSES)
	}
	for name, g := range map[string]grants{"ingest": ingest, "router": router, "admin": admin, "aggregate": aggregate, "sweeper": sweeper} {
		if rs := g.resourcesFor("ses:SendEmail"); len(rs) != 0 {
			t.Errorf("%s may ses:SendEmail on %v", name, rs)
		}
	}
	// ping: reads the table (configuration, breakers: see
	// TestTableGrantsInTemplate) and updates only its sources' rate windows
	// (TestTableGrantsInTemplate holds UpdateItem to RATE#*), no queue; ping
	// and ingest (which verifies ping_ids) read the ping secret's parameter,
	// no one else.
	ping := role("PingFunction")
	for _, a := range []string{"dynamodb:GetItem", "dynamodb:Query", "dynamodb:UpdateItem"} {
		if !ping.can(a, table) {
			t.Errorf("ping may not %s on the table", a)
		}
	}
	for _, a := range []string{"dynamodb:PutItem", "dynamodb:DeleteItem", "dynamodb:ConditionCheckItem", "dynamodb:BatchGetItem"} {
		if ping.can(a, table) {
			t.Errorf("ping may %s on the table", a)
		}
	}
	for _, q := range queues {
		if ping.can("sqs:SendMessage", q) || ping.can("sqs:ReceiveMessage", q) {
			t.Errorf("ping may use queue %s", q)
		}
	}
	for name, g := range map[string]grants{"ping": ping, "ingest": ingest, "router": router, "delivery": deliveryFn, "admin": admin, "aggregate": aggregate, "sweeper": sweeper} {
		rs := g.resourcesFor("ssm:GetParameter")
		slices.Sort(rs)
		switch name {
		case "ping": // the ping secret, only
			if len(rs) != 1 || !strings.HasSuffix(rs[0], ":parameter"+DefaultPingSecretParam) {
				t.Errorf("%s ssm:GetParameter on %v, want the ping secret only", name, rs)
			}
		case "ingest": // the ping secret, the Meta app secret, the Twilio auth token, the Meta pages' tokens under /leadrelay/
			want := []string{":parameter/" + SecretParamPrefix + "*", ":parameter" + DefaultMetaAppSecretParam, ":parameter" + DefaultPingSecretParam, ":parameter" + DefaultTwilioAuthTokenParam} // sorted
			if len(rs) != len(want) {
				t.Errorf("ingest ssm:GetParameter on %v, want %v", rs, want)
				break
			}
			for i, w := range want {
				if !strings.HasSuffix(rs[i], w) {
					t.Errorf("ingest ssm:GetParameter on %v, want %v", rs, want)
				}
			}
		case "router", "delivery", "admin": // the configuration's secret references (admin: the ad spend accounts' tokens), only
			if len(rs) != 1 || !strings.HasSuffix(rs[0], ":parameter/"+SecretParamPrefix+"*") {
				t.Errorf("%s ssm:GetParameter on %v, want the parameters under /%s only", name, rs, SecretParamPrefix)
			}
		default:
			if len(rs) > 0 {
				t.Errorf("%s ssm:GetParameter on %v, want none", name, rs)
			}
		}
	}
}

// statement is one Allow or Deny statement of a policy in the template.
type statement struct {
	owner     string // the logical ID of the resource holding the policy
	effect    string
	actions   []string
	resources []string // resourceKey of each
	principal any
	condition map[string]any
}

// policyStatements returns every statement of every policy document in
// the template: IAM policies and roles, queue and topic policies.
func (f *fixture) policyStatements() []statement {
	var out []statement
	var walk func(owner string, v any)
	doc := func(owner string, d any) {
		m, _ := d.(map[string]any)
		for _, s := range asList(m["Statement"]) {
			st, ok := s.(map[string]any)
			if !ok {
				continue
			}
			x := statement{owner: owner, principal: st["Principal"]}
			x.effect, _ = st["Effect"].(string)
			for _, a := range asList(st["Action"]) {
				if a != nil {
					x.actions = append(x.actions, fmt.Sprint(a))
				}
			}
			if st["Resource"] != nil {
				for _, r := range asList(st["Resource"]) {
					x.resources = append(x.resources, resourceKey(r))
				}
			}
			x.condition, _ = st["Condition"].(map[string]any)
			out = append(out, x)
		}
	}
	walk = func(owner string, v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				if k == "PolicyDocument" || k == "AssumeRolePolicyDocument" {
					doc(owner, e)
					continue
				}
				walk(owner, e)
			}
		case []any:
			for _, e := range x {
				walk(owner, e)
			}
		}
	}
	all, _ := f.json["Resources"].(map[string]any)
	for id, r := range all {
		walk(id, props(r.(map[string]any)))
	}
	return out
}

// policyOwner maps a policy resource to the roles it is attached to (a
// role's inline policies to itself).
func (f *fixture) rolesOf(owner string) []string {
	all, _ := f.json["Resources"].(map[string]any)
	r, _ := all[owner].(map[string]any)
	if r["Type"] == "AWS::IAM::Role" {
		return []string{owner}
	}
	var out []string
	for _, x := range asList(props(r)["Roles"]) {
		if id := refID(x); id != "" {
			out = append(out, id)
		}
	}
	return out
}

// tableStatementKeys are a function role's item-level table grants as
// "action index pattern" lines.
func tableGrantLines(a tableAccess) []string {
	var out []string
	for _, g := range a.table {
		for _, k := range g.keys {
			out = append(out, g.action+" table "+k)
		}
	}
	for _, g := range a.index {
		for _, k := range g.keys {
			out = append(out, g.action+" "+indexGSI1+" "+k)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// The template grants each function the table access of tableAccessOf
// (held to the handlers by TestTableAccessIsWhatTheHandlersDo), each
// statement one of the item-level actions, on the table or gsi1, under a
// dynamodb:LeadingKeys condition and nothing else. The aggregate function
// reads the table's stream as well (its event source mapping).
func TestTableGrantsInTemplate(t *testing.T) {
	f := synthDefault(t)
	table, _ := f.onlyResource(t, "AWS::DynamoDB::Table", "Table")
	itemLevel := []string{ddbGetItem, ddbBatchGetItem, ddbQuery, ddbPutItem, ddbUpdateItem, ddbConditionCheckItem}
	byRole := map[string][]statement{}
	for _, st := range f.policyStatements() {
		for _, r := range f.rolesOf(st.owner) {
			byRole[r] = append(byRole[r], st)
		}
	}
	for _, fn := range FunctionNames() {
		var got []string
		for _, st := range byRole[f.functionRole(t, fn)] {
			if st.effect != "Allow" || !slices.ContainsFunc(st.actions, func(a string) bool { return strings.HasPrefix(a, "dynamodb:") }) {
				continue
			}
			if fn == FnAggregate && slices.Equal(st.resources, []string{table + ".StreamArn"}) {
				continue // the stream (event source mapping)
			}
			ddb := slices.DeleteFunc(slices.Clone(st.actions), func(a string) bool { return !strings.HasPrefix(a, "dynamodb:") })
			if fn == FnAggregate && slices.Equal(ddb, []string{"dynamodb:ListStreams"}) && slices.Equal(st.resources, []string{"*"}) {
				continue // takes no resource (TestEveryWildcardHasAReason)
			}
			like, _ := st.condition["ForAllValues:StringLike"].(map[string]any)
			keys := asList(like["dynamodb:LeadingKeys"])
			if len(st.condition) != 1 || len(like) != 1 || len(keys) == 0 {
				t.Errorf("%s: statement %v on %v: condition %v, want only ForAllValues:StringLike on dynamodb:LeadingKeys", fn, st.actions, st.resources, st.condition)
				continue
			}
			for _, a := range st.actions {
				if !slices.Contains(itemLevel, a) {
					t.Errorf("%s: %s under a LeadingKeys condition: not an item-level action (ForAllValues holds without a key)", fn, a)
				}
				for _, r := range st.resources {
					on := "table"
					switch r {
					case table:
					case table + "/index/" + indexGSI1:
						on = indexGSI1
						if a != ddbQuery {
							t.Errorf("%s: %s on gsi1", fn, a)
						}
					default:
						t.Errorf("%s: %s on %s", fn, a, r)
					}
					for _, k := range keys {
						got = append(got, a+" "+on+" "+fmt.Sprint(k))
					}
				}
			}
		}
		slices.Sort(got)
		got = slices.Compact(got)
		if want := tableGrantLines(tableAccessOf(fn)); !slices.Equal(got, want) {
			t.Errorf("%s: table grants in the template\n got %v\nwant %v", fn, got, want)
		}
	}

	// The partitions that hold leads (PII) and the configuration (buyers'
	// secrets), by function.
	for _, c := range []struct {
		fn     string
		action string
		pk     string
		may    bool
	}{
		{FnPing, ddbGetItem, "CONFIG", true},
		{FnPing, ddbQuery, "BREAKER", true},
		{FnPing, ddbQuery, "LEAD#l-1", false},
		{FnPing, ddbGetItem, "LEAD#l-1", false},
		{FnPing, ddbPutItem, "CONFIG", false},
		{FnAggregate, ddbUpdateItem, "LEDGER#2026-05-01", true},
		{FnAggregate, ddbGetItem, "CKPT#ledger", true},
		{FnAggregate, ddbGetItem, "CONFIG", false},
		{FnAggregate, ddbQuery, "LEAD#l-1", false},
		{FnSweeper, ddbPutItem, "CONFIG", false},
		{FnSweeper, ddbUpdateItem, "LEAD#l-1", false},
		{FnRouter, ddbQuery, "AUDIT", false},
		{FnRouter, ddbGetItem, "VAL#phone#x", false},
		{FnDelivery, ddbPutItem, "CONFIG", false},
		{FnIngest, ddbPutItem, "CONFIG", false},
		// Calls are routed while the caller waits, by the ingest
		// function (shared/ingest/voice.go): it reserves their caps.
		{FnIngest, ddbUpdateItem, "CAP#x", true},
		{FnIngest, ddbUpdateItem, "BREAKER", false},
		{FnAdmin, ddbUpdateItem, "CAP#x", false},
		{FnAdmin, ddbPutItem, "CONFIG", true},
	} {
		if got := grantsCall(tableAccessOf(c.fn).table, ddbCall{c.action, "", c.pk}); got != c.may {
			t.Errorf("%s may %s on %s: %v, want %v", c.fn, c.action, c.pk, got, c.may)
		}
	}
}

// wildcard is one "*" (or "?") that a policy of the template holds. A
// Resource "*" is one wildcard per action of its statement.
type wildcard struct {
	owner, effect string
	roles         []string // the roles the policy is attached to
	actions       []string
	field, value  string // "Action", "Resource", "Principal", "Condition <op> <key>", or "SourceArn"
}

// wildcardReasons says why each wildcard in the template is there. Every
// wildcard found must match one; every reason must match a wildcard.
var wildcardReasons = []struct {
	reason string
	match  func(w wildcard) bool
}{
	{"X-Ray has no resource-level permissions: tracing needs PutTraceSegments and PutTelemetryRecords on *",
		func(w wildcard) bool {
			return w.field == "Resource" && w.value == "*" && allPrefixed(w.actions, "xray:")
		}},
	{"dynamodb:ListStreams takes no resource (it lists a table's streams); the aggregate function's stream mapping needs it",
		func(w wildcard) bool {
			return w.field == "Resource" && w.value == "*" && slices.Equal(w.actions, []string{"dynamodb:ListStreams"}) &&
				slices.Equal(w.roles, []string{aggregateRole})
		}},
	{"dynamodb:LeadingKeys patterns name families of partitions keyed by an id (LEAD#<id>, VAL#<kind>#<hash>, CAP#<scope>#…): infra/access.go, held to the handlers by TestTableAccessIsWhatTheHandlersDo",
		func(w wildcard) bool {
			return w.field == "Condition ForAllValues:StringLike dynamodb:LeadingKeys" && keyPatterns()[w.value]
		}},
	{"TLS only: a Deny of every action of every principal on the queue or topic without aws:SecureTransport (enforceSSL)",
		func(w wildcard) bool {
			return w.effect == "Deny" && (w.field == "Principal" || w.field == "Action") &&
				(w.value == "*" || w.value == "sqs:*" || w.value == "sns:*" || w.value == "sns:Publish")
		}},
	{"the configuration's secret fields reference SSM parameters (ssm:/leadrelay/...) that operators name: router and delivery read those under /leadrelay/ only, ingest the Meta pages' access tokens, and admin the ad spend accounts' tokens",
		func(w wildcard) bool {
			return w.field == "Resource" && strings.HasSuffix(w.value, ":parameter/"+SecretParamPrefix+"*") &&
				slices.Equal(w.actions, []string{"ssm:GetParameter"})
		}},
	{"ANY /v1/admin/{proxy+}: API Gateway may invoke admin for any method (*) on any admin path (*) of this API's stage",
		func(w wildcard) bool {
			return w.field == "SourceArn" && strings.HasSuffix(w.value, "/*/v1/admin/*")
		}},
	{"ANY /console/{proxy+}: API Gateway may invoke admin for any method (*) on any page of the operators' console (*) of this API's stage; the console checks its own session",
		func(w wildcard) bool {
			return w.field == "SourceArn" && strings.HasSuffix(w.value, "/*/console/*")
		}},
	{"GET /v1/leads/{id}: API Gateway may invoke ingest for any lead id (the path parameter) of this API's stage",
		func(w wildcard) bool {
			return w.field == "SourceArn" && strings.HasSuffix(w.value, "/GET/v1/leads/*")
		}},
}

// aggregateRole is the aggregate function's role in the fixture
// TestEveryWildcardHasAReason reads.
var aggregateRole string

func allPrefixed(ss []string, prefix string) bool {
	return len(ss) > 0 && !slices.ContainsFunc(ss, func(s string) bool { return !strings.HasPrefix(s, prefix) })
}

// keyPatterns are the LeadingKeys patterns of tableAccessOf.
func keyPatterns() map[string]bool {
	out := map[string]bool{}
	for _, fn := range FunctionNames() {
		a := tableAccessOf(fn)
		for _, g := range append(a.table, a.index...) {
			for _, k := range g.keys {
				out[k] = true
			}
		}
	}
	return out
}

func hasWildcard(s string) bool { return strings.ContainsAny(s, "*?") }

// No wildcard in a policy of the template (an action, a resource, a
// principal, a condition value, a Lambda permission's source) goes without
// a reason in wildcardReasons.
func TestEveryWildcardHasAReason(t *testing.T) {
	f := synthDefault(t)
	aggregateRole = f.functionRole(t, FnAggregate)
	var found []wildcard
	for _, st := range f.policyStatements() {
		roles := f.rolesOf(st.owner)
		add := func(field, value string) {
			if hasWildcard(value) {
				found = append(found, wildcard{st.owner, st.effect, roles, st.actions, field, value})
			}
		}
		for _, a := range st.actions {
			add("Action", a)
		}
		for _, r := range st.resources {
			if r != "*" {
				add("Resource", r)
				continue
			}
			for _, a := range st.actions {
				found = append(found, wildcard{st.owner, st.effect, roles, []string{a}, "Resource", r})
			}
		}
		switch p := st.principal.(type) {
		case string:
			add("Principal", p)
		case map[string]any:
			for _, v := range p {
				for _, x := range asList(v) {
					add("Principal", resourceKey(x))
				}
			}
		}
		for op, kv := range st.condition {
			m, _ := kv.(map[string]any)
			for k, v := range m {
				for _, x := range asList(v) {
					add("Condition "+op+" "+k, resourceKey(x))
				}
			}
		}
	}
	for id, p := range f.resources("AWS::Lambda::Permission") {
		if arn := resourceKey(props(p)["SourceArn"]); hasWildcard(arn) {
			found = append(found, wildcard{owner: id, effect: "Allow", field: "SourceArn", value: arn})
		}
	}
	used := make([]bool, len(wildcardReasons))
	for _, w := range found {
		ok := false
		for i, r := range wildcardReasons {
			if r.match(w) {
				ok, used[i] = true, true
				break
			}
		}
		if !ok {
			t.Errorf("%s: %s %v: %s %q has no reason in wildcardReasons", w.owner, w.effect, w.actions, w.field, w.value)
		}
	}
	for i, r := range wildcardReasons {
		if !used[i] {
			t.Errorf("no wildcard in the template for the reason %q: drop it", r.reason)
		}
	}
}

func TestSESIdentities(t *testing.T) {
	for from, want := range map[string][]string{
		"leads@leadrelay.local":            {"leads@leadrelay.local", "leadrelay.local"},
		"LeadRelay <leads@Agency.Example>": {"leads@Agency.Example", "agency.example"},
	} {
		if got, err := sesIdentities(from); err != nil || !slices.Equal(got, want) {
			t.Errorf("sesIdentities(%q) = %v, %v; want %v", from, got, err, want)
		}
	}
	for _, bad := range []string{"", "leads", "*@leadrelay.local", "a@b, c@d"} {
		if got, err := sesIdentities(bad); err == nil {
			t.Errorf("sesIdentities(%q) = %v, want an error", bad, got)
		}
	}
}
