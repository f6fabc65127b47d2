package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"testing"
	"time"
)

// cfnLintFinding is one entry of `cfn-lint --format json`.
type cfnLintFinding struct {
	Level    string
	Message  string
	Location struct{ Path []any }
	Rule     struct{ Id string }
}

func TestCfnLint(t *testing.T) {
	bin, err := exec.LookPath("cfn-lint")
	if err != nil {
		if os.Getenv("LEADRELAY_REQUIRE_CFN_LINT") == "1" {
			t.Fatalf("cfn-lint not found on PATH and LEADRELAY_REQUIRE_CFN_LINT=1: %v", err)
		}
		t.Skip("cfn-lint not on PATH (pip install cfn-lint); set LEADRELAY_REQUIRE_CFN_LINT=1 to make this a failure")
	}
	f := synthDefault(t)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--format", "json", "--", f.path)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	// cfn-lint's exit code is a bit mask: 2 errors, 4 warnings, 8 informational;
	// anything else (1, or a signal) means it did not lint.
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit) && exit.ExitCode() > 0 && exit.ExitCode()&1 == 0:
	default:
		t.Fatalf("cfn-lint %s: %v\n%s%s", f.path, err, stdout.String(), stderr.String())
	}

	var findings []cfnLintFinding
	if err := json.Unmarshal(stdout.Bytes(), &findings); err != nil {
		t.Fatalf("cfn-lint output: %v\n%s", err, stdout.String())
	}
	errs := 0
	for _, x := range findings {
		if x.Level == "Error" {
			errs++
			t.Errorf("cfn-lint %s %v: %s", x.Rule.Id, x.Location.Path, x.Message)
		} else {
			t.Logf("cfn-lint %s %s %v: %s", x.Level, x.Rule.Id, x.Location.Path, x.Message)
		}
	}
	if exit != nil && exit.ExitCode()&2 != 0 && errs == 0 {
		t.Errorf("cfn-lint exited %d (errors) but reported none:\n%s", exit.ExitCode(), stdout.String())
	}
}
