package admin

import (
	"context"
	"net/http"
	"strconv"

	"github.com/leadrelay/leadrelay/shared/httpapi"
	"github.com/leadrelay/leadrelay/shared/store"
)

// Audit log page sizes.
const (
	defaultAuditLimit = 20
	maxAuditLimit     = 200
)

func (h *Handler) auditRoutes(m *httpapi.Mux) {
	m.Handle("GET /v1/admin/audit", func(ctx context.Context, req httpapi.Request, _ map[string]string) httpapi.Response {
		return h.audit(ctx, req)
	})
}

type auditPage struct {
	Records []store.AuditRecord `json:"records"`
}

// audit answers the newest configuration changes first.
func (h *Handler) audit(ctx context.Context, req httpapi.Request) httpapi.Response {
	limit := defaultAuditLimit
	if raw, ok := req.QueryStringParameters["limit"]; ok {
		n, err := strconv.Atoi(raw)
		if err != nil || n < 1 || n > maxAuditLimit {
			return httpapi.Fields(http.StatusBadRequest, "validation_failed", "limit must be a whole number from 1 to 200",
				[]httpapi.FieldProblem{{Field: "limit", Code: "invalid", Message: "want 1 to " + strconv.Itoa(maxAuditLimit)}})
		}
		limit = n
	}
	recs, err := h.Store.Audit(ctx, limit)
	if err != nil {
		h.Log.ErrorContext(ctx, "read audit log", "error", err)
		return httpapi.Error(http.StatusServiceUnavailable, "unavailable", "retry")
	}
	return httpapi.JSON(http.StatusOK, auditPage{Records: recs})
}
