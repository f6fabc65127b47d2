// Package limits owns the deployment limits that the configuration must
// respect, shared by config validation (shared/config) and the CDK app
// (infra/): the functions' timeouts, the queues' maxReceiveCount and
// visibility timeout, and the bounds of the settings that must fit inside
// them (a buyer's max_attempts and delivery timeout, a campaign's
// ping.timeout).
//
// A setting's bound is derived here from the limit it must respect, so the
// two cannot disagree: config refuses a max_attempts that SQS would never
// reach, and the stack deploys the timeouts the validation assumed.
// limits_test.go checks the relations.
package limits

import "time"

// Timeouts of the Lambda functions (infra/stack.go deploys exactly these).
const (
	// IngestFunctionTimeout bounds one API request of a source or a buyer.
	IngestFunctionTimeout = 10 * time.Second
	// RouterFunctionTimeout bounds one batch of the routing queue; the
	// messages of a batch run at once, each with at most one auction of
	// up to its campaign's ping.timeout.
	RouterFunctionTimeout = 30 * time.Second
	// DeliveryFunctionTimeout bounds one batch of the delivery queue; the
	// messages of a batch run at once, each with one post of up to its
	// buyer's delivery timeout.
	DeliveryFunctionTimeout = 60 * time.Second
	// FeedbackInterval is how often the feedback loops run (the admin
	// function's scheduled task).
	FeedbackInterval = 5 * time.Minute
	// ConversionsInterval is how often the queued lead stages of Meta's
	// leads are sent to Meta's Conversions API (the admin function's
	// "conversions" task).
	ConversionsInterval = time.Minute
	// BillingInterval is how often the admin function's "billing" task
	// reports invoiced buyers' charges to Stripe, tells prepaid buyers
	// whose balance runs low and recharges their saved cards.
	BillingInterval = time.Minute
	// AdminFunctionTimeout bounds one scheduled task (a day's training of
	// every campaign's model, a run of the feedback loops); an operator's
	// request is cut at API Gateway's 29 s first.
	AdminFunctionTimeout = 5 * time.Minute
	// PingFunctionTimeout bounds a seller's ping, answered synchronously.
	PingFunctionTimeout = 5 * time.Second
	// AggregateFunctionTimeout bounds one batch of the table's stream
	// folded into the P&L's daily aggregates.
	AggregateFunctionTimeout = 60 * time.Second
	// SweeperFunctionTimeout bounds one sweep; it is at most SweepInterval
	// so that a sweep ends before the next one starts.
	SweeperFunctionTimeout = 60 * time.Second
)

// SweepInterval is how often the sweeper runs (an EventBridge schedule).
const SweepInterval = time.Minute

// VisibilityPerTimeout is a work queue's visibility timeout in multiples of
// its consumer's function timeout: Lambda wants at least six, so that a
// batch still being retried by the poller is not handed out again.
const VisibilityPerTimeout int = 6

// Delivery attempts and the queues' redrive.
const (
	// MaxDeliveryAttempts is the largest max_attempts a buyer's delivery
	// may have: every attempt is one receive of the delivery message.
	MaxDeliveryAttempts int = 20
	// ReceiveSlack is how many receives of a message are left over after
	// MaxDeliveryAttempts attempts, for receives that are no attempt: a
	// batch that failed as a whole (a throttled store, a crash, a timeout).
	ReceiveSlack int = 5
	// QueueMaxReceiveCount is the routing and delivery queues'
	// maxReceiveCount: after that many receives SQS moves a message to
	// the queue's DLQ. It stays above MaxDeliveryAttempts, or attempts past
	// it would never happen: SQS would dead-letter the message first.
	QueueMaxReceiveCount = MaxDeliveryAttempts + ReceiveSlack
	// MetaMaxReceiveCount is the Meta queue's maxReceiveCount: a Meta Lead
	// Ads notification whose lead cannot be fetched (the Graph API down, a
	// revoked page token) or ingested is received this many times, one
	// visibility timeout (VisibilityPerTimeout × IngestFunctionTimeout, a
	// minute) apart, before SQS moves it to the Meta DLQ for an operator:
	// ten minutes of a Graph outage ride through, and a lead that cannot be
	// fetched reaches the DLQ's alarm within them.
	MetaMaxReceiveCount = 10
)

// MaxDeliveryTimeout is the longest delivery timeout of a buyer: a post of
// that long takes at most half of the delivery function's timeout, the rest
// being for the lead's reads and writes around it.
const MaxDeliveryTimeout = 30 * time.Second

// MaxPingTimeout is the longest ping.timeout of a campaign: four fifths of
// the shorter of the ping and router functions' timeouts (4 s of the ping
// function's 5 s). A seller's ping is answered within ping.timeout less
// 10 % (shared/ping.Budget), 3.6 s, which leaves the ping function 1.4 s
// for a cold start, the configuration read and the answer; the router's
// auction waits at most ping.timeout, well inside the router's 30 s.
const MaxPingTimeout = min(PingFunctionTimeout, RouterFunctionTimeout) * 4 / 5

// Requests a second API Gateway takes on the sources' routes (infra/stack.go
// deploys these as the routes' throttles). A source's own rate limit
// (shared/ratelimit) is at most its route's: a higher one could never be
// reached.
const (
	LeadsRouteRate = 1000 // POST /v1/leads
	PingsRouteRate = 500  // POST /v1/pings
)

// Default per-source rates (requests a second), for a source whose
// configuration and agency set none. A ping fans out to every eligible
// buyer, so pings get less.
const (
	DefaultLeadRate = 50
	DefaultPingRate = 20
)
