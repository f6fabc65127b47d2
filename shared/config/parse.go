package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Problem is one thing wrong with a configuration document.
type Problem struct {
	// Field is the path of the field at fault: "buyers[0].orders[1].caps.daily".
	Field string `json:"field"`
	// Line is the document's line, when it is known.
	Line    int    `json:"line,omitempty"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Problem codes.
const (
	CodeSyntax    = "syntax"
	CodeUnknown   = "unknown_field"
	CodeRequired  = "required"
	CodeInvalid   = "invalid"
	CodeDuplicate = "duplicate"
	CodeReference = "unknown_reference"
)

// Error is a configuration that cannot be applied, with every problem found.
type Error struct {
	Problems []Problem
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("invalid configuration:")
	for _, p := range e.Problems {
		b.WriteString("\n  ")
		if p.Line > 0 {
			fmt.Fprintf(&b, "line %d: ", p.Line)
		}
		if p.Field != "" {
			b.WriteString(p.Field + ": ")
		}
		b.WriteString(p.Message)
	}
	return b.String()
}

// MaxDocumentBytes bounds a configuration document.
const MaxDocumentBytes = 4 << 20

var yamlLine = regexp.MustCompile(`line (\d+): (.*)`)

// Parse reads a YAML or JSON document, fills in defaults and validates it.
// The error, if any, is an *Error naming every problem.
func Parse(data []byte) (*Config, error) {
	if len(data) > MaxDocumentBytes {
		return nil, &Error{Problems: []Problem{{Code: CodeInvalid, Message: fmt.Sprintf("document is over %d bytes", MaxDocumentBytes)}}}
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, yamlError(err, CodeSyntax)
	}
	var c Config
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &Error{Problems: []Problem{{Code: CodeRequired, Message: "the document is empty"}}}
		}
		return nil, yamlError(err, CodeInvalid)
	}
	c.Version = 0
	c.applyDefaults()
	if probs := c.validate(); len(probs) > 0 {
		for i := range probs {
			probs[i].Line = lineOf(&root, probs[i].Field)
		}
		return nil, &Error{Problems: probs}
	}
	return &c, nil
}

func yamlError(err error, code string) *Error {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		e := &Error{}
		for _, msg := range te.Errors {
			p := Problem{Code: CodeInvalid, Message: msg}
			if m := yamlLine.FindStringSubmatch(msg); m != nil {
				p.Line, _ = strconv.Atoi(m[1])
				p.Message = m[2]
			}
			if strings.Contains(p.Message, "not found in type") {
				p.Code = CodeUnknown
				p.Field = strings.TrimPrefix(strings.SplitN(p.Message, " ", 3)[1], "")
				p.Message = "unknown field " + strconv.Quote(p.Field)
			}
			e.Problems = append(e.Problems, p)
		}
		return e
	}
	p := Problem{Code: code, Message: strings.TrimPrefix(err.Error(), "yaml: ")}
	if m := yamlLine.FindStringSubmatch(p.Message); m != nil {
		p.Line, _ = strconv.Atoi(m[1])
		p.Message = m[2]
	}
	return &Error{Problems: []Problem{p}}
}

// lineOf finds the line of a path such as "buyers[0].orders[1].price" in a
// parsed document, or 0.
func lineOf(root *yaml.Node, path string) int {
	n := root
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	line := n.Line
	for _, seg := range splitPath(path) {
		var next *yaml.Node
		switch {
		case n.Kind == yaml.MappingNode && !seg.index:
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == seg.name {
					line = n.Content[i].Line
					next = n.Content[i+1]
					break
				}
			}
		case n.Kind == yaml.SequenceNode && seg.index:
			if seg.n < len(n.Content) {
				next = n.Content[seg.n]
				line = next.Line
			}
		}
		if next == nil {
			return line
		}
		n = next
	}
	return line
}

type pathSeg struct {
	name  string
	index bool
	n     int
}

func splitPath(path string) []pathSeg {
	var segs []pathSeg
	for _, part := range strings.Split(path, ".") {
		name, rest, _ := strings.Cut(part, "[")
		if name != "" {
			segs = append(segs, pathSeg{name: name})
		}
		for rest != "" {
			num, after, _ := strings.Cut(rest, "]")
			n, err := strconv.Atoi(num)
			if err != nil {
				break
			}
			segs = append(segs, pathSeg{index: true, n: n})
			rest = strings.TrimPrefix(after, "[")
		}
	}
	return segs
}

// JSON encodes the configuration as JSON.
func (c *Config) JSON() ([]byte, error) { return json.Marshal(c) }

// YAML encodes the configuration as YAML.
func (c *Config) YAML() ([]byte, error) { return yaml.Marshal(c) }

// Clone deep-copies a configuration (its version included).
func (c *Config) Clone() *Config {
	raw, err := json.Marshal(c)
	if err != nil {
		// The configuration's types all encode: an error is a programming error.
		panic(fmt.Sprintf("copy config: %v", err))
	}
	var out Config
	if err := json.Unmarshal(raw, &out); err != nil {
		panic(fmt.Sprintf("copy config: %v", err))
	}
	out.Version = c.Version
	return &out
}
