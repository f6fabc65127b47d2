package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
)

// The stack is synthesized once per test binary (each synth costs seconds of
// jsii start-up) and every template test reads the same fixture.

var testRoot string // set by TestMain, read-only afterwards

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "leadrelay-infra-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "temp dir:", err)
		os.Exit(2)
	}
	testRoot = dir
	code := m.Run()
	jsii.Close()
	os.RemoveAll(dir)
	os.Exit(code)
}

// fixture is one synthesized stack.
type fixture struct {
	stack    *LeadRelayStack
	template assertions.Template
	json     map[string]any // the template as plain JSON
	path     string         // the template written to disk
}

var (
	defaultOnce    sync.Once
	defaultFixture *fixture
	defaultErr     error
)

// testAlarmEmail is subscribed in the default fixture.
const testAlarmEmail = "ops@example.com"

// synthDefault synthesizes the stack as `make deploy` would: arm64, deletion
// protection on, an alarm email.
func synthDefault(t *testing.T) *fixture {
	t.Helper()
	defaultOnce.Do(func() {
		defaultFixture, defaultErr = synth("default", &LeadRelayStackProps{
			Arch:               ArchARM64,
			DeletionProtection: true,
			AlarmEmail:         testAlarmEmail,
		})
	})
	if defaultErr != nil {
		t.Fatalf("synth: %v", defaultErr)
	}
	return defaultFixture
}

// synth builds a stack in its own app under testRoot/name, with fake
// bootstrap files (the functions need not be built for the template tests).
func synth(name string, props *LeadRelayStackProps) (f *fixture, err error) {
	defer func() {
		if r := recover(); r != nil { // jsii reports CDK errors as panics
			err = fmt.Errorf("synth %s: %v", name, r)
		}
	}()
	_, stack, err := newTestStack(name, props)
	if err != nil {
		return nil, err
	}
	base := filepath.Join(testRoot, name)
	tmpl := assertions.Template_FromStack(stack.Stack, nil)
	raw, err := json.Marshal(*tmpl.ToJSON())
	if err != nil {
		return nil, fmt.Errorf("marshal template: %w", err)
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("unmarshal template: %w", err)
	}
	path := filepath.Join(base, StackName+".template.json")
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		return nil, err
	}
	return &fixture{stack: stack, template: tmpl, json: doc, path: path}, nil
}

// newTestStack defines a stack in its own app under testRoot/name (not
// synthesized yet), with fake bootstrap files.
func newTestStack(name string, props *LeadRelayStackProps) (awscdk.App, *LeadRelayStack, error) {
	base := filepath.Join(testRoot, name)
	assets := filepath.Join(base, "assets")
	for _, fn := range FunctionNames() {
		dir := filepath.Join(assets, fn)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, nil, err
		}
		// Distinct contents give each function its own asset hash, as real binaries do.
		if err := os.WriteFile(filepath.Join(dir, "bootstrap"), []byte("#!/bin/sh\n# fake "+fn+"\n"), 0o755); err != nil {
			return nil, nil, err
		}
	}
	props.AssetsDir = assets
	app := newApp(filepath.Join(base, "cdk.out"))
	stack, err := NewLeadRelayStack(app, StackName, props)
	return app, stack, err
}

// assert runs a jsii assertion, turning its panic into a test error.
func assert(t *testing.T, what string, f func()) {
	t.Helper()
	defer func() {
		t.Helper()
		if r := recover(); r != nil {
			t.Errorf("%s: %v", what, r)
		}
	}()
	f()
}

// resources returns the template's resources of one type by logical ID.
func (f *fixture) resources(typ string) map[string]map[string]any {
	out := map[string]map[string]any{}
	all, _ := f.json["Resources"].(map[string]any)
	for id, r := range all {
		res, _ := r.(map[string]any)
		if res["Type"] == typ {
			out[id] = res
		}
	}
	return out
}

// props returns a resource's Properties.
func props(res map[string]any) map[string]any {
	p, _ := res["Properties"].(map[string]any)
	return p
}

// onlyResource returns the one resource of typ whose logical ID starts with prefix.
func (f *fixture) onlyResource(t *testing.T, typ, prefix string) (string, map[string]any) {
	t.Helper()
	var ids []string
	for id := range f.resources(typ) {
		if strings.HasPrefix(id, prefix) {
			ids = append(ids, id)
		}
	}
	if len(ids) != 1 {
		t.Fatalf("%s with logical ID prefix %q: found %v, want exactly one", typ, prefix, ids)
	}
	return ids[0], f.resources(typ)[ids[0]]
}

// refID returns the logical ID a {"Ref": id} or {"Fn::GetAtt": [id, attr]} names.
func refID(v any) string {
	m, ok := v.(map[string]any)
	if !ok {
		return ""
	}
	if id, ok := m["Ref"].(string); ok {
		return id
	}
	if ga, ok := m["Fn::GetAtt"].([]any); ok && len(ga) > 0 {
		id, _ := ga[0].(string)
		return id
	}
	return ""
}

// refsIn returns every logical ID referenced anywhere inside v, sorted,
// leaving out pseudo parameters such as AWS::Region.
func refsIn(v any) []string {
	seen := map[string]bool{}
	var walk func(any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if id := refID(x); id != "" && !strings.HasPrefix(id, "AWS::") {
				seen[id] = true
			}
			for _, e := range x {
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(v)
	out := make([]string, 0, len(seen))
	for id := range seen {
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}

// number reads a JSON number that CloudFormation may also carry as a string.
func number(t *testing.T, v any) float64 {
	t.Helper()
	switch x := v.(type) {
	case float64:
		return x
	case string:
		var f float64
		if _, err := fmt.Sscan(x, &f); err == nil {
			return f
		}
	}
	t.Fatalf("not a number: %#v", v)
	return 0
}

// list wraps values for the assertions matchers.
func list(v ...any) *[]any { return &v }

// obj is shorthand for the matchers' object patterns.
type obj = map[string]any
