package console

import (
	"context"
	"io"
	"log/slog"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/leadrelay/leadrelay/shared/httpapi"
	"github.com/leadrelay/leadrelay/shared/store"
)

// BenchmarkConsolePages renders each page against the fake admin API with
// demo-sized data (50 leads over two campaigns, 10 buyers): the console's
// own server time, the admin API's excluded (its handlers have their own
// benchmarks). Each page must stay far under 50 ms.
func BenchmarkConsolePages(b *testing.B) {
	now := func() time.Time { return fakeNow }
	sessions := &memSessions{now: now, byID: map[string]store.Session{}}
	c := &Server{API: newFakeAPI(25, 10), APIToken: "api-token", Sessions: sessions, Token: testToken, Now: now,
		PublicURL: "http://127.0.0.1:8080", Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	ctx := context.Background()
	login, _ := c.Handle(ctx, httpapi.Request{HTTPMethod: "POST", Path: "/console/login", Body: url.Values{"token": {testToken}}.Encode(),
		Headers: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}})
	cookie, _, _ := strings.Cut(login.MultiValueHeaders["Set-Cookie"][0], ";")
	for _, page := range []struct{ name, path, query string }{
		{"overview", "/console/overview", ""}, {"feed", "/console/overview/feed", ""}, {"leads", "/console/leads", ""},
		{"lead", "/console/leads/01JLEAD", ""}, {"pnl", "/console/pnl", "group=day"}, {"buyers", "/console/buyers", ""},
		{"sources", "/console/sources", ""}, {"config", "/console/config", ""},
	} {
		q := map[string]string{}
		if page.query != "" {
			v, _ := url.ParseQuery(page.query)
			for k := range v {
				q[k] = v.Get(k)
			}
		}
		req := httpapi.Request{HTTPMethod: "GET", Path: page.path, QueryStringParameters: q, Headers: map[string]string{"Cookie": cookie}}
		b.Run(page.name, func(b *testing.B) {
			for b.Loop() {
				resp, err := c.Handle(ctx, req)
				if err != nil || resp.StatusCode != 200 {
					b.Fatalf("%s: %d %v %s", page.path, resp.StatusCode, err, resp.Body)
				}
			}
		})
	}
}
