package config

import (
	"errors"
	"strings"
	"testing"
)

const spendDoc = `
campaigns:
  - id: auto
    fields: {phone: {type: phone, required: true}}
  - id: solar
    fields: {phone: {type: phone, required: true}}
sources:
  - {id: fb, campaigns: [auto], api_key_sha256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"}
  - {id: gads, campaigns: [auto, solar], api_key_sha256: "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752"}
buyers: []
integrations:
  spend:
    - platform: meta
      account_id: act_1001
      access_token: "ssm:/leadrelay/meta/ads"
      level: adset
      map:
        "2381": {source: fb, campaign: auto}
    - platform: google
      account_id: "1234567890"
      access_token: "ssm:/leadrelay/google/token"
      developer_token: "ssm:/leadrelay/google/dev"
      login_customer_id: "9876543210"
      map:
        "777": {source: gads, campaign: solar}
`

func TestSpendAccounts(t *testing.T) {
	c, err := Parse([]byte(spendDoc))
	if err != nil {
		t.Fatal(err)
	}
	sp := c.Integrations.Spend
	if len(sp) != 2 || sp[0].SpendLevel() != SpendLevelAdset || sp[1].SpendLevel() != SpendLevelCampaign ||
		sp[1].Map["777"] != (SpendTarget{Source: "gads", Campaign: "solar"}) || sp[0].Name() != "meta:act_1001" {
		t.Fatalf("spend %+v", sp)
	}
	// The tokens are secret fields resolved on use: listed, kept as
	// references when shown.
	var paths []string
	for _, s := range Secrets(c) {
		if strings.HasPrefix(s.Path, "integrations.spend") {
			if !s.OnUse {
				t.Errorf("%s is not resolved on use", s.Path)
			}
			paths = append(paths, s.Path)
		}
	}
	want := "integrations.spend[meta:act_1001].access_token integrations.spend[google:1234567890].access_token integrations.spend[google:1234567890].developer_token"
	if strings.Join(paths, " ") != want {
		t.Errorf("secret paths %v, want %s", paths, want)
	}
	if shown := ShowSecrets(c); shown.Integrations.Spend[1].DeveloperToken != "ssm:/leadrelay/google/dev" {
		t.Errorf("shown %q", shown.Integrations.Spend[1].DeveloperToken)
	}
	if !secretPath("spend.developer_token") {
		t.Error("a plan shows a developer_token")
	}
}

// Every mistake in an ad account is a problem at its field, and a literal
// token is refused without being echoed.
func TestSpendConfigProblems(t *testing.T) {
	for _, c := range []struct{ old, new, field string }{
		{"platform: meta", "platform: tiktok", "integrations.spend[0].platform"},
		{"account_id: act_1001", "account_id: 1001", "integrations.spend[0].account_id"},
		{"account_id: act_1001", `account_id: ""`, "integrations.spend[0].account_id"},
		{`account_id: "1234567890"`, `account_id: "123-456-7890"`, "integrations.spend[1].account_id"},
		{`account_id: "1234567890"`, `account_id: act_1001`, "integrations.spend[1].account_id"},
		{`"ssm:/leadrelay/meta/ads"`, `"EAAGSpendTokenLiteral"`, "integrations.spend[0].access_token"},
		{`"ssm:/leadrelay/meta/ads"`, `""`, "integrations.spend[0].access_token"},
		{`"ssm:/leadrelay/meta/ads"`, `"ssm:leadrelay"`, "integrations.spend[meta:act_1001].access_token"},
		{`developer_token: "ssm:/leadrelay/google/dev"`, `developer_token: "DevTokenLiteral"`, "integrations.spend[1].developer_token"},
		{`developer_token: "ssm:/leadrelay/google/dev"`, ``, "integrations.spend[1].developer_token"},
		{`login_customer_id: "9876543210"`, `login_customer_id: "98"`, "integrations.spend[1].login_customer_id"},
		{"level: adset", "level: keyword", "integrations.spend[0].level"},
		{`login_customer_id: "9876543210"`, `level: ad`, "integrations.spend[1].level"},
		{`"2381": {source: fb, campaign: auto}`, `"2381": {source: nope, campaign: auto}`, "integrations.spend[0].map.2381.source"},
		{`"2381": {source: fb, campaign: auto}`, `"2381": {source: fb, campaign: solar}`, "integrations.spend[0].map.2381.campaign"},
		{`"2381": {source: fb, campaign: auto}`, `"2381": {source: fb, campaign: nope}`, "integrations.spend[0].map.2381.campaign"},
		{`"2381": {source: fb, campaign: auto}`, `"abc": {source: fb, campaign: auto}`, "integrations.spend[0].map.abc"},
		{`"777": {source: gads, campaign: solar}`, `{}`, "integrations.spend[1].map"},
		{"level: adset", "level: adset\n      developer_token: \"ssm:/x\"", "integrations.spend[0].developer_token"},
	} {
		doc := strings.Replace(spendDoc, c.old, c.new, 1)
		if doc == spendDoc {
			t.Fatalf("%s: not in the document", c.old)
		}
		_, err := Parse([]byte(doc))
		var ce *Error
		if !errors.As(err, &ce) || !strings.Contains(err.Error(), c.field) {
			t.Errorf("%s → %s: %v, want a problem at %s", c.old, c.new, err, c.field)
			continue
		}
		if strings.Contains(err.Error(), "Literal") {
			t.Errorf("the problem echoes the token: %v", err)
		}
	}
	// The same account twice.
	dup := strings.Replace(spendDoc, "account_id: \"1234567890\"\n      access_token: \"ssm:/leadrelay/google/token\"\n      developer_token: \"ssm:/leadrelay/google/dev\"\n      login_customer_id: \"9876543210\"\n      map:\n        \"777\": {source: gads, campaign: solar}",
		"account_id: \"1234567890\"\n      access_token: \"ssm:/leadrelay/google/token\"\n      developer_token: \"ssm:/leadrelay/google/dev\"\n      map:\n        \"777\": {source: gads, campaign: solar}\n    - platform: google\n      account_id: \"1234567890\"\n      access_token: \"ssm:/leadrelay/google/token\"\n      developer_token: \"ssm:/leadrelay/google/dev\"\n      map:\n        \"778\": {source: gads, campaign: solar}", 1)
	if _, err := Parse([]byte(dup)); err == nil || !strings.Contains(err.Error(), "integrations.spend[2].account_id") {
		t.Errorf("an account twice: %v", err)
	}
	// An id twice in one map is refused by the parser.
	twice := strings.Replace(spendDoc, `"2381": {source: fb, campaign: auto}`, "\"2381\": {source: fb, campaign: auto}\n        \"2381\": {source: fb, campaign: auto}", 1)
	if _, err := Parse([]byte(twice)); err == nil {
		t.Error("an id mapped twice is accepted")
	}
}
