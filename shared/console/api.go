package console

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/aws/aws-lambda-go/events"

	"github.com/leadrelay/leadrelay/shared/httpapi"
	"github.com/leadrelay/leadrelay/shared/money"
)

// apiError is an admin API answer other than 2xx.
type apiError struct {
	Status  int
	Code    string
	Message string
	Fields  []httpapi.FieldProblem
}

func (e *apiError) Error() string {
	return fmt.Sprintf("admin API: %d %s: %s", e.Status, e.Code, e.Message)
}

// call sends one request to the admin API as the operator: the audit log
// names them ("console:<who>").
func (s *Server) call(ctx context.Context, op operator, method, path string, query url.Values, body string, headers map[string]string) (httpapi.Response, error) {
	req := httpapi.Request{
		HTTPMethod: method, Path: path, Resource: path, Body: body,
		Headers:                         map[string]string{"Accept": "application/json"},
		QueryStringParameters:           map[string]string{},
		MultiValueQueryStringParameters: map[string][]string{},
		RequestContext: events.APIGatewayProxyRequestContext{
			HTTPMethod: method, Path: path,
			Identity: events.APIGatewayRequestIdentity{UserArn: "console:" + op.sess.Who},
		},
	}
	if s.APIToken != "" {
		req.Headers["Authorization"] = "Bearer " + s.APIToken
	}
	for k, v := range headers {
		req.Headers[k] = v
	}
	for k, vs := range query {
		if len(vs) > 0 && vs[0] != "" {
			req.QueryStringParameters[k] = vs[0]
			req.MultiValueQueryStringParameters[k] = vs
		}
	}
	resp, err := s.API.Handle(ctx, req)
	if err != nil {
		return resp, fmt.Errorf("admin API %s %s: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		var eb httpapi.ErrorBody
		_ = json.Unmarshal([]byte(resp.Body), &eb)
		return resp, &apiError{Status: resp.StatusCode, Code: eb.Error.Code, Message: eb.Error.Message, Fields: eb.Error.Fields}
	}
	return resp, nil
}

// getJSON reads an admin route's JSON answer into out.
func (s *Server) getJSON(ctx context.Context, op operator, path string, query url.Values, out any) error {
	resp, err := s.call(ctx, op, http.MethodGet, path, query, "", nil)
	if err != nil {
		return err
	}
	if err := json.Unmarshal([]byte(resp.Body), out); err != nil {
		return fmt.Errorf("decode admin API %s: %w", path, err)
	}
	return nil
}

// postJSON sends a JSON body to an admin route and reads its answer into
// out (nil: ignored).
func (s *Server) postJSON(ctx context.Context, op operator, path string, in, out any) error {
	body := ""
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("encode admin API %s: %w", path, err)
		}
		body = string(b)
	}
	resp, err := s.call(ctx, op, http.MethodPost, path, nil, body, map[string]string{"Content-Type": "application/json"})
	if err != nil {
		return err
	}
	if out != nil {
		if err := json.Unmarshal([]byte(resp.Body), out); err != nil {
			return fmt.Errorf("decode admin API %s: %w", path, err)
		}
	}
	return nil
}

// apiFailure answers a failed admin call: the API's own refusal (its
// status, code and message), or 502 when it could not answer.
func (s *Server) apiFailure(ctx context.Context, req httpapi.Request, err error) httpapi.Response {
	var ae *apiError
	if errors.As(err, &ae) {
		msg := ae.Message
		for _, f := range ae.Fields {
			msg += fmt.Sprintf(" — %s: %s", f.Field, f.Message)
		}
		if ae.Code == "" {
			ae.Code = "api_error"
		}
		return s.fail(req, ae.Status, ae.Code, msg)
	}
	s.Log.ErrorContext(ctx, "console: admin API call", "error", err)
	return s.fail(req, http.StatusBadGateway, "unavailable", "The admin API could not answer; try again.")
}

// amount is a money figure as the admin API writes it: Raw keeps its
// exact decimal, Amount its value.
type amount struct {
	Raw    string
	Amount money.Amount
}

func (a *amount) UnmarshalJSON(b []byte) error {
	a.Raw = strings.Trim(string(b), `"`)
	return a.Amount.UnmarshalJSON(b)
}

// String writes the amount with two decimals ("84.50").
func (a amount) String() string { return a.Amount.String() }

// Float is the amount for charts.
func (a amount) Float() float64 { return float64(a.Amount) / 100 }
