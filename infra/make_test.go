package main

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestMakefileBuildsEveryFunction keeps infra.mk's LAMBDA_FUNCTIONS, which
// `make build-lambdas` builds, the same as the functions the stack deploys.
func TestMakefileBuildsEveryFunction(t *testing.T) {
	b, err := os.ReadFile("infra.mk")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^LAMBDA_FUNCTIONS \?= (.*)$`).FindSubmatch(b)
	if m == nil {
		t.Fatal("infra.mk: no LAMBDA_FUNCTIONS ?= line")
	}
	got, want := strings.Fields(string(m[1])), FunctionNames()
	if !slices.Equal(got, want) {
		t.Errorf("infra.mk LAMBDA_FUNCTIONS = %v, want FunctionNames() %v", got, want)
	}
}
