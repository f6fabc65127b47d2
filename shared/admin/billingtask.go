package admin

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/leadrelay/leadrelay/shared/billing"
	"github.com/leadrelay/leadrelay/shared/config"
	"github.com/leadrelay/leadrelay/shared/lead"
	"github.com/leadrelay/leadrelay/shared/limits"
	"github.com/leadrelay/leadrelay/shared/money"
	"github.com/leadrelay/leadrelay/shared/stripe"
)

const (
	// chargeBatch is how many queued charges a run claims at a time;
	// chargeBatches bounds the claims of one run.
	chargeBatch   = 100
	chargeBatches = 10
	// chargeLease is how long a run holds what it claimed: as long as
	// the admin function may run, so that no other run reports a charge
	// while this one may still be reporting it.
	chargeLease = limits.AdminFunctionTimeout
	// chargeSenders is how many charges of a batch are reported at once.
	chargeSenders = 4
	// rechargeStale is how long an automatic recharge holds its buyer's
	// recharge once started: one that was declined is tried again after
	// it, one that succeeded was credited long before.
	rechargeStale = time.Hour
)

// BillingStats says what a run of the billing task did.
type BillingStats struct {
	// Sent, Failed and Left count invoiced buyers' charges: taken by
	// Stripe, refused by it, left for a later run.
	Sent, Failed, Left int
	// Notices counts low- and empty-balance notices; Recharged the
	// automatic recharges credited, Declined those refused.
	Notices, Recharged, Declined int
}

// RunBilling is the "billing" task (every limits.BillingInterval): it
// reports invoiced buyers' charges to Stripe (ReportCharges), then tends
// prepaid buyers' balances: an automatic recharge of a balance under its
// threshold, and a notice of a balance running low or empty, once each.
func (h *Handler) RunBilling(ctx context.Context) (BillingStats, error) {
	var st BillingStats
	c, err := h.Store.LoadConfig(ctx)
	if err != nil {
		return st, fmt.Errorf("load configuration: %w", err)
	}
	errCharges := h.reportCharges(ctx, c, &st)
	errBalances := h.tendBalances(ctx, c, &st)
	return st, errors.Join(errCharges, errBalances)
}

// ReportCharges reports the queued charges of invoiced buyers to Stripe
// (as the billing task does). A sale is a billing meter event whose
// identifier is the sale's id, so that Stripe counts a repeat once; a
// return's credit is a customer balance credit under the charge's id as
// its idempotency key. Each charge is claimed by the run before it is
// sent and marked sent once Stripe took it, so no two runs send one
// charge; one that Stripe refuses is marked failed with Stripe's reason
// (the statement shows it). When Stripe cannot be reached, or refuses the
// account's key, the run stops and what it claimed waits for a run after
// its lease. Without billing.stripe the charges wait in the table.
func (h *Handler) ReportCharges(ctx context.Context) (BillingStats, error) {
	var st BillingStats
	c, err := h.Store.LoadConfig(ctx)
	if err != nil {
		return st, fmt.Errorf("load configuration: %w", err)
	}
	return st, h.reportCharges(ctx, c, &st)
}

func (h *Handler) reportCharges(ctx context.Context, c *config.Config, st *BillingStats) error {
	acct := c.Billing.Stripe
	if h.Charges == nil || h.Billing == nil || acct == nil {
		return nil
	}
	run := newRunID()
	for range chargeBatches {
		claimed, err := h.Charges.ClaimCharges(ctx, run, chargeBatch, chargeLease)
		if err != nil {
			return err
		}
		if err := h.sendCharges(ctx, run, acct, claimed, st); err != nil {
			return err
		}
		if len(claimed) < chargeBatch {
			return nil
		}
	}
	return nil
}

// sendCharges reports a batch, chargeSenders at a time; after a
// transient failure the rest of the batch is left.
func (h *Handler) sendCharges(ctx context.Context, run string, acct *config.StripeBilling, charges []lead.Charge, st *BillingStats) error {
	var (
		mu      sync.Mutex
		stopErr error
		wg      sync.WaitGroup
	)
	next := make(chan lead.Charge)
	for range min(chargeSenders, len(charges)) {
		wg.Go(func() {
			for c := range next {
				mu.Lock()
				stopped := stopErr != nil
				mu.Unlock()
				outcome, err := chargePending, error(nil)
				if !stopped {
					outcome, err = h.sendCharge(ctx, run, acct, c)
				}
				mu.Lock()
				switch outcome {
				case chargeSent:
					st.Sent++
				case chargeFailed:
					st.Failed++
				default:
					st.Left++
					if stopErr == nil {
						stopErr = err
					}
				}
				mu.Unlock()
			}
		})
	}
	for _, c := range charges {
		next <- c
	}
	close(next)
	wg.Wait()
	return stopErr
}

// sendCharge reports one claimed charge and settles it: chargeSent,
// chargeFailed, or chargePending with the error that stops the run.
func (h *Handler) sendCharge(ctx context.Context, run string, acct *config.StripeBilling, c lead.Charge) (string, error) {
	log := h.Log.With("lead_id", c.LeadID, "buyer", c.Buyer, "charge", c.ID, "kind", c.Kind)
	var err error
	refused := "" // why the charge cannot be sent at all
	switch {
	case c.Amount <= 0:
		refused = "nothing to bill: the amount is not positive"
	case c.Customer == "":
		refused = "no Stripe customer to bill"
	case c.Kind == lead.ChargeSale:
		err = h.Billing.MeterEvent(ctx, acct, stripe.MeterEvent{
			EventName: acct.MeterEventName(), Identifier: c.ID, Customer: c.Customer, Value: int64(c.Amount), Timestamp: c.At,
		})
	case c.Kind == lead.ChargeCredit:
		err = h.Billing.CreditBalance(ctx, acct, c.Customer, int64(c.Amount), acct.CurrencyCode(), "LeadRelay: return of lead "+c.LeadID, c.ID)
	default:
		refused = "unknown kind of charge " + c.Kind
	}
	switch {
	case refused == "" && err == nil:
		if err := h.Charges.ChargeSent(ctx, run, c, h.Now()); err != nil {
			// Stripe has it: a later run sends it again, which Stripe
			// takes as the repeat it is (the same identifier or key).
			log.ErrorContext(ctx, "mark charge sent", "error", err)
		}
		return chargeSent, nil
	case refused == "" && stripeTransient(err):
		log.ErrorContext(ctx, "charge not reported to Stripe: left for a later run", "error", err)
		return chargePending, fmt.Errorf("report charge %s: %w", c.ID, err)
	case refused == "":
		refused = stripeMessage(err)
	}
	log.WarnContext(ctx, "charge refused: marked failed", "why", refused)
	if err := h.Charges.ChargeFailed(ctx, run, c, refused); err != nil {
		log.ErrorContext(ctx, "mark charge failed", "error", err)
	}
	return chargeFailed, nil
}

// tendBalances recharges and tells each prepaid buyer's balance.
func (h *Handler) tendBalances(ctx context.Context, c *config.Config, st *BillingStats) error {
	if h.Balances == nil {
		return nil
	}
	var errs []error
	for i := range c.Buyers {
		b := &c.Buyers[i]
		if !b.Prepaid() {
			continue
		}
		bal, err := h.Balances.Balance(ctx, b.ID)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		amount := bal.Amount
		if billing.DueRecharge(b, amount) {
			added, err := h.recharge(ctx, c, b, st)
			if err != nil {
				errs = append(errs, err)
			}
			amount += added
		}
		if err := h.balanceNotice(ctx, c, b, amount, st); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// recharge charges a prepaid buyer's saved card its auto_recharge amount,
// once per rechargeStale (store.StartRecharge), and credits the balance
// at once when the charge succeeded: under the PaymentIntent's id, as
// Stripe's payment_intent.succeeded webhook credits it, so that the two
// credit it once. A charge still processing is credited by the webhook. A
// declined card is told (Slack) and tried again after rechargeStale.
func (h *Handler) recharge(ctx context.Context, c *config.Config, b *config.Buyer, st *BillingStats) (money.Amount, error) {
	acct := c.Billing.Stripe
	if acct == nil || h.Billing == nil {
		return 0, nil
	}
	started, ok, err := h.Balances.StartRecharge(ctx, b.ID, h.Now(), rechargeStale)
	if err != nil || !ok {
		return 0, err
	}
	ar := b.Billing.AutoRecharge
	log := h.Log.With("buyer", b.ID, "amount", ar.Amount.Decimal())
	pi, err := h.Billing.ChargeSaved(ctx, acct, stripe.ChargeInput{
		Customer: b.Billing.StripeCustomer, Amount: int64(ar.Amount), Currency: acct.CurrencyCode(),
		Metadata:       map[string]string{billing.MetaBuyer: b.ID, billing.MetaKind: billing.KindAutoRecharge},
		IdempotencyKey: fmt.Sprintf("recharge:%s:%d", b.ID, started),
	})
	if err != nil && stripeTransient(err) {
		// Stripe may have charged: the webhook credits it if so.
		log.ErrorContext(ctx, "automatic recharge not answered: tried again in an hour unless Stripe's webhook credits it", "error", err)
		return 0, fmt.Errorf("recharge %s: %w", b.ID, err)
	}
	if err != nil {
		st.Declined++
		why := stripeMessage(err)
		log.WarnContext(ctx, "automatic recharge declined: tried again in an hour", "why", why)
		cur := strings.ToUpper(acct.CurrencyCode())
		h.tell(ctx, c, b,
			fmt.Sprintf("LeadRelay: the automatic recharge of your balance (%s %s) was declined: %s. Leads stop when the balance cannot pay for one: update your card or ask us for a top-up link.", ar.Amount, cur, declineReason(err)),
			fmt.Sprintf("LeadRelay: the automatic recharge of buyer %s (%s %s) was declined: %s. It is tried again in an hour; meanwhile send the buyer a top-up link: leadctl buyers topup %s --amount %s", b.ID, ar.Amount, cur, why, b.ID, ar.Amount.Decimal()))
		return 0, nil
	}
	if pi.Status != stripe.PaymentIntentSucceeded {
		log.InfoContext(ctx, "automatic recharge processing: credited by Stripe's webhook when it succeeds", "payment", pi.ID, "status", pi.Status)
		return 0, nil
	}
	amt := money.Amount(pi.AmountReceived)
	if amt <= 0 {
		amt = money.Amount(pi.Amount)
	}
	applied, err := h.Balances.TopUp(ctx, b.ID, pi.ID, amt, h.Now())
	if err != nil {
		log.ErrorContext(ctx, "credit an automatic recharge: Stripe's webhook credits it", "payment", pi.ID, "error", err)
		return 0, fmt.Errorf("credit recharge of %s: %w", b.ID, err)
	}
	st.Recharged++
	log.InfoContext(ctx, "prepaid balance recharged", "payment", pi.ID, "applied", applied)
	// Credited now or, by the webhook, since the balance was read.
	return amt, nil
}

// declineReason is what a buyer is told of a declined charge.
func declineReason(err error) string {
	var se *stripe.Error
	switch {
	case errors.Is(err, stripe.ErrNoPaymentMethod):
		return "no card is saved (one top-up through the link saves it)"
	case errors.As(err, &se) && se.Message != "":
		return strings.TrimSuffix(se.Message, ".")
	}
	return "the card was refused"
}

// balanceNotice tells a prepaid buyer, and the agency, that its balance
// runs low or is empty: once each time the balance crosses a level
// (store.MarkBalanceNotice; a top-up starts over).
func (h *Handler) balanceNotice(ctx context.Context, c *config.Config, b *config.Buyer, amount money.Amount, st *BillingStats) error {
	level := billing.Notice(b, amount)
	if level == "" {
		return nil
	}
	first, err := h.Balances.MarkBalanceNotice(ctx, b.ID, level)
	if err != nil || !first {
		return err
	}
	st.Notices++
	cur := strings.ToUpper(c.Billing.Stripe.CurrencyCode())
	h.Log.WarnContext(ctx, "prepaid balance "+level, "buyer", b.ID, "balance", amount.Decimal())
	hint := fmt.Sprintf("Send the buyer a top-up link: leadctl buyers topup %s --amount 200 (POST /v1/admin/buyers/%s/topup).", b.ID, b.ID)
	if ar := b.Billing.AutoRecharge; ar != nil {
		hint = fmt.Sprintf("Its automatic recharge of %s %s is on; a top-up link: leadctl buyers topup %s --amount %s.", ar.Amount, cur, b.ID, ar.Amount.Decimal())
	}
	var toBuyer, toAgency string
	switch level {
	case billing.NoticeEmpty:
		toBuyer = fmt.Sprintf("LeadRelay: your prepaid balance is empty (%s %s left): leads stop until it is topped up. Ask us for a top-up link.", amount, cur)
		toAgency = fmt.Sprintf("LeadRelay: buyer %s's prepaid balance is empty (%s %s left, less than one lead): it gets no leads until it is topped up. %s", b.ID, amount, cur, hint)
	default:
		toBuyer = fmt.Sprintf("LeadRelay: your prepaid balance is low: %s %s left. Ask us for a top-up link to keep receiving leads.", amount, cur)
		toAgency = fmt.Sprintf("LeadRelay: buyer %s's prepaid balance is low: %s %s left (low_balance %s). %s", b.ID, amount, cur, b.Billing.LowBalance, hint)
	}
	h.tell(ctx, c, b, toBuyer, toAgency)
	return nil
}

// tell posts to the buyer's Slack (notify.slack_url) and the agency's
// (feedback.slack_url), each if set: best effort, failures logged.
func (h *Handler) tell(ctx context.Context, c *config.Config, b *config.Buyer, toBuyer, toAgency string) {
	if h.Slack == nil {
		return
	}
	for _, m := range []struct{ field, url, text string }{
		{"buyers[" + b.ID + "].notify.slack_url", b.Notify.SlackURL, toBuyer},
		{"feedback.slack_url", c.Feedback.SlackURL, toAgency},
	} {
		if m.url == "" {
			continue
		}
		url, err := h.openSecret(ctx, m.url)
		if err != nil {
			h.Log.WarnContext(ctx, "open a Slack URL", "field", m.field, "error", err)
			continue
		}
		if err := h.Slack.Post(ctx, url, m.text); err != nil {
			h.Log.WarnContext(ctx, "tell Slack of a prepaid balance", "field", m.field, "buyer", b.ID, "error", err)
		}
	}
}

// openSecret is a secret field's value: sealed ones opened, ssm:
// references resolved.
func (h *Handler) openSecret(ctx context.Context, v string) (string, error) {
	switch {
	case config.IsSealed(v):
		if h.Secrets == nil {
			return "", errors.New("a sealed value, and no key to open it")
		}
		return h.Secrets.Open(ctx, v)
	case config.IsSecretRef(v):
		if h.Refs == nil {
			return "", errors.New("an ssm: reference, and no parameter store")
		}
		return h.Refs.Resolve(ctx, v)
	}
	return v, nil
}
