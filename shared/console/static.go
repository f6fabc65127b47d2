package console

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"

	"github.com/leadrelay/leadrelay/shared/httpapi"
)

// The console's own script and style, and the vendored htmx and uPlot
// with their licences (static/vendor/): served at /console/static/.
//
//go:embed static
var staticFS embed.FS

// asset is one static file with the hash its URL carries.
type asset struct {
	body        string
	contentType string
	version     string
}

func loadAssets() (map[string]asset, error) {
	out := map[string]asset{}
	err := fs.WalkDir(staticFS, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := staticFS.ReadFile(p)
		if err != nil {
			return fmt.Errorf("read %s: %w", p, err)
		}
		sum := sha256.Sum256(b)
		ct := mime.TypeByExtension(path.Ext(p))
		if ct == "" {
			ct = "text/plain; charset=utf-8"
		}
		out[strings.TrimPrefix(p, "static/")] = asset{body: string(b), contentType: ct, version: hex.EncodeToString(sum[:6])}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("console static files: %w", err)
	}
	return out, nil
}

// assetURL is a static file's URL with its content's hash: a change is a
// new URL, so browsers may keep each one for a year.
func (s *Server) assetURL(name string) string {
	a, ok := s.assets[name]
	if !ok {
		return s.link("/console/static/" + name)
	}
	return s.link("/console/static/"+name) + "?v=" + a.version
}

// static answers a static file: cached for a year when asked for by its
// current hash, revalidated otherwise.
func (s *Server) static(req httpapi.Request, name string) httpapi.Response {
	a, ok := s.assets[name]
	if !ok || (req.HTTPMethod != http.MethodGet && req.HTTPMethod != http.MethodHead) {
		return httpapi.Error(http.StatusNotFound, "not_found", "no such file")
	}
	cache := "no-cache"
	if req.QueryStringParameters["v"] == a.version {
		cache = "public, max-age=31536000, immutable"
	}
	return httpapi.Response{StatusCode: http.StatusOK, Body: a.body, Headers: map[string]string{
		"Content-Type": a.contentType, "Cache-Control": cache, "ETag": `"` + a.version + `"`,
	}}
}
