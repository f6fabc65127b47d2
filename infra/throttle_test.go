package main

import (
	"fmt"
	"testing"
)

// The stage throttles each route on its own: the admin API, status polls,
// returns and pings cannot starve the leads, nor the leads them; and every
// limited route is one the API serves.
func TestRouteThrottles(t *testing.T) {
	f := synthDefault(t)
	_, stage := f.onlyResource(t, "AWS::ApiGateway::Stage", "ApiDeploymentStage")
	settings := map[string]map[string]any{}
	for _, s := range asList(props(stage)["MethodSettings"]) {
		m := s.(map[string]any)
		settings[fmt.Sprint(m["ResourcePath"], " ", m["HttpMethod"])] = m
	}
	all := settings["/* *"]
	if all == nil || number(t, all["ThrottlingRateLimit"]) != stageRateLimit {
		t.Fatalf("stage-wide settings %v", all)
	}
	for route, rate := range routeRateLimits {
		// "/v1/leads/POST" is path "/v1/leads", method POST; CloudFormation
		// escapes "/" in the path as "~1".
		path, method := route[:len(route)-len(lastSegment(route))-1], lastSegment(route)
		key := "/" + escapePath(path) + " " + method
		got := settings[key]
		if got == nil {
			t.Errorf("route %s: no method settings (have %v)", route, keys(settings))
			continue
		}
		if number(t, got["ThrottlingRateLimit"]) != rate || number(t, got["ThrottlingBurstLimit"]) != 2*rate {
			t.Errorf("route %s: %v, want %v a second", route, got, rate)
		}
		if rate >= stageRateLimit {
			t.Errorf("route %s may take the whole stage", route)
		}
	}
	if routeRateLimits["/v1/admin/{proxy+}/*"] >= routeRateLimits["/v1/leads/POST"] {
		t.Error("the admin API's limit is meant to be well below the leads'")
	}
}

func lastSegment(s string) string {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == '/' {
			return s[i+1:]
		}
	}
	return s
}

func escapePath(p string) string {
	out := ""
	for _, c := range p {
		if c == '/' {
			out += "~1"
		} else {
			out += string(c)
		}
	}
	return out
}

func keys(m map[string]map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
