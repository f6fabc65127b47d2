package console

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"strings"
	"time"

	"github.com/leadrelay/leadrelay/shared/httpapi"
	"github.com/leadrelay/leadrelay/shared/money"
)

//go:embed templates
var templateFS embed.FS

// pageNames are the templates/<name>.html rendered as whole pages (each
// defines "content"); layout.html and feed.html are shared.
var pageNames = []string{"login", "signedin", "error", "overview", "leads", "lead", "pnl", "buyers", "sources", "config"}

// page is what the layout shows around a page's own data.
type page struct {
	Title string
	// Nav is the navigation entry of the page ("overview", "leads"...).
	Nav string
	// Refresh, when set, moves the browser on to it (a meta refresh).
	Refresh string
	// Notice says what the last change did.
	Notice string
	// Who and CSRF are the signed-in operator's; HXHeaders carries CSRF
	// to htmx's requests.
	Who       string
	CSRF      string
	HXHeaders string
	// Data is the page's own.
	Data any
}

// forOperator is a page of a signed-in operator.
func forOperator(op operator, title, nav string) page {
	hx, _ := json.Marshal(map[string]string{"X-CSRF-Token": op.sess.CSRF})
	who := op.sess.Email
	if who == "" {
		who = op.sess.Who
	}
	return page{Title: title, Nav: nav, Who: who, CSRF: op.sess.CSRF, HXHeaders: string(hx)}
}

// parsePages parses each page over the layout and the shared fragments.
func (s *Server) parsePages() (map[string]*template.Template, error) {
	funcs := template.FuncMap{
		"asset": s.assetURL,
		"link":  s.link,
		"money": func(a money.Amount) string { return a.String() },
		"when": func(t time.Time) string {
			if t.IsZero() {
				return ""
			}
			return t.UTC().Format("2006-01-02 15:04:05Z")
		},
		"clock": func(t time.Time) string { return t.UTC().Format("15:04:05") },
		"pct":   pct,
		"show":  show,
	}
	shared, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/feed.html")
	if err != nil {
		return nil, fmt.Errorf("parse console layout: %w", err)
	}
	out := make(map[string]*template.Template, len(pageNames))
	for _, name := range pageNames {
		t, err := template.Must(shared.Clone()).ParseFS(templateFS, "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("parse console page %s: %w", name, err)
		}
		out[name] = t
	}
	// Every template file is a page or shared: none is forgotten.
	files, _ := fs.Glob(templateFS, "templates/*.html")
	if len(files) != len(pageNames)+2 {
		return nil, fmt.Errorf("console templates: %d files, %d known", len(files), len(pageNames)+2)
	}
	return out, nil
}

// render answers a whole page.
func (s *Server) render(ctx context.Context, req httpapi.Request, status int, name string, p page, data any) httpapi.Response {
	p.Data = data
	var buf bytes.Buffer
	if err := s.pages[name].ExecuteTemplate(&buf, "layout", p); err != nil {
		s.Log.ErrorContext(ctx, "render console page", "page", name, "error", err)
		return httpapi.Error(http.StatusInternalServerError, "internal", "the page could not be drawn")
	}
	return html(status, buf.String())
}

// fragment answers one template of a page alone (htmx swaps it in).
func (s *Server) fragment(ctx context.Context, pageName, tmpl string, data any) httpapi.Response {
	var buf bytes.Buffer
	if err := s.pages[pageName].ExecuteTemplate(&buf, tmpl, data); err != nil {
		s.Log.ErrorContext(ctx, "render console fragment", "fragment", tmpl, "error", err)
		return httpapi.Error(http.StatusInternalServerError, "internal", "the fragment could not be drawn")
	}
	return html(http.StatusOK, buf.String())
}

func html(status int, body string) httpapi.Response {
	return httpapi.Response{StatusCode: status, Headers: map[string]string{"Content-Type": "text/html; charset=utf-8"}, Body: body}
}

// errorData is the error page's.
type errorData struct {
	Status  int
	Code    string
	Message string
}

// fail answers an error: a page for a browser, the API's error shape
// ({"error": {"code", "message"}}) for anything else. The code is
// machine-readable either way (data-code on the page).
func (s *Server) fail(req httpapi.Request, status int, code, message string) httpapi.Response {
	if !strings.Contains(httpapi.Header(req, "Accept"), "text/html") || httpapi.Header(req, "HX-Request") != "" {
		r := httpapi.Error(status, code, "%s", message)
		return r
	}
	var buf bytes.Buffer
	p := page{Title: http.StatusText(status), Data: errorData{Status: status, Code: code, Message: message}}
	if err := s.pages["error"].ExecuteTemplate(&buf, "layout", p); err != nil {
		return httpapi.Error(status, code, "%s", message)
	}
	return html(status, buf.String())
}

// pct writes a ratio as a percentage with one decimal ("75.0%").
func pct(num, den float64) string {
	if den == 0 {
		return "–"
	}
	return fmt.Sprintf("%.1f%%", 100*num/den)
}

// show writes a value of a timeline's data or a plan's change for
// reading: strings as they are, the rest as JSON.
func show(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	case json.RawMessage:
		return string(v)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}
