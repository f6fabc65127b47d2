// Package sheetstest is a fake Google Sheets API and token endpoint on
// loopback, for tests of Sheets delivery: it issues access tokens only for
// assertions signed with the key of a service account it made (an RSA key
// generated for the test) and holds the sheets' rows in memory. It
// answers values.append (RAW only) and values.get (a column, read back),
// and it can be told to fail.
package sheetstest

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/leadrelay/leadrelay/shared/config"
)

// Identity of the fake's service account and spreadsheet.
const (
	ClientEmail   = "leadrelay@leads-project.iam.gserviceaccount.com"
	KeyID         = "0123456789abcdef0123456789abcdef01234567"
	SpreadsheetID = "1FakeSheet_0123456789-abcdefghijklmnopqrstu"
	Scope         = "https://www.googleapis.com/auth/spreadsheets"
)

// Fault is how the fake answers one request instead of the usual way.
type Fault struct {
	// Status is the status to answer (0: the usual answer).
	Status int
	// RetryAfter is the Retry-After header to send with it.
	RetryAfter string
	// Apply appends the row all the same before answering Status (an
	// append Google applied and then failed to confirm).
	Apply bool
	// Delay holds the answer this long (after applying the row, if the
	// request is an append): longer than the client waits, it is an
	// append written and never answered.
	Delay time.Duration
}

// Fake is the fake API. Its URLs are SheetsURL and TokenURL.
type Fake struct {
	SheetsURL string
	TokenURL  string
	// Key is the service account's private key; KeyJSON its JSON key file.
	Key     *rsa.PrivateKey
	KeyJSON string

	srv *httptest.Server
	now func() time.Time

	mu     sync.Mutex
	sheets map[string][][]any // by sheet name: rows from column A
	tokens map[string]time.Time
	denied bool
	faults map[string][]Fault // by kind: append, read, token
	counts map[string]int     // requests by kind
	bad    []string           // why assertions or requests were refused
}

// New starts a fake with a new 2048-bit RSA key, closed when the test ends.
func New(t testing.TB) *Fake {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	f := &Fake{Key: key, now: time.Now, sheets: map[string][][]any{}, tokens: map[string]time.Time{}, faults: map[string][]Fault{}, counts: map[string]int{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	f.SheetsURL, f.TokenURL = f.srv.URL, f.srv.URL+"/token"
	b, _ := json.Marshal(map[string]string{
		"type": "service_account", "project_id": "leads-project", "private_key_id": KeyID,
		"private_key":  string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"client_email": ClientEmail, "client_id": "100000000000000000001",
		"auth_uri": "https://accounts.google.com/o/oauth2/auth", "token_uri": "https://oauth2.googleapis.com/token",
	})
	f.KeyJSON = string(b)
	return f
}

// Fail makes the next requests of a kind ("append", "read" or "token")
// answer with the faults, one each, in order.
func (f *Fake) Fail(kind string, faults ...Fault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.faults[kind] = append(f.faults[kind], faults...)
}

// Deny makes the spreadsheet refuse the service account (403), as one not
// shared with it does.
func (f *Fake) Deny(denied bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.denied = denied
}

// SetNow sets the fake's clock, which judges the assertions' times.
func (f *Fake) SetNow(now func() time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = now
}

// Revoke makes every access token issued so far invalid (401).
func (f *Fake) Revoke() {
	f.mu.Lock()
	defer f.mu.Unlock()
	clear(f.tokens)
}

// Rows returns the rows of a sheet, each from column A; numbers are
// json.Number.
func (f *Fake) Rows(sheet string) [][]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([][]any, len(f.sheets[sheet]))
	for i, r := range f.sheets[sheet] {
		out[i] = append([]any(nil), r...)
	}
	return out
}

// SetRows replaces a sheet's rows (a header row, say).
func (f *Fake) SetRows(sheet string, rows ...[]any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sheets[sheet] = rows
}

// Requests returns how many requests of a kind ("append", "read",
// "token") came.
func (f *Fake) Requests(kind string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.counts[kind]
}

// Refused returns why the fake refused assertions or requests that a
// correct client never sends.
func (f *Fake) Refused() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.bad...)
}

func (f *Fake) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/token" {
		f.token(w, r)
		return
	}
	rest, ok := strings.CutPrefix(r.URL.EscapedPath(), "/v4/spreadsheets/")
	idEsc, rngEsc, ok2 := strings.Cut(rest, "/values/")
	if !ok || !ok2 {
		googleError(w, http.StatusNotFound, "NOT_FOUND", "no such method")
		return
	}
	kind := "read"
	if r.Method == http.MethodPost {
		kind = "append"
		if rngEsc, ok = strings.CutSuffix(rngEsc, ":append"); !ok {
			googleError(w, http.StatusNotFound, "NOT_FOUND", "no such method")
			return
		}
	}
	id, err1 := url.PathUnescape(idEsc)
	rng, err2 := url.PathUnescape(rngEsc)
	if err1 != nil || err2 != nil {
		googleError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "bad path")
		return
	}
	f.mu.Lock()
	f.counts[kind]++
	fault := f.fault(kind)
	_, tokenOK := f.tokens[strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")]
	denied := f.denied
	f.mu.Unlock()
	switch {
	case !tokenOK:
		googleError(w, http.StatusUnauthorized, "UNAUTHENTICATED", "Request had invalid authentication credentials.")
		return
	case id != SpreadsheetID:
		googleError(w, http.StatusNotFound, "NOT_FOUND", "Requested entity was not found.")
		return
	case denied:
		googleError(w, http.StatusForbidden, "PERMISSION_DENIED", "The caller does not have permission")
		return
	case fault.Status != 0 && !fault.Apply:
		time.Sleep(fault.Delay)
		if fault.RetryAfter != "" {
			w.Header().Set("Retry-After", fault.RetryAfter)
		}
		googleError(w, fault.Status, statusCode(fault.Status), "injected")
		return
	}
	if kind == "read" {
		f.read(w, r, rng)
	} else {
		f.append(w, r, rng, fault)
	}
}

func (f *Fake) fault(kind string) Fault {
	q := f.faults[kind]
	if len(q) == 0 {
		return Fault{}
	}
	f.faults[kind] = q[1:]
	return q[0]
}

func (f *Fake) refuse(w http.ResponseWriter, status int, code, msg string) {
	f.mu.Lock()
	f.bad = append(f.bad, msg)
	f.mu.Unlock()
	googleError(w, status, code, msg)
}

// append adds the body's row after the sheet's last, as values.append
// with insertDataOption=INSERT_ROWS does; only valueInputOption=RAW is
// taken, so the rows hold exactly what was sent.
func (f *Fake) append(w http.ResponseWriter, r *http.Request, rng string, fault Fault) {
	q := r.URL.Query()
	if q.Get("valueInputOption") != "RAW" || q.Get("insertDataOption") != "INSERT_ROWS" {
		f.refuse(w, http.StatusBadRequest, "INVALID_ARGUMENT", fmt.Sprintf("want valueInputOption=RAW and insertDataOption=INSERT_ROWS, got %q", r.URL.RawQuery))
		return
	}
	sr, err := config.ParseSheetRange(rng)
	if err != nil {
		f.refuse(w, http.StatusBadRequest, "INVALID_ARGUMENT", "Unable to parse range: "+rng)
		return
	}
	var body struct {
		MajorDimension string  `json:"majorDimension"`
		Values         [][]any `json:"values"`
	}
	dec := json.NewDecoder(r.Body)
	dec.UseNumber()
	if err := dec.Decode(&body); err != nil || len(body.Values) != 1 || (body.MajorDimension != "" && body.MajorDimension != "ROWS") {
		f.refuse(w, http.StatusBadRequest, "INVALID_ARGUMENT", "want one row of values")
		return
	}
	row := append(make([]any, sr.Col-1), body.Values[0]...)
	for i := 0; i < sr.Col-1; i++ {
		row[i] = ""
	}
	f.mu.Lock()
	f.sheets[sr.Sheet] = append(f.sheets[sr.Sheet], row)
	n := len(f.sheets[sr.Sheet])
	f.mu.Unlock()
	time.Sleep(fault.Delay)
	if fault.Status != 0 {
		googleError(w, fault.Status, statusCode(fault.Status), "injected after the append")
		return
	}
	updated := fmt.Sprintf("%s!%s%d:%s%d", sr.Sheet, config.ColumnName(sr.Col), n, config.ColumnName(len(row)), n)
	writeJSON(w, map[string]any{"spreadsheetId": SpreadsheetID, "updates": map[string]any{
		"spreadsheetId": SpreadsheetID, "updatedRange": updated, "updatedRows": 1, "updatedColumns": len(body.Values[0]), "updatedCells": len(body.Values[0]),
	}})
}

// read answers a column as values.get with majorDimension=COLUMNS does.
func (f *Fake) read(w http.ResponseWriter, r *http.Request, rng string) {
	first, last, ok := strings.Cut(rng, ":")
	sr, err := config.ParseSheetRange(first)
	if !ok || err != nil || config.ColumnNumber(strings.TrimRight(last, "0123456789")) != sr.Col || r.URL.Query().Get("majorDimension") != "COLUMNS" {
		f.refuse(w, http.StatusBadRequest, "INVALID_ARGUMENT", "want one column, majorDimension=COLUMNS: "+rng)
		return
	}
	f.mu.Lock()
	var col []any
	for i, row := range f.sheets[sr.Sheet] {
		if i+1 >= sr.Row && sr.Col-1 < len(row) {
			col = append(col, row[sr.Col-1])
		}
	}
	f.mu.Unlock()
	out := map[string]any{"range": rng, "majorDimension": "COLUMNS"}
	if len(col) > 0 {
		out["values"] = [][]any{col}
	}
	writeJSON(w, out)
}

// token checks the assertion as Google does — signed with the service
// account's key (RS256), for the Sheets scope, to this endpoint, for an
// hour from now — and issues an access token.
func (f *Fake) token(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.counts["token"]++
	fault := f.fault("token")
	f.mu.Unlock()
	if fault.Status != 0 {
		time.Sleep(fault.Delay)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(fault.Status)
		fmt.Fprint(w, `{"error":"internal_failure","error_description":"injected"}`)
		return
	}
	if err := r.ParseForm(); err != nil || r.PostForm.Get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer" {
		f.oauthError(w, "unsupported_grant_type", "Invalid grant_type: "+r.PostForm.Get("grant_type"))
		return
	}
	if why := f.checkAssertion(r.PostForm.Get("assertion")); why != "" {
		f.oauthError(w, "invalid_grant", why)
		return
	}
	tok := fmt.Sprintf("ya29.fake-%d", time.Now().UnixNano())
	f.mu.Lock()
	f.tokens[tok] = f.now().Add(time.Hour)
	f.mu.Unlock()
	writeJSON(w, map[string]any{"access_token": tok, "expires_in": 3599, "token_type": "Bearer"})
}

func (f *Fake) checkAssertion(jwt string) string {
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return "Invalid JWT: not three parts"
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return "Invalid JWT: signature is not base64url"
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPKCS1v15(&f.Key.PublicKey, crypto.SHA256, sum[:], sig); err != nil {
		return "Invalid JWT Signature."
	}
	var header struct{ Alg, Typ, Kid string }
	var claims struct {
		Iss, Scope, Aud string
		Iat, Exp        int64
	}
	if decode(parts[0], &header) != nil || decode(parts[1], &claims) != nil {
		return "Invalid JWT: header or claims are not JSON"
	}
	f.mu.Lock()
	now := f.now().Unix()
	f.mu.Unlock()
	switch {
	case header.Alg != "RS256" || header.Typ != "JWT" || header.Kid != KeyID:
		return fmt.Sprintf("Invalid JWT header %+v", header)
	case claims.Iss != ClientEmail:
		return "Invalid JWT: iss " + claims.Iss
	case claims.Scope != Scope:
		return "Invalid JWT: scope " + claims.Scope
	case claims.Aud != f.TokenURL:
		return "Invalid JWT: aud " + claims.Aud
	case claims.Exp-claims.Iat != 3600 || claims.Iat > now+300 || claims.Iat < now-300:
		return "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe."
	}
	return ""
}

func (f *Fake) oauthError(w http.ResponseWriter, code, desc string) {
	f.mu.Lock()
	f.bad = append(f.bad, code+": "+desc)
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusBadRequest)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": desc})
}

func decode(part string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(part)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

func googleError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"code": status, "message": msg, "status": code}})
}

// statusCode is the error status Google gives with an HTTP status.
func statusCode(status int) string {
	switch status {
	case http.StatusTooManyRequests:
		return "RESOURCE_EXHAUSTED"
	case http.StatusInternalServerError:
		return "INTERNAL"
	case http.StatusServiceUnavailable:
		return "UNAVAILABLE"
	}
	return strings.ToUpper(strings.ReplaceAll(http.StatusText(status), " ", "_"))
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	b, _ := json.Marshal(v)
	_, _ = w.Write(b)
}
