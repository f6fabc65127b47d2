package runner

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/leadrelay/leadrelay/shared/webhook"
)

// DemoSecret is the webhook secret of the demo buyer in localstack/demo.yaml.
const DemoSecret = "demo-buyer-secret"

// DemoBuyer is a buyer endpoint served by the local runner: it checks the
// Standard Webhooks signature, logs the lead and accepts it, so a lead
// posted to the demo configuration is visibly sold and delivered.
type DemoBuyer struct {
	log *slog.Logger

	mu    sync.Mutex
	leads []map[string]any
}

// NewDemoBuyer returns the demo buyer.
func NewDemoBuyer(log *slog.Logger) *DemoBuyer { return &DemoBuyer{log: log} }

// Received returns the bodies of the leads the demo buyer accepted.
func (d *DemoBuyer) Received() []map[string]any {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]map[string]any(nil), d.leads...)
}

func (d *DemoBuyer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil || r.Method != http.MethodPost {
		http.Error(w, `{"status":"rejected","reason":"bad request"}`, http.StatusBadRequest)
		return
	}
	if err := webhook.Verify([]string{DemoSecret}, r.Header, body, time.Now(), 5*time.Minute); err != nil {
		d.log.Warn("demo buyer: bad signature", "error", err)
		http.Error(w, `{"status":"rejected","reason":"bad signature"}`, http.StatusUnauthorized)
		return
	}
	var lead map[string]any
	if err := json.Unmarshal(body, &lead); err != nil {
		http.Error(w, `{"status":"rejected","reason":"not JSON"}`, http.StatusBadRequest)
		return
	}
	d.mu.Lock()
	d.leads = append(d.leads, lead)
	n := len(d.leads)
	d.mu.Unlock()
	d.log.Info("demo buyer: lead received and accepted", "lead_id", lead["lead_id"], "price", lead["price"], "fields", lead["fields"])
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"status":"accepted","id":"demo-%d"}`, n)
}
