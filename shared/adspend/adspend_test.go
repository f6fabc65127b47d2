package adspend

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/leadrelay/leadrelay/shared/config"
	"github.com/leadrelay/leadrelay/shared/money"
)

const (
	metaToken   = "EAAGsecretMetaToken"
	googleToken = "ya29.secretGoogleToken"
	devToken    = "secretDevToken"
)

// refs resolves references from a map.
type refs map[string]string

func (r refs) Resolve(_ context.Context, ref string) (string, error) {
	if v, ok := r[ref]; ok {
		return v, nil
	}
	return "", fmt.Errorf("no parameter %s", ref)
}

// The Meta client asks for the account's insights at its level, a day
// at a time, follows paging.next, and reads each row's id at the level.
func TestMetaInsightsPages(t *testing.T) {
	var srv *httptest.Server
	var asked []string
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		asked = append(asked, r.URL.Path)
		if q.Get("access_token") != metaToken {
			t.Errorf("access_token %q", q.Get("access_token"))
		}
		switch q.Get("after") {
		case "":
			if r.URL.Path != "/v21.0/act_1001/insights" || q.Get("level") != "adset" || q.Get("time_increment") != "1" ||
				q.Get("fields") != "spend,campaign_id,adset_id,ad_id" || q.Get("time_range") != `{"since":"2024-05-01","until":"2024-05-02"}` {
				t.Errorf("first page asked %s", r.URL)
			}
			fmt.Fprintf(w, `{"data":[{"spend":"12.34","campaign_id":"1","adset_id":"11","ad_id":"111","date_start":"2024-05-01","date_stop":"2024-05-01"},
				{"spend":"0.005","campaign_id":"1","adset_id":"12","date_start":"2024-05-01"}],
				"paging":{"cursors":{"after":"c1"},"next":%q}}`, srv.URL+"/v21.0/act_1001/insights?access_token="+metaToken+"&after=c1")
		case "c1":
			fmt.Fprint(w, `{"data":[{"spend":"7","campaign_id":"1","adset_id":"11","date_start":"2024-05-02"}],"paging":{"cursors":{"before":"c1"}}}`)
		default:
			t.Errorf("asked %s", r.URL)
		}
	}))
	defer srv.Close()
	c := &Client{Meta: &Meta{GraphURL: srv.URL + "/v21.0"}, Refs: refs{"ssm:/leadrelay/meta/ads": metaToken}}
	rows, err := c.Spend(context.Background(), &config.SpendAccount{
		Platform: "meta", AccountID: "act_1001", AccessToken: "ssm:/leadrelay/meta/ads", Level: "adset",
	}, "2024-05-01", "2024-05-02")
	if err != nil {
		t.Fatal(err)
	}
	want := []Row{{"2024-05-01", "11", 1234}, {"2024-05-01", "12", 1}, {"2024-05-02", "11", 700}}
	if fmt.Sprint(rows) != fmt.Sprint(want) || len(asked) != 2 {
		t.Fatalf("rows %v (pages %v), want %v", rows, asked, want)
	}
}

// paging.next is followed to the Graph API only: the token is in it.
func TestMetaPagingStaysOnTheGraphAPI(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"data":[],"paging":{"next":"https://evil.example/insights?access_token=`+metaToken+`"}}`)
	}))
	defer srv.Close()
	_, err := (&Meta{GraphURL: srv.URL}).Insights(context.Background(), "act_1", metaToken, "campaign", "2024-05-01", "2024-05-01")
	if err == nil || !strings.Contains(err.Error(), "evil.example") || strings.Contains(err.Error(), metaToken) {
		t.Fatalf("err %v", err)
	}
}

// A refusal is an *Error with the platform's message, never the token:
// not even when the platform quotes it, nor when the request fails.
func TestErrorsDoNotCarryTheToken(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadRequest)
		if strings.Contains(r.URL.Path, "searchStream") {
			fmt.Fprint(w, `[{"error":{"code":401,"message":"Request had invalid authentication credentials `+googleToken+` `+devToken+`","status":"UNAUTHENTICATED"}}]`)
			return
		}
		fmt.Fprint(w, `{"error":{"message":"Invalid OAuth access token - Cannot parse access token `+metaToken+`","type":"OAuthException","code":190}}`)
	}))
	ctx := context.Background()
	_, err := (&Meta{GraphURL: srv.URL}).Insights(ctx, "act_1", metaToken, "campaign", "2024-05-01", "2024-05-01")
	var e *Error
	if !errors.As(err, &e) || e.Status != 400 || !strings.Contains(err.Error(), "Invalid OAuth access token") || !strings.Contains(err.Error(), "code 190") || strings.Contains(err.Error(), metaToken) {
		t.Errorf("meta: %v", err)
	}
	q := GoogleQuery{CustomerID: "1234567890", Token: googleToken, DeveloperToken: devToken, Since: "2024-05-01", Until: "2024-05-01"}
	_, err = (&Google{BaseURL: srv.URL}).CampaignCost(ctx, q)
	if !errors.As(err, &e) || e.Status != 400 || !strings.Contains(err.Error(), "UNAUTHENTICATED") || strings.Contains(err.Error(), googleToken) || strings.Contains(err.Error(), devToken) {
		t.Errorf("google: %v", err)
	}
	// No answer: the URL is shown without its query.
	srv.Close()
	_, err = (&Meta{GraphURL: srv.URL}).Insights(ctx, "act_1", metaToken, "campaign", "2024-05-01", "2024-05-01")
	if !errors.As(err, &e) || e.Status != 0 || strings.Contains(err.Error(), metaToken) || strings.Contains(err.Error(), "access_token") {
		t.Errorf("meta, no answer: %v", err)
	}
	// A reference that does not resolve names the field, not a value.
	c := &Client{Meta: &Meta{GraphURL: srv.URL}, Refs: refs{}}
	if _, err := c.Spend(ctx, &config.SpendAccount{Platform: "meta", AccountID: "act_1", AccessToken: "ssm:/x"}, "2024-05-01", "2024-05-01"); err == nil || !strings.Contains(err.Error(), "access_token") {
		t.Errorf("unresolved: %v", err)
	}
}

// The Google client posts the GAQL query with its headers and reads
// cost_micros as cents, rounded half up.
func TestGoogleCampaignCost(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var q struct{ Query string }
		_ = json.Unmarshal(body, &q)
		if r.Method != http.MethodPost || r.URL.Path != "/v18/customers/1234567890/googleAds:searchStream" ||
			r.Header.Get("Authorization") != "Bearer "+googleToken || r.Header.Get("developer-token") != devToken ||
			r.Header.Get("login-customer-id") != "9876543210" ||
			q.Query != "SELECT campaign.id, segments.date, metrics.cost_micros FROM campaign WHERE segments.date BETWEEN '2024-05-01' AND '2024-05-02'" {
			t.Errorf("asked %s %s %v %s", r.Method, r.URL, r.Header, body)
		}
		fmt.Fprint(w, `[{"results":[
			{"campaign":{"resourceName":"customers/1234567890/campaigns/777","id":"777"},"segments":{"date":"2024-05-01"},"metrics":{"costMicros":"1234999"}},
			{"campaign":{"id":"777"},"segments":{"date":"2024-05-02"},"metrics":{"costMicros":"1235000"}},
			{"campaign":{"id":"778"},"segments":{"date":"2024-05-02"},"metrics":{"costMicros":4999}}],"fieldMask":"campaign.id,segments.date,metrics.costMicros"},
			{"results":[{"campaign":{"id":"779"},"segments":{"date":"2024-05-02"},"metrics":{}}]}]`)
	}))
	defer srv.Close()
	c := &Client{Google: &Google{BaseURL: srv.URL + "/v18"}, Refs: refs{"ssm:/t": googleToken, "ssm:/d": devToken}}
	rows, err := c.Spend(context.Background(), &config.SpendAccount{
		Platform: "google", AccountID: "1234567890", AccessToken: "ssm:/t", DeveloperToken: "ssm:/d", LoginCustomerID: "9876543210",
	}, "2024-05-01", "2024-05-02")
	if err != nil {
		t.Fatal(err)
	}
	want := []Row{{"2024-05-01", "777", 123}, {"2024-05-02", "777", 124}, {"2024-05-02", "778", 0}, {"2024-05-02", "779", 0}}
	if fmt.Sprint(rows) != fmt.Sprint(want) {
		t.Fatalf("rows %v, want %v", rows, want)
	}
}

func TestMicros(t *testing.T) {
	for micros, cents := range map[int64]money.Amount{0: 0, 4999: 0, 5000: 1, 10000: 1, 1234999: 123, 1235000: 124, 120_500_000: 12050} {
		if got := Micros(micros); got != cents {
			t.Errorf("Micros(%d) = %d, want %d", micros, got, cents)
		}
	}
}
