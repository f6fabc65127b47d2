package ingestapp

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/leadrelay/leadrelay/shared/config"
	"github.com/leadrelay/leadrelay/shared/httpapi"
	"github.com/leadrelay/leadrelay/shared/ingest"
)

// Invoke hands an SQS batch (the Meta queue's event source mapping) to
// HandleMeta, whose answer lists the failed messages, and an API Gateway
// request to Handle.
func TestInvokeRoutesRequestsAndTheMetaQueue(t *testing.T) {
	h := &ingest.Handler{Log: slog.New(slog.NewJSONHandler(io.Discard, nil)), Configs: noConfig{}}
	invoke := Invoke(h)

	// The sample batch of the Meta queue: no configuration here, so its
	// lead fails, and the answer names it for SQS to hand over again.
	batch, err := os.ReadFile(filepath.Join("..", "..", "..", "events", "ingest-meta-sqs.json"))
	if err != nil {
		t.Fatal(err)
	}
	out, err := invoke(t.Context(), json.RawMessage(batch))
	if err != nil {
		t.Fatal(err)
	}
	resp, ok := out.(events.SQSEventResponse)
	if !ok || len(resp.BatchItemFailures) != 1 {
		t.Fatalf("SQS batch: %#v", out)
	}
	raw, _ := json.Marshal(resp)
	if string(raw) != `{"batchItemFailures":[{"itemIdentifier":"7b0c4f3e-2a51-4c8e-9d6a-3f1e0b2c9a10"}]}` {
		t.Fatalf("the answer Lambda reads: %s", raw)
	}

	req := `{"resource":"/v1/health","path":"/v1/health","httpMethod":"GET","headers":{},"requestContext":{"stage":"prod"}}`
	out, err = invoke(t.Context(), json.RawMessage(req))
	if err != nil {
		t.Fatal(err)
	}
	if r, ok := out.(httpapi.Response); !ok || r.StatusCode != 200 {
		t.Fatalf("request: %#v", out)
	}
	if _, err := invoke(t.Context(), json.RawMessage(`[1]`)); err == nil {
		t.Fatal("an event that is neither: no error")
	}
}

// noConfig is a configuration that cannot be read.
type noConfig struct{}

func (noConfig) Get(context.Context) (*config.Index, error) { return nil, errors.New("no table here") }
