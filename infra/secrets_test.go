package main

import (
	"slices"
	"testing"
)

func contains(list []string, s string) bool { return slices.Contains(list, s) }

// The configuration's secrets are sealed under a KMS key of the stack's:
// rotated yearly, kept when the stack goes, named to every function; the
// admin function may seal with it (data keys) and open, router and
// delivery only open, no other function may use it.
func TestSecretsKey(t *testing.T) {
	f := synthDefault(t)
	keyID, key := f.onlyResource(t, "AWS::KMS::Key", "SecretsKey")
	if props(key)["EnableKeyRotation"] != true || key["DeletionPolicy"] != "Retain" {
		t.Fatalf("secrets key %v", key)
	}
	roles := f.roleGrants(t)
	want := map[string][]string{
		"Admin": {"kms:Decrypt", "kms:GenerateDataKey"}, "Router": {"kms:Decrypt"}, "Delivery": {"kms:Decrypt"},
	}
	for _, name := range FunctionNames() {
		_, fn := f.onlyResource(t, "AWS::Lambda::Function", constructID(name)+"Function")
		g := roles[refID(props(fn)["Role"])]
		may := want[constructID(name)]
		for _, a := range []string{"kms:Decrypt", "kms:GenerateDataKey", "kms:Encrypt"} {
			if got, ok := g.can(a, keyID), contains(may, a); got != ok {
				t.Errorf("%s: %s with the secrets key: %v, want %v", name, a, got, ok)
			}
		}
	}
	for id, fn := range f.resources("AWS::Lambda::Function") {
		env, _ := props(fn)["Environment"].(map[string]any)
		vars, _ := env["Variables"].(map[string]any)
		if refID(vars["LEADRELAY_SECRETS_KEY_ID"]) != keyID {
			t.Errorf("%s: LEADRELAY_SECRETS_KEY_ID = %v", id, vars["LEADRELAY_SECRETS_KEY_ID"])
		}
	}
}
