package config

import (
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Meta connects Meta Lead Ads: the pages whose leadgen webhook posts to
// GET and POST /v1/integrations/meta/webhook, and the lead forms of each.
type Meta struct {
	// VerifyTokenSHA256 is the hex SHA-256 of the verify token set on the
	// Meta app's webhook subscription (Meta sends it in hub.verify_token
	// when the subscription is made).
	VerifyTokenSHA256 string     `yaml:"verify_token_sha256" json:"verify_token_sha256"`
	Pages             []MetaPage `yaml:"pages" json:"pages"`
	// Conversions, when set, sends what became of the pages' leads back
	// to Meta's Conversions API for CRM, so that Meta's delivery optimises
	// for leads that sell and convert.
	Conversions *MetaConversions `yaml:"conversions,omitempty" json:"conversions,omitempty"`
}

// MetaConversions is the Conversions API dataset (the CRM dataset, once
// called an offline event set or pixel, connected to the pages' ad
// accounts) that the lead stages of Meta's leads are sent to.
type MetaConversions struct {
	// DatasetID is the dataset's id: events are posted to
	// /<dataset_id>/events.
	DatasetID string `yaml:"dataset_id" json:"dataset_id"`
	// AccessToken is the Conversions API access token generated for the
	// dataset, always an ssm: reference (a secret field, resolved by the
	// admin function when it sends).
	AccessToken string `yaml:"access_token" json:"access_token"`
	// Events names the event sent for each stage (sold, returned,
	// converted): the lead stage names the dataset's CRM funnel uses.
	// Without it every stage is sent under DefaultMetaEvents' names; with
	// it, only the stages it lists are sent.
	Events map[string]string `yaml:"events,omitempty" json:"events,omitempty"`
}

// DefaultMetaEvents are the event names of the stages when
// integrations.meta.conversions.events is not set.
var DefaultMetaEvents = map[string]string{"sold": "Sold", "returned": "Returned", "converted": "Converted"}

// EventName is the event sent to Meta for a stage, or "" when the stage is
// not sent.
func (c *MetaConversions) EventName(stage string) string {
	if c == nil {
		return ""
	}
	if c.Events == nil {
		return DefaultMetaEvents[stage]
	}
	return c.Events[stage]
}

// MetaConversions is the Conversions API dataset Meta's lead stages are
// sent to, or nil when none is configured.
func (ix *Index) MetaConversions() *MetaConversions {
	if m := ix.Config.Integrations.Meta; m != nil {
		return m.Conversions
	}
	return nil
}

// MetaPage is one Facebook page whose lead forms are connected.
type MetaPage struct {
	// PageID is the page's id (the notification's page_id).
	PageID string `yaml:"page_id" json:"page_id"`
	// AccessToken is the page access token that reads the page's leads
	// from the Graph API, always a reference to an SSM SecureString
	// parameter ("ssm:/leadrelay/meta/<page>"), never the token itself:
	// a secret field (Secrets), resolved by the ingest function when it
	// fetches a lead.
	AccessToken string     `yaml:"access_token" json:"access_token"`
	Forms       []MetaForm `yaml:"forms" json:"forms"`
}

// MetaForm is one lead form of a page: the source and campaign its leads
// are ingested as, and which campaign field each of the form's questions
// fills (by the field_data name Meta gives it, never by position).
type MetaForm struct {
	// FormID is the form's id (the notification's form_id).
	FormID   string `yaml:"form_id" json:"form_id"`
	Source   string `yaml:"source" json:"source"`
	Campaign string `yaml:"campaign" json:"campaign"`
	// Fields maps a question's name in field_data (phone_number, email,
	// full_name, zip_code, state, a custom question's key…) to a campaign
	// field; questions not named here are left out of the lead.
	Fields map[string]string `yaml:"fields" json:"fields"`
}

// metaIndex holds the Meta lookups of an Index.
type metaIndex struct {
	pages map[string]*MetaPage
	forms map[string]*MetaForm // by form_id
	page  map[string]string    // form_id → its page's id
}

// indexMeta builds the Meta lookups.
func (ix *Index) indexMeta(m *Meta) {
	ix.meta = metaIndex{pages: map[string]*MetaPage{}, forms: map[string]*MetaForm{}, page: map[string]string{}}
	if m == nil {
		return
	}
	for i := range m.Pages {
		p := &m.Pages[i]
		ix.meta.pages[p.PageID] = p
		for j := range p.Forms {
			ix.meta.forms[p.Forms[j].FormID] = &p.Forms[j]
			ix.meta.page[p.Forms[j].FormID] = p.PageID
		}
	}
}

// MetaPage finds the connected page with the id, or nil.
func (ix *Index) MetaPage(pageID string) *MetaPage { return ix.meta.pages[pageID] }

// MetaForm finds the connected form with the id on the page, or nil: a
// form configured under another page is not this page's.
func (ix *Index) MetaForm(pageID, formID string) *MetaForm {
	if f := ix.meta.forms[formID]; f != nil && ix.meta.page[formID] == pageID {
		return f
	}
	return nil
}

// VerifyTokenMatches compares a subscription's hub.verify_token with the
// configured one, as SHA-256 digests in constant time. Without Meta
// configured, nothing matches.
func (ix *Index) VerifyTokenMatches(token string) bool {
	m := ix.Config.Integrations.Meta
	if m == nil || token == "" {
		return false
	}
	want, err := hex.DecodeString(m.VerifyTokenSHA256)
	if err != nil || len(want) != 32 {
		return false
	}
	got, _ := hex.DecodeString(HashKey(token))
	return subtle.ConstantTimeCompare(got, want) == 1
}

// meta checks the Meta pages and their forms: the verify token's digest,
// each page once with its token as an ssm: reference, each form once (form
// ids are Meta's, unique across pages) with its source, campaign and
// fields.
func (k *checker) meta(m *Meta, sources map[string]*Source, campaigns map[string]*Campaign) {
	if m == nil {
		return
	}
	if !isSHA256(m.VerifyTokenSHA256) {
		k.add("integrations.meta.verify_token_sha256", CodeInvalid,
			"verify_token_sha256 must be 64 hex digits (the SHA-256 of the webhook subscription's verify token)")
	}
	if len(m.Pages) == 0 {
		k.add("integrations.meta.pages", CodeRequired, "connect at least one page: its page_id, access_token and forms")
	}
	pages, forms := map[string]bool{}, map[string]bool{}
	for i, pg := range m.Pages {
		p := fmt.Sprintf("integrations.meta.pages[%d]", i)
		switch {
		case pg.PageID == "":
			k.add(p+".page_id", CodeRequired, "page_id is required: the Facebook page's id")
		case pages[pg.PageID]:
			k.add(p+".page_id", CodeDuplicate, "page %s is configured twice", pg.PageID)
		}
		pages[pg.PageID] = true
		switch {
		case pg.AccessToken == "":
			k.add(p+".access_token", CodeRequired, "access_token is required: an ssm:/leadrelay/... reference to the SSM SecureString parameter holding the page access token")
		case !IsSecretRef(pg.AccessToken):
			// The value is not echoed: it may be the token itself.
			k.add(p+".access_token", CodeInvalid, "access_token must be an ssm:/leadrelay/... reference to an SSM SecureString parameter holding the page access token, never the token itself")
		}
		if len(pg.Forms) == 0 {
			k.add(p+".forms", CodeRequired, "list the page's lead forms: form_id, source, campaign, fields")
		}
		for j, f := range pg.Forms {
			fp := fmt.Sprintf("%s.forms[%d]", p, j)
			switch {
			case f.FormID == "":
				k.add(fp+".form_id", CodeRequired, "form_id is required: the lead form's id")
			case forms[f.FormID]:
				k.add(fp+".form_id", CodeDuplicate, "form %s is configured twice", f.FormID)
			}
			forms[f.FormID] = true
			k.formTarget(fp, "fields", "map the form's field_data names (phone_number, email, full_name…) to the campaign's fields",
				f.Source, f.Campaign, f.Fields, sources, campaigns)
		}
	}
	k.metaConversions(m.Conversions)
}

// metaConversions checks the Conversions API dataset: its id, its token as
// an ssm: reference, and each stage named once with an event name.
func (k *checker) metaConversions(c *MetaConversions) {
	if c == nil {
		return
	}
	const p = "integrations.meta.conversions"
	if c.DatasetID == "" {
		k.add(p+".dataset_id", CodeRequired, "dataset_id is required: the id of the Conversions API dataset connected to the pages' ad accounts")
	} else if strings.Trim(c.DatasetID, "0123456789") != "" {
		k.add(p+".dataset_id", CodeInvalid, "dataset_id must be the dataset's numeric id")
	}
	switch {
	case c.AccessToken == "":
		k.add(p+".access_token", CodeRequired, "access_token is required: an ssm:/leadrelay/... reference to the SSM SecureString parameter holding the Conversions API access token")
	case !IsSecretRef(c.AccessToken):
		k.add(p+".access_token", CodeInvalid, "access_token must be an ssm:/leadrelay/... reference to an SSM SecureString parameter holding the Conversions API access token, never the token itself")
	}
	if c.Events != nil && len(c.Events) == 0 {
		k.add(p+".events", CodeRequired, "name the event of at least one stage (sold, returned, converted), or leave events out to send all three")
	}
	for _, stage := range slices.Sorted(maps.Keys(c.Events)) {
		name := c.Events[stage]
		switch {
		case DefaultMetaEvents[stage] == "":
			k.add(p+".events."+stage, CodeInvalid, "unknown stage %q: the stages are sold, returned and converted", stage)
		case strings.TrimSpace(name) == "" || len(name) > 100:
			k.add(p+".events."+stage, CodeInvalid, "the event name of stage %s must be 1 to 100 characters: the lead stage's name in the dataset's CRM funnel", stage)
		}
	}
}
