package webhook

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/leadrelay/leadrelay/shared/config"
	"github.com/leadrelay/leadrelay/shared/money"
)

func TestJudgeStatus(t *testing.T) {
	cases := []struct {
		status  int
		outcome Outcome
		reason  string
	}{
		{200, Accepted, ReasonStatus2xx},
		{201, Accepted, ReasonStatus2xx},
		{204, Accepted, ReasonStatus2xx},
		{301, Rejected, ReasonRedirect},
		{302, Rejected, ReasonRedirect},
		{400, Rejected, ReasonStatus4xx},
		{401, Rejected, ReasonStatus4xx},
		{409, Rejected, ReasonStatus4xx},
		{408, Transient, ReasonStatus4xx},
		{429, Transient, ReasonStatus4xx},
		{500, Transient, ReasonStatus5xx},
		{503, Transient, ReasonStatus5xx},
		{600, Transient, ReasonStatusOther},
	}
	for _, c := range cases {
		v := Judge(delivery("json"), c.status, []byte("ok"), nil)
		if v.Outcome != c.outcome || v.Reason != c.reason || v.Status != c.status || v.Response != "ok" {
			t.Errorf("Judge(%d) = %+v; want %s %s", c.status, v, c.outcome, c.reason)
		}
	}
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

func TestJudgeErrors(t *testing.T) {
	wrap := func(err error) error {
		return &url.Error{Op: "Post", URL: "https://buyer.example.com/x?api_key=SECRET", Err: err}
	}
	cases := []struct {
		err     error
		outcome Outcome
		reason  string
	}{
		{wrap(fmt.Errorf("dial: %w", ErrRefusedTarget)), Rejected, ReasonRefusedTarget},
		{wrap(context.DeadlineExceeded), Transient, ReasonTimeout},
		{wrap(&net.OpError{Op: "read", Err: timeoutErr{}}), Transient, ReasonTimeout},
		{wrap(context.Canceled), Transient, ReasonCanceled},
		{wrap(&net.OpError{Op: "dial", Err: errors.New("connection refused")}), Transient, ReasonConnection},
		{errors.New("unexpected EOF"), Transient, ReasonConnection},
	}
	for _, c := range cases {
		v := Judge(delivery("json"), 0, nil, c.err)
		if v.Outcome != c.outcome || v.Reason != c.reason {
			t.Errorf("Judge(%v) = %s %s; want %s %s", c.err, v.Outcome, v.Reason, c.outcome, c.reason)
		}
		if strings.Contains(v.Detail, "SECRET") {
			t.Errorf("detail leaks the query: %s", v.Detail)
		}
	}
}

func TestJudgeRules(t *testing.T) {
	eq := func(path string, v any) config.Rule { return config.Rule{JSON: path, Equals: v} }
	price := func(s string) *money.Amount { a, _ := money.ParseRounded(s); return &a }
	cases := []struct {
		name    string
		rules   config.Response
		status  int
		body    string
		outcome Outcome
		reason  string
		leadID  string
		price   *money.Amount
		detail  string
	}{
		{"json equals", config.Response{Accept: []config.Rule{eq("status", "success")}}, 200, `{"status":"success"}`, Accepted, ReasonStatus2xx, "", nil, ""},
		{"json not equal", config.Response{Accept: []config.Rule{eq("status", "success")}}, 200, `{"status":"duplicate"}`, Rejected, ReasonRuleRejected, "", nil, `status is "duplicate", not "success"`},
		{"json nested number", config.Response{Accept: []config.Rule{eq("result.code", 1)}}, 200, `{"result":{"code":1.0}}`, Accepted, ReasonStatus2xx, "", nil, ""},
		{"json number vs string", config.Response{Accept: []config.Rule{eq("result.code", 1)}}, 200, `{"result":{"code":"1.0"}}`, Rejected, ReasonRuleRejected, "", nil, ""},
		{"json bool", config.Response{Accept: []config.Rule{eq("ok", true)}}, 201, `{"ok":true}`, Accepted, ReasonStatus2xx, "", nil, ""},
		{"json array path and extraction", config.Response{
			Accept:      []config.Rule{{JSON: "data.0.id"}},
			BuyerLeadID: &config.Rule{JSON: "data.0.id"},
			Price:       &config.Rule{JSON: "data.0.price"},
		}, 200, `{"data":[{"id":"B-77","price":12.505}]}`, Accepted, ReasonStatus2xx, "B-77", price("12.51"), ""},
		{"json missing", config.Response{Accept: []config.Rule{{JSON: "data.1.id"}}}, 200, `{"data":[{"id":"B-77"}]}`, Rejected, ReasonRuleRejected, "", nil, "data.1.id is missing"},
		{"json present but false", config.Response{Accept: []config.Rule{{JSON: "accepted"}}}, 200, `{"accepted":false}`, Rejected, ReasonRuleRejected, "", nil, "accepted is empty"},
		{"not json", config.Response{Accept: []config.Rule{eq("status", "ok")}}, 200, `<html>ok</html>`, Rejected, ReasonRuleRejected, "", nil, ""},
		{"regex match and group", config.Response{
			Accept:      []config.Rule{{Regex: `(?i)result=accepted`}},
			BuyerLeadID: &config.Rule{Regex: `lead_id=(\w+)`},
			Price:       &config.Rule{Regex: `price=([0-9.]+)`},
		}, 200, "RESULT=ACCEPTED&lead_id=X9&price=7.5", Accepted, ReasonStatus2xx, "X9", price("7.5"), ""},
		{"regex miss", config.Response{Accept: []config.Rule{{Regex: `^OK`}}}, 200, "ERROR: dup", Rejected, ReasonRuleRejected, "", nil, "does not match"},
		{"xml element", config.Response{
			Accept:      []config.Rule{{XML: "Response.Result", Equals: "Accepted"}},
			BuyerLeadID: &config.Rule{XML: "LeadId"},
			Price:       &config.Rule{XML: "Price"},
		}, 200, `<?xml version="1.0"?><Response xmlns="urn:x"><Result> Accepted </Result><LeadId>88</LeadId><Price>3</Price></Response>`, Accepted, ReasonStatus2xx, "88", price("3"), ""},
		{"xml other value", config.Response{Accept: []config.Rule{{XML: "Result", Equals: "Accepted"}}}, 200, `<Response><Result>Rejected</Result></Response>`, Rejected, ReasonRuleRejected, "", nil, `element Result is "Rejected"`},
		{"xml wrong parent", config.Response{Accept: []config.Rule{{XML: "Status.Result", Equals: "Accepted"}}}, 200, `<Response><Result>Accepted</Result></Response>`, Rejected, ReasonRuleRejected, "", nil, "missing"},
		{"all rules must hold", config.Response{Accept: []config.Rule{eq("a", "1"), eq("b", "2")}}, 200, `{"a":"1","b":"3"}`, Rejected, ReasonRuleRejected, "", nil, "accept rule 2"},
		{"rules leave 5xx alone", config.Response{Accept: []config.Rule{eq("status", "ok")}}, 503, `{"status":"ok"}`, Transient, ReasonStatus5xx, "", nil, ""},
		{"reason on a 4xx", config.Response{Reason: &config.Rule{JSON: "error.message"}}, 422, `{"error":{"message":"zip out of area"}}`, Rejected, ReasonStatus4xx, "", nil, "zip out of area"},
		{"reason on rule rejection", config.Response{Accept: []config.Rule{eq("ok", true)}, Reason: &config.Rule{JSON: "why"}}, 200, `{"ok":false,"why":"duplicate"}`, Rejected, ReasonRuleRejected, "", nil, ": duplicate"},
		{"unparseable price", config.Response{Price: &config.Rule{JSON: "price"}}, 200, `{"price":"free"}`, Accepted, ReasonStatus2xx, "", nil, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := delivery("json")
			d.Response = &c.rules
			v := Judge(d, c.status, []byte(c.body), nil)
			if v.Outcome != c.outcome || v.Reason != c.reason || v.BuyerLeadID != c.leadID || !strings.Contains(v.Detail, c.detail) {
				t.Fatalf("got %+v", v)
			}
			if (v.Price == nil) != (c.price == nil) || v.Price != nil && *v.Price != *c.price {
				t.Fatalf("price %v; want %v", v.Price, c.price)
			}
		})
	}
}

func TestJudgeStoresATruncatedValidResponse(t *testing.T) {
	body := strings.Repeat("a", MaxStoredResponse-1) + "é" + strings.Repeat("b", 100) // é straddles the cut
	v := Judge(delivery("json"), 200, []byte(body), nil)
	if len(v.Response) != MaxStoredResponse-1 || !utf8.ValidString(v.Response) {
		t.Fatalf("len %d valid %v", len(v.Response), utf8.ValidString(v.Response))
	}
	v = Judge(delivery("json"), 200, []byte("bad \xff byte"), nil)
	if v.Response != "bad \uFFFD byte" {
		t.Fatalf("response %q", v.Response)
	}
}
