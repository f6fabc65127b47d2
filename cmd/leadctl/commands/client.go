package commands

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
)

// client calls the admin API: with the operator token (local runner), or
// signed with SigV4 for API Gateway's IAM authorisation (AWS).
type client struct {
	endpoint string
	token    string
	http     *http.Client

	// sigv4 signing, when creds is set.
	creds  aws.CredentialsProvider
	region string
	signer *v4.Signer
}

// newClient builds the client of the global flags. SigV4 is used when
// asked, or when no token is set and the endpoint is https.
func newClient(ctx context.Context, g *globals) (*client, error) {
	c := &client{
		endpoint: strings.TrimRight(g.endpoint, "/"),
		token:    g.token,
		http:     &http.Client{Timeout: g.timeout},
	}
	if g.sigv4 || (g.token == "" && strings.HasPrefix(c.endpoint, "https://")) {
		opts := []func(*awsconfig.LoadOptions) error{}
		if g.region != "" {
			opts = append(opts, awsconfig.WithRegion(g.region))
		}
		if g.profile != "" {
			opts = append(opts, awsconfig.WithSharedConfigProfile(g.profile))
		}
		cfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
		if err != nil {
			return nil, fmt.Errorf("load AWS credentials for SigV4: %w", err)
		}
		if cfg.Region == "" {
			return nil, fmt.Errorf("SigV4 needs a region: set --region or AWS_REGION")
		}
		c.creds, c.region, c.signer = cfg.Credentials, cfg.Region, v4.NewSigner()
	}
	return c, nil
}

// apiError is an error answer of the API, in its one shape.
type apiError struct {
	Status int
	Detail struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Fields  []struct {
			Field   string `json:"field"`
			Code    string `json:"code"`
			Message string `json:"message"`
			Line    int    `json:"line"`
		} `json:"fields"`
	} `json:"error"`
	Raw string
}

func (e *apiError) Error() string {
	if e.Detail.Code == "" {
		return fmt.Sprintf("HTTP %d: %s", e.Status, strings.TrimSpace(e.Raw))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s (HTTP %d): %s", e.Detail.Code, e.Status, e.Detail.Message)
	for _, f := range e.Detail.Fields {
		b.WriteString("\n  ")
		if f.Line > 0 {
			fmt.Fprintf(&b, "line %d: ", f.Line)
		}
		if f.Field != "" {
			b.WriteString(f.Field + ": ")
		}
		fmt.Fprintf(&b, "%s [%s]", f.Message, f.Code)
	}
	return b.String()
}

// request is one call.
type request struct {
	method, path string
	body         []byte
	contentType  string
	ifMatch      string
	// idempotencyKey, when set, is sent as Idempotency-Key.
	idempotencyKey string
}

// do sends a request and decodes a 2xx JSON answer into out (if not nil);
// any other answer is an *apiError. It returns the answer's ETag.
func (c *client) do(ctx context.Context, r request, out any) (string, error) {
	req, err := http.NewRequestWithContext(ctx, r.method, c.endpoint+r.path, bytes.NewReader(r.body))
	if err != nil {
		return "", fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	if r.body != nil {
		ct := r.contentType
		if ct == "" {
			ct = "application/json"
		}
		req.Header.Set("Content-Type", ct)
	}
	if r.ifMatch != "" {
		req.Header.Set("If-Match", `"`+r.ifMatch+`"`)
	}
	if r.idempotencyKey != "" {
		req.Header.Set("Idempotency-Key", r.idempotencyKey)
	}
	if c.token != "" && c.signer == nil {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if c.signer != nil {
		creds, err := c.creds.Retrieve(ctx)
		if err != nil {
			return "", fmt.Errorf("AWS credentials: %w", err)
		}
		sum := sha256.Sum256(r.body)
		if err := c.signer.SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), "execute-api", c.region, time.Now()); err != nil {
			return "", fmt.Errorf("sign request: %w", err)
		}
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return "", fmt.Errorf("%s %s: %w", r.method, r.path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	if err != nil {
		return "", fmt.Errorf("%s %s: read answer: %w", r.method, r.path, err)
	}
	if resp.StatusCode >= 300 {
		e := &apiError{Status: resp.StatusCode, Raw: string(body)}
		_ = json.Unmarshal(body, e)
		return "", e
	}
	if out != nil {
		if err := json.Unmarshal(body, out); err != nil {
			return "", fmt.Errorf("%s %s: decode answer: %w", r.method, r.path, err)
		}
	}
	return strings.Trim(strings.TrimPrefix(resp.Header.Get("ETag"), "W/"), `"`), nil
}
