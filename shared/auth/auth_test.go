package auth

import (
	"fmt"
	"strings"
	"testing"

	"github.com/leadrelay/leadrelay/shared/config"
	"github.com/leadrelay/leadrelay/shared/httpapi"
)

func index(t *testing.T) *config.Index {
	t.Helper()
	doc := `
campaigns:
  - {id: c, fields: {phone: {type: phone}}}
  - {id: other, fields: {phone: {type: phone}}}
  - {id: shut, status: paused, fields: {phone: {type: phone}}}
sources:
  - {id: live, campaigns: [c, shut], api_key_sha256: "` + config.HashKey("live-key") + `"}
  - {id: off, campaigns: [c], status: paused, api_key_sha256: "` + config.HashKey("off-key") + `"}
buyers:
  - id: acme
    api_key_sha256: "` + config.HashKey("buyer-key") + `"
    delivery: {type: webhook, url: "https://acme.example/leads"}
    orders: [{campaign: c, price: 10.00}]
`
	c, err := config.Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	return config.NewIndex(c)
}

func req(headers map[string]string) httpapi.Request { return httpapi.Request{Headers: headers} }

func TestSource(t *testing.T) {
	ix := index(t)
	cases := []struct {
		headers map[string]string
		id      string
		status  int
		code    string
	}{
		{map[string]string{"X-API-Key": "live-key"}, "live", 0, ""},
		{map[string]string{"authorization": "bearer live-key"}, "live", 0, ""},
		{nil, "", 401, "unauthorized"},
		{map[string]string{"X-API-Key": "nope"}, "", 401, "unauthorized"},
		{map[string]string{"X-API-Key": "buyer-key"}, "", 401, "unauthorized"}, // a buyer's key is not a source's
		{map[string]string{"X-API-Key": "off-key"}, "", 403, "source_paused"},
	}
	for _, c := range cases {
		src, refused := Source(ix, req(c.headers))
		switch {
		case c.status == 0 && (refused != nil || src == nil || src.ID != c.id):
			t.Errorf("%v: %v %v", c.headers, src, refused)
		case c.status != 0 && (refused == nil || refused.StatusCode != c.status || !strings.Contains(refused.Body, c.code)):
			t.Errorf("%v: want %d %s, got %+v", c.headers, c.status, c.code, refused)
		}
	}
}

func TestBuyer(t *testing.T) {
	ix := index(t)
	if b, refused := Buyer(ix, req(map[string]string{"X-API-Key": "buyer-key"})); refused != nil || b.ID != "acme" {
		t.Fatalf("buyer: %v %v", b, refused)
	}
	if _, refused := Buyer(ix, req(map[string]string{"X-API-Key": "live-key"})); refused == nil || refused.StatusCode != 401 {
		t.Fatalf("a source's key is not a buyer's: %+v", refused)
	}
}

func TestCampaign(t *testing.T) {
	ix := index(t)
	src := ix.Source("live")
	if c, refused := Campaign(ix, src, "c"); refused != nil || c.ID != "c" {
		t.Fatalf("campaign: %v %+v", c, refused)
	}
	for id, want := range map[string]string{
		"nope":  `404 {"error":{"code":"campaign_not_found","message":"no campaign \"nope\""}}`,
		"other": `403 {"error":{"code":"campaign_not_allowed","message":"source live may not post to campaign other"}}`,
		"shut":  `403 {"error":{"code":"campaign_paused","message":"campaign shut is paused"}}`,
	} {
		_, refused := Campaign(ix, src, id)
		if refused == nil || fmt.Sprint(refused.StatusCode, " ", strings.TrimSpace(refused.Body)) != want {
			t.Errorf("%s: %+v, want %s", id, refused, want)
		}
	}
}
