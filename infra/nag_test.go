package main

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/cxapi"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

// suppressedRE reads cdk-nag's note of a suppressed finding (logIgnores).
var suppressedRE = regexp.MustCompile(`^CdkNagSuppression(?:\[[^\]]*\])?: (\S+) was triggered but suppressed`)

// cdk-nag's AwsSolutions pack finds nothing in the stack, as `make deploy`
// synthesizes it, that is neither fixed nor suppressed with its reason;
// and every suppression in infra/nag.go suppresses a finding (none is
// left over after a fix).
func TestNagAwsSolutions(t *testing.T) {
	var asm cxapi.CloudAssembly
	var s *LeadRelayStack
	func() {
		defer func() {
			if r := recover(); r != nil {
				t.Fatalf("synth with cdk-nag: %v", r)
			}
		}()
		app, stack, err := newTestStack("nag", &LeadRelayStackProps{Arch: ArchARM64, DeletionProtection: true, AlarmEmail: testAlarmEmail})
		if err != nil {
			t.Fatal(err)
		}
		s = stack
		awscdk.Aspects_Of(stack.Stack).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{
			Reports: jsii.Bool(false), LogIgnores: jsii.Bool(true),
		}), nil)
		asm = app.Synth(nil)
	}()

	findings := nagFindings(asm)
	for _, f := range findings {
		t.Errorf("unsuppressed: %s", f)
	}
	if err := reportNag(new(strings.Builder), findings); (err != nil) != (len(findings) > 0) {
		t.Errorf("reportNag: %v with %d findings", err, len(findings))
	}

	type hit struct{ path, rule string }
	var suppressed []hit
	for _, st := range *asm.Stacks() {
		for _, m := range *st.Messages() {
			if sm := suppressedRE.FindStringSubmatch(strings.TrimSpace(fmt.Sprint(m.Entry.Data))); sm != nil {
				suppressed = append(suppressed, hit{*m.Id, sm[1]})
			}
		}
	}
	if len(s.nagSuppressions) == 0 {
		t.Fatal("no suppressions recorded")
	}
	for _, sp := range s.nagSuppressions {
		used := slices.ContainsFunc(suppressed, func(h hit) bool {
			return h.rule == sp.Rule && strings.HasPrefix(h.path, "/"+sp.Path+"/")
		})
		if !used {
			t.Errorf("suppression of %s on %s suppresses nothing: drop it", sp.Rule, sp.Path)
		}
		if len(sp.Reason) < 40 {
			t.Errorf("suppression of %s on %s: reason %q says too little", sp.Rule, sp.Path, sp.Reason)
		}
	}
}

func TestNagFindingRule(t *testing.T) {
	for text, want := range map[string]string{
		"AwsSolutions-IAM5[Resource::*]: The IAM entity contains wildcard permissions": "AwsSolutions-IAM5",
		"AwsSolutions-SNS3: The SNS Topic does not require publishers to use SSL.":     "AwsSolutions-SNS3",
	} {
		if got := (nagFinding{Text: text}).Rule(); got != want {
			t.Errorf("Rule(%q) = %q, want %q", text, got, want)
		}
	}
}
