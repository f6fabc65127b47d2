package scoring

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/leadrelay/leadrelay/shared/config"
)

// Features names what the model reads from a lead: its source and sub-id,
// its US state (any field of type us_state), the local hour and weekday it
// arrived, the signals' values (email class, phone type, completeness
// bucket, velocity bucket, consent) and the value of each of the campaign's
// enum fields. Every feature is present or absent (a value of 1 or 0):
//
//	src=<source>            sub=<source>/<sub-id>  state=<XX>
//	hour=<00-23>            weekday=<0-6> (0 is Sunday)
//	email=<class>           phone=<type>           complete=<bucket>
//	velocity=<bucket>       consent=<present|missing>
//	f:<field>=<value>       (enum fields)
//
// The campaign's fields are read in name order, so the same lead always has
// the same features in the same order.
func Features(in Input, sigs []Signal) []string {
	out := make([]string, 0, 12)
	if in.Source != "" {
		out = append(out, "src="+in.Source)
		if in.SubID != "" {
			out = append(out, "sub="+in.Source+"/"+in.SubID)
		}
	}
	zone := in.Zone
	if zone == nil {
		zone = time.UTC
	}
	local := in.At.In(zone)
	out = append(out, "hour="+twoDigits(local.Hour()), "weekday="+strconv.Itoa(int(local.Weekday())))
	// The model reads each signal's value, not its points, so it learns its
	// own weight for each; "hour" comes from the lead's time, with its
	// weekday.
	for _, s := range sigs {
		if s.Value == "" {
			continue
		}
		switch s.Name {
		case "phone_type":
			out = append(out, "phone="+s.Value)
		case "email_domain":
			out = append(out, "email="+s.Value)
		case "completeness":
			out = append(out, "complete="+completeBucket(s.Value))
		case "velocity":
			out = append(out, "velocity="+s.Value)
		case "consent":
			out = append(out, "consent="+s.Value)
		}
	}
	if in.Campaign == nil || len(in.Fields) == 0 {
		return out
	}
	var names [16]string
	read := names[:0]
	for name, f := range in.Campaign.Fields {
		if f.Type == config.TypeEnum || f.Type == config.TypeUSState {
			read = append(read, name)
		}
	}
	slices.Sort(read)
	for _, name := range read {
		v, ok := in.Fields[name].(string)
		if !ok || v == "" {
			continue
		}
		if in.Campaign.Fields[name].Type == config.TypeUSState {
			out = append(out, "state="+strings.ToUpper(v))
		} else {
			out = append(out, "f:"+name+"="+v)
		}
	}
	return out
}

// completeBucket buckets the completeness signal's fraction ("0.83"): "1"
// for every declared field present, then "0.75", "0.5" and "0" for at least
// three quarters, at least half, and less.
func completeBucket(v string) string {
	f, err := strconv.ParseFloat(v, 64)
	switch {
	case err != nil:
		return "unknown"
	case f >= 1:
		return "1"
	case f >= 0.75:
		return "0.75"
	case f >= 0.5:
		return "0.5"
	}
	return "0"
}

// twoDigits formats an hour as the hour signal does: "00" to "23".
func twoDigits(n int) string {
	return string([]byte{byte('0' + n/10), byte('0' + n%10)})
}
