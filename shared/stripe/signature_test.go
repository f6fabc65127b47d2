package stripe

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// testPayload is the body the vectors below sign.
const testPayload = `{"id":"evt_1","object":"event","type":"checkout.session.completed","created":1700000000,"livemode":false,"data":{"object":{"id":"cs_test_1","object":"checkout.session","customer":"cus_1","amount_total":5000,"currency":"usd","payment_status":"paid","mode":"payment","metadata":{"buyer_id":"b1"},"payment_intent":"pi_1"}}}`

// Signature vectors computed outside this code, with
//
//	python3 -c 'import hmac,hashlib;print(hmac.new(SECRET,b"T."+PAYLOAD,hashlib.sha256).hexdigest())'
//
// for PAYLOAD = testPayload and:
const (
	// SECRET=b"whsec_test", T=1700000000
	sigTest = "7fc242a74fea970f9adc1c56b7080445305c3cacf741b6f10499d6941ad336c5"
	// SECRET=b"whsec_old", T=1700000000
	sigOld = "72a6c3f66d0a14b98ba1d024859403c618d2d4c038e6a8e67a2d2817bc8814cc"
	// SECRET=b"whsec_test", T=1699999000 (1000 s before now)
	sigStale = "60befed37d39ad39249fc77653f3928b1d4e449f8488a754ac62fb6c24c91c4c"
	// SECRET=b"whsec_test", T=1700000400 (400 s after now)
	sigFuture = "8547a28f41a5429b7ccf8c7f5b35c9d1cf2cfb262ee1a23cd5fbf89d262d829f"
)

var testNow = time.Unix(1700000000, 0)

func TestVerifySignatureAccepts(t *testing.T) {
	cases := map[string]string{
		"one v1":                 "t=1700000000,v1=" + sigTest,
		"rolled secret, new 2nd": "t=1700000000,v1=" + sigOld + ",v1=" + sigTest,
		"rolled secret, new 1st": "t=1700000000,v1=" + sigTest + ",v1=" + sigOld,
		"with v0 and spaces":     " t=1700000000, v1=" + sigTest + ", v0=deadbeef ",
		"bad v1 among good":      "t=1700000000,v1=nothex,v1=abcd,v1=" + sigTest,
		"future scheme ignored":  "t=1700000000,v2=whatever,v1=" + sigTest,
		"upper-case hex":         "t=1700000000,v1=" + strings.ToUpper(sigTest),
	}
	for name, header := range cases {
		if err := VerifySignature([]byte(testPayload), header, "whsec_test", testNow, 0); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	// Within the tolerance either way.
	for _, now := range []time.Time{testNow.Add(5 * time.Minute), testNow.Add(-5 * time.Minute)} {
		if err := VerifySignature([]byte(testPayload), "t=1700000000,v1="+sigTest, "whsec_test", now, 0); err != nil {
			t.Errorf("at %s: %v", now.Sub(testNow), err)
		}
	}
	// A tolerance that covers the stale vector accepts it.
	if err := VerifySignature([]byte(testPayload), "t=1699999000,v1="+sigStale, "whsec_test", testNow, time.Hour); err != nil {
		t.Errorf("stale vector with an hour's tolerance: %v", err)
	}
}

func TestVerifySignatureRefuses(t *testing.T) {
	cases := []struct {
		name, header, secret, payload string
		want                          error
		code                          string
	}{
		{"no secret", "t=1700000000,v1=" + sigTest, "", testPayload, ErrNoSecret, CodeSignatureSecretMissing},
		{"no header", "", "whsec_test", testPayload, ErrNoSignature, CodeSignatureMissing},
		{"blank header", "   ", "whsec_test", testPayload, ErrNoSignature, CodeSignatureMissing},
		{"no timestamp", "v1=" + sigTest, "whsec_test", testPayload, ErrMalformedSignature, CodeSignatureMalformed},
		{"bad timestamp", "t=soon,v1=" + sigTest, "whsec_test", testPayload, ErrMalformedSignature, CodeSignatureMalformed},
		{"two timestamps", "t=1700000000,t=1700000000,v1=" + sigTest, "whsec_test", testPayload, ErrMalformedSignature, CodeSignatureMalformed},
		{"not key=value", "t=1700000000," + sigTest, "whsec_test", testPayload, ErrMalformedSignature, CodeSignatureMalformed},
		{"garbage", "garbage", "whsec_test", testPayload, ErrMalformedSignature, CodeSignatureMalformed},
		{"only v0", "t=1700000000,v0=" + sigTest, "whsec_test", testPayload, ErrNoV1Signature, CodeSignatureNoV1},
		{"wrong secret", "t=1700000000,v1=" + sigTest, "whsec_other", testPayload, ErrBadSignature, CodeSignatureMismatch},
		{"only the old secret's", "t=1700000000,v1=" + sigOld, "whsec_test", testPayload, ErrBadSignature, CodeSignatureMismatch},
		{"tampered payload", "t=1700000000,v1=" + sigTest, "whsec_test", strings.Replace(testPayload, "5000", "9000", 1), ErrBadSignature, CodeSignatureMismatch},
		{"timestamp swapped", "t=1700000001,v1=" + sigTest, "whsec_test", testPayload, ErrBadSignature, CodeSignatureMismatch},
		{"truncated v1", "t=1700000000,v1=" + sigTest[:62], "whsec_test", testPayload, ErrBadSignature, CodeSignatureMismatch},
		{"stale", "t=1699999000,v1=" + sigStale, "whsec_test", testPayload, ErrStaleTimestamp, CodeSignatureStale},
		{"future", "t=1700000400,v1=" + sigFuture, "whsec_test", testPayload, ErrStaleTimestamp, CodeSignatureStale},
	}
	for _, c := range cases {
		err := VerifySignature([]byte(c.payload), c.header, c.secret, testNow, 0)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, err, c.want)
		}
		if got := SignatureErrorCode(err); got != c.code {
			t.Errorf("%s: code %q, want %q", c.name, got, c.code)
		}
	}
	// A tighter tolerance than the default.
	err := VerifySignature([]byte(testPayload), "t=1700000000,v1="+sigTest, "whsec_test", testNow.Add(2*time.Minute), time.Minute)
	if !errors.Is(err, ErrStaleTimestamp) {
		t.Errorf("2 min late with a 1 min tolerance: %v", err)
	}
	if SignatureErrorCode(nil) != "" || SignatureErrorCode(errors.New("other")) != "" {
		t.Error("SignatureErrorCode of nil or a foreign error is not empty")
	}
}
