package runner

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
)

// openAPI is docs/openapi.yaml, validated, served at the runner's URL.
func openAPI(t *testing.T, url string) routers.Router {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromFile("../../docs/openapi.yaml")
	if err != nil {
		t.Fatalf("load docs/openapi.yaml: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("docs/openapi.yaml is not valid OpenAPI 3: %v", err)
	}
	doc.Servers = openapi3.Servers{{URL: url}}
	r, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// checked sends a request and validates the real response against the
// document: its status must be declared, its headers and body must match.
func checked(t *testing.T, router routers.Router, method, url, body string, headers map[string]string) int {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	route, params, err := router.FindRoute(req)
	if err != nil {
		t.Fatalf("%s %s is not in docs/openapi.yaml: %v", method, url, err)
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
		Status:                 resp.StatusCode,
		Header:                 resp.Header,
		Body:                   io.NopCloser(bytes.NewReader(raw)),
		Options:                &openapi3filter.Options{IncludeResponseStatus: true},
	}
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		t.Fatalf("%s %s answered %d %s, which docs/openapi.yaml does not allow: %v", method, url, resp.StatusCode, raw, err)
	}
	return resp.StatusCode
}

// Real answers of the public and admin APIs, good and bad, match
// docs/openapi.yaml.
func TestResponsesMatchOpenAPI(t *testing.T) {
	b := newBuyer(t)
	doc := campaignYAML(b.srv.URL, "daily: 100")
	e := start(t, doc, nil)
	router := openAPI(t, e.r.URL)
	u := e.r.URL
	adm := map[string]string{"Authorization": "Bearer " + adminToken}
	yml := map[string]string{"Authorization": "Bearer " + adminToken, "Content-Type": "application/yaml"}
	src := map[string]string{"X-API-Key": sourceKey, "Content-Type": "application/json"}
	csvAdm := map[string]string{"Authorization": "Bearer " + adminToken, "Content-Type": "text/csv"}
	jsonAdm := map[string]string{"Authorization": "Bearer " + adminToken, "Content-Type": "application/json"}

	lead := e.post(map[string]any{"phone": phone(1), "state": "CA"}, nil)
	id := lead.Body["lead_id"].(string) // whatever its status: reroute is refused unless unsold or rejected

	calls := []struct {
		method, path, body string
		headers            map[string]string
		want               int
	}{
		{"GET", "/v1/health", "", nil, 200},
		{"POST", "/v1/leads", `{"campaign":"auto","fields":{"phone":"` + phone(2) + `","state":"TX"}}`, src, 202},
		{"POST", "/v1/leads", `{"campaign":"auto","fields":{"phone":"nope","state":"CA"}}`, src, 400},
		{"POST", "/v1/leads", `{"campaign":"auto","fields":{"phone":"` + phone(1) + `","state":"CA"}}`, src, 409},
		{"POST", "/v1/leads", `{"campaign":"nope","fields":{}}`, src, 404},
		{"POST", "/v1/leads", `{}`, map[string]string{"Content-Type": "application/json"}, 401},
		{"GET", "/v1/leads/" + id, "", src, 200},
		{"GET", "/v1/admin/config", "", nil, 401},
		{"GET", "/v1/admin/config", "", adm, 200},
		{"POST", "/v1/admin/config/plan", strings.Replace(doc, "price: 25.00", "price: 26.00", 1), yml, 200},
		{"PUT", "/v1/admin/config", strings.Replace(doc, "daily: 100", "daily: -1", 1), yml, 400},
		{"PUT", "/v1/admin/config", doc, map[string]string{"Authorization": "Bearer " + adminToken, "If-Match": `"999"`}, 412},
		{"PUT", "/v1/admin/config", strings.Replace(doc, "price: 25.00", "price: 26.00", 1), yml, 200},
		{"PUT", "/v1/admin/campaigns/solar", "fields: {zip: {type: zip}}\n", yml, 201},
		{"GET", "/v1/admin/campaigns/solar", "", adm, 200},
		{"PUT", "/v1/admin/campaigns/solar", "fields: {zip: {type: nope}}\n", yml, 400},
		{"GET", "/v1/admin/sources/src", "", adm, 200},
		{"PUT", "/v1/admin/sources/src", "campaigns: [auto, solar]\napi_key_sha256: " + sourceHash + "\n", yml, 200},
		{"DELETE", "/v1/admin/campaigns/solar", "", adm, 409},
		{"GET", "/v1/admin/buyers/acme", "", adm, 200},
		{"GET", "/v1/admin/buyers/acme/orders/auto", "", adm, 200},
		{"PUT", "/v1/admin/buyers/acme/orders/auto-2", "campaign: auto\nprice: 9\n", yml, 201},
		{"POST", "/v1/admin/buyers/acme/orders/auto-2/pause", "", adm, 200},
		{"POST", "/v1/admin/buyers/acme/orders/auto-2/resume", "", adm, 200},
		{"DELETE", "/v1/admin/buyers/acme/orders/auto-2", "", adm, 200},
		{"POST", "/v1/admin/buyers/acme/pause", "", adm, 200},
		{"POST", "/v1/admin/buyers/acme/resume", "", adm, 200},
		{"GET", "/v1/admin/buyers/nobody", "", adm, 404},
		{"POST", "/v1/admin/buyers/acme/keys", "", adm, 201},
		{"POST", "/v1/admin/sources/nobody/keys", "", adm, 404},
		{"GET", "/v1/admin/audit?limit=5", "", adm, 200},
		{"GET", "/v1/admin/audit?limit=x", "", adm, 400},
		{"GET", "/v1/admin/dlq", "", adm, 200},
		{"GET", "/v1/admin/reports/hourly", "", adm, 200},
		{"GET", "/v1/admin/reports/hourly?date=2026-13-01", "", adm, 400},
		{"GET", "/v1/admin/leads/" + id, "", adm, 200},
		{"GET", "/v1/admin/leads/nope", "", adm, 404},
		{"POST", "/v1/admin/leads/" + id + "/reroute", "", adm, 0}, // 409, or 202 if routed while acme was paused
		{"GET", "/v1/admin/leads?campaign=auto&limit=1", "", adm, 200},
		{"GET", "/v1/admin/leads?phone=" + url.QueryEscape(phone(1)) + "&status=sold", "", adm, 200},
		{"GET", "/v1/admin/leads?status=sold", "", adm, 400},
		{"POST", "/v1/admin/leads/" + id + "/return", `{"buyer": "nobody", "reason": "fraud"}`, jsonAdm, 404},
		{"POST", "/v1/admin/leads/" + id + "/return", `{"buyer": "acme"}`, jsonAdm, 400},
		{"POST", "/v1/admin/suppressions", `{"phones": ["` + phone(9) + `", "nope"], "emails": ["a@example.com"]}`, jsonAdm, 200},
		{"POST", "/v1/admin/suppressions?list=complaints", "phone,email\n" + phone(8) + ",\nnope,\n", csvAdm, 200},
		{"POST", "/v1/admin/suppressions", `{"phones": "x"}`, jsonAdm, 400},
		{"POST", "/v1/admin/suppressions", "x", map[string]string{"Authorization": "Bearer " + adminToken, "Content-Type": "text/plain"}, 415},
		{"POST", "/v1/leads", `{"campaign":"auto","fields":{"phone":"` + phone(9) + `","state":"CA"}}`, src, 403},
		{"DELETE", "/v1/admin/suppressions", `{"phones": ["` + phone(9) + `"]}`, jsonAdm, 200},
	}
	for _, c := range calls {
		if got := checked(t, router, c.method, u+c.path, c.body, c.headers); c.want != 0 && got != c.want {
			t.Fatalf("%s %s: %d, want %d", c.method, c.path, got, c.want)
		}
	}
}
