package ingest

import (
	"context"
	"net/http"

	"github.com/leadrelay/leadrelay/shared/config"
	"github.com/leadrelay/leadrelay/shared/httpapi"
)

// index is the current configuration, or the 503 that says it cannot be
// read.
func (h *Handler) index(ctx context.Context) (*config.Index, *httpapi.Response) {
	ix, err := h.Configs.Get(ctx)
	if err != nil {
		h.Log.ErrorContext(ctx, "load configuration", "error", err)
		r := httpapi.Error(http.StatusServiceUnavailable, "unavailable", "configuration unavailable; retry")
		return nil, &r
	}
	return ix, nil
}
