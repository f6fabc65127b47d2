package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"

	"github.com/leadrelay/leadrelay/shared/httpapi"
	"github.com/leadrelay/leadrelay/shared/queue"
)

// Redriver moves messages from a queue's DLQ back to the queue.
type Redriver interface {
	Redrive(ctx context.Context, queue string, max int) (int, error)
	// Depths reads how many messages wait in each DLQ.
	Depths(ctx context.Context) ([]queue.Depth, error)
}

// DefaultRedrive is how many messages a redrive moves when the request
// does not say.
const DefaultRedrive = 100

func (h *Handler) redriveRoutes(m *httpapi.Mux) {
	m.Handle("POST /v1/admin/redrive", func(ctx context.Context, req httpapi.Request, _ map[string]string) httpapi.Response {
		return h.redrive(ctx, req)
	})
	m.Handle("GET /v1/admin/dlq", func(ctx context.Context, _ httpapi.Request, _ map[string]string) httpapi.Response {
		return h.dlqDepths(ctx)
	})
}

// dlqDepths answers GET /v1/admin/dlq: how many messages wait in the
// routing, delivery and Meta DLQs ({"dlqs": [{"queue", "messages",
// "in_flight"}]}), what POST /v1/admin/redrive would move.
func (h *Handler) dlqDepths(ctx context.Context) httpapi.Response {
	if h.Redriver == nil {
		return httpapi.Error(http.StatusNotImplemented, "not_configured", "redrive is not configured in this deployment")
	}
	depths, err := h.Redriver.Depths(ctx)
	if err != nil {
		h.Log.ErrorContext(ctx, "read DLQ depths", "error", err)
		return httpapi.Error(http.StatusServiceUnavailable, "unavailable", "retry")
	}
	return httpapi.JSON(http.StatusOK, map[string][]queue.Depth{"dlqs": depths})
}

type redriveRequest struct {
	Queue string `json:"queue"`
	Max   *int   `json:"max"`
}

// redrive moves messages from the routing, delivery or Meta DLQ back to
// its queue: {"queue": "delivery", "max": 100} → {"moved": n}. The
// consumers treat a moved message as redelivered, so one about a settled
// round is dropped, and a Meta lead already ingested is not ingested
// again (its idempotency key).
func (h *Handler) redrive(ctx context.Context, req httpapi.Request) httpapi.Response {
	body, err := httpapi.Body(req)
	if err != nil {
		return httpapi.Error(http.StatusBadRequest, "invalid_body", "%v", err)
	}
	var in redriveRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		return httpapi.Error(http.StatusBadRequest, "invalid_body", `want JSON {"queue": "delivery", "routing" or "meta", "max": 100}: %v`, err)
	}
	var problems []httpapi.FieldProblem
	switch in.Queue {
	case queue.NameDelivery, queue.NameRouting, queue.NameMeta:
	case "":
		problems = append(problems, httpapi.FieldProblem{Field: "queue", Code: "required", Message: `name the queue: "delivery", "routing" or "meta"`})
	default:
		problems = append(problems, httpapi.FieldProblem{Field: "queue", Code: "invalid", Message: `want "delivery", "routing" or "meta"`})
	}
	max := DefaultRedrive
	if in.Max != nil {
		max = *in.Max
		if max < 1 || max > queue.MaxRedrive {
			problems = append(problems, httpapi.FieldProblem{Field: "max", Code: "invalid", Message: "max must be 1 to 1000"})
		}
	}
	if len(problems) > 0 {
		return httpapi.Fields(http.StatusBadRequest, "validation_failed", "the redrive request is invalid; nothing was moved", problems)
	}
	if h.Redriver == nil {
		return httpapi.Error(http.StatusNotImplemented, "not_configured", "redrive is not configured in this deployment")
	}
	moved, err := h.Redriver.Redrive(ctx, in.Queue, max)
	if err != nil {
		h.Log.ErrorContext(ctx, "redrive", "queue", in.Queue, "moved", moved, "error", err)
		return httpapi.JSON(http.StatusServiceUnavailable, map[string]any{
			"moved": moved,
			"error": httpapi.ErrorDetail{Code: "unavailable", Message: "the redrive stopped part-way; the rest is still in the DLQ: retry"},
		})
	}
	h.Log.InfoContext(ctx, "dead letters redriven", "queue", in.Queue, "moved", moved)
	return httpapi.JSON(http.StatusOK, map[string]int{"moved": moved})
}
