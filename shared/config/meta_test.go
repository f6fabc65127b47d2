package config

import (
	"errors"
	"strings"
	"testing"
)

// metaVerifyHash is sha256("meta-verify-token"), computed with sha256sum.
const metaVerifyHash = "9f27ea7db11f88dfa8b23793907b882c46c8bfe5fff01f0c5d50ed362310378b"

const metaDoc = `
campaigns:
  - id: auto
    fields: {phone: {type: phone, required: true}, email: {type: email}}
  - id: solar
    fields: {phone: {type: phone, required: true}}
sources:
  - {id: fb, campaigns: [auto], api_key_sha256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"}
buyers: []
integrations:
  meta:
    verify_token_sha256: "` + metaVerifyHash + `"
    pages:
      - page_id: "1234567890"
        access_token: "ssm:/leadrelay/meta/page-1234567890"
        forms:
          - {form_id: "555000111", source: fb, campaign: auto, fields: {phone_number: phone, email: email}}
      - page_id: "2222"
        access_token: "ssm:/leadrelay/meta/page-2222"
        forms:
          - {form_id: "555000222", source: fb, campaign: auto, fields: {phone_number: phone}}
`

// The Meta pages and forms are indexed by id, a form under its own page
// only; the verify token is compared as a SHA-256.
func TestMetaLookups(t *testing.T) {
	c, err := Parse([]byte(metaDoc))
	if err != nil {
		t.Fatal(err)
	}
	ix := NewIndex(c)
	if p := ix.MetaPage("1234567890"); p == nil || p.AccessToken != "ssm:/leadrelay/meta/page-1234567890" {
		t.Fatalf("page %+v", p)
	}
	if f := ix.MetaForm("1234567890", "555000111"); f == nil || f.Source != "fb" || f.Fields["phone_number"] != "phone" {
		t.Fatalf("form %+v", f)
	}
	if ix.MetaForm("2222", "555000111") != nil || ix.MetaForm("1234567890", "nope") != nil || ix.MetaPage("nope") != nil {
		t.Fatal("a form found under another page, or an unknown id found")
	}
	if !ix.VerifyTokenMatches("meta-verify-token") || ix.VerifyTokenMatches("meta-verify-tokem") || ix.VerifyTokenMatches("") {
		t.Fatal("verify token")
	}
	if NewIndex(&Config{}).VerifyTokenMatches("meta-verify-token") {
		t.Fatal("a token matches without Meta configured")
	}
}

// Every mistake in the Meta configuration is a problem at its field, and
// a literal page token is refused without being echoed.
func TestMetaConfigProblems(t *testing.T) {
	for _, c := range []struct{ old, new, field string }{
		{metaVerifyHash, "abc", "integrations.meta.verify_token_sha256"},
		{`access_token: "ssm:/leadrelay/meta/page-2222"`, `access_token: "EAAGm0PX4ZCpsBAPageTokenLiteral"`, "integrations.meta.pages[1].access_token"},
		{`access_token: "ssm:/leadrelay/meta/page-2222"`, `access_token: ""`, "integrations.meta.pages[1].access_token"},
		{`access_token: "ssm:/leadrelay/meta/page-2222"`, `access_token: "ssm:leadrelay"`, "integrations.meta.pages[2222].access_token"},
		{`page_id: "2222"`, `page_id: "1234567890"`, "integrations.meta.pages[1].page_id"},
		{`page_id: "2222"`, `page_id: ""`, "integrations.meta.pages[1].page_id"},
		{`form_id: "555000222"`, `form_id: "555000111"`, "integrations.meta.pages[1].forms[0].form_id"},
		{`form_id: "555000222"`, `form_id: ""`, "integrations.meta.pages[1].forms[0].form_id"},
		{`form_id: "555000222", source: fb`, `form_id: "555000222", source: nope`, "integrations.meta.pages[1].forms[0].source"},
		{`source: fb, campaign: auto, fields: {phone_number: phone}}`, `source: fb, campaign: solar, fields: {phone_number: phone}}`, "integrations.meta.pages[1].forms[0].campaign"},
		{`source: fb, campaign: auto, fields: {phone_number: phone}}`, `source: fb, campaign: nope, fields: {phone_number: phone}}`, "integrations.meta.pages[1].forms[0].campaign"},
		{`fields: {phone_number: phone}}`, `fields: {phone_number: mobile}}`, "integrations.meta.pages[1].forms[0].fields.phone_number"},
		{`fields: {phone_number: phone}}`, `fields: {}}`, "integrations.meta.pages[1].forms[0].fields"},
		{`fields: {phone_number: phone}}`, `fields: {}, extra: 1}`, "extra"},
	} {
		doc := strings.Replace(metaDoc, c.old, c.new, 1)
		_, err := Parse([]byte(doc))
		var ce *Error
		if !errors.As(err, &ce) || !strings.Contains(err.Error(), c.field) {
			t.Errorf("%s → %s: %v, want a problem at %s", c.old, c.new, err, c.field)
			continue
		}
		if strings.Contains(err.Error(), "PageTokenLiteral") {
			t.Errorf("the problem echoes the token: %v", err)
		}
	}
}

// A page's access_token is a secret field resolved on use: listed with
// the other secrets (so it is redacted in plans and kept by the
// markers' rules), shown as the reference it is.
func TestMetaAccessTokenIsASecretResolvedOnUse(t *testing.T) {
	c, err := Parse([]byte(metaDoc))
	if err != nil {
		t.Fatal(err)
	}
	var found []Secret
	for _, s := range Secrets(c) {
		if strings.HasPrefix(s.Path, "integrations.meta.") {
			found = append(found, s)
		}
	}
	if len(found) != 2 || found[0].Path != "integrations.meta.pages[1234567890].access_token" || !found[0].OnUse ||
		*found[0].Value != "ssm:/leadrelay/meta/page-1234567890" {
		t.Fatalf("secrets %+v", found)
	}
	if shown := ShowSecrets(c); shown.Integrations.Meta.Pages[0].AccessToken != "ssm:/leadrelay/meta/page-1234567890" {
		t.Fatalf("shown %q", shown.Integrations.Meta.Pages[0].AccessToken)
	}
	if !secretPath("pages.access_token") {
		t.Fatal("a plan shows an access_token")
	}
}

// The Conversions API dataset: its id, its token a reference only (a
// secret resolved on use, never echoed), its stages' event names.
func TestMetaConversionsConfig(t *testing.T) {
	const conv = "    conversions: {dataset_id: \"777000111\", access_token: \"ssm:/leadrelay/meta/capi\"}\n"
	c, err := Parse([]byte(metaDoc + conv))
	if err != nil {
		t.Fatal(err)
	}
	mc := NewIndex(c).MetaConversions()
	if mc == nil || mc.DatasetID != "777000111" || mc.EventName("sold") != "Sold" || mc.EventName("returned") != "Returned" ||
		mc.EventName("converted") != "Converted" || mc.EventName("contacted") != "" {
		t.Fatalf("conversions %+v", mc)
	}
	var found bool
	for _, s := range Secrets(c) {
		if s.Path == "integrations.meta.conversions.access_token" && s.OnUse && *s.Value == "ssm:/leadrelay/meta/capi" {
			found = true
		}
	}
	if !found {
		t.Fatal("the dataset's token is not a secret resolved on use")
	}
	named, err := Parse([]byte(metaDoc + strings.Replace(conv, "}", ", events: {sold: Qualified, converted: Converted}}", 1)))
	if err != nil {
		t.Fatal(err)
	}
	if m := NewIndex(named).MetaConversions(); m.EventName("sold") != "Qualified" || m.EventName("returned") != "" {
		t.Fatalf("named events %+v", m.Events)
	}
	for _, c := range []struct{ old, new, field string }{
		{`dataset_id: "777000111"`, `dataset_id: ""`, "integrations.meta.conversions.dataset_id"},
		{`dataset_id: "777000111"`, `dataset_id: "act_1"`, "integrations.meta.conversions.dataset_id"},
		{`access_token: "ssm:/leadrelay/meta/capi"`, `access_token: "EAACapiTokenLiteral"`, "integrations.meta.conversions.access_token"},
		{`access_token: "ssm:/leadrelay/meta/capi"`, `access_token: ""`, "integrations.meta.conversions.access_token"},
		{`}`, `, events: {shipped: Shipped}}`, "integrations.meta.conversions.events.shipped"},
		{`}`, `, events: {sold: ""}}`, "integrations.meta.conversions.events.sold"},
		{`}`, `, events: {}}`, "integrations.meta.conversions.events"},
	} {
		_, err := Parse([]byte(metaDoc + strings.Replace(conv, c.old, c.new, 1)))
		var ce *Error
		if !errors.As(err, &ce) || !strings.Contains(err.Error(), c.field) {
			t.Errorf("%s → %s: %v, want a problem at %s", c.old, c.new, err, c.field)
		}
		if err != nil && strings.Contains(err.Error(), "CapiTokenLiteral") {
			t.Errorf("the problem echoes the token: %v", err)
		}
	}
}
