// Command run starts the whole of LeadRelay locally against an
// AWS-compatible endpoint (LocalStack or moto_server): `make run`.
//
// Settings (environment): LEADRELAY_ADDR (127.0.0.1:8080),
// LEADRELAY_ADMIN_TOKEN (random, printed), LEADRELAY_CONFIG
// (localstack/demo.yaml), LEADRELAY_ALLOW_PRIVATE_TARGETS (true),
// AWS_ENDPOINT_URL (http://127.0.0.1:4566).
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/leadrelay/leadrelay/localstack/runner"
)

func getenv(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "leadrelay:", err)
		os.Exit(1)
	}
}

func run() error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	addr := getenv("LEADRELAY_ADDR", "127.0.0.1:8080")
	token := os.Getenv("LEADRELAY_ADMIN_TOKEN")
	if token == "" {
		b := make([]byte, 16)
		_, _ = rand.Read(b)
		token = hex.EncodeToString(b)
	}
	allow, err := strconv.ParseBool(getenv("LEADRELAY_ALLOW_PRIVATE_TARGETS", "true"))
	if err != nil {
		return fmt.Errorf("LEADRELAY_ALLOW_PRIVATE_TARGETS: %w", err)
	}
	endpoint := getenv("AWS_ENDPOINT_URL", "http://127.0.0.1:4566")
	opts := []func(*awsconfig.LoadOptions) error{awsconfig.WithBaseEndpoint(endpoint), awsconfig.WithRegion(getenv("AWS_REGION", "us-east-1"))}
	if os.Getenv("AWS_ACCESS_KEY_ID") == "" {
		opts = append(opts, awsconfig.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("test", "test", "")))
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return fmt.Errorf("AWS configuration: %w", err)
	}
	configFile := getenv("LEADRELAY_CONFIG", "localstack/demo.yaml")
	r, err := runner.Start(ctx, runner.Options{
		Addr: addr, AdminToken: token, ConfigFile: configFile, AWS: cfg,
		AllowPrivateTargets: allow, Log: log,
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, `
LeadRelay is running at %[1]s (AWS endpoint %[2]s, configuration %[3]s)
  operator token: %[4]s
  console:        %[1]s/console (sign in with the operator token)

Post a demo lead (the demo buyer accepts it; watch the log):
  curl -s -X POST %[1]s/v1/leads -H 'X-API-Key: demo-source-key' -H 'Content-Type: application/json' \
    -d '{"campaign":"auto-insurance","fields":{"phone":"(415) 892-7310","email":"ada@example.com","state":"CA","zip":"94103","age":34}}'
Then see where it went:
  curl -s %[1]s/v1/leads/<lead_id> -H 'X-API-Key: demo-source-key'
  curl -s %[1]s/v1/admin/leads/<lead_id> -H 'Authorization: Bearer %[4]s'
Ctrl-C stops.

`, r.URL, endpoint, configFile, token)
	<-ctx.Done()
	fmt.Fprintln(os.Stderr, "stopping…")
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return r.Stop(sctx)
}
