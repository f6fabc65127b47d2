// Package emulator connects tests to the AWS-compatible endpoint
// (LocalStack, or moto_server where Docker is absent) at AWS_ENDPOINT_URL,
// by default http://127.0.0.1:4566. Against the moto wrapper
// (localstack/moto_server.py) it also reads the contention counters and
// injects SQS faults, which LocalStack cannot.
package emulator

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
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

// Counters are the moto wrapper's counters since it started, for the whole
// emulator (tests sharing it add to them): compare before and after.
type Counters struct {
	// HoldMS is how long a transaction holds its items (0: contention off).
	HoldMS int `json:"hold_ms"`
	// Transactions counts the TransactWriteItems requests seen.
	Transactions int64 `json:"transactions"`
	// TransactionConflicts counts the transactions cancelled because another
	// held one of their items (reason TransactionConflict).
	TransactionConflicts int64 `json:"transaction_conflicts"`
	// SingleWriteConflicts counts the PutItem, UpdateItem and DeleteItem calls
	// answered TransactionConflictException.
	SingleWriteConflicts int64 `json:"single_write_conflicts"`
	// SendFaults counts the SendMessage and SendMessageBatch calls failed on purpose.
	SendFaults int64 `json:"send_faults"`
}

// controlPath is where the moto wrapper (localstack/moto_server.py) answers
// its control endpoints; LocalStack answers 404 there.
const controlPath = "/_leadrelay/"

var controlClient = &http.Client{Timeout: 5 * time.Second}

// control sends one request to the wrapper's control endpoints and decodes
// the JSON answer into out (when not nil). It returns the HTTP status, or an
// error when nothing answers.
func control(method, path string, body, out any) (int, error) {
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, err
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, strings.TrimRight(Endpoint(), "/")+controlPath+path, r)
	if err != nil {
		return 0, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := controlClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, err
	}
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, fmt.Errorf("%s %s%s: %s: %s", method, controlPath, path, resp.Status, bytes.TrimSpace(data))
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return resp.StatusCode, fmt.Errorf("%s %s%s: %v", method, controlPath, path, err)
		}
	}
	return resp.StatusCode, nil
}

// wrapperStats reads the counters, skipping the test when the emulator is
// not the moto wrapper (LocalStack) and skipping or failing as Config does
// when nothing answers.
func wrapperStats(t testing.TB) Counters {
	t.Helper()
	var s Counters
	status, err := control(http.MethodGet, "stats", nil, &s)
	switch {
	case status == http.StatusNotFound:
		t.Skipf("the emulator at %s is not the moto wrapper (no %sstats): it cannot show contention or inject faults", Endpoint(), controlPath)
	case status == 0 && err != nil:
		if os.Getenv("LEADRELAY_REQUIRE_EMULATOR") == "1" {
			t.Fatalf("no AWS emulator at %s: %v (make test starts moto_server)", Endpoint(), err)
		}
		t.Skipf("no AWS emulator at %s (run the tests with make test, which starts one)", Endpoint())
	case err != nil:
		t.Fatalf("emulator stats: %v", err)
	}
	return s
}

// Stats returns the moto wrapper's Counters. The test is skipped when the
// emulator is not the wrapper (LocalStack), and skipped or failed as by
// Config when nothing answers.
func Stats(t testing.TB) Counters {
	t.Helper()
	return wrapperStats(t)
}

// Faults makes failShare (0 to 1, drawn at random per call) of the
// SendMessage and SendMessageBatch calls to queues whose name starts with
// queuePrefix fail with HTTP 500 InternalError, enqueuing nothing, until
// the test ends. Use the prefix from Name so that only this test's queues
// fail; the SDK retries a 500 (3 attempts by default), so a whole call
// fails with probability about failShare³. The test is skipped when the
// emulator is not the moto wrapper (LocalStack), and skipped or failed as by
// Config when nothing answers.
func Faults(t testing.TB, queuePrefix string, failShare float64) {
	t.Helper()
	if queuePrefix == "" {
		t.Fatal("emulator.Faults: empty queue prefix (it would fail every test's queues)")
	}
	wrapperStats(t)
	spec := map[string]any{"send_message": map[string]any{"queue_prefix": queuePrefix, "fail_share": failShare}}
	if _, err := control(http.MethodPost, "faults", spec, nil); err != nil {
		t.Fatalf("emulator faults: %v", err)
	}
	t.Cleanup(func() {
		if _, err := control(http.MethodDelete, "faults?queue_prefix="+url.QueryEscape(queuePrefix), nil, nil); err != nil {
			t.Errorf("clearing emulator faults for %q: %v", queuePrefix, err)
		}
	})
}

// HoldMS returns how long the emulator's transactions hold their items, in
// milliseconds (0: contention mode is off, as on LocalStack). It asks the
// moto wrapper, and falls back to LEADRELAY_MOTO_HOLD_MS (what make test
// starts the wrapper with) when nothing answers.
func HoldMS() int {
	var s Counters
	status, err := control(http.MethodGet, "stats", nil, &s)
	switch {
	case err == nil:
		return s.HoldMS
	case status != 0:
		return 0
	}
	ms, err := strconv.Atoi(strings.TrimSpace(os.Getenv("LEADRELAY_MOTO_HOLD_MS")))
	if err != nil || ms < 0 {
		return 0
	}
	return ms
}

// Contention makes the moto wrapper's transactions hold their items for
// at least ms milliseconds while the test runs (make test starts it so;
// a wrapper started without it is switched for the test and back). The
// setting is the emulator's: tests running at the same time feel it too.
// The test is skipped when the emulator is not the wrapper (LocalStack).
func Contention(t testing.TB, ms int) {
	t.Helper()
	before := wrapperStats(t).HoldMS
	if before >= ms {
		return
	}
	if _, err := control(http.MethodPost, "contention", map[string]int{"hold_ms": ms}, nil); err != nil {
		t.Fatalf("emulator contention: %v", err)
	}
	t.Cleanup(func() {
		if _, err := control(http.MethodPost, "contention", map[string]int{"hold_ms": before}, nil); err != nil {
			t.Errorf("restoring emulator contention: %v", err)
		}
	})
}
