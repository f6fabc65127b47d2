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
	Meta   *Meta   `yaml:"meta,omitempty" json:"meta,omitempty"`
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
	sources := map[string]*Source{}
	for i := range c.Sources {
		sources[c.Sources[i].ID] = &c.Sources[i]
	}
	k.googleForms(c.Integrations.Google, sources, campaigns)
	k.meta(c.Integrations.Meta, sources, campaigns)
}

// googleForms checks the Google Ads lead forms.
func (k *checker) googleForms(g *Google, sources map[string]*Source, campaigns map[string]*Campaign) {
	if g == nil {
		return
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
		if !isSHA256(f.KeySHA256) {
			k.add(p+".google_key_sha256", CodeInvalid, "google_key_sha256 must be 64 hex digits (the SHA-256 of the form's webhook key)")
		}
		k.formTarget(p, "columns", "map the form's column_ids to the campaign's fields", f.Source, f.Campaign, f.Columns, sources, campaigns)
	}
}

// formTarget checks what an ad platform's form is ingested as: its source
// (known, allowed the campaign), its campaign (known), and its mapping
// (under key, one entry at least, each to a field of the campaign).
func (k *checker) formTarget(p, key, hint, source, campaign string, mapping map[string]string, sources map[string]*Source, campaigns map[string]*Campaign) {
	src, camp := sources[source], campaigns[campaign]
	switch {
	case src == nil:
		k.add(p+".source", CodeReference, "unknown source %q", source)
	case camp != nil && !src.Allows(campaign):
		k.add(p+".campaign", CodeReference, "source %s may not post to campaign %s", source, campaign)
	}
	if camp == nil {
		k.add(p+".campaign", CodeReference, "unknown campaign %q", campaign)
		return
	}
	if len(mapping) == 0 {
		k.add(p+"."+key, CodeRequired, "%s", hint)
	}
	names := make([]string, 0, len(mapping))
	for name := range mapping {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if _, ok := camp.Fields[mapping[name]]; !ok {
			k.add(p+"."+key+"."+name, CodeReference, "campaign %s has no field %q", campaign, mapping[name])
		}
	}
}

// isSHA256 reports whether h is a hex SHA-256 (64 hex digits).
func isSHA256(h string) bool {
	b, err := hex.DecodeString(h)
	return err == nil && len(b) == 32
}
