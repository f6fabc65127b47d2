package money

import (
	"encoding/json"
	"errors"
	"testing"

	"gopkg.in/yaml.v3"
)

func TestParse(t *testing.T) {
	cases := []struct {
		in   string
		want Amount
		err  error
	}{
		{"25", 2500, nil},
		{"25.00", 2500, nil},
		{"25.5", 2550, nil},
		{"0.05", 5, nil},
		{".5", 50, nil},
		{"-3.25", -325, nil},
		{"12.500", 1250, nil},
		{"12.505", 0, ErrPrecision},
		{"abc", 0, ErrSyntax},
		{"", 0, ErrSyntax},
		{"1e3", 0, ErrSyntax},
		{"1.2.3", 0, ErrSyntax},
	}
	for _, c := range cases {
		got, err := Parse(c.in)
		if !errors.Is(err, c.err) || got != c.want {
			t.Errorf("Parse(%q) = %v, %v; want %v, %v", c.in, got, err, c.want, c.err)
		}
	}
}

func TestParseRounded(t *testing.T) {
	cases := map[string]Amount{"12.505": 1251, "12.504": 1250, "-0.005": -1, "7": 700, "0.999": 100}
	for in, want := range cases {
		got, err := ParseRounded(in)
		if err != nil || got != want {
			t.Errorf("ParseRounded(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
}

func TestPercent(t *testing.T) {
	cases := []struct {
		a    Amount
		p    float64
		want Amount
	}{
		{2500, 60, 1500},
		{1999, 50, 1000}, // 9.995 rounds half away from zero
		{1, 50, 1},
		{1250, 62.5, 781}, // 7.8125
		{-1999, 50, -1000},
		{0, 60, 0},
	}
	for _, c := range cases {
		if got := c.a.Percent(c.p); got != c.want {
			t.Errorf("%v.Percent(%v) = %v; want %v", c.a, c.p, got, c.want)
		}
	}
}

func TestJSONRoundTrip(t *testing.T) {
	b, _ := json.Marshal(struct{ P Amount }{8450})
	if string(b) != `{"P":84.5}` {
		t.Fatalf("got %s", b)
	}
	var v struct{ P Amount }
	if err := json.Unmarshal([]byte(`{"P":"12.25"}`), &v); err != nil || v.P != 1225 {
		t.Fatalf("string: %v %v", v.P, err)
	}
	if err := json.Unmarshal([]byte(`{"P":0.1}`), &v); err != nil || v.P != 10 {
		t.Fatalf("number: %v %v", v.P, err)
	}
	if err := json.Unmarshal([]byte(`{"P":0.001}`), &v); err == nil {
		t.Fatal("want precision error")
	}
}

func TestYAML(t *testing.T) {
	var v struct {
		P Amount `yaml:"p"`
	}
	if err := yaml.Unmarshal([]byte("p: 25.10\n"), &v); err != nil || v.P != 2510 {
		t.Fatalf("got %v %v", v.P, err)
	}
	if err := yaml.Unmarshal([]byte("p: [1]\n"), &v); err == nil {
		t.Fatal("want error for a list")
	}
	out, _ := yaml.Marshal(v)
	if string(out) != "p: 25.10\n" {
		t.Fatalf("marshal: %q", out)
	}
}
