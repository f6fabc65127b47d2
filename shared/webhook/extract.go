package webhook

import "github.com/leadrelay/leadrelay/shared/config"

// Extract returns the text a rule points at in a response body (a JSON
// path, an XML element or a regular expression's first group), and
// whether it is there. Pings use it to read bids of any shape.
func Extract(body []byte, r *config.Rule) (string, bool) {
	a := &answer{raw: body}
	return a.extract(r)
}
