package webhook

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/netip"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/leadrelay/leadrelay/shared/config"
)

// NewClient returns the HTTP client for posting to buyers. It never
// follows redirects (a 3xx is the buyer's answer), ignores proxy settings
// in the environment (a proxy would hide the real target from the guard),
// and keeps connections alive for reuse. Unless allowPrivate, it sends
// only https (a lead's PII never crosses the internet in clear), and it
// refuses at dial time, on the resolved address, to connect to loopback,
// private, link-local (169.254.169.254 included), unspecified, multicast,
// CGNAT and other reserved addresses, and to IPv6 forms that carry an IPv4
// address (IPv4-compatible, 6to4, Teredo, NAT64), so no DNS answer can
// point it inside; such a request fails with an error wrapping
// ErrRefusedTarget. allowPrivate is for the local runner and tests, whose
// buyers listen on http://localhost.
//
// Per-request deadlines come from the request's context (Send applies the
// buyer's timeout).
func NewClient(allowPrivate bool) *http.Client {
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	if !allowPrivate {
		dialer.Control = control
	}
	t := &http.Transport{
		Proxy:                 nil,
		DialContext:           dialer.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   16,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
	var rt http.RoundTripper = t
	if !allowPrivate {
		rt = httpsOnly{t}
	}
	return &http.Client{
		Transport: rt,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// httpsOnly refuses a request that is not https.
type httpsOnly struct{ next http.RoundTripper }

func (h httpsOnly) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme != "https" {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, fmt.Errorf("%w: %s is not https", ErrRefusedTarget, req.URL.Scheme)
	}
	return h.next.RoundTrip(req)
}

// control is the dialer's Control hook: it runs after name resolution,
// on the very address about to be connected to.
func control(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: cannot read address %q", ErrRefusedTarget, address)
	}
	if why := refusedReason(ap.Addr()); why != "" {
		return fmt.Errorf("%w: %s is %s", ErrRefusedTarget, ap.Addr(), why)
	}
	return nil
}

var refusedPrefixes = []struct {
	prefix netip.Prefix
	why    string
}{
	{netip.MustParsePrefix("0.0.0.0/8"), "\"this network\""},
	{netip.MustParsePrefix("10.0.0.0/8"), "private"},
	{netip.MustParsePrefix("100.64.0.0/10"), "carrier-grade NAT"},
	{netip.MustParsePrefix("127.0.0.0/8"), "loopback"},
	{netip.MustParsePrefix("169.254.0.0/16"), "link-local"},
	{netip.MustParsePrefix("172.16.0.0/12"), "private"},
	{netip.MustParsePrefix("192.0.0.0/24"), "reserved for protocol assignments"},
	{netip.MustParsePrefix("192.168.0.0/16"), "private"},
	{netip.MustParsePrefix("198.18.0.0/15"), "reserved for benchmarking"},
	{netip.MustParsePrefix("224.0.0.0/4"), "multicast"},
	{netip.MustParsePrefix("240.0.0.0/4"), "reserved"},
	{netip.MustParsePrefix("::/128"), "unspecified"},
	{netip.MustParsePrefix("::1/128"), "loopback"},
	// IPv6 forms that carry an IPv4 address, which a host may route to it.
	{netip.MustParsePrefix("::/96"), "IPv4-compatible (deprecated)"},
	{netip.MustParsePrefix("2002::/16"), "6to4"},
	{netip.MustParsePrefix("2001::/32"), "Teredo"},
	{netip.MustParsePrefix("64:ff9b:1::/48"), "local-use NAT64"},
	{netip.MustParsePrefix("100::/64"), "discard-only"},
	{netip.MustParsePrefix("fc00::/7"), "private"},
	{netip.MustParsePrefix("fe80::/10"), "link-local"},
	{netip.MustParsePrefix("ff00::/8"), "multicast"},
}

// nat64 is the well-known NAT64 prefix, which embeds an IPv4 address.
var nat64 = netip.MustParsePrefix("64:ff9b::/96")

// refusedReason says why an address may not be dialled, or "" if it may.
func refusedReason(a netip.Addr) string {
	a = a.Unmap()
	if a.Zone() != "" {
		return "scoped"
	}
	if a.Is6() && nat64.Contains(a) {
		b := a.As16()
		if why := refusedReason(netip.AddrFrom4([4]byte(b[12:]))); why != "" {
			return why + " (through NAT64)"
		}
	}
	for _, r := range refusedPrefixes {
		if r.prefix.Contains(a) {
			return r.why
		}
	}
	return ""
}

// Sender posts leads. Client is an *http.Client made by NewClient; a nil
// Client gets a new guarded client per call, without connection reuse.
type Sender struct {
	Client *http.Client
}

// Send renders, signs and posts one lead, bounded as a whole (connecting,
// sending and reading the answer) by the delivery's timeout, and judges
// the answer (see Judge). A body read that fails or times out after the
// status arrived is Transient: the post's MessageID lets the buyer drop
// the repeat. A lead that cannot be rendered for this buyer is Rejected
// with reason render.
//
// A Transient failure after the request was written in full (seen with
// httptrace's WroteRequest) sets Verdict.Unknown: the buyer may hold the
// lead. On a post with AfterUnknown, an answer that matches the
// delivery's duplicate rules is Accepted with reason duplicate.
func (s *Sender) Send(ctx context.Context, d *config.Delivery, p Post) Verdict {
	start := time.Now()
	req, err := Render(d, p)
	if err != nil {
		return Verdict{Outcome: Rejected, Reason: ReasonRender, Detail: err.Error()}
	}
	timeout := d.Timeout.D()
	if timeout <= 0 {
		timeout = config.DefaultDeliveryTimout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	// wrote: a request went out whole. The transport may call WroteRequest
	// more than once (it replays a request that was not written on a
	// reused connection that had closed) and from its own goroutine.
	var wrote atomic.Bool
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		WroteRequest: func(i httptrace.WroteRequestInfo) {
			if i.Err == nil {
				wrote.Store(true)
			}
		},
	})
	client := s.Client
	if client == nil {
		client = NewClient(false)
	}
	resp, err := client.Do(req.WithContext(ctx))
	if err != nil {
		v := judge(d, 0, nil, err, p.AfterUnknown)
		v.Unknown = v.Outcome == Transient && wrote.Load()
		v.Latency = time.Since(start)
		return v
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponseBytes))
	if err == nil {
		// Drain a little more so the connection can be reused; a longer
		// answer costs its connection.
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, MaxResponseBytes))
	}
	resp.Body.Close()
	v := judge(d, resp.StatusCode, body, err, p.AfterUnknown)
	// A status came, so the request was written; if its body could not be
	// read, the answer is unknown.
	v.Unknown = err != nil && v.Outcome == Transient
	v.Latency = time.Since(start)
	return v
}
