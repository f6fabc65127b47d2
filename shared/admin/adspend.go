package admin

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/leadrelay/leadrelay/shared/adspend"
	"github.com/leadrelay/leadrelay/shared/config"
	"github.com/leadrelay/leadrelay/shared/money"
	"github.com/leadrelay/leadrelay/shared/store"
)

// AdSpend reads an ad account's daily spend from its platform, its
// tokens' references resolved on use and, for a Google account with an
// OAuth client, its access token refreshed from its refresh token and
// kept until it expires (package adspend's Client and GoogleOAuth).
type AdSpend interface {
	Spend(ctx context.Context, a *config.SpendAccount, since, until string) ([]adspend.Row, error)
}

// spendOrigin is where an ad platform's imported spend is kept apart.
func spendOrigin(platform string) string {
	if platform == config.SpendPlatformGoogle {
		return store.SpendGoogle
	}
	return store.SpendMeta
}

// spendTarget is one origin's source and campaign.
type spendTarget struct{ origin, source, campaign string }

// ImportSpend imports the configured ad accounts' spend of yesterday and
// today (in the agency's timezone): each row's platform id is mapped to
// its source and campaign (rows of ids not mapped are skipped, each id
// logged once), summed per source, campaign and day, and set as the
// platform's figure of the day, replacing what the last import set: a
// mapped target without rows is set to 0. Every account is tried; one
// that fails is reported (errors.Join) and the figures it contributes to
// are left as they were, so that the other accounts' never replace them
// in part. A Google account whose refresh token Google refuses
// (invalid_grant: the consent was revoked) fails like any other, its
// error wrapping adspend.ErrRefreshRefused.
func (h *Handler) ImportSpend(ctx context.Context) error {
	c, err := h.Store.LoadConfig(ctx)
	if err != nil {
		return fmt.Errorf("load configuration: %w", err)
	}
	accounts := c.Integrations.Spend
	if len(accounts) == 0 {
		return nil
	}
	if h.AdSpend == nil || h.Ledger == nil {
		return errors.New("ad spend import: no ad platform client or ledger in this deployment")
	}
	now := h.Now().In(config.NewIndex(c).Location(c.Timezone))
	days := []string{now.AddDate(0, 0, -1).Format(time.DateOnly), now.Format(time.DateOnly)}
	var errs []error
	failed := map[spendTarget]bool{}
	sums := map[spendTarget]map[string]money.Amount{}
	for i := range accounts {
		a := &accounts[i]
		origin := spendOrigin(a.Platform)
		rows, err := h.AdSpend.Spend(ctx, a, days[0], days[1])
		if err != nil {
			var kept []string
			for _, t := range a.Map {
				failed[spendTarget{origin, t.Source, t.Campaign}] = true
				kept = append(kept, t.Source+"/"+t.Campaign)
			}
			slices.Sort(kept)
			h.Log.ErrorContext(ctx, "import ad spend", "account", a.Name(), "error", err, "kept", slices.Compact(kept))
			errs = append(errs, fmt.Errorf("ad spend of %s: %w", a.Name(), err))
			continue
		}
		h.addSpend(ctx, a, origin, days, rows, sums)
	}
	var spends []store.Spend
	var total money.Amount
	for _, t := range slices.SortedFunc(maps.Keys(sums), func(x, y spendTarget) int {
		return cmp.Or(strings.Compare(x.origin, y.origin), strings.Compare(x.source, y.source), strings.Compare(x.campaign, y.campaign))
	}) {
		if failed[t] {
			h.Log.WarnContext(ctx, "ad spend kept: an account of it failed", "origin", t.origin, "source", t.source, "campaign", t.campaign)
			continue
		}
		for _, day := range days {
			amt := sums[t][day]
			total += amt
			spends = append(spends, store.Spend{Source: t.source, Campaign: t.campaign, Day: day, Amount: amt, Origin: t.origin})
		}
	}
	if len(spends) > 0 {
		written, err := h.Ledger.SetSpend(ctx, spends)
		if err != nil {
			h.Log.ErrorContext(ctx, "set imported ad spend", "error", err, "applied_days", written)
			errs = append(errs, fmt.Errorf("set ad spend: %w", err))
		} else {
			h.Log.InfoContext(ctx, "ad spend imported", "accounts", len(accounts), "figures", len(spends), "days", days, "total", total.Decimal())
		}
	}
	return errors.Join(errs...)
}

// addSpend adds one account's rows to the sums: every target it maps
// starts each day at 0, and each row's id counts against its target.
// Rows of days outside the import's are not counted.
func (h *Handler) addSpend(ctx context.Context, a *config.SpendAccount, origin string, days []string, rows []adspend.Row, sums map[spendTarget]map[string]money.Amount) {
	for _, t := range a.Map {
		st := spendTarget{origin, t.Source, t.Campaign}
		if sums[st] == nil {
			sums[st] = map[string]money.Amount{} // each day 0 until a row counts
		}
	}
	unmapped := map[string]bool{}
	for _, r := range rows {
		t, ok := a.Map[r.ID]
		if !ok {
			if !unmapped[r.ID] {
				unmapped[r.ID] = true
				h.Log.WarnContext(ctx, "ad spend of an id not mapped: skipped", "account", a.Name(), "level", a.SpendLevel(), "id", r.ID)
			}
			continue
		}
		if !slices.Contains(days, r.Day) {
			continue
		}
		sums[spendTarget{origin, t.Source, t.Campaign}][r.Day] += r.Amount
	}
}
