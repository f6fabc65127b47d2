// Package presets holds LeadRelay's built-in CRM delivery presets: YAML
// documents, embedded in the binary, that a buyer's delivery names with
// `preset: <name>`.
//
// The package only serves the bytes. Package config parses a preset into a
// config.Delivery and lays the buyer's own settings on top
// (config.Delivery.Resolved); package webhook renders the result. The data
// belongs to the configuration, so it lives under it: config validates
// preset names without reaching into the webhook adapter.
package presets

import (
	"embed"
	"io/fs"
	"slices"
	"strings"
)

//go:embed *.yaml
var files embed.FS

// Names lists the presets, sorted.
func Names() []string {
	entries, err := fs.ReadDir(files, ".")
	if err != nil {
		return nil
	}
	var names []string
	for _, e := range entries {
		if name, ok := strings.CutSuffix(e.Name(), ".yaml"); ok {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}

// Lookup returns the YAML document of a preset, and whether it exists.
func Lookup(name string) ([]byte, bool) {
	if name == "" || strings.ContainsAny(name, `/\.`) {
		return nil, false
	}
	b, err := files.ReadFile(name + ".yaml")
	if err != nil {
		return nil, false
	}
	return b, true
}
