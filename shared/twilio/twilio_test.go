package twilio

import (
	"net/url"
	"testing"
)

// The vectors were computed outside Go, with Python's hmac module:
// base64(HMAC-SHA1(token, url + sorted name+value pairs)).
func TestSignatureMatchesTwiliosAlgorithm(t *testing.T) {
	for _, tc := range []struct {
		token, url string
		params     url.Values
		want       string
	}{
		{"12345", "https://mycompany.com/myapp.php?foo=1&bar=2", url.Values{
			"CallSid": {"CA1234567890ABCDE"}, "Caller": {"+12349013030"}, "Digits": {"1234"},
			"From": {"+12349013030"}, "To": {"+18005551212"},
		}, "0/KCTR6DLpKmkAf8muzZqo1nDgQ="},
		{"tok", "https://api.example.com/prod/v1/voice/dial-done?lead=L1&seq=1", url.Values{
			"DialCallStatus": {"completed"}, "DialCallDuration": {"95"},
		}, "Zq55XHKQWDZnhKdY3kk52rYUhAk="},
	} {
		if got := Signature(tc.token, tc.url, tc.params); got != tc.want {
			t.Errorf("Signature(%s) = %s, want %s", tc.url, got, tc.want)
		}
		if !Valid(tc.token, tc.url, tc.params, tc.want) {
			t.Errorf("Valid(%s) = false", tc.url)
		}
	}
}

func TestValidRefuses(t *testing.T) {
	u := "https://api.example.com/prod/v1/voice/dial-done?lead=L1&seq=1"
	p := url.Values{"DialCallStatus": {"completed"}, "DialCallDuration": {"95"}}
	good := "Zq55XHKQWDZnhKdY3kk52rYUhAk="
	if !Valid("tok", "https://api.example.com:443/prod/v1/voice/dial-done?lead=L1&seq=1", p, good) {
		t.Error("the URL with its default port written out is the same URL")
	}
	for name, ok := range map[string]bool{
		"other token":  Valid("tok2", u, p, good),
		"other value":  Valid("tok", u, url.Values{"DialCallStatus": {"completed"}, "DialCallDuration": {"950"}}, good),
		"other path":   Valid("tok", "https://api.example.com/v1/voice/dial-done?lead=L1&seq=1", p, good),
		"no signature": Valid("tok", u, p, ""),
		"no token":     Valid("", u, p, good),
		"other seq":    Valid("tok", "https://api.example.com/prod/v1/voice/dial-done?lead=L1&seq=2", p, good),
	} {
		if ok {
			t.Errorf("%s: valid", name)
		}
	}
}

func TestTwiML(t *testing.T) {
	r := Response{Verbs: []any{
		Say{Text: "Connecting you <now> & then"},
		Dial{Action: "https://x/v1/voice/dial-done?lead=L&seq=1", Timeout: 20, Record: "record-from-answer-dual",
			Number: Number{StatusCallback: "https://x/v1/voice/status?lead=L", StatusCallbackEvent: "initiated ringing answered completed", Phone: "+15005550006"}},
		Gather{Action: "https://x/v1/voice/incoming", Input: "dtmf", NumDigits: 5, Timeout: 8, Say: Say{Text: "Your ZIP?"}},
		Hangup{},
	}}
	want := `<?xml version="1.0" encoding="UTF-8"?>` + "\n" +
		`<Response><Say>Connecting you &lt;now&gt; &amp; then</Say>` +
		`<Dial action="https://x/v1/voice/dial-done?lead=L&amp;seq=1" timeout="20" record="record-from-answer-dual">` +
		`<Number statusCallback="https://x/v1/voice/status?lead=L" statusCallbackEvent="initiated ringing answered completed">+15005550006</Number></Dial>` +
		`<Gather action="https://x/v1/voice/incoming" input="dtmf" numDigits="5" timeout="8"><Say>Your ZIP?</Say></Gather>` +
		`<Hangup></Hangup></Response>`
	if got := r.Marshal(); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}
