package secrets

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"time"
)

// Extension reads SSM parameters through the AWS Parameters and Secrets
// Lambda Extension (a layer the stack adds to the functions that resolve
// references): a local HTTP call to the extension, which caches, instead
// of linking the SSM client into the function (a megabyte and more of
// bootstrap). The function's role still needs ssm:GetParameter.
type Extension struct {
	// Client defaults to one with a 2 s timeout.
	Client *http.Client
}

// extensionPort is the extension's port unless
// PARAMETERS_SECRETS_EXTENSION_HTTP_PORT says otherwise.
const extensionPort = "2773"

// Parameter reads the parameter's decrypted value.
func (e Extension) Parameter(ctx context.Context, name string) (string, error) {
	port := os.Getenv("PARAMETERS_SECRETS_EXTENSION_HTTP_PORT")
	if port == "" {
		port = extensionPort
	}
	u := "http://localhost:" + port + "/systemsmanager/parameters/get?withDecryption=true&name=" + url.QueryEscape(name)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", fmt.Errorf("parameter %s: %w", name, err)
	}
	req.Header.Set("X-Aws-Parameters-Secrets-Token", os.Getenv("AWS_SESSION_TOKEN"))
	c := e.Client
	if c == nil {
		c = &http.Client{Timeout: 2 * time.Second}
	}
	resp, err := c.Do(req)
	if err != nil {
		return "", fmt.Errorf("parameter %s: the Parameters and Secrets extension does not answer: %w", name, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return "", fmt.Errorf("parameter %s: %w", name, err)
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("parameter %s: the extension answered %d", name, resp.StatusCode)
	}
	var out struct {
		Parameter struct {
			Value string `json:"Value"`
		} `json:"Parameter"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		return "", fmt.Errorf("parameter %s: %w", name, err)
	}
	return out.Parameter.Value, nil
}
