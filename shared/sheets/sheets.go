// Package sheets delivers leads to Google Sheets, for buyers whose
// delivery is {type: sheets, spreadsheet_id, range, credentials, fields}:
// one row per sold lead, appended with the Sheets API's values.append
// (valueInputOption=RAW: a value is written as it is, never parsed as a
// formula, a number or a date), as a service account whose JSON key the
// credentials reference (token.go: the JWT bearer flow, on the standard
// library). It is a delivery Poster: the delivery handler judges its
// verdict like a webhook's.
//
// # One row per lead
//
// values.append is not idempotent: the same request twice adds two rows.
// A lead reaches Send again after an attempt that may have appended it:
// SQS delivers its message again (at least once; after a crash or a
// Lambda timeout; after the sale's write failed), or a retry follows an
// append that timed out or got a 5xx, which Google may have applied. So
// the lead id is always in the row (row.go), and a post that may be such
// a repeat (webhook.Post.Repeat or AfterUnknown, or a retry within Send
// after an ambiguous failure) first reads the lead-id column of the range
// back (values.get) and appends only if the lead's id is not there; if it
// is, the lead is accepted (reason row_found) without a second row.
//
// The read-back, rather than a marker item in DynamoDB, because the sheet
// is the only place that knows whether an append landed: a marker written
// before the append cannot tell a landed append from a lost one, and one
// written after it is missing exactly when it is needed (the crash between
// the two). A first attempt of a first receipt appends without reading,
// so the read costs a request only on repeats. What it cannot see: two
// copies of one message appending at the same moment, which takes SQS
// handing the message out again while the first copy is still appending,
// inside the queue's visibility timeout (six times the function's); and
// a buyer who deletes or edits the lead-id cell before the repeat.
package sheets

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/leadrelay/leadrelay/shared/backoff"
	"github.com/leadrelay/leadrelay/shared/config"
	"github.com/leadrelay/leadrelay/shared/webhook"
)

// Reasons a Sheets verdict gives besides the webhook ones (status_2xx,
// status_4xx, status_5xx, timeout, connection, render).
const (
	// ReasonRowFound: the lead's row was already in the sheet (Accepted).
	ReasonRowFound = "row_found"
	// ReasonCredentials: the credentials could not be read (Transient) or
	// are not a service account's key (Rejected).
	ReasonCredentials = "credentials"
	// ReasonCredentialsRefused: Google's token endpoint refused the key.
	ReasonCredentialsRefused = "credentials_refused"
	// ReasonTokenAnswer: the token endpoint's answer had no token.
	ReasonTokenAnswer = "token_answer"
	// ReasonRange: the delivery's range is not one (config checks it).
	ReasonRange = "range"
)

// MaxTries bounds the requests of one Send that Sheets answers 429 or
// 5xx, or does not answer: each waits the attempt's backoff (shared/
// backoff), or longer if Google says Retry-After, while the delivery's
// timeout leaves room for one more; then the verdict is transient and the
// delivery queue's own backoff takes over.
const MaxTries = 3

// minRequest is the time a request needs for a retry to be worth it.
const minRequest = time.Second

// Limits on what is read of an answer: an append's or a token's, and a
// read-back's (the lead-id column of the whole table: 16 MiB is some
// 400,000 rows).
const (
	maxAnswer   = 64 << 10
	maxReadBack = 16 << 20
)

// Sender appends leads to buyers' sheets. Its zero value is not usable:
// set SheetsURL, TokenURL and Credentials. Safe for concurrent use; it
// keeps each service account's access token until TokenSlack before it
// expires.
type Sender struct {
	// SheetsURL is the Sheets API's base URL, without the version
	// (settings.SheetsURL); TokenURL is Google's OAuth 2.0 token endpoint
	// (settings.GoogleTokenURL), which is also the audience of the
	// assertions.
	SheetsURL string
	TokenURL  string
	// Credentials returns the value of an ssm: reference: a service
	// account's JSON key.
	Credentials func(ctx context.Context, ref string) (string, error)
	// Client sends the requests (NewClient; nil: http.DefaultClient).
	Client *http.Client
	// Now is the clock of the assertions and the tokens' lifetimes (nil:
	// time.Now).
	Now func() time.Time
	// Jitter returns a random duration in [0, d) (nil: math/rand/v2).
	Jitter func(d time.Duration) time.Duration
	Log    *slog.Logger

	accounts accounts
}

// UserAgent is sent with every request to Google.
const UserAgent = "LeadRelay-Sheets/1"

// NewClient returns the client for Google's APIs: connections kept alive
// between deliveries, no redirect followed (a 3xx is judged as an
// answer, as a buyer's is). Each request's deadline is its context's.
func NewClient() *http.Client {
	return &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// target is where one delivery's rows go.
type target struct {
	base, spreadsheet, rawRange string
}

func (t target) appendURL() string {
	return t.base + "/v4/spreadsheets/" + url.PathEscape(t.spreadsheet) + "/values/" + url.PathEscape(t.rawRange) +
		":append?valueInputOption=RAW&insertDataOption=INSERT_ROWS"
}

func (t target) readURL(column string) string {
	return t.base + "/v4/spreadsheets/" + url.PathEscape(t.spreadsheet) + "/values/" + url.PathEscape(column) + "?majorDimension=COLUMNS"
}

// Send appends the lead's row to the buyer's sheet, bounded as a whole
// (token, read-back, append, retries) by the delivery's timeout, and
// judges Google's answers as a buyer's are judged: 2xx accepted; 429, 408
// and 5xx transient (retried within Send while the timeout allows); other
// 4xx rejected, with Google's message (a 403: the sheet is not shared with
// the service account); no answer transient, and unknown if the append
// was written in full and nothing since showed it did not land. A repeat
// reads the sheet back first (see the package's comment).
func (s *Sender) Send(ctx context.Context, d *config.Delivery, p webhook.Post) webhook.Verdict {
	start := time.Now()
	v := s.send(ctx, d, p)
	v.Latency = time.Since(start)
	return v
}

func (s *Sender) send(ctx context.Context, d *config.Delivery, p webhook.Post) webhook.Verdict {
	if p.Lead == nil {
		return webhook.Verdict{Outcome: webhook.Rejected, Reason: webhook.ReasonRender, Detail: "sheets: the post has no lead"}
	}
	rng, err := config.ParseSheetRange(d.Range)
	if err != nil {
		return webhook.Verdict{Outcome: webhook.Rejected, Reason: ReasonRange, Detail: err.Error()}
	}
	row, idCol, err := Row(d.Fields, p)
	if err != nil {
		return webhook.Verdict{Outcome: webhook.Rejected, Reason: webhook.ReasonRender, Detail: err.Error()}
	}
	timeout := d.Timeout.D()
	if timeout <= 0 {
		timeout = config.DefaultDeliveryTimout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	acct, verdict := s.account(ctx, d.Credentials)
	if verdict != nil {
		return *verdict
	}
	t := target{base: strings.TrimSuffix(s.SheetsURL, "/"), spreadsheet: d.SpreadsheetID, rawRange: d.Range}
	log := s.log().With("lead_id", p.Lead.ID, "spreadsheet_id", d.SpreadsheetID)
	job := &appendJob{t: t, acct: acct, row: row, leadID: p.Lead.ID, idColumn: rng.Column(idCol), check: p.Repeat || p.AfterUnknown}
	for try := 1; ; try++ {
		o := s.try(ctx, job)
		v := o.v
		if v.Outcome != webhook.Transient || try >= MaxTries {
			v.Unknown = v.Outcome == webhook.Transient && job.unknown
			return v
		}
		wait := max(backoff.Wait(try, s.jitter), o.retryAfter)
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait+minRequest {
			v.Unknown = job.unknown
			return v
		}
		log.InfoContext(ctx, "sheets: will try again", "try", try, "reason", v.Reason, "status", v.Status, "wait_ms", wait.Milliseconds(), "check_first", job.check)
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			v.Unknown = job.unknown
			return v
		}
	}
}

// account reads the delivery's credentials and returns their service
// account. A read that fails is transient (SSM may answer later); a value
// that is not a service account's key is a rejection.
func (s *Sender) account(ctx context.Context, ref string) (*account, *webhook.Verdict) {
	if s.Credentials == nil {
		return nil, &webhook.Verdict{Outcome: webhook.Rejected, Reason: ReasonCredentials, Detail: "sheets: no reader of credentials is configured"}
	}
	raw, err := s.Credentials(ctx, ref)
	if err != nil {
		return nil, &webhook.Verdict{Outcome: webhook.Transient, Reason: ReasonCredentials, Detail: fmt.Sprintf("read the credentials %s: %v", ref, err)}
	}
	a, err := s.accounts.get(ref, raw)
	if err != nil {
		return nil, &webhook.Verdict{Outcome: webhook.Rejected, Reason: ReasonCredentials, Detail: fmt.Sprintf("the credentials %s: %v", ref, err)}
	}
	return a, nil
}

// appendJob is one lead's append, across the tries of one Send.
type appendJob struct {
	t        target
	acct     *account
	row      []any
	leadID   string
	idColumn string // the lead-id column of the range, A1
	// check: the row may be in the sheet already; read back before
	// appending.
	check bool
	// unknown: an append was written in full and never answered, and no
	// read-back since showed the row missing.
	unknown bool
}

// outcome is what one try came to.
type outcome struct {
	v          webhook.Verdict
	retryAfter time.Duration
}

// try makes one try: the read-back if the row may be there, then the
// append.
func (s *Sender) try(ctx context.Context, j *appendJob) outcome {
	if j.check {
		found, o, ok := s.landed(ctx, j)
		if !ok {
			return o
		}
		if found {
			return outcome{v: webhook.Verdict{Outcome: webhook.Accepted, Reason: ReasonRowFound, Status: http.StatusOK,
				Detail: fmt.Sprintf("the lead's row is already in %s: an earlier attempt appended it", j.idColumn)}}
		}
		j.unknown = false // read back: no earlier append landed
	}
	body, err := json.Marshal(map[string]any{"majorDimension": "ROWS", "values": [][]any{j.row}})
	if err != nil {
		return outcome{v: webhook.Verdict{Outcome: webhook.Rejected, Reason: webhook.ReasonRender, Detail: fmt.Sprintf("sheets: the row: %v", err)}}
	}
	res, verdict := s.authorized(ctx, j.acct, http.MethodPost, j.t.appendURL(), body, maxAnswer)
	if verdict != nil {
		return outcome{v: *verdict}
	}
	v := judged("Google Sheets", res.status, res.body, res.err)
	switch {
	case v.Outcome == webhook.Accepted:
		var a struct {
			Updates struct {
				UpdatedRange string `json:"updatedRange"`
			} `json:"updates"`
		}
		if json.Unmarshal(res.body, &a) == nil && a.Updates.UpdatedRange != "" {
			v.BuyerLeadID = a.Updates.UpdatedRange
			v.Detail = "appended to " + a.Updates.UpdatedRange
		}
	case v.Outcome == webhook.Transient && res.wrote && (res.err != nil || res.status >= 500):
		// Google may have applied it: look before appending again.
		j.check = true
		j.unknown = j.unknown || res.err != nil
	}
	s.hint(&v, j)
	return outcome{v: v, retryAfter: retryAfter(res.header, s.now())}
}

// landed reads the range's lead-id column back and reports whether the
// lead's id is in it; ok is false when it could not tell (o says why).
func (s *Sender) landed(ctx context.Context, j *appendJob) (found bool, o outcome, ok bool) {
	res, verdict := s.authorized(ctx, j.acct, http.MethodGet, j.t.readURL(j.idColumn), nil, maxReadBack)
	if verdict != nil {
		return false, outcome{v: *verdict}, false
	}
	if res.err != nil || res.status != http.StatusOK {
		v := judged("Google Sheets", res.status, res.body, res.err)
		if v.Outcome == webhook.Accepted { // a 2xx other than 200
			v.Outcome, v.Reason = webhook.Transient, webhook.ReasonStatusOther
		}
		v.Detail = "read the sheet back: " + v.Detail
		s.hint(&v, j)
		return false, outcome{v: v, retryAfter: retryAfter(res.header, s.now())}, false
	}
	var got struct {
		Values [][]any `json:"values"`
	}
	if err := json.Unmarshal(res.body, &got); err != nil {
		return false, outcome{v: webhook.Verdict{Outcome: webhook.Transient, Reason: webhook.ReasonStatusOther, Status: res.status,
			Detail: "read the sheet back: Google Sheets answered 200 with a body that is not its values"}}, false
	}
	for _, col := range got.Values {
		for _, c := range col {
			if c == j.leadID {
				s.log().InfoContext(ctx, "sheets: the lead's row is already in the sheet", "lead_id", j.leadID, "column", j.idColumn)
				return true, outcome{}, true
			}
		}
	}
	return false, outcome{}, true
}

// hint adds what to do about the refusals an operator can fix.
func (s *Sender) hint(v *webhook.Verdict, j *appendJob) {
	switch v.Status {
	case http.StatusForbidden:
		v.Detail += fmt.Sprintf(" (share the spreadsheet with %s as an Editor)", j.acct.email)
	case http.StatusNotFound:
		v.Detail += fmt.Sprintf(" (no spreadsheet %s: check spreadsheet_id)", j.t.spreadsheet)
	}
}

// answer is one of Google's answers.
type answer struct {
	status int
	header http.Header
	body   []byte
	err    error
	// wrote: the request went out whole (the answer, or its absence,
	// is about a request Google may have acted on).
	wrote bool
}

// authorized makes a request with the account's access token; a 401 (the
// token revoked or expired early) gets a new token and one more request.
// A token that cannot be had is a verdict.
func (s *Sender) authorized(ctx context.Context, a *account, method, u string, body []byte, limit int64) (answer, *webhook.Verdict) {
	for i := 0; ; i++ {
		tok, verdict := s.accessToken(ctx, a)
		if verdict != nil {
			return answer{}, verdict
		}
		ctype := ""
		if body != nil {
			ctype = "application/json"
		}
		res := s.call(ctx, method, u, tok, ctype, body, limit)
		if res.err == nil && res.status == http.StatusUnauthorized && i == 0 {
			s.forget(ctx, a, tok)
			continue
		}
		return res, nil
	}
}

// call makes one request and reads up to limit bytes of its answer.
func (s *Sender) call(ctx context.Context, method, u, token, ctype string, body []byte, limit int64) answer {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, r)
	if err != nil {
		return answer{err: err}
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	req.Header.Set("User-Agent", UserAgent)
	var wrote atomic.Bool
	req = req.WithContext(httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		WroteRequest: func(i httptrace.WroteRequestInfo) {
			if i.Err == nil {
				wrote.Store(true)
			}
		},
	}))
	client := s.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return answer{err: err, wrote: wrote.Load()}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err == nil && int64(len(b)) > limit {
		err = fmt.Errorf("the answer is over %d bytes", limit)
	}
	return answer{status: resp.StatusCode, header: resp.Header, body: b, err: err, wrote: true}
}

// judged is the verdict on one of Google's answers (what names the
// service), as a buyer's answer is judged, with Google's error message.
func judged(what string, status int, body []byte, err error) webhook.Verdict {
	v := webhook.Judge(&config.Delivery{}, status, body, err)
	if err != nil {
		v.Detail = what + ": " + v.Detail
		return v
	}
	v.Detail = fmt.Sprintf("%s answered %d %s", what, status, http.StatusText(status))
	if msg := googleError(body); msg != "" {
		v.Detail += ": " + msg
	}
	return v
}

// googleError reads the message of a Google error: the APIs'
// {"error": {"status", "message"}} or OAuth's {"error", "error_description"}.
func googleError(body []byte) string {
	var api struct {
		Error struct {
			Status  string `json:"status"`
			Message string `json:"message"`
		} `json:"error"`
	}
	var oauth struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	var parts []string
	switch {
	case json.Unmarshal(body, &api) == nil && api.Error.Message != "":
		parts = []string{api.Error.Status, api.Error.Message}
	case json.Unmarshal(body, &oauth) == nil && oauth.Error != "":
		parts = []string{oauth.Error, oauth.Description}
	default:
		return ""
	}
	msg := strings.Join(parts, ": ")
	msg = strings.TrimPrefix(strings.TrimSuffix(msg, ": "), ": ")
	if len(msg) > 300 {
		msg = strings.ToValidUTF8(msg[:300], "") + "…"
	}
	return msg
}

// retryAfter reads a Retry-After header: seconds, or an HTTP date.
func retryAfter(h http.Header, now time.Time) time.Duration {
	v := h.Get("Retry-After")
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil && n > 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

func (s *Sender) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Sender) jitter(d time.Duration) time.Duration {
	if s.Jitter != nil {
		return s.Jitter(d)
	}
	return rand.N(d)
}

func (s *Sender) log() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.New(slog.DiscardHandler)
}
