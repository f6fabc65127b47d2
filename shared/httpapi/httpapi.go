// Package httpapi is the wire format of LeadRelay's HTTP API behind API
// Gateway's proxy integration: JSON answers, the one error shape, request
// bodies and credentials.
package httpapi

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/aws/aws-lambda-go/events"
)

// FieldProblem is one field at fault in an error answer.
type FieldProblem struct {
	Field   string `json:"field"`
	Code    string `json:"code"`
	Message string `json:"message"`
	Line    int    `json:"line,omitempty"`
}

// ErrorBody is the body of every error answer:
// {"error": {"code": "...", "message": "...", ...}}.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail is the error itself.
type ErrorDetail struct {
	Code        string         `json:"code"`
	Message     string         `json:"message"`
	Fields      []FieldProblem `json:"fields,omitempty"`
	DuplicateOf string         `json:"duplicate_of,omitempty"`
}

// Response is a handler's answer.
type Response = events.APIGatewayProxyResponse

// Request is a proxy-integration request.
type Request = events.APIGatewayProxyRequest

// JSON answers status with v encoded as JSON.
func JSON(status int, v any) Response {
	body, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		body = []byte(`{"error":{"code":"internal","message":"could not encode the answer"}}`)
	}
	return Response{
		StatusCode: status,
		Headers:    map[string]string{"Content-Type": "application/json"},
		Body:       string(body),
	}
}

// Error answers status with the error shape.
func Error(status int, code, format string, args ...any) Response {
	return JSON(status, ErrorBody{Error: ErrorDetail{Code: code, Message: fmt.Sprintf(format, args...)}})
}

// Fields answers 400 with the fields at fault.
func Fields(status int, code, message string, fields []FieldProblem) Response {
	return JSON(status, ErrorBody{Error: ErrorDetail{Code: code, Message: message, Fields: fields}})
}

// Header returns a request header, whatever its case.
func Header(r Request, name string) string {
	if v, ok := r.Headers[name]; ok {
		return v
	}
	for k, v := range r.Headers {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	for k, v := range r.MultiValueHeaders {
		if strings.EqualFold(k, name) && len(v) > 0 {
			return v[0]
		}
	}
	return ""
}

// Body returns the request body, decoding API Gateway's base64.
func Body(r Request) ([]byte, error) {
	if r.IsBase64Encoded {
		b, err := base64.StdEncoding.DecodeString(r.Body)
		if err != nil {
			return nil, fmt.Errorf("decode base64 body: %w", err)
		}
		return b, nil
	}
	return []byte(r.Body), nil
}

// BearerOrKey returns the credential of a request: the X-API-Key header or
// an "Authorization: Bearer" token.
func BearerOrKey(r Request) string {
	if k := strings.TrimSpace(Header(r, "X-API-Key")); k != "" {
		return k
	}
	return Bearer(r)
}

// Bearer returns the token of an "Authorization: Bearer" header.
func Bearer(r Request) string {
	auth := Header(r, "Authorization")
	if len(auth) > 7 && strings.EqualFold(auth[:7], "bearer ") {
		return strings.TrimSpace(auth[7:])
	}
	return ""
}

// MediaType returns the request's media type, lower-cased, without
// parameters.
func MediaType(r Request) string {
	ct, _, _ := strings.Cut(Header(r, "Content-Type"), ";")
	return strings.ToLower(strings.TrimSpace(ct))
}

// DecodeObject reads a body that must be one JSON object, numbers kept as
// json.Number so integers stay exact.
func DecodeObject(body []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var raw map[string]any
	if err := dec.Decode(&raw); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("trailing data after the JSON object")
	}
	if raw == nil {
		return nil, errors.New("the body must be a JSON object")
	}
	return raw, nil
}

// BodyWithin returns the request body when it is at most max bytes, or
// the answer to give instead: 400 for an undecodable body, 413 for one
// too large. what names the thing posted ("a lead", "a ping").
func BodyWithin(r Request, max int, what string) ([]byte, *Response) {
	body, err := Body(r)
	if err != nil {
		resp := Error(http.StatusBadRequest, "invalid_body", "%v", err)
		return nil, &resp
	}
	if len(body) > max {
		resp := Error(http.StatusRequestEntityTooLarge, "payload_too_large", "%s must be at most %d bytes; this one is %d", what, max, len(body))
		return nil, &resp
	}
	return body, nil
}
