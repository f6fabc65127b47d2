// Package layers holds the module's layer table and its test: which
// packages may import which. Each package owns one noun and depends
// downward only — the domain on nothing but the domain, adapters on the
// domain, handlers on both but never on another handler, the wiring on
// everything. The test (layers_test.go) reads the real imports with
// `go list` and fails on one that runs the wrong way, or on a package the
// table does not place. A new package gets its row there.
package layers
