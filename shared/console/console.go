// Package console is the operators' console: server-rendered pages of
// today's leads and profit, a lead's path, the P&L, buyers' health,
// sources and the configuration, at /console.
//
// Every figure comes from the admin API, called in-process (API): the
// console adds no table access of its own but its sessions, and a page
// makes a fixed small number of admin calls, never one per table row. It
// signs operators in itself — with the operator token locally, through an
// IdentityProvider (Amazon Cognito) when deployed — and keeps their
// sessions in the table (Sessions), with a CSRF token every change must
// carry.
package console

import (
	"context"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/leadrelay/leadrelay/shared/httpapi"
	"github.com/leadrelay/leadrelay/shared/store"
)

// API is the admin API the console reads and changes everything through
// (*admin.Handler).
type API interface {
	Handle(ctx context.Context, req httpapi.Request) (httpapi.Response, error)
}

// Sessions keeps the console's sessions (*store.Store), each under the id
// its cookie carries.
type Sessions interface {
	PutSession(ctx context.Context, id string, s store.Session) error
	// Session answers store.ErrNotFound for no session, or one ended or
	// expired.
	Session(ctx context.Context, id string) (*store.Session, error)
	EndSession(ctx context.Context, id string) error
}

// IdentityProvider signs operators in through a hosted login (Amazon Cognito: package cognito).
type IdentityProvider interface {
	// AuthorizeURL is where the browser is sent to sign in; state and the PKCE verifier are the console's.
	AuthorizeURL(state, verifier, redirectURI string) string
	// Exchange trades the code from the callback for the operator's verified identity.
	Exchange(ctx context.Context, code, verifier, redirectURI string) (subject, email string, err error)
}

// Lifetimes of sessions.
const (
	// SessionTTL is how long an operator stays signed in.
	SessionTTL = 12 * time.Hour
	// LoginTTL is how long a sign-in at the identity provider may take.
	LoginTTL = 10 * time.Minute
)

// Cookie names.
const (
	sessionCookie = "lr_session"
	loginCookie   = "lr_login"
)

// Server is the console. Its exported fields are set before the first
// request and not changed after.
type Server struct {
	API API
	// APIToken is sent to API as a bearer token: the local runner's admin
	// handler checks one; on AWS it is empty (IAM guards the API's own
	// routes, and the console calls the handler in-process).
	APIToken string
	Sessions Sessions
	// Token, when set, is the operator token that signs in (the local
	// runner's admin token). Identity, when set, signs operators in
	// instead. With neither, sign-in answers 503.
	Token    string
	Identity IdentityProvider
	// PublicURL is the base URL the console is served under, API
	// Gateway's stage included ("http://127.0.0.1:8080",
	// "https://abc.execute-api.us-east-1.amazonaws.com/prod"): links,
	// the cookies' path, the callback URL, and whether cookies are Secure.
	PublicURL string
	Now       func() time.Time
	Log       *slog.Logger

	once    sync.Once
	mux     httpapi.Mux
	base    string // PublicURL's path: "" or "/prod"
	origin  string // PublicURL's scheme and host
	https   bool
	pages   map[string]*template.Template
	assets  map[string]asset
	initErr error
}

// Handle answers one request under /console (an API Gateway proxy request,
// or the runner's HTTP request as one).
func (s *Server) Handle(ctx context.Context, req httpapi.Request) (httpapi.Response, error) {
	s.once.Do(s.init)
	if s.initErr != nil {
		s.Log.ErrorContext(ctx, "console templates", "error", s.initErr)
		return secured(httpapi.Error(http.StatusInternalServerError, "internal", "the console could not start")), nil
	}
	path := strings.TrimSuffix(req.Path, "/")
	var resp httpapi.Response
	switch {
	case path == "/console":
		resp = s.root(ctx, req)
	case strings.HasPrefix(path, "/console/static/"):
		resp = s.static(req, strings.TrimPrefix(path, "/console/static/"))
	default:
		req.Path = path
		resp = s.mux.Serve(ctx, req)
	}
	return secured(resp), nil
}

func (s *Server) init() {
	if s.Now == nil {
		s.Now = time.Now
	}
	if s.Log == nil {
		s.Log = slog.New(slog.DiscardHandler)
	}
	u, err := url.Parse(strings.TrimSuffix(s.PublicURL, "/"))
	if err == nil {
		s.base = u.Path
		s.origin = u.Scheme + "://" + u.Host
		s.https = u.Scheme == "https"
	}
	if s.assets, err = loadAssets(); err != nil {
		s.initErr = err
		return
	}
	if s.pages, err = s.parsePages(); err != nil {
		s.initErr = err
		return
	}
	s.routes(&s.mux)
}

// routes registers the console's pages; each area adds its own.
func (s *Server) routes(m *httpapi.Mux) {
	m.Handle("GET /console/login", s.loginPage)
	m.Handle("POST /console/login", s.login)
	m.Handle("GET /console/callback", s.callback)
	m.Handle("POST /console/logout", s.change(s.logout))
	s.overviewRoutes(m)
	s.leadRoutes(m)
	s.pnlRoutes(m)
	s.buyerRoutes(m)
	s.sourceRoutes(m)
	s.configRoutes(m)
}

// root sends a signed-in operator to the overview, anyone else to sign in.
func (s *Server) root(ctx context.Context, req httpapi.Request) httpapi.Response {
	if _, _, ok := s.session(ctx, req); ok {
		return s.redirect("/console/overview")
	}
	return s.redirect("/console/login")
}

// link is a console path as the browser sees it (API Gateway's stage
// first).
func (s *Server) link(path string) string { return s.base + path }

// redirect answers 303 See Other to a console path.
func (s *Server) redirect(path string) httpapi.Response {
	return httpapi.Response{StatusCode: http.StatusSeeOther, Headers: map[string]string{"Location": s.link(path)}}
}

// secured adds the headers every console answer carries: a content
// security policy of the console's own files only (no inline script or
// style), no framing, no sniffing, no referrer to other sites, and no
// caching of pages.
func secured(r httpapi.Response) httpapi.Response {
	if r.Headers == nil {
		r.Headers = map[string]string{}
	}
	h := r.Headers
	h["Content-Security-Policy"] = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
		"connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
	h["X-Frame-Options"] = "DENY"
	h["X-Content-Type-Options"] = "nosniff"
	h["Referrer-Policy"] = "same-origin"
	if _, ok := h["Cache-Control"]; !ok {
		h["Cache-Control"] = "no-store"
	}
	return r
}
