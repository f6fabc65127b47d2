package ingest

import (
	_ "embed"
	"fmt"
	"strconv"
	"strings"
	"sync"
)

// areaCodesText is the US area codes by state (areacodes.txt): one line a
// state, DC or territory, its USPS code then its area codes.
//
//go:embed areacodes.txt
var areaCodesText string

// areaStates is the state of each US area code (indexed by the area code;
// "" for those of Canada, the Caribbean nations and non-geographic codes).
var areaStates = sync.OnceValue(func() *[1000]string {
	t, err := parseAreaCodes(areaCodesText)
	if err != nil {
		panic(err) // areacodes.txt is ours: TestAreaCodes reads it
	}
	return t
})

// parseAreaCodes reads areacodes.txt: "TX 210 214 …" lines, # comments.
func parseAreaCodes(text string) (*[1000]string, error) {
	var t [1000]string
	for i, line := range strings.Split(text, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		st := f[0]
		if len(st) != 2 || strings.ToUpper(st) != st || len(f) < 2 {
			return nil, fmt.Errorf("areacodes.txt line %d: want a state code and its area codes: %q", i+1, line)
		}
		for _, c := range f[1:] {
			n, err := strconv.Atoi(c)
			if err != nil || len(c) != 3 || n < 200 {
				return nil, fmt.Errorf("areacodes.txt line %d: %q is not an area code", i+1, c)
			}
			if t[n] != "" {
				return nil, fmt.Errorf("areacodes.txt line %d: area code %s is %s's already", i+1, c, t[n])
			}
			t[n] = st
		}
	}
	return &t, nil
}

// areaCodeState is the US state (USPS code) of a North American number's
// area code — "+15125550101" is TX — or "" when the number is not one
// (E.164, +1 and ten digits) or its area code is not a US state's, DC's
// or a US territory's (Canada, the Caribbean nations, toll-free).
func areaCodeState(e164 string) string {
	digits, ok := strings.CutPrefix(e164, "+1")
	if !ok || len(digits) != 10 {
		return ""
	}
	for i := range len(digits) {
		if digits[i] < '0' || digits[i] > '9' {
			return ""
		}
	}
	n, _ := strconv.Atoi(digits[:3])
	return areaStates()[n]
}
