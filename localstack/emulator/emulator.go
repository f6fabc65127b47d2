// Package emulator connects tests to the AWS-compatible endpoint
// (LocalStack, or moto_server where Docker is absent) at AWS_ENDPOINT_URL,
// by default http://127.0.0.1:4566.
package emulator

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// DefaultEndpoint is where the emulator listens unless AWS_ENDPOINT_URL says otherwise.
const DefaultEndpoint = "http://127.0.0.1:4566"

// Endpoint returns the emulator's URL.
func Endpoint() string {
	if v := os.Getenv("AWS_ENDPOINT_URL"); v != "" {
		return v
	}
	return DefaultEndpoint
}

// Config returns an AWS configuration for the emulator (dummy credentials,
// us-east-1 unless set). The test is skipped when nothing answers there,
// or fails when LEADRELAY_REQUIRE_EMULATOR=1 (make test sets it).
func Config(t testing.TB) aws.Config {
	t.Helper()
	ep := Endpoint()
	u, err := url.Parse(ep)
	if err != nil {
		t.Fatalf("AWS_ENDPOINT_URL %q: %v", ep, err)
	}
	conn, err := net.DialTimeout("tcp", u.Host, time.Second)
	if err != nil {
		if os.Getenv("LEADRELAY_REQUIRE_EMULATOR") == "1" {
			t.Fatalf("no AWS emulator at %s: %v (make test starts moto_server)", ep, err)
		}
		t.Skipf("no AWS emulator at %s (run the tests with make test, which starts one)", ep)
	}
	conn.Close()
	region := os.Getenv("AWS_REGION")
	if region == "" {
		region = "us-east-1"
	}
	cfg, err := awsconfig.LoadDefaultConfig(context.Background(),
		awsconfig.WithRegion(region),
		awsconfig.WithBaseEndpoint(ep),
		awsconfig.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("test", "test", "")),
	)
	if err != nil {
		t.Fatalf("AWS config: %v", err)
	}
	return cfg
}

// Name returns a unique resource name prefix for one test, so tests
// sharing the emulator never see each other's tables and queues.
func Name(prefix string) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b) + "-"
}
