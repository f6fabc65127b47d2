package admin

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/leadrelay/leadrelay/shared/config"
	"github.com/leadrelay/leadrelay/shared/httpapi"
)

// collection is one list of entities in the configuration document (the
// campaigns, the sources, the buyers, one buyer's orders), edited one
// entity at a time: each change reads the document, changes the entity,
// validates the whole document and saves it conditioned on the version.
type collection[T any] struct {
	kind string // "campaign": codes ("campaign_not_found") and audit targets
	// items finds the list in a document with its path ("campaigns",
	// "buyers[2].orders"), or refuses (an unknown buyer).
	items func(c *config.Config) (*[]T, string, *refusal)
	id    func(*T) *string
	// keep, if set, carries over from the stored entity what a PUT left
	// out (a buyer's orders).
	keep func(old, next *T)
	// status, if set, is the entity's status (pause and resume).
	status func(*T) *string
	// target names the entity in the audit log ("order/acme/auto").
	target string
}

func (col collection[T]) find(c *config.Config, id string) (*[]T, int, string, *refusal) {
	list, path, rf := col.items(c)
	if rf != nil {
		return nil, -1, "", rf
	}
	for i := range *list {
		if *col.id(&(*list)[i]) == id {
			return list, i, path, nil
		}
	}
	return list, -1, path, nil
}

func (col collection[T]) notFound(id string) *refusal {
	return refuse(http.StatusNotFound, col.kind+"_not_found", "no %s %q", col.kind, id)
}

func (h *Handler) entityRoutes(m *httpapi.Mux) {
	for _, base := range []string{"/v1/admin/campaigns/{id}", "/v1/admin/sources/{id}", "/v1/admin/buyers/{id}", "/v1/admin/buyers/{id}/orders/{order}"} {
		m.Handle("GET "+base, func(ctx context.Context, req httpapi.Request, p map[string]string) httpapi.Response {
			return h.entity(req, p, func(e entityOps) httpapi.Response { return e.get(ctx, h) })
		})
		m.Handle("PUT "+base, func(ctx context.Context, req httpapi.Request, p map[string]string) httpapi.Response {
			return h.entity(req, p, func(e entityOps) httpapi.Response { return e.put(ctx, h, req) })
		})
		m.Handle("DELETE "+base, func(ctx context.Context, req httpapi.Request, p map[string]string) httpapi.Response {
			return h.entity(req, p, func(e entityOps) httpapi.Response { return e.del(ctx, h, req) })
		})
	}
	for _, base := range []string{"/v1/admin/sources/{id}", "/v1/admin/buyers/{id}", "/v1/admin/buyers/{id}/orders/{order}"} {
		for action, status := range map[string]string{"pause": config.StatusPaused, "resume": config.StatusActive} {
			m.Handle("POST "+base+"/"+action, func(ctx context.Context, req httpapi.Request, p map[string]string) httpapi.Response {
				return h.entity(req, p, func(e entityOps) httpapi.Response { return e.setStatus(ctx, h, req, action, status) })
			})
		}
	}
}

// entityOps is what the routes do with one entity, whatever its type.
type entityOps interface {
	get(ctx context.Context, h *Handler) httpapi.Response
	put(ctx context.Context, h *Handler, req httpapi.Request) httpapi.Response
	del(ctx context.Context, h *Handler, req httpapi.Request) httpapi.Response
	setStatus(ctx context.Context, h *Handler, req httpapi.Request, action, status string) httpapi.Response
}

// entity picks the collection a path names: /campaigns/{id},
// /sources/{id}, /buyers/{id} or /buyers/{id}/orders/{order}.
func (h *Handler) entity(req httpapi.Request, p map[string]string, do func(entityOps) httpapi.Response) httpapi.Response {
	id := p["id"]
	switch {
	case p["order"] != "":
		return do(one[config.Order]{col: ordersOf(id), id: p["order"]})
	case strings.HasPrefix(req.Path, "/v1/admin/campaigns/"):
		return do(one[config.Campaign]{col: campaigns, id: id})
	case strings.HasPrefix(req.Path, "/v1/admin/sources/"):
		return do(one[config.Source]{col: sources, id: id})
	default:
		return do(one[config.Buyer]{col: buyers, id: id})
	}
}

var campaigns = collection[config.Campaign]{
	kind: config.KindCampaign,
	items: func(c *config.Config) (*[]config.Campaign, string, *refusal) {
		return &c.Campaigns, "campaigns", nil
	},
	id: func(c *config.Campaign) *string { return &c.ID },
}

var sources = collection[config.Source]{
	kind: config.KindSource,
	items: func(c *config.Config) (*[]config.Source, string, *refusal) {
		return &c.Sources, "sources", nil
	},
	id:     func(s *config.Source) *string { return &s.ID },
	status: func(s *config.Source) *string { return &s.Status },
}

var buyers = collection[config.Buyer]{
	kind: config.KindBuyer,
	items: func(c *config.Config) (*[]config.Buyer, string, *refusal) {
		return &c.Buyers, "buyers", nil
	},
	id: func(b *config.Buyer) *string { return &b.ID },
	keep: func(old, next *config.Buyer) {
		if next.Orders == nil {
			next.Orders = old.Orders
		}
	},
	status: func(b *config.Buyer) *string { return &b.Status },
}

// ordersOf is the collection of one buyer's orders.
func ordersOf(buyer string) collection[config.Order] {
	return collection[config.Order]{
		kind: config.KindOrder,
		items: func(c *config.Config) (*[]config.Order, string, *refusal) {
			for i := range c.Buyers {
				if c.Buyers[i].ID == buyer {
					return &c.Buyers[i].Orders, fmt.Sprintf("buyers[%d].orders", i), nil
				}
			}
			return nil, "", refuse(http.StatusNotFound, "buyer_not_found", "no buyer %q", buyer)
		},
		id:     func(o *config.Order) *string { return &o.ID },
		status: func(o *config.Order) *string { return &o.Status },
		target: buyer + "/",
	}
}

// one is one entity of a collection.
type one[T any] struct {
	col collection[T]
	id  string
}

func (e one[T]) target() string { return e.col.kind + "/" + e.col.target + e.id }

func (e one[T]) get(ctx context.Context, h *Handler) httpapi.Response {
	stored, err := h.Store.LoadConfig(ctx)
	if err != nil {
		h.Log.ErrorContext(ctx, "load config", "error", err)
		return httpapi.Error(http.StatusServiceUnavailable, "unavailable", "retry")
	}
	cur := config.ShowSecrets(stored) // write-only: "(set)" in place of each value
	list, i, _, rf := e.col.find(cur, e.id)
	if rf == nil && i < 0 {
		rf = e.col.notFound(e.id)
	}
	if rf != nil {
		return httpapi.Error(rf.status, rf.code, "%s", rf.msg)
	}
	r := httpapi.JSON(http.StatusOK, (*list)[i])
	r.Headers["ETag"] = etag(cur.Version)
	return r
}

// put creates or replaces the entity with the body (YAML or JSON); an id
// in the body must be the path's.
func (e one[T]) put(ctx context.Context, h *Handler, req httpapi.Request) httpapi.Response {
	expect, bad := ifMatch(req)
	if bad != nil {
		return *bad
	}
	body, err := httpapi.Body(req)
	if err != nil {
		return httpapi.Error(http.StatusBadRequest, "invalid_body", "%v", err)
	}
	var v T
	if err := config.DecodePart(body, &v); err != nil {
		return h.answerCommit(ctx, err)
	}
	if id := e.col.id(&v); *id == "" {
		*id = e.id
	} else if *id != e.id {
		return httpapi.Fields(http.StatusBadRequest, "validation_failed", "the body's id is not the path's",
			[]httpapi.FieldProblem{{Field: "id", Code: "mismatch", Message: fmt.Sprintf("the path names %q; leave id out or make it the same", e.id)}})
	}
	created := false
	ver, changed, err := h.commit(ctx, req, expect, "put "+e.col.kind, e.target(), func(c *config.Config) (*config.Config, error) {
		list, i, path, rf := e.col.find(c, e.id)
		if rf != nil {
			return nil, rf
		}
		next := v
		created = i < 0
		if created {
			*list = append(*list, next)
			i = len(*list) - 1
		} else {
			if e.col.keep != nil {
				e.col.keep(&(*list)[i], &next)
			}
			(*list)[i] = next
		}
		return config.Check(c, body, fmt.Sprintf("%s[%d]", path, i))
	})
	if err != nil {
		return h.answerCommit(ctx, err)
	}
	status := http.StatusOK
	if created && changed {
		status = http.StatusCreated
	}
	return appliedAnswer(status, ver, changed)
}

// del removes the entity; a campaign that sources or orders still name is
// refused with 409 campaign_in_use.
func (e one[T]) del(ctx context.Context, h *Handler, req httpapi.Request) httpapi.Response {
	expect, bad := ifMatch(req)
	if bad != nil {
		return *bad
	}
	ver, changed, err := h.commit(ctx, req, expect, "delete "+e.col.kind, e.target(), func(c *config.Config) (*config.Config, error) {
		list, i, _, rf := e.col.find(c, e.id)
		if rf == nil && i < 0 {
			rf = e.col.notFound(e.id)
		}
		if rf != nil {
			return nil, rf
		}
		if e.col.kind == config.KindCampaign {
			if users := campaignUsers(c, e.id); len(users) > 0 {
				return nil, refuse(http.StatusConflict, "campaign_in_use", "campaign %q is still used by %s: remove or change them first", e.id, strings.Join(users, ", "))
			}
		}
		*list = slices.Delete(*list, i, i+1)
		return config.Check(c, nil, "")
	})
	if err != nil {
		return h.answerCommit(ctx, err)
	}
	return appliedAnswer(http.StatusOK, ver, changed)
}

// campaignUsers names the sources and orders that use a campaign.
func campaignUsers(c *config.Config, campaign string) []string {
	var users []string
	for _, s := range c.Sources {
		if slices.Contains(s.Campaigns, campaign) {
			users = append(users, "source "+s.ID)
		}
	}
	for _, b := range c.Buyers {
		for _, o := range b.Orders {
			if o.Campaign == campaign {
				users = append(users, "order "+b.ID+"/"+o.ID)
			}
		}
	}
	return users
}

// setStatus pauses or resumes the entity; doing it twice changes nothing.
func (e one[T]) setStatus(ctx context.Context, h *Handler, req httpapi.Request, action, status string) httpapi.Response {
	expect, bad := ifMatch(req)
	if bad != nil {
		return *bad
	}
	ver, changed, err := h.commit(ctx, req, expect, action+" "+e.col.kind, e.target(), func(c *config.Config) (*config.Config, error) {
		list, i, _, rf := e.col.find(c, e.id)
		if rf == nil && i < 0 {
			rf = e.col.notFound(e.id)
		}
		if rf != nil {
			return nil, rf
		}
		*e.col.status(&(*list)[i]) = status
		return config.Check(c, nil, "")
	})
	if err != nil {
		return h.answerCommit(ctx, err)
	}
	return appliedAnswer(http.StatusOK, ver, changed)
}
