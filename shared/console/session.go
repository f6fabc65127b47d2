package console

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/leadrelay/leadrelay/shared/httpapi"
	"github.com/leadrelay/leadrelay/shared/store"
)

// randomID is 32 bytes from crypto/rand, hex: a session's id, a CSRF
// token, an OAuth state.
func randomID() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("random id: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// verifier is a PKCE code verifier (RFC 7636: 43 to 128 characters of
// [A-Za-z0-9-._~]): 32 random bytes, base64url.
func verifier() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("random verifier: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// cookie returns the value of the request's cookie name.
func cookie(req httpapi.Request, name string) string {
	var all []string
	for k, vs := range req.MultiValueHeaders {
		if strings.EqualFold(k, "Cookie") {
			all = append(all, vs...)
		}
	}
	if len(all) == 0 {
		if v := httpapi.Header(req, "Cookie"); v != "" {
			all = []string{v}
		}
	}
	for _, line := range all {
		cs, err := http.ParseCookie(line)
		if err != nil {
			continue
		}
		for _, c := range cs {
			if c.Name == name {
				return c.Value
			}
		}
	}
	return ""
}

// secure reports whether the browser talks to the console over https:
// its public URL says so, or the proxy in front does.
func (s *Server) secure(req httpapi.Request) bool {
	return s.https || strings.EqualFold(httpapi.Header(req, "X-Forwarded-Proto"), "https")
}

// setCookie writes a cookie of the console's path; maxAge < 0 deletes it.
// The session's is SameSite=Strict; a sign-in's must come back on the
// identity provider's redirect, a navigation from another site: Lax.
func (s *Server) setCookie(r *httpapi.Response, req httpapi.Request, name, value string, maxAge int, same http.SameSite) {
	c := &http.Cookie{Name: name, Value: value, Path: s.link("/console"), MaxAge: maxAge,
		HttpOnly: true, Secure: s.secure(req), SameSite: same}
	if r.MultiValueHeaders == nil {
		r.MultiValueHeaders = map[string][]string{}
	}
	r.MultiValueHeaders["Set-Cookie"] = append(r.MultiValueHeaders["Set-Cookie"], c.String())
}

// session reads the operator's session of a request's cookie.
func (s *Server) session(ctx context.Context, req httpapi.Request) (string, *store.Session, bool) {
	id := cookie(req, sessionCookie)
	if id == "" {
		return "", nil, false
	}
	sess, err := s.Sessions.Session(ctx, id)
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			s.Log.ErrorContext(ctx, "read console session", "error", err)
		}
		return "", nil, false
	}
	if sess.Kind != store.SessionOperator {
		return "", nil, false
	}
	return id, sess, true
}

// startSession signs an operator in: a new session, its cookie, and on to
// the overview.
func (s *Server) startSession(ctx context.Context, req httpapi.Request, resp *httpapi.Response, who, email string) error {
	id, err := randomID()
	if err != nil {
		return err
	}
	csrf, err := randomID()
	if err != nil {
		return err
	}
	now := s.Now().UTC()
	sess := store.Session{Kind: store.SessionOperator, Who: who, Email: email, CSRF: csrf, Created: now, Expires: now.Add(SessionTTL)}
	if err := s.Sessions.PutSession(ctx, id, sess); err != nil {
		return err
	}
	s.setCookie(resp, req, sessionCookie, id, int(SessionTTL.Seconds()), http.SameSiteStrictMode)
	s.Log.InfoContext(ctx, "operator signed in to the console", "who", who)
	return nil
}

// signIn is how operators sign in here: "token", "identity", or "" (not
// configured).
func (s *Server) signIn() string {
	switch {
	case s.Identity != nil:
		return "identity"
	case s.Token != "":
		return "token"
	}
	return ""
}

// notConfigured answers a sign-in the deployment has no way to do.
func (s *Server) notConfigured(req httpapi.Request) httpapi.Response {
	return s.fail(req, http.StatusServiceUnavailable, "sign_in_not_configured",
		"Sign-in to the console is not configured in this deployment: it needs the Amazon Cognito user pool's settings (docs/console.md).")
}

type loginData struct {
	Error string
}

// loginPage shows the token form, or sends the browser to the identity
// provider with a new sign-in's state and verifier.
func (s *Server) loginPage(ctx context.Context, req httpapi.Request, _ map[string]string) httpapi.Response {
	switch s.signIn() {
	case "":
		return s.notConfigured(req)
	case "identity":
		return s.authorize(ctx, req)
	}
	if _, _, ok := s.session(ctx, req); ok {
		return s.redirect("/console/overview")
	}
	return s.render(ctx, req, http.StatusOK, "login", page{Title: "Sign in"}, loginData{})
}

// login exchanges the operator token for a session.
func (s *Server) login(ctx context.Context, req httpapi.Request, _ map[string]string) httpapi.Response {
	switch s.signIn() {
	case "":
		return s.notConfigured(req)
	case "identity":
		return s.authorize(ctx, req)
	}
	if !s.sameOrigin(req) {
		return s.fail(req, http.StatusForbidden, "csrf", "The sign-in came from another site.")
	}
	form, err := formOf(req)
	if err != nil {
		return s.fail(req, http.StatusBadRequest, "invalid_body", "The form could not be read.")
	}
	if subtle.ConstantTimeCompare([]byte(form.Get("token")), []byte(s.Token)) != 1 {
		s.Log.WarnContext(ctx, "console sign-in refused: wrong operator token")
		return s.render(ctx, req, http.StatusUnauthorized, "login", page{Title: "Sign in"}, loginData{Error: "That is not the operator token."})
	}
	resp := s.redirect("/console/overview")
	if err := s.startSession(ctx, req, &resp, "token", ""); err != nil {
		s.Log.ErrorContext(ctx, "start console session", "error", err)
		return s.fail(req, http.StatusServiceUnavailable, "unavailable", "The session could not be started; try again.")
	}
	return resp
}

// authorize starts a sign-in at the identity provider: its state and PKCE
// verifier are kept in a short-lived record named by a cookie.
func (s *Server) authorize(ctx context.Context, req httpapi.Request) httpapi.Response {
	id, err := randomID()
	if err == nil {
		var state, ver string
		if state, err = randomID(); err == nil {
			if ver, err = verifier(); err == nil {
				now := s.Now().UTC()
				err = s.Sessions.PutSession(ctx, id, store.Session{Kind: store.SessionLogin, State: state, Verifier: ver, Created: now, Expires: now.Add(LoginTTL)})
				if err == nil {
					resp := httpapi.Response{StatusCode: http.StatusFound, Headers: map[string]string{
						"Location": s.Identity.AuthorizeURL(state, ver, s.callbackURL()),
					}}
					s.setCookie(&resp, req, loginCookie, id, int(LoginTTL.Seconds()), http.SameSiteLaxMode)
					return resp
				}
			}
		}
	}
	s.Log.ErrorContext(ctx, "start console sign-in", "error", err)
	return s.fail(req, http.StatusServiceUnavailable, "unavailable", "The sign-in could not be started; try again.")
}

// callbackURL is where the identity provider sends the browser back.
func (s *Server) callbackURL() string {
	return strings.TrimSuffix(s.PublicURL, "/") + "/console/callback"
}

// callback finishes a sign-in: the state must be the one this browser's
// sign-in record holds (used once), and the code is exchanged for the
// operator's identity.
func (s *Server) callback(ctx context.Context, req httpapi.Request, _ map[string]string) httpapi.Response {
	if s.Identity == nil {
		return s.notConfigured(req)
	}
	q := req.QueryStringParameters
	if e := q["error"]; e != "" {
		return s.fail(req, http.StatusUnauthorized, "sign_in_refused", "The identity provider refused the sign-in: "+e)
	}
	id := cookie(req, loginCookie)
	if id == "" {
		return s.fail(req, http.StatusBadRequest, "state", "No sign-in is under way in this browser: sign in again.")
	}
	pending, err := s.Sessions.Session(ctx, id)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		s.Log.ErrorContext(ctx, "read console sign-in", "error", err)
		return s.fail(req, http.StatusServiceUnavailable, "unavailable", "Try again.")
	}
	if err := s.Sessions.EndSession(ctx, id); err != nil { // a state is used once
		s.Log.WarnContext(ctx, "end console sign-in", "error", err)
	}
	if pending == nil || pending.Kind != store.SessionLogin || q["state"] == "" ||
		subtle.ConstantTimeCompare([]byte(q["state"]), []byte(pending.State)) != 1 {
		s.Log.WarnContext(ctx, "console sign-in refused: state mismatch")
		return s.fail(req, http.StatusBadRequest, "state", "The sign-in's state does not match this browser's: sign in again.")
	}
	if q["code"] == "" {
		return s.fail(req, http.StatusBadRequest, "code", "The identity provider sent no code: sign in again.")
	}
	subject, email, err := s.Identity.Exchange(ctx, q["code"], pending.Verifier, s.callbackURL())
	if err != nil {
		s.Log.WarnContext(ctx, "console sign-in: code exchange", "error", err)
		return s.fail(req, http.StatusUnauthorized, "sign_in_refused", "The sign-in could not be verified: sign in again.")
	}
	// The browser arrives here from the identity provider's site: a
	// SameSite=Strict cookie is not sent on the redirect that follows, so
	// the page moves on by itself from this site.
	resp := s.render(ctx, req, http.StatusOK, "signedin", page{Title: "Signed in", Refresh: s.link("/console/overview")}, nil)
	if err := s.startSession(ctx, req, &resp, subject, email); err != nil {
		s.Log.ErrorContext(ctx, "start console session", "error", err)
		return s.fail(req, http.StatusServiceUnavailable, "unavailable", "The session could not be started; try again.")
	}
	s.setCookie(&resp, req, loginCookie, "", -1, http.SameSiteLaxMode)
	return resp
}

// logout ends the session.
func (s *Server) logout(ctx context.Context, req httpapi.Request, _ map[string]string, op operator) httpapi.Response {
	if err := s.Sessions.EndSession(ctx, op.id); err != nil {
		s.Log.ErrorContext(ctx, "end console session", "error", err)
		return s.fail(req, http.StatusServiceUnavailable, "unavailable", "The session could not be ended; try again.")
	}
	resp := s.redirect("/console/login")
	s.setCookie(&resp, req, sessionCookie, "", -1, http.SameSiteStrictMode)
	return resp
}
