package conversions

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/leadrelay/leadrelay/shared/config"
	"github.com/leadrelay/leadrelay/shared/webhook"
)

// Timeout bounds one request to the Conversions API.
const Timeout = 20 * time.Second

// MaxBatch is the most events one request to the Conversions API takes.
const MaxBatch = 1000

// MaxAge is how old an event Meta still takes (its event_time at most
// seven days before it is sent); older ones are dropped, not sent.
const MaxAge = 7 * 24 * time.Hour

// Meta posts lead stages to a dataset's /events edge of the Graph API.
type Meta struct {
	// BaseURL is the Graph API's base URL, version included
	// (settings.MetaGraphURL).
	BaseURL string
	Client  *http.Client
}

// Event is one lead stage to send.
type Event struct {
	// Name is the stage's event name in the dataset (config
	// MetaConversions.EventName).
	Name string
	// ID is the event_id (EventID).
	ID string
	// LeadgenID is Meta's id of the lead.
	LeadgenID string
	Time      time.Time
}

// metaEvent is an event as the Conversions API for CRM takes it.
type metaEvent struct {
	EventName    string `json:"event_name"`
	EventTime    int64  `json:"event_time"`
	EventID      string `json:"event_id"`
	ActionSource string `json:"action_source"`
	UserData     struct {
		// LeadID is Meta's leadgen id: a number (15 to 17 digits), sent
		// as one.
		LeadID json.Number `json:"lead_id"`
	} `json:"user_data"`
	CustomData struct {
		EventSource     string `json:"event_source"`
		LeadEventSource string `json:"lead_event_source"`
	} `json:"custom_data"`
}

// Error is the Conversions API's refusal of a request, or a failure to
// reach it.
type Error struct {
	Status int // 0: no answer
	Msg    string
	// Transient says that the same request may succeed later: no answer,
	// a 5xx, a rate limit or an error Meta marks transient.
	Transient bool
	Err       error
}

func (e *Error) Error() string {
	if e.Status == 0 {
		return fmt.Sprintf("Conversions API: no answer: %v", e.Err)
	}
	return fmt.Sprintf("Conversions API: %d: %s", e.Status, e.Msg)
}

func (e *Error) Unwrap() error { return e.Err }

// Send posts the events (at most MaxBatch) to the dataset with its access
// token, which travels in the request's body, never in its URL. Meta takes
// or refuses a request as a whole: an *Error says which and whether it is
// worth trying again.
func (m *Meta) Send(ctx context.Context, datasetID, token string, evs []Event) error {
	if len(evs) == 0 {
		return nil
	}
	if len(evs) > MaxBatch {
		return fmt.Errorf("%d events: the Conversions API takes at most %d a request", len(evs), MaxBatch)
	}
	data := make([]metaEvent, len(evs))
	for i, ev := range evs {
		if strings.Trim(ev.LeadgenID, "0123456789") != "" || ev.LeadgenID == "" {
			return fmt.Errorf("event %s: leadgen id %q is not a number", ev.ID, ev.LeadgenID)
		}
		d := &data[i]
		d.EventName, d.EventTime, d.EventID, d.ActionSource = ev.Name, ev.Time.Unix(), ev.ID, "system_generated"
		d.UserData.LeadID = json.Number(ev.LeadgenID)
		d.CustomData.EventSource, d.CustomData.LeadEventSource = "crm", "LeadRelay"
	}
	body, err := json.Marshal(data)
	if err != nil {
		return fmt.Errorf("encode events: %w", err)
	}
	form := url.Values{"data": {string(body)}, "access_token": {token}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, m.BaseURL+"/"+url.PathEscape(datasetID)+"/events",
		bytes.NewReader([]byte(form.Encode())))
	if err != nil {
		return fmt.Errorf("Conversions API request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	client := m.Client
	if client == nil {
		client = &http.Client{Timeout: Timeout}
	}
	resp, err := client.Do(req)
	if err != nil {
		return &Error{Transient: true, Err: webhook.Redacted(err, false)}
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return &Error{Status: resp.StatusCode, Transient: true, Msg: "reading the answer failed", Err: webhook.Redacted(err, false)}
	}
	if resp.StatusCode == http.StatusOK {
		var ok struct {
			EventsReceived int `json:"events_received"`
		}
		if json.Unmarshal(answer, &ok) != nil || ok.EventsReceived != len(evs) {
			return &Error{Status: resp.StatusCode, Transient: true,
				Msg: fmt.Sprintf("answered events_received %d for %d events", ok.EventsReceived, len(evs))}
		}
		return nil
	}
	return refusal(resp.StatusCode, answer, token)
}

// refusal reads Graph's error answer, {"error": {"message", "type",
// "code", "error_subcode", "is_transient", "error_user_msg"}}.
func refusal(status int, body []byte, token string) *Error {
	var e struct {
		Error struct {
			Message     string `json:"message"`
			Type        string `json:"type"`
			Code        int    `json:"code"`
			Subcode     int    `json:"error_subcode"`
			Transient   bool   `json:"is_transient"`
			UserMessage string `json:"error_user_msg"`
		} `json:"error"`
	}
	_ = json.Unmarshal(body, &e)
	g := e.Error
	msg := cmp.Or(g.UserMessage, g.Message, "no error message")
	if g.Code != 0 {
		msg = fmt.Sprintf("%s (code %d, subcode %d, %s)", msg, g.Code, g.Subcode, g.Type)
	}
	if token != "" {
		msg = strings.ReplaceAll(msg, token, "(token)")
	}
	if len(msg) > 300 {
		msg = msg[:300] + "…"
	}
	// Graph's throttling codes: 4 (application), 17 (user), 32 (page),
	// 613 (calls within a period); 1 and 2 are its unknown and service
	// errors.
	transient := status >= 500 || status == http.StatusTooManyRequests || g.Transient
	switch g.Code {
	case 1, 2, 4, 17, 32, 613:
		transient = true
	}
	return &Error{Status: status, Msg: msg, Transient: transient}
}

// IsTransient reports whether err is worth trying again later.
func IsTransient(err error) bool {
	var e *Error
	if errors.As(err, &e) {
		return e.Transient
	}
	return true
}

// Refs resolves ssm: references to their values (the wiring's
// secret.Refs).
type Refs interface {
	Resolve(ctx context.Context, reference string) (string, error)
}

// Client sends to a configured dataset, resolving its token's reference
// on use.
type Client struct {
	Meta *Meta
	Refs Refs
}

// Send sends the events to the dataset c names with its token.
func (c *Client) Send(ctx context.Context, mc *config.MetaConversions, evs []Event) error {
	if c.Refs == nil || c.Meta == nil {
		return &Error{Msg: "no Conversions API client or reader of ssm: references in this deployment"}
	}
	token, err := c.Refs.Resolve(ctx, mc.AccessToken)
	if err != nil {
		// The parameter may be missing or unreadable: try again later.
		return &Error{Transient: true, Msg: "access_token", Err: err}
	}
	return c.Meta.Send(ctx, mc.DatasetID, token, evs)
}
