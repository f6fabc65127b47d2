package console

import (
	"context"
	"crypto/subtle"
	"net/http"
	"net/url"
	"strings"

	"github.com/leadrelay/leadrelay/shared/httpapi"
	"github.com/leadrelay/leadrelay/shared/store"
)

// operator is the signed-in operator of a request.
type operator struct {
	id   string // the session's cookie id
	sess *store.Session
	// form is a change's posted form (nil for a page).
	form url.Values
}

// pageFunc answers a signed-in operator's request.
type pageFunc func(ctx context.Context, req httpapi.Request, p map[string]string, op operator) httpapi.Response

// view guards a page (GET): without a session the browser is sent to sign
// in (an htmx fragment is told so with HX-Redirect). A GET never changes
// anything.
func (s *Server) view(h pageFunc) httpapi.HandlerFunc {
	return func(ctx context.Context, req httpapi.Request, p map[string]string) httpapi.Response {
		id, sess, ok := s.session(ctx, req)
		if !ok {
			return s.signInFirst(req)
		}
		return h(ctx, req, p, operator{id: id, sess: sess})
	}
}

// change guards a state-changing request (POST): a session, a request
// from the console's own origin when the browser says where it comes
// from, and the session's CSRF token as the form field "csrf" or the
// X-CSRF-Token header. Refused, it answers 403 with the code "csrf" and
// changes nothing.
func (s *Server) change(h pageFunc) httpapi.HandlerFunc {
	return func(ctx context.Context, req httpapi.Request, p map[string]string) httpapi.Response {
		id, sess, ok := s.session(ctx, req)
		if !ok {
			return s.signInFirst(req)
		}
		form, err := formOf(req)
		if err != nil {
			return s.fail(req, http.StatusBadRequest, "invalid_body", "The form could not be read.")
		}
		if !s.sameOrigin(req) {
			s.Log.WarnContext(ctx, "console change refused: another origin", "origin", httpapi.Header(req, "Origin"), "path", req.Path)
			return s.fail(req, http.StatusForbidden, "csrf", "The request came from another site; nothing was changed.")
		}
		token := httpapi.Header(req, "X-CSRF-Token")
		if token == "" {
			token = form.Get("csrf")
		}
		if token == "" || subtle.ConstantTimeCompare([]byte(token), []byte(sess.CSRF)) != 1 {
			s.Log.WarnContext(ctx, "console change refused: CSRF token missing or wrong", "path", req.Path)
			return s.fail(req, http.StatusForbidden, "csrf", "The request did not carry this session's CSRF token; nothing was changed. Reload the page and try again.")
		}
		return h(ctx, req, p, operator{id: id, sess: sess, form: form})
	}
}

// signInFirst answers a request without a session.
func (s *Server) signInFirst(req httpapi.Request) httpapi.Response {
	if httpapi.Header(req, "HX-Request") != "" {
		return httpapi.Response{StatusCode: http.StatusUnauthorized, Headers: map[string]string{"HX-Redirect": s.link("/console/login")}}
	}
	if req.HTTPMethod != http.MethodGet {
		return s.fail(req, http.StatusUnauthorized, "unauthorized", "Sign in first.")
	}
	return s.redirect("/console/login")
}

// sameOrigin reports whether a request's Origin (or, without one, its
// Referer) is the console's: its public URL's, or the host the request
// was sent to. A request that names neither passes (the CSRF token and
// the SameSite=Strict cookie still hold).
func (s *Server) sameOrigin(req httpapi.Request) bool {
	from := httpapi.Header(req, "Origin")
	if from == "" {
		ref := httpapi.Header(req, "Referer")
		if ref == "" {
			return true
		}
		u, err := url.Parse(ref)
		if err != nil {
			return false
		}
		from = u.Scheme + "://" + u.Host
	}
	if from == "null" {
		return false
	}
	from = strings.ToLower(strings.TrimSuffix(from, "/"))
	if s.origin != "" && from == strings.ToLower(s.origin) {
		return true
	}
	host := httpapi.Header(req, "Host")
	if host == "" {
		return false
	}
	scheme := "http"
	if s.secure(req) {
		scheme = "https"
	}
	return from == strings.ToLower(scheme+"://"+host)
}

// formOf reads a posted form (application/x-www-form-urlencoded); other
// bodies give an empty form.
func formOf(req httpapi.Request) (url.Values, error) {
	if req.HTTPMethod != http.MethodPost || httpapi.MediaType(req) != "application/x-www-form-urlencoded" {
		return url.Values{}, nil
	}
	body, err := httpapi.Body(req)
	if err != nil {
		return nil, err
	}
	return url.ParseQuery(string(body))
}
