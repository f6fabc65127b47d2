package config

import (
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"sort"
)

// Integrations connect ad platforms' lead forms to campaigns.
type Integrations struct {
	Google *Google `yaml:"google,omitempty" json:"google,omitempty"`
}

// Google holds the Google Ads lead forms whose webhook posts to
// POST /v1/integrations/google/webhook.
type Google struct {
	Forms []GoogleForm `yaml:"forms" json:"forms"`
}

// GoogleForm is one Google Ads lead form: the key its webhook carries (kept
// as its SHA-256, like an API key), the source and campaign its leads are
// ingested as, and which campaign field each of the form's columns fills
// (by column_id, never by position).
type GoogleForm struct {
	// FormID is the form's id in Google Ads (the webhook's form_id).
	FormID string `yaml:"form_id" json:"form_id"`
	// KeySHA256 is the hex SHA-256 of the form's webhook key (google_key).
	KeySHA256 string `yaml:"google_key_sha256" json:"google_key_sha256"`
	Source    string `yaml:"source" json:"source"`
	Campaign  string `yaml:"campaign" json:"campaign"`
	// Columns maps a column_id (FULL_NAME, PHONE_NUMBER, EMAIL,
	// POSTAL_CODE, a custom question's id…) to a campaign field; columns
	// not named here are left out of the lead.
	Columns map[string]string `yaml:"columns" json:"columns"`
}

// GoogleForm finds the form with the id, or nil.
func (ix *Index) GoogleForm(id string) *GoogleForm {
	if g := ix.Config.Integrations.Google; g != nil {
		for i := range g.Forms {
			if g.Forms[i].FormID == id {
				return &g.Forms[i]
			}
		}
	}
	return nil
}

// KeyMatches compares a webhook's google_key with the form's, in constant
// time.
func (f *GoogleForm) KeyMatches(key string) bool {
	want, err := hex.DecodeString(f.KeySHA256)
	if err != nil || key == "" {
		return false
	}
	got, _ := hex.DecodeString(HashKey(key))
	return subtle.ConstantTimeCompare(got, want) == 1
}

// integrations checks the ad platforms' forms against the campaigns and
// sources.
func (k *checker) integrations(c *Config, campaigns map[string]*Campaign) {
	g := c.Integrations.Google
	if g == nil {
		return
	}
	sources := map[string]*Source{}
	for i := range c.Sources {
		sources[c.Sources[i].ID] = &c.Sources[i]
	}
	ids := map[string]bool{}
	for i, f := range g.Forms {
		p := fmt.Sprintf("integrations.google.forms[%d]", i)
		switch {
		case f.FormID == "":
			k.add(p+".form_id", CodeRequired, "form_id is required: the form's id in Google Ads")
		case ids[f.FormID]:
			k.add(p+".form_id", CodeDuplicate, "form %s is configured twice", f.FormID)
		}
		ids[f.FormID] = true
		if b, err := hex.DecodeString(f.KeySHA256); err != nil || len(b) != 32 {
			k.add(p+".google_key_sha256", CodeInvalid, "google_key_sha256 must be 64 hex digits (the SHA-256 of the form's webhook key)")
		}
		src, camp := sources[f.Source], campaigns[f.Campaign]
		switch {
		case src == nil:
			k.add(p+".source", CodeReference, "unknown source %q", f.Source)
		case camp != nil && !src.Allows(f.Campaign):
			k.add(p+".campaign", CodeReference, "source %s may not post to campaign %s", f.Source, f.Campaign)
		}
		if camp == nil {
			k.add(p+".campaign", CodeReference, "unknown campaign %q", f.Campaign)
			continue
		}
		if len(f.Columns) == 0 {
			k.add(p+".columns", CodeRequired, "map the form's column_ids to the campaign's fields")
		}
		cols := make([]string, 0, len(f.Columns))
		for col := range f.Columns {
			cols = append(cols, col)
		}
		sort.Strings(cols)
		for _, col := range cols {
			if _, ok := camp.Fields[f.Columns[col]]; !ok {
				k.add(p+".columns."+col, CodeReference, "campaign %s has no field %q", f.Campaign, f.Columns[col])
			}
		}
	}
}
