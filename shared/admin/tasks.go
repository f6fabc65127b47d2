package admin

import (
	"context"
	"errors"
	"fmt"

	"github.com/leadrelay/leadrelay/shared/config"
)

// Scheduled tasks: the stack's schedules invoke the admin function with
// {"task": "<name>"} (EventBridge rules with a constant input).
const (
	// TaskTrain trains every active campaign's scoring model (daily).
	TaskTrain = "train"
	// TaskFeedback runs the feedback loops (every few minutes).
	TaskFeedback = "feedback"
	// TaskSpend imports the ad platforms' spend of yesterday and today
	// (hourly, adspend.go).
	TaskSpend = "spend"
	// TaskConversions sends the queued lead stages of Meta's leads to
	// Meta's Conversions API (every minute, conversions.go).
	TaskConversions = "conversions"
	// TaskBilling reports invoiced buyers' charges to Stripe and tends
	// prepaid buyers' balances: notices and automatic recharges (every
	// minute, billingtask.go).
	TaskBilling = "billing"
)

// Task is a scheduled task's event.
type Task struct {
	Task string `json:"task"`
}

// RunTask runs a scheduled task. A campaign without labelled leads is not
// an error; the first failure of the others is reported after every
// campaign was tried.
func (h *Handler) RunTask(ctx context.Context, t Task) error {
	switch t.Task {
	case TaskFeedback:
		_, err := h.RunLoops(ctx)
		return err
	case TaskSpend:
		return h.ImportSpend(ctx)
	case TaskConversions:
		_, err := h.SendConversions(ctx)
		return err
	case TaskBilling:
		_, err := h.RunBilling(ctx)
		return err
	case TaskTrain:
		c, err := h.Store.LoadConfig(ctx)
		if err != nil {
			return fmt.Errorf("load configuration: %w", err)
		}
		ix := config.NewIndex(c)
		var errs []error
		for i := range c.Campaigns {
			camp := &c.Campaigns[i]
			if camp.Status == config.StatusPaused {
				continue
			}
			if _, err := h.Train(ctx, ix, camp); err != nil && !errors.Is(err, errNoLabels) {
				h.Log.ErrorContext(ctx, "train scoring model", "campaign", camp.ID, "error", err)
				errs = append(errs, fmt.Errorf("train %s: %w", camp.ID, err))
			}
		}
		return errors.Join(errs...)
	}
	return fmt.Errorf("unknown task %q", t.Task)
}
