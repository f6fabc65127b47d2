package admin

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"net/http"

	"github.com/leadrelay/leadrelay/shared/config"
	"github.com/leadrelay/leadrelay/shared/httpapi"
)

// keyPrefix starts every key LeadRelay issues, so a leaked one is easy to
// recognise (secret scanners, logs).
const keyPrefix = "lrk_"

func (h *Handler) keyRoutes(m *httpapi.Mux) {
	m.Handle("POST /v1/admin/sources/{id}/keys", func(ctx context.Context, req httpapi.Request, p map[string]string) httpapi.Response {
		return h.issueKey(ctx, req, config.KindSource, p["id"])
	})
	m.Handle("POST /v1/admin/buyers/{id}/keys", func(ctx context.Context, req httpapi.Request, p map[string]string) httpapi.Response {
		return h.issueKey(ctx, req, config.KindBuyer, p["id"])
	})
}

type issuedKey struct {
	Kind string `json:"kind"`
	ID   string `json:"id"`
	// APIKey is shown this once; only its SHA-256 is stored.
	APIKey       string `json:"api_key"`
	APIKeySHA256 string `json:"api_key_sha256"`
	Version      int64  `json:"version"`
}

// issueKey gives a source or a buyer a new random API key and stores its
// SHA-256 in place of the old one, which stops working once the
// configuration caches expire.
func (h *Handler) issueKey(ctx context.Context, req httpapi.Request, kind, id string) httpapi.Response {
	expect, bad := ifMatch(req)
	if bad != nil {
		return *bad
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		h.Log.ErrorContext(ctx, "generate key", "error", err)
		return httpapi.Error(http.StatusInternalServerError, "internal", "could not generate a key")
	}
	key := keyPrefix + base64.RawURLEncoding.EncodeToString(raw)
	sum := config.HashKey(key)
	ver, _, err := h.commit(ctx, req, expect, "rotate "+kind+" key", kind+"/"+id, func(c *config.Config) (*config.Config, error) {
		switch kind {
		case config.KindSource:
			list, i, _, _ := sources.find(c, id)
			if i < 0 {
				return nil, sources.notFound(id)
			}
			(*list)[i].APIKeySHA256 = sum
		default:
			list, i, _, _ := buyers.find(c, id)
			if i < 0 {
				return nil, buyers.notFound(id)
			}
			(*list)[i].APIKeySHA256 = sum
		}
		return config.Check(c, nil, "")
	})
	if err != nil {
		return h.answerCommit(ctx, err)
	}
	h.Log.InfoContext(ctx, "API key issued", "kind", kind, "id", id, "version", ver, "key_sha256", sum)
	r := httpapi.JSON(http.StatusCreated, issuedKey{Kind: kind, ID: id, APIKey: key, APIKeySHA256: sum, Version: ver})
	r.Headers["ETag"] = etag(ver)
	r.Headers["Cache-Control"] = "no-store"
	return r
}
