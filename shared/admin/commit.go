package admin

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/leadrelay/leadrelay/shared/config"
	"github.com/leadrelay/leadrelay/shared/httpapi"
	"github.com/leadrelay/leadrelay/shared/secrets"
	"github.com/leadrelay/leadrelay/shared/store"
)

// commitAttempts bounds how often a change without If-Match is rebuilt
// over a configuration someone else changed meanwhile.
const commitAttempts = 3

// refusal is a change the current configuration does not allow (an
// unknown id, a campaign still in use): the answer to give.
type refusal struct {
	status int
	code   string
	msg    string
}

func (r *refusal) Error() string { return r.msg }

func refuse(status int, code, format string, args ...any) *refusal {
	return &refusal{status: status, code: code, msg: fmt.Sprintf(format, args...)}
}

// conflict reports a version precondition that failed: the stored
// version is Current.
type conflict struct {
	Current, Expected int64
}

func (c *conflict) Error() string {
	return fmt.Sprintf("the configuration is at version %d, not %d: read it again and re-apply", c.Current, c.Expected)
}

func (c *conflict) Unwrap() error { return store.ErrVersionConflict }

// commit changes the stored configuration: build gets a copy of the
// current document and returns the next one (validated), and the result is
// saved with its audit record in one transaction conditioned on the
// version read. expect, when not negative, is the version the operator
// read (If-Match): any other stored version is a *conflict. Without it a
// change that lost a race is rebuilt over the new version.
func (h *Handler) commit(ctx context.Context, req httpapi.Request, expect int64, action, target string,
	build func(cur *config.Config) (*config.Config, error)) (int64, bool, error) {
	return h.commitAs(ctx, h.actor(req), expect, action, target, build)
}

// commitAs is commit by a named actor (an operator, or the feedback loop).
func (h *Handler) commitAs(ctx context.Context, actor string, expect int64, action, target string,
	build func(cur *config.Config) (*config.Config, error)) (int64, bool, error) {
	for attempt := 1; ; attempt++ {
		cur, err := h.Store.LoadConfig(ctx)
		if err != nil {
			return 0, false, err
		}
		if expect >= 0 && cur.Version != expect {
			return cur.Version, false, &conflict{Current: cur.Version, Expected: expect}
		}
		work, err := clone(cur)
		if err != nil {
			return 0, false, err
		}
		next, err := build(work)
		if err != nil {
			return cur.Version, false, err
		}
		if err := h.sealSecrets(ctx, next, cur); err != nil {
			return cur.Version, false, err
		}
		plan := config.Diff(cur, next)
		rec := store.AuditRecord{Actor: actor, Action: action, Target: target, Changes: plan.Changes}
		ver, changed, err := h.Store.ApplyConfig(ctx, cur, next, rec)
		if errors.Is(err, store.ErrVersionConflict) {
			if expect >= 0 || attempt >= commitAttempts {
				latest := ver
				if l, lerr := h.Store.LoadConfig(ctx); lerr == nil {
					latest = l.Version
				}
				return latest, false, &conflict{Current: latest, Expected: cur.Version}
			}
			continue
		}
		if err != nil {
			return 0, false, err
		}
		if changed {
			if h.Changed != nil {
				h.Changed()
			}
			h.Log.InfoContext(ctx, "configuration changed", "action", action, "target", target,
				"version", ver, "actor", rec.Actor, "changes", len(plan.Changes))
		}
		return ver, changed, nil
	}
}

// sealSecrets readies next's secrets to be stored over cur: a "(set)"
// keeps cur's value, a reference stays, a value is sealed (one equal to
// cur's keeps cur's sealed form, so the same document changes nothing).
func (h *Handler) sealSecrets(ctx context.Context, next, cur *config.Config) error {
	if err := config.KeepSecrets(next, cur); err != nil {
		return err
	}
	if err := secrets.Seal(ctx, next, cur, h.Secrets); err != nil {
		return fmt.Errorf("seal the configuration's secrets: %w", err)
	}
	return nil
}

// applyWhole stores a whole parsed document (PUT /v1/admin/config).
func (h *Handler) applyWhole(ctx context.Context, req httpapi.Request, c *config.Config, expect int64) (int64, bool, error) {
	return h.commit(ctx, req, expect, "apply config", "", func(*config.Config) (*config.Config, error) { return c, nil })
}

// answerCommit answers a commit's error.
func (h *Handler) answerCommit(ctx context.Context, err error) httpapi.Response {
	var ce *config.Error
	var rf *refusal
	var cf *conflict
	switch {
	case errors.As(err, &ce):
		return invalidConfig(ce)
	case errors.As(err, &rf):
		return httpapi.Error(rf.status, rf.code, "%s", rf.msg)
	case errors.As(err, &cf):
		return httpapi.Error(http.StatusPreconditionFailed, "version_conflict", "%s", cf.Error())
	}
	h.Log.ErrorContext(ctx, "change config", "error", err)
	return httpapi.Error(http.StatusServiceUnavailable, "unavailable", "retry")
}

// invalidConfig is the 400 naming every problem of a document.
func invalidConfig(ce *config.Error) httpapi.Response {
	fields := make([]httpapi.FieldProblem, len(ce.Problems))
	for i, p := range ce.Problems {
		fields[i] = httpapi.FieldProblem{Field: p.Field, Code: p.Code, Message: p.Message, Line: p.Line}
	}
	return httpapi.Fields(http.StatusBadRequest, "invalid_config", fmt.Sprintf("the configuration has %d problem(s); nothing was applied", len(fields)), fields)
}

// ifMatch reads the If-Match version: -1 when absent or "*".
func ifMatch(req httpapi.Request) (int64, *httpapi.Response) {
	m := strings.Trim(strings.TrimPrefix(httpapi.Header(req, "If-Match"), "W/"), `" `)
	if m == "" || m == "*" {
		return -1, nil
	}
	v, err := strconv.ParseInt(m, 10, 64)
	if err != nil || v < 0 {
		r := httpapi.Fields(http.StatusBadRequest, "validation_failed", "If-Match must be a configuration version",
			[]httpapi.FieldProblem{{Field: "If-Match", Code: "invalid", Message: "want the ETag of a GET under /v1/admin"}})
		return 0, &r
	}
	return v, nil
}

// actor is who made a request: the IAM principal API Gateway verified,
// or "token" for the local runner's bearer token.
func (h *Handler) actor(req httpapi.Request) string {
	if arn := req.RequestContext.Identity.UserArn; arn != "" {
		return arn
	}
	if h.Token != "" {
		return "token"
	}
	return "anonymous"
}

// clone deep-copies a configuration.
func clone(c *config.Config) (*config.Config, error) { return c.Clone(), nil }

func etag(version int64) string { return strconv.Quote(strconv.FormatInt(version, 10)) }

// appliedAnswer is the answer to a change: the version and whether it
// changed anything, with the version as ETag.
func appliedAnswer(status int, ver int64, changed bool) httpapi.Response {
	r := httpapi.JSON(status, applied{Version: ver, Changed: changed})
	r.Headers["ETag"] = etag(ver)
	return r
}
