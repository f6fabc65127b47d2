package main

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSettingsFrom(t *testing.T) {
	tests := []struct {
		name    string
		ctx     map[string]any
		env     map[string]string
		want    settings
		wantErr string
	}{
		{
			name: "defaults",
			want: settings{AssetsDir: "dist/lambda", Arch: ArchARM64, DeletionProtection: true},
		},
		{
			name: "environment picks x86_64 for LocalStack on amd64",
			env:  map[string]string{"LEADRELAY_LAMBDA_ARCH": "x86_64"},
			want: settings{AssetsDir: "dist/lambda", Arch: ArchX8664, DeletionProtection: true},
		},
		{
			name: "Go's arch name is accepted",
			env:  map[string]string{"LEADRELAY_LAMBDA_ARCH": "amd64"},
			want: settings{AssetsDir: "dist/lambda", Arch: ArchX8664, DeletionProtection: true},
		},
		{
			name: "context wins over environment",
			ctx:  map[string]any{"lambdaArch": "arm64"},
			env:  map[string]string{"LEADRELAY_LAMBDA_ARCH": "x86_64"},
			want: settings{AssetsDir: "dist/lambda", Arch: ArchARM64, DeletionProtection: true},
		},
		{
			name: "CLI context strings",
			ctx: map[string]any{
				"assetsDir": "/tmp/a", "deletionProtection": "false", "alarmEmail": "ops@example.com",
			},
			want: settings{AssetsDir: "/tmp/a", Arch: ArchARM64, DeletionProtection: false, AlarmEmail: "ops@example.com"},
		},
		{
			name: "cdk.json booleans",
			ctx:  map[string]any{"deletionProtection": false},
			want: settings{AssetsDir: "dist/lambda", Arch: ArchARM64, DeletionProtection: false},
		},
		{
			name: "nag on, from the CLI or make nag",
			ctx:  map[string]any{"nag": "true"},
			want: settings{AssetsDir: "dist/lambda", Arch: ArchARM64, DeletionProtection: true, Nag: true},
		},
		{
			name:    "bad nag",
			ctx:     map[string]any{"nag": "yes please"},
			wantErr: "nag",
		},
		{
			name:    "unknown architecture",
			env:     map[string]string{"LEADRELAY_LAMBDA_ARCH": "riscv64"},
			wantErr: `"riscv64"`,
		},
		{
			name:    "bad boolean",
			ctx:     map[string]any{"deletionProtection": "maybe"},
			wantErr: "deletionProtection",
		},
		{
			name:    "bad email",
			ctx:     map[string]any{"alarmEmail": "ops"},
			wantErr: "not an email address",
		},
		{
			name:    "non-string context",
			ctx:     map[string]any{"assetsDir": 3.0},
			wantErr: "assetsDir",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := settingsFrom(func(k string) any { return tt.ctx[k] }, func(k string) string { return tt.env[k] })
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one mentioning %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

// writeELF writes the smallest ELF file debug/elf accepts, for machine m.
func writeELF(t *testing.T, path string, m elf.Machine) {
	t.Helper()
	h := elf.Header64{
		Type: uint16(elf.ET_EXEC), Machine: uint16(m), Version: uint32(elf.EV_CURRENT),
		Ehsize: 64, Phentsize: 56, Shentsize: 64,
	}
	copy(h.Ident[:], elf.ELFMAG)
	h.Ident[elf.EI_CLASS] = byte(elf.ELFCLASS64)
	h.Ident[elf.EI_DATA] = byte(elf.ELFDATA2LSB)
	h.Ident[elf.EI_VERSION] = byte(elf.EV_CURRENT)
	var b bytes.Buffer
	if err := binary.Write(&b, binary.LittleEndian, &h); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o755); err != nil {
		t.Fatal(err)
	}
}

func TestCheckBootstraps(t *testing.T) {
	dir := t.TempDir()
	writeELF(t, filepath.Join(dir, "ingest", "bootstrap"), elf.EM_AARCH64)
	writeELF(t, filepath.Join(dir, "router", "bootstrap"), elf.EM_X86_64)
	if err := os.MkdirAll(filepath.Join(dir, "delivery"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "delivery", "bootstrap"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}

	if err := checkBootstraps(dir, ArchARM64, []string{"ingest"}); err != nil {
		t.Errorf("arm64 binary for arm64: %v", err)
	}
	if err := checkBootstraps(dir, ArchX8664, []string{"router"}); err != nil {
		t.Errorf("x86_64 binary for x86_64: %v", err)
	}
	err := checkBootstraps(dir, ArchARM64, []string{"ingest", "router", "delivery", "admin"})
	if err == nil {
		t.Fatal("mixed assets: no error")
	}
	for _, want := range []string{"router", "EM_X86_64", "delivery", "not a Linux executable", "admin", "build-lambdas"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "ingest") {
		t.Errorf("error %q blames the good ingest binary", err)
	}
	if err := checkBootstraps(dir, "sparc", []string{"ingest"}); err == nil {
		t.Error("unknown architecture: no error")
	}
}

func TestStackRejectsMissingAssets(t *testing.T) {
	dir := t.TempDir()
	for _, fn := range []string{FnIngest, FnRouter} {
		writeELF(t, filepath.Join(dir, fn, "bootstrap"), elf.EM_AARCH64)
	}
	if err := os.MkdirAll(filepath.Join(dir, FnAdmin, "bootstrap"), 0o755); err != nil { // a directory, not a file
		t.Fatal(err)
	}
	// The check runs before any construct is made, so no app is needed.
	_, err := NewLeadRelayStack(nil, StackName, &LeadRelayStackProps{AssetsDir: dir, Arch: ArchARM64})
	if err == nil {
		t.Fatal("missing assets: no error")
	}
	for _, want := range []string{"delivery", "admin"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
	if _, err := NewLeadRelayStack(nil, StackName, &LeadRelayStackProps{Arch: ArchARM64}); err == nil {
		t.Error("no AssetsDir: no error")
	}
	if _, err := NewLeadRelayStack(nil, StackName, &LeadRelayStackProps{AssetsDir: dir, Arch: "mips"}); err == nil {
		t.Error("bad arch: no error")
	}
}
