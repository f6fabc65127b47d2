package httpapi

import (
	"context"
	"net/http"
	"strings"
)

// HandlerFunc answers a request whose path matched a pattern; params holds
// the pattern's {names}.
type HandlerFunc func(ctx context.Context, req Request, params map[string]string) Response

// Mux routes proxy requests by method and path pattern:
// "GET /v1/admin/leads/{id}". The most specific pattern (most literal
// segments) wins.
type Mux struct {
	routes []route
}

type route struct {
	method string
	segs   []string
	h      HandlerFunc
}

// Handle registers a handler for "METHOD /path/{param}".
func (m *Mux) Handle(pattern string, h HandlerFunc) {
	method, path, _ := strings.Cut(pattern, " ")
	m.routes = append(m.routes, route{method: method, segs: split(path), h: h})
}

func split(path string) []string {
	return strings.Split(strings.Trim(path, "/"), "/")
}

// Serve answers a request: 404 when no pattern matches the path, 405 when
// one matches the path but not the method.
func (m *Mux) Serve(ctx context.Context, req Request) Response {
	segs := split(req.Path)
	var best *route
	var bestParams map[string]string
	bestScore, pathMatched := -1, false
	for i := range m.routes {
		r := &m.routes[i]
		params, score, ok := match(r.segs, segs)
		if !ok {
			continue
		}
		pathMatched = true
		if r.method != req.HTTPMethod {
			continue
		}
		if score > bestScore {
			best, bestParams, bestScore = r, params, score
		}
	}
	if best == nil {
		if pathMatched {
			return Error(http.StatusMethodNotAllowed, "method_not_allowed", "%s is not allowed on %s", req.HTTPMethod, req.Path)
		}
		return Error(http.StatusNotFound, "not_found", "no such endpoint: %s %s", req.HTTPMethod, req.Path)
	}
	return best.h(ctx, req, bestParams)
}

func match(pattern, path []string) (map[string]string, int, bool) {
	if len(pattern) != len(path) {
		return nil, 0, false
	}
	var params map[string]string
	score := 0
	for i, p := range pattern {
		if strings.HasPrefix(p, "{") && strings.HasSuffix(p, "}") {
			if path[i] == "" {
				return nil, 0, false
			}
			if params == nil {
				params = map[string]string{}
			}
			params[p[1:len(p)-1]] = path[i]
			continue
		}
		if p != path[i] {
			return nil, 0, false
		}
		score++
	}
	return params, score, true
}
