package conversions

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/leadrelay/leadrelay/shared/config"
	"github.com/leadrelay/leadrelay/shared/lead"
)

func index(c *config.MetaConversions) *config.Index {
	return config.NewIndex(&config.Config{Integrations: config.Integrations{Meta: &config.Meta{Conversions: c}}})
}

func TestForQueuesOnlyMetaLeadsStagesTheDatasetTakes(t *testing.T) {
	at := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	meta := &lead.Lead{ID: "l-1", ExternalID: "meta:123456789012345"}
	all := index(&config.MetaConversions{DatasetID: "1", AccessToken: "ssm:/x"})
	soldOnly := index(&config.MetaConversions{DatasetID: "1", AccessToken: "ssm:/x", Events: map[string]string{"sold": "Qualified"}})
	for _, c := range []struct {
		name  string
		ix    *config.Index
		l     *lead.Lead
		stage string
		want  bool
	}{
		{"a Meta lead sold", all, meta, lead.StageSold, true},
		{"a Meta lead converted", all, meta, lead.StageConverted, true},
		{"a stage the dataset does not take", soldOnly, meta, lead.StageReturned, false},
		{"no dataset", index(nil), meta, lead.StageSold, false},
		{"a lead of the API", all, &lead.Lead{ID: "l-2", ExternalID: "crm-77"}, lead.StageSold, false},
		{"a Google lead", all, &lead.Lead{ID: "l-3", ExternalID: "google:abc"}, lead.StageSold, false},
		{"a test lead", all, &lead.Lead{ID: "l-4", ExternalID: "meta:1", Test: true}, lead.StageSold, false},
	} {
		got := For(c.ix, c.l, c.stage, "R2", at)
		if (got != nil) != c.want {
			t.Errorf("%s: %+v, want queued %v", c.name, got, c.want)
			continue
		}
		if got != nil && (got.PlatformLeadID != "123456789012345" || got.Stage != c.stage || !got.At.Equal(at) || got.Key != "R2") {
			t.Errorf("%s: %+v", c.name, got)
		}
	}
	if n := soldOnly.MetaConversions().EventName(lead.StageSold); n != "Qualified" {
		t.Errorf("event name %q", n)
	}
}

// The request is Meta's documented form: data (a JSON array of CRM
// events) and access_token in the body, never in the URL.
func TestSendPostsCRMEventsWithTheTokenInTheBody(t *testing.T) {
	var got url.Values
	var rawQuery, path string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rawQuery, path = r.URL.RawQuery, r.URL.Path
		b, _ := io.ReadAll(r.Body)
		got, _ = url.ParseQuery(string(b))
		fmt.Fprint(w, `{"events_received":1,"messages":[],"fbtrace_id":"x"}`)
	}))
	defer srv.Close()
	m := &Meta{BaseURL: srv.URL + "/v21.0"}
	at := time.Unix(1764579600, 0)
	if err := m.Send(context.Background(), "777", "tok", []Event{{Name: "Sold", ID: "l-1:sold:R2", LeadgenID: "123456789012345", Time: at}}); err != nil {
		t.Fatal(err)
	}
	want := `[{"event_name":"Sold","event_time":1764579600,"event_id":"l-1:sold:R2","action_source":"system_generated",` +
		`"user_data":{"lead_id":123456789012345},"custom_data":{"event_source":"crm","lead_event_source":"LeadRelay"}}]`
	if path != "/v21.0/777/events" || rawQuery != "" || got.Get("access_token") != "tok" || got.Get("data") != want {
		t.Fatalf("request %s?%s %v\nwant data %s", path, rawQuery, got, want)
	}
}

func TestSendSaysWhetherARefusalIsWorthRetrying(t *testing.T) {
	for _, c := range []struct {
		status    int
		body      string
		transient bool
	}{
		{500, `{"error":{"message":"oops","code":2}}`, true},
		{429, `{}`, true},
		{400, `{"error":{"message":"rate","code":17}}`, true},
		{400, `{"error":{"message":"retry","code":100,"is_transient":true}}`, true},
		{400, `{"error":{"message":"Invalid parameter","code":100,"error_user_msg":"bad lead id tok-secret"}}`, false},
		{401, `{"error":{"message":"Invalid OAuth access token tok-secret","code":190}}`, false},
		{200, `{"events_received":0}`, true},
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(c.status)
			fmt.Fprint(w, c.body)
		}))
		err := (&Meta{BaseURL: srv.URL}).Send(context.Background(), "1", "tok-secret", []Event{{Name: "Sold", ID: "x", LeadgenID: "1", Time: time.Now()}})
		srv.Close()
		var e *Error
		if !errors.As(err, &e) || e.Transient != c.transient || IsTransient(err) != c.transient {
			t.Errorf("%d %s: %v, want transient %v", c.status, c.body, err, c.transient)
		}
		if err != nil && strings.Contains(err.Error(), "tok-secret") {
			t.Errorf("%d: the token is in the error: %v", c.status, err)
		}
	}
	// No answer at all is worth another try.
	err := (&Meta{BaseURL: "http://127.0.0.1:1"}).Send(context.Background(), "1", "t", []Event{{Name: "Sold", ID: "x", LeadgenID: "1", Time: time.Now()}})
	if !IsTransient(err) {
		t.Errorf("unreachable: %v", err)
	}
}

func TestSendRefusesWhatMetaWouldNot(t *testing.T) {
	m := &Meta{BaseURL: "http://127.0.0.1:1"}
	if err := m.Send(context.Background(), "1", "t", make([]Event, MaxBatch+1)); err == nil {
		t.Error("a batch over the limit was sent")
	}
	if err := m.Send(context.Background(), "1", "t", []Event{{Name: "Sold", ID: "x", LeadgenID: "12a"}}); err == nil {
		t.Error("a leadgen id that is not a number was sent")
	}
}
