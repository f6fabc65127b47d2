package webhook

import (
	"errors"
	"net/url"
)

// URLs that LeadRelay calls carry secrets in places: an API key in the
// query, credentials in the user info, and for a Slack incoming webhook
// the whole path. Wherever a URL is shown — a timeline, a log line, an
// error — it goes through ShownURL or ShownHost first.

// ShownURL is a URL as it may be shown: scheme, host and path, without
// user info, query or fragment ("" if it does not parse).
func ShownURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	u.User, u.RawQuery, u.ForceQuery, u.Fragment, u.RawFragment = nil, "", false, "", ""
	return u.String()
}

// ShownHost is a URL reduced to its scheme and host: for URLs whose path
// is itself a secret.
func ShownHost(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return (&url.URL{Scheme: u.Scheme, Host: u.Host}).String()
}

// Redacted is err with the URL of any *url.Error in it shown as
// ShownURL (as ShownHost when hostOnly): what an http.Client's error may
// say. Other errors come back as they are.
func Redacted(err error, hostOnly bool) error {
	var ue *url.Error
	if !errors.As(err, &ue) {
		return err
	}
	shown := ShownURL(ue.URL)
	if hostOnly {
		shown = ShownHost(ue.URL)
	}
	return &url.Error{Op: ue.Op, URL: shown, Err: ue.Err}
}
