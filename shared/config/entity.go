package config

import (
	"bytes"
	"errors"
	"io"
	"strings"

	"gopkg.in/yaml.v3"
)

// DecodePart reads one entity of a document (a campaign, a source, a
// buyer, an order) from YAML or JSON into v, refusing unknown fields. The
// error, if any, is an *Error whose lines are the part's own.
func DecodePart(data []byte, v any) error {
	if len(data) > MaxDocumentBytes {
		return &Error{Problems: []Problem{{Code: CodeInvalid, Message: "the body is too large"}}}
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			return &Error{Problems: []Problem{{Code: CodeRequired, Message: "the body is empty"}}}
		}
		return yamlError(err, CodeSyntax)
	}
	return nil
}

// Check validates a whole document after one entity of it was edited,
// and returns it parsed (with defaults). part is the entity as the
// operator sent it and prefix its path in the document
// ("buyers[2].orders[0]"): problems inside it are named relative to it,
// with the part's line; problems elsewhere keep their document path.
func Check(c *Config, part []byte, prefix string) (*Config, error) {
	doc, err := c.JSON()
	if err != nil {
		return nil, err
	}
	out, err := Parse(doc)
	var ce *Error
	if !errors.As(err, &ce) {
		return out, err
	}
	var root yaml.Node
	_ = yaml.Unmarshal(part, &root)
	for i := range ce.Problems {
		p := &ce.Problems[i]
		p.Line = 0
		rel, ok := strings.CutPrefix(p.Field, prefix)
		if !ok || (rel != "" && rel[0] != '.') {
			continue
		}
		p.Field = strings.TrimPrefix(rel, ".")
		if len(part) > 0 && p.Field != "" {
			p.Line = lineOf(&root, p.Field)
		}
	}
	return nil, ce
}
