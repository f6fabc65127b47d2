package main

import (
	"fmt"
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
	queues := []string{routing, delivery, routingDLQ, deliveryDLQ, ledgerDLQ}
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
	for name, g := range map[string]grants{"ingest": ingest, "router": router, "delivery": deliveryFn, "admin": admin, "aggregate": aggregate, "sweeper": sweeper} {
		for _, a := range []string{"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:ConditionCheckItem", "dynamodb:Query"} {
			allow(name, g, a, table)
		}
		allow(name, g, "dynamodb:Query", table+"/index/*")
	}

	// ingest: send to routing, nothing else on any queue.
	allow("ingest", ingest, "sqs:SendMessage", routing)
	for _, q := range queues {
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
	deny("router", router, "ses:SendEmail", "*")
	// delivery: consume delivery, send to routing and the delivery DLQ, email.
	allow("delivery", deliveryFn, "sqs:ReceiveMessage", delivery)
	allow("delivery", deliveryFn, "sqs:DeleteMessage", delivery)
	allow("delivery", deliveryFn, "sqs:ChangeMessageVisibility", delivery)
	allow("delivery", deliveryFn, "sqs:SendMessage", routing)
	allow("delivery", deliveryFn, "sqs:SendMessage", deliveryDLQ)
	deny("delivery", deliveryFn, "sqs:ReceiveMessage", routing)
	deny("delivery", deliveryFn, "sqs:ReceiveMessage", deliveryDLQ)
	// admin: send to both work queues, receive/delete on both DLQs.
	allow("admin", admin, "sqs:SendMessage", routing)
	allow("admin", admin, "sqs:SendMessage", delivery)
	for _, q := range []string{routingDLQ, deliveryDLQ} {
		allow("admin", admin, "sqs:ReceiveMessage", q)
		allow("admin", admin, "sqs:DeleteMessage", q)
	}
	deny("admin", admin, "sqs:ReceiveMessage", routing)
	deny("admin", admin, "sqs:ReceiveMessage", delivery)
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
	// sweeper: re-sends to both work queues, consumes nothing, no stream.
	allow("sweeper", sweeper, "sqs:SendMessage", routing)
	allow("sweeper", sweeper, "sqs:SendMessage", delivery)
	for _, q := range queues {
		deny("sweeper", sweeper, "sqs:ReceiveMessage", q)
		deny("sweeper", sweeper, "sqs:DeleteMessage", q)
		if q != routing && q != delivery {
			deny("sweeper", sweeper, "sqs:SendMessage", q)
		}
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

	// SES only for delivery, and only on identities.
	if rs := deliveryFn.resourcesFor("ses:SendEmail"); len(rs) != 1 || !strings.HasSuffix(rs[0], ":identity/*") {
		t.Errorf("delivery ses:SendEmail on %v, want only identity/*", rs)
	}
	for name, g := range map[string]grants{"ingest": ingest, "router": router, "admin": admin, "aggregate": aggregate, "sweeper": sweeper} {
		if rs := g.resourcesFor("ses:SendEmail"); len(rs) != 0 {
			t.Errorf("%s may ses:SendEmail on %v", name, rs)
		}
	}
	// ping: reads the table (configuration), no queue; ping and ingest
	// (which verifies ping_ids) read the ping secret's parameter, no one else.
	ping := role("PingFunction")
	for _, a := range []string{"dynamodb:GetItem", "dynamodb:Query"} {
		if !ping.can(a, table) {
			t.Errorf("ping may not %s on the table", a)
		}
	}
	for _, a := range []string{"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"} {
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
		want := name == "ping" || name == "ingest"
		if got := len(rs) == 1 && strings.HasSuffix(rs[0], ":parameter"+DefaultPingSecretParam); got != want || (!want && len(rs) > 0) {
			t.Errorf("%s ssm:GetParameter on %v, want the ping secret only: %v", name, rs, want)
		}
	}

	// No function role holds a wildcard on anything but X-Ray, and the
	// aggregate function's dynamodb:ListStreams (which takes no resource;
	// its event source mapping asks for it).
	aggregateRole := refID(props(f.resources("AWS::Lambda::Function")[id("AWS::Lambda::Function", "AggregateFunction")])["Role"])
	for rid, g := range all {
		for action, rs := range g {
			if rs["*"] && !strings.HasPrefix(action, "xray:") && !(rid == aggregateRole && action == "dynamodb:ListStreams") {
				t.Errorf("role %s: %s on *", rid, action)
			}
			if strings.HasSuffix(action, ":*") || action == "*" {
				t.Errorf("role %s: wildcard action %s", rid, action)
			}
		}
	}
}
