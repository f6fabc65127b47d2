package console

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/leadrelay/leadrelay/shared/httpapi"
)

// AuditSize is how many audit records the configuration page shows.
const AuditSize = 20

func (s *Server) configRoutes(m *httpapi.Mux) {
	m.Handle("GET /console/config", s.view(s.configPage))
	m.Handle("POST /console/config/plan", s.change(s.planConfig))
	m.Handle("POST /console/config/apply", s.change(s.applyConfig))
	m.Handle("POST /console/dlq/{queue}/redrive", s.change(s.redrive))
}

type auditRecord struct {
	Version  int64           `json:"version"`
	Previous int64           `json:"previous_version"`
	At       time.Time       `json:"at"`
	Actor    string          `json:"actor"`
	Action   string          `json:"action"`
	Target   string          `json:"target"`
	Changes  json.RawMessage `json:"changes"`
}

// ChangeCount is how many entities the change touched.
func (a auditRecord) ChangeCount() int {
	var cs []json.RawMessage
	_ = json.Unmarshal(a.Changes, &cs)
	return len(cs)
}

type dlqDepth struct {
	Queue    string `json:"queue"`
	Messages int    `json:"messages"`
	InFlight int    `json:"in_flight"`
}

// plan is POST /v1/admin/config/plan's answer (config.Plan).
type plan struct {
	Version int64 `json:"version"`
	Changes []struct {
		Kind   string `json:"kind"`
		ID     string `json:"id"`
		Action string `json:"action"`
		Fields []struct {
			Path   string `json:"path"`
			Before any    `json:"before"`
			After  any    `json:"after"`
		} `json:"fields"`
	} `json:"changes"`
}

type configData struct {
	// Doc is the document in the editor (the stored one, secrets shown
	// "(set)", or the one posted); Version the version to apply over.
	Doc     string
	Version int64
	Plan    *plan
	Problem string
	Fields  []httpapi.FieldProblem
	Audit   []auditRecord
	DLQs    []dlqDepth
	// DLQError says why the DLQs' depths are not shown.
	DLQError string
}

// configPage shows the stored configuration in the editor, the audit log
// and the DLQs. Three admin calls.
func (s *Server) configPage(ctx context.Context, req httpapi.Request, _ map[string]string, op operator) httpapi.Response {
	resp, err := s.call(ctx, op, http.MethodGet, "/v1/admin/config", nil, "", map[string]string{"Accept": "application/yaml"})
	if err != nil {
		return s.apiFailure(ctx, req, err)
	}
	d := configData{Doc: resp.Body, Version: versionOf(resp.Headers["ETag"])}
	pg := forOperator(op, "Configuration", "config")
	pg.Notice = notice(req.QueryStringParameters["done"])
	return s.configAnswer(ctx, req, op, http.StatusOK, pg, d)
}

// configAnswer adds the audit log and the DLQs to the page.
func (s *Server) configAnswer(ctx context.Context, req httpapi.Request, op operator, status int, pg page, d configData) httpapi.Response {
	var audit struct {
		Records []auditRecord `json:"records"`
	}
	if err := s.getJSON(ctx, op, "/v1/admin/audit", map[string][]string{"limit": {strconv.Itoa(AuditSize)}}, &audit); err != nil {
		return s.apiFailure(ctx, req, err)
	}
	d.Audit = audit.Records
	var dlqs struct {
		DLQs []dlqDepth `json:"dlqs"`
	}
	if err := s.getJSON(ctx, op, "/v1/admin/dlq", nil, &dlqs); err != nil {
		d.DLQError = "The DLQs' depths could not be read: " + err.Error()
		var ae *apiError
		if errors.As(err, &ae) {
			d.DLQError = "The DLQs' depths could not be read: " + ae.Message
		}
	}
	d.DLQs = dlqs.DLQs
	return s.render(ctx, req, status, "config", pg, d)
}

// versionOf reads a configuration version from an ETag ("12").
func versionOf(etag string) int64 {
	v, _ := strconv.ParseInt(strings.Trim(strings.TrimPrefix(etag, "W/"), `" `), 10, 64)
	return v
}

// planConfig shows what applying the edited document would change.
func (s *Server) planConfig(ctx context.Context, req httpapi.Request, _ map[string]string, op operator) httpapi.Response {
	doc := op.form.Get("document")
	d := configData{Doc: doc, Version: versionOf(op.form.Get("version"))}
	pg := forOperator(op, "Configuration", "config")
	resp, err := s.call(ctx, op, http.MethodPost, "/v1/admin/config/plan", nil, doc, map[string]string{"Content-Type": docType(doc)})
	status := http.StatusOK
	if err != nil {
		if status = s.docProblem(err, &d); status == 0 {
			return s.apiFailure(ctx, req, err)
		}
		return s.configAnswer(ctx, req, op, status, pg, d)
	}
	var p plan
	if err := json.Unmarshal([]byte(resp.Body), &p); err != nil {
		return s.apiFailure(ctx, req, err)
	}
	d.Plan, d.Version = &p, p.Version
	return s.configAnswer(ctx, req, op, status, pg, d)
}

// applyConfig applies the edited document over the version it was read
// or planned at (If-Match): a change in between is refused.
func (s *Server) applyConfig(ctx context.Context, req httpapi.Request, _ map[string]string, op operator) httpapi.Response {
	doc := op.form.Get("document")
	d := configData{Doc: doc, Version: versionOf(op.form.Get("version"))}
	headers := map[string]string{"Content-Type": docType(doc), "If-Match": strconv.Quote(strconv.FormatInt(d.Version, 10))}
	if _, err := s.call(ctx, op, http.MethodPut, "/v1/admin/config", nil, doc, headers); err != nil {
		status := s.docProblem(err, &d)
		if status == 0 {
			return s.apiFailure(ctx, req, err)
		}
		return s.configAnswer(ctx, req, op, status, forOperator(op, "Configuration", "config"), d)
	}
	return s.redirect("/console/config?done=applied")
}

// docProblem puts a refused document's problems on the page and answers
// the status to show it with (0: not the document's fault).
func (s *Server) docProblem(err error, d *configData) int {
	var ae *apiError
	if !errors.As(err, &ae) {
		return 0
	}
	switch ae.Status {
	case http.StatusBadRequest, http.StatusPreconditionFailed, http.StatusConflict, http.StatusUnprocessableEntity:
		d.Problem, d.Fields = ae.Message, ae.Fields
		return ae.Status
	}
	return 0
}

// docType is a document's media type: JSON when it starts as an object,
// YAML otherwise.
func docType(doc string) string {
	if strings.HasPrefix(strings.TrimSpace(doc), "{") {
		return "application/json"
	}
	return "application/yaml"
}

// redrive moves a DLQ's messages back to their queue.
func (s *Server) redrive(ctx context.Context, req httpapi.Request, p map[string]string, op operator) httpapi.Response {
	if err := s.postJSON(ctx, op, "/v1/admin/redrive", map[string]string{"queue": p["queue"]}, nil); err != nil {
		return s.apiFailure(ctx, req, err)
	}
	return s.redirect("/console/config?done=redriven")
}
