package main

import (
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Context keys and environment variables that tune a synth. Context wins over
// the environment: `cdk deploy -c lambdaArch=x86_64` beats LEADRELAY_LAMBDA_ARCH.
const (
	ctxAssetsDir          = "assetsDir"
	ctxLambdaArch         = "lambdaArch"
	ctxDeletionProtection = "deletionProtection"
	ctxAlarmEmail         = "alarmEmail"
	// ctxNag runs cdk-nag's AwsSolutions checks in the synth (nag.go).
	ctxNag = "nag"

	envLambdaArch = "LEADRELAY_LAMBDA_ARCH"

	// DefaultAssetsDir is where infra/infra.mk puts the bootstrap binaries,
	// relative to the repository root (where cdk.json is).
	DefaultAssetsDir = "dist/lambda"
)

// Lambda architectures, named as Lambda names them.
const (
	ArchARM64 = "arm64"
	ArchX8664 = "x86_64"
)

// settings are the knobs of one synth, read from CDK context and the environment.
type settings struct {
	AssetsDir          string
	Arch               string // ArchARM64 or ArchX8664
	DeletionProtection bool
	AlarmEmail         string
	// Nag runs cdk-nag's AwsSolutions pack over the stack and fails the
	// synth on an unsuppressed finding.
	Nag bool
}

// settingsFrom resolves the synth settings. lookup returns a context value
// (nil when unset); getenv reads the environment.
func settingsFrom(lookup func(key string) any, getenv func(string) string) (settings, error) {
	s := settings{
		AssetsDir:          DefaultAssetsDir,
		Arch:               ArchARM64,
		DeletionProtection: true,
	}
	if v, ok, err := contextString(lookup, ctxAssetsDir); err != nil {
		return settings{}, err
	} else if ok {
		s.AssetsDir = v
	}

	archName := getenv(envLambdaArch)
	if v, ok, err := contextString(lookup, ctxLambdaArch); err != nil {
		return settings{}, err
	} else if ok {
		archName = v
	}
	if archName != "" {
		arch, err := normalizeArch(archName)
		if err != nil {
			return settings{}, err
		}
		s.Arch = arch
	}

	for key, dst := range map[string]*bool{ctxDeletionProtection: &s.DeletionProtection, ctxNag: &s.Nag} {
		if err := contextBool(lookup, key, dst); err != nil {
			return settings{}, err
		}
	}

	if v, ok, err := contextString(lookup, ctxAlarmEmail); err != nil {
		return settings{}, err
	} else if ok {
		if at := strings.IndexByte(v, '@'); at <= 0 || at == len(v)-1 || strings.ContainsAny(v, " \t,;") {
			return settings{}, fmt.Errorf("context %s=%q: not an email address", ctxAlarmEmail, v)
		}
		s.AlarmEmail = v
	}
	return s, nil
}

// contextBool reads a boolean context value (true/false, or their strings,
// as -c key=value gives them) into dst; unset leaves dst.
func contextBool(lookup func(string) any, key string, dst *bool) error {
	switch v := lookup(key).(type) {
	case nil:
	case bool:
		*dst = v
	case string:
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("context %s=%q: want true or false", key, v)
		}
		*dst = b
	default:
		return fmt.Errorf("context %s: want true or false, got %T", key, v)
	}
	return nil
}

// contextString reads a string context value; ok is false when it is unset or empty.
func contextString(lookup func(string) any, key string) (v string, ok bool, err error) {
	switch x := lookup(key).(type) {
	case nil:
		return "", false, nil
	case string:
		x = strings.TrimSpace(x)
		return x, x != "", nil
	default:
		return "", false, fmt.Errorf("context %s: want a string, got %T", key, x)
	}
}

// normalizeArch maps the names people and tools use (Lambda's, Go's, uname's)
// to Lambda's architecture name.
func normalizeArch(name string) (string, error) {
	switch strings.ToLower(strings.TrimSpace(name)) {
	case "arm64", "aarch64":
		return ArchARM64, nil
	case "x86_64", "amd64", "x86-64":
		return ArchX8664, nil
	default:
		return "", fmt.Errorf("lambda architecture %q: want %s or %s", name, ArchARM64, ArchX8664)
	}
}

// checkBootstraps verifies that every function has a Linux executable at
// <dir>/<name>/bootstrap built for arch, so that a synth never packages a
// missing binary or one that cannot start on the chosen architecture.
func checkBootstraps(dir, arch string, names []string) error {
	want := map[string]elf.Machine{ArchARM64: elf.EM_AARCH64, ArchX8664: elf.EM_X86_64}[arch]
	if want == elf.EM_NONE {
		return fmt.Errorf("lambda architecture %q: want %s or %s", arch, ArchARM64, ArchX8664)
	}
	var errs []error
	for _, name := range names {
		path := filepath.Join(dir, name, "bootstrap")
		if err := checkELF(path, want); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("lambda assets for %s (run `make build-lambdas` first, with LAMBDA_ARCH matching): %w", arch, err)
	}
	return nil
}

func checkELF(path string, want elf.Machine) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("open bootstrap: %w", err)
	}
	defer f.Close()
	ef, err := elf.NewFile(f)
	if err != nil {
		return fmt.Errorf("%s: not a Linux executable: %w", path, err)
	}
	if ef.Machine != want {
		return fmt.Errorf("%s: built for %v, want %v", path, ef.Machine, want)
	}
	return nil
}
