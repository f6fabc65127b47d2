package httpapi

import (
	"context"
	"testing"
)

func TestMux(t *testing.T) {
	var m Mux
	hit := func(name string) HandlerFunc {
		return func(_ context.Context, _ Request, p map[string]string) Response {
			return JSON(200, map[string]any{"name": name, "params": p})
		}
	}
	m.Handle("GET /v1/admin/leads/{id}", hit("lead"))
	m.Handle("POST /v1/admin/leads/{id}/reroute", hit("reroute"))
	m.Handle("GET /v1/admin/leads/search", hit("search"))
	cases := []struct{ method, path, want string }{
		{"GET", "/v1/admin/leads/abc", `{"name":"lead","params":{"id":"abc"}}`},
		{"GET", "/v1/admin/leads/search", `{"name":"search","params":null}`},
		{"POST", "/v1/admin/leads/abc/reroute", `{"name":"reroute","params":{"id":"abc"}}`},
		{"DELETE", "/v1/admin/leads/abc", `{"error":{"code":"method_not_allowed","message":"DELETE is not allowed on /v1/admin/leads/abc"}}`},
		{"GET", "/v1/admin/nope", `{"error":{"code":"not_found","message":"no such endpoint: GET /v1/admin/nope"}}`},
	}
	for _, c := range cases {
		got := m.Serve(context.Background(), Request{HTTPMethod: c.method, Path: c.path})
		if got.Body != c.want {
			t.Errorf("%s %s: %s; want %s", c.method, c.path, got.Body, c.want)
		}
	}
}
