package admin

import (
	"context"
	"errors"
	"net/http"

	"github.com/leadrelay/leadrelay/shared/config"
	"github.com/leadrelay/leadrelay/shared/httpapi"
)

func (h *Handler) planRoutes(m *httpapi.Mux) {
	m.Handle("POST /v1/admin/config/plan", func(ctx context.Context, req httpapi.Request, _ map[string]string) httpapi.Response {
		return h.plan(ctx, req)
	})
}

// plan answers what PUT /v1/admin/config with the same body would change,
// without changing it: a config.Plan whose version is the one to send as
// If-Match.
func (h *Handler) plan(ctx context.Context, req httpapi.Request) httpapi.Response {
	body, err := httpapi.Body(req)
	if err != nil {
		return httpapi.Error(http.StatusBadRequest, "invalid_body", "%v", err)
	}
	next, err := config.Parse(body)
	var ce *config.Error
	if errors.As(err, &ce) {
		return invalidConfig(ce)
	}
	if err != nil {
		return httpapi.Error(http.StatusBadRequest, "invalid_config", "%v", err)
	}
	cur, err := h.Store.LoadConfig(ctx)
	if err != nil {
		h.Log.ErrorContext(ctx, "load config", "error", err)
		return httpapi.Error(http.StatusServiceUnavailable, "unavailable", "retry")
	}
	// As applying would: kept, referenced and unchanged secrets are no
	// change (and the plan shows none of them).
	if err := h.sealSecrets(ctx, next, cur); err != nil {
		return h.answerCommit(ctx, err)
	}
	r := httpapi.JSON(http.StatusOK, config.Diff(cur, next))
	r.Headers["ETag"] = etag(cur.Version)
	return r
}
