package runner

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// The console's browser tests drive Debian's Chromium (package chromium,
// installed by `make tools`) headless through the DevTools protocol.
// Screenshots of each page go to screenshotDir, which git ignores, for a
// reviewer to look at.

// chromiumPath finds the browser: LEADRELAY_CHROMIUM, then Debian's and
// the usual names on PATH.
func chromiumPath() string {
	if p := os.Getenv("LEADRELAY_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// screenshotDir is where the browser tests write their screenshots:
// LEADRELAY_SCREENSHOTS, or localstack/runner/screenshots (ignored).
func screenshotDir(t *testing.T) string {
	dir := os.Getenv("LEADRELAY_SCREENSHOTS")
	if dir == "" {
		dir = "screenshots"
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		t.Fatal(err)
	}
	return abs
}

// newBrowser starts a headless Chromium of its own (an empty profile, no
// background networking: the machines' network is closed) with a window
// of w×h, and answers a context driving its first tab. Without a browser
// the test is skipped, unless LEADRELAY_REQUIRE_BROWSER is set (make test
// installs one and sets it).
func newBrowser(t *testing.T, w, h int) context.Context {
	t.Helper()
	path := chromiumPath()
	if path == "" {
		if os.Getenv("LEADRELAY_REQUIRE_BROWSER") != "" {
			t.Fatal("no Chromium found (LEADRELAY_REQUIRE_BROWSER is set): install Debian's chromium, or set LEADRELAY_CHROMIUM")
		}
		t.Skip("no Chromium: install Debian's chromium (make tools) or set LEADRELAY_CHROMIUM")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox, // root in CI containers
		chromedp.DisableGPU,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(w, h),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-quic", true),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx, chromedp.WithErrorf(func(format string, args ...any) {
		// The protocol's unknown events are noise; real failures surface
		// as the actions' errors.
		if !strings.Contains(format, "unhandled") {
			t.Logf("chromedp: "+format, args...)
		}
	}))
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc()
	})
	// Start the browser now, so that its start-up is not charged to the
	// first action's timeout.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start Chromium (%s): %v", path, err)
	}
	return ctx
}

// browse runs actions in the browser with a deadline, failing the test with
// what was being done.
func browse(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(c, actions...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// value runs one action that answers a value, with a deadline.
func value[T any](t *testing.T, ctx context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(c, a)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return v
}

// screenshot writes the whole page as name.png into dir.
func screenshot(t *testing.T, ctx context.Context, dir, name string) {
	t.Helper()
	png := value(t, ctx, "screenshot "+name, chromedp.FullScreenshot(100))
	path := filepath.Join(dir, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
}
