// Package runner runs the whole of LeadRelay in one process against an
// AWS-compatible endpoint: the real handlers, an HTTP server that turns
// requests into API Gateway proxy events, pollers that hand SQS batches
// to the router and delivery handlers (and the Meta queue's to the ingest
// handler) the way Lambda's event source mapping does (batches of up to
// 10, partial batch failures, redelivery after the visibility timeout), a
// poller of the table's stream for the aggregate handler (stream.go), and
// the sweeper on a timer.
package runner

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/leadrelay/leadrelay/shared/admin"
	"github.com/leadrelay/leadrelay/shared/app"
	"github.com/leadrelay/leadrelay/shared/config"
	"github.com/leadrelay/leadrelay/shared/console"
	"github.com/leadrelay/leadrelay/shared/httpapi"
	"github.com/leadrelay/leadrelay/shared/limits"
	"github.com/leadrelay/leadrelay/shared/queue"
	"github.com/leadrelay/leadrelay/shared/secrets"
	"github.com/leadrelay/leadrelay/shared/settings"
	"github.com/leadrelay/leadrelay/shared/store"
	"github.com/leadrelay/leadrelay/shared/sweeper"
)

// Options configure a runner.
type Options struct {
	// Addr is where the API listens ("127.0.0.1:8080"; ":0" picks a port).
	Addr string
	// AdminToken guards /v1/admin.
	AdminToken string
	// ConfigFile is a YAML configuration applied at start ("" for none).
	// ${VAR} in it is expanded from the environment, and ${LEADRELAY_ADDR}
	// is the address the runner listens on.
	ConfigFile string
	// Prefix names the table and queues ("leadrelay-" gives the table
	// "leadrelay-leads" and queues "leadrelay-routing", ...).
	Prefix string
	// AWS is the configuration of the emulator's clients.
	AWS aws.Config
	// BackgroundAWS, when set, is the configuration of the clients of the
	// work that is not a lead's own: the stream poller, the aggregate
	// handler and the sweeper (tests count the two apart).
	BackgroundAWS *aws.Config
	// Visibility is the queues' visibility timeout (default 30 s).
	Visibility time.Duration
	// Pollers is how many pollers each queue gets (default 4; negative:
	// none, for tests that hand messages to the handlers themselves).
	Pollers int
	// AllowPrivateTargets lets buyers live on localhost.
	AllowPrivateTargets bool
	// ConfigTTL is how long handlers cache the configuration (default 5 s).
	ConfigTTL time.Duration
	// Redeliver hands batches to their handler a second time, as SQS
	// does when a message's visibility timeout lapses mid-flight (tests of
	// the redelivery invariants): every RedeliverEvery-th batch of each
	// poller (every batch when 0 or 1).
	Redeliver      bool
	RedeliverEvery int
	// DeliveryJitter replaces the delivery handler's backoff jitter (tests:
	// a jitter of 0 makes every backoff the 1 s floor).
	DeliveryJitter func(time.Duration) time.Duration
	// SweepEvery is how often the sweeper runs (default a minute, as on
	// AWS; negative: never, for tests that run it themselves), and
	// SweepGrace how long a new lead may wait for its first routing round
	// (default the sweeper's).
	SweepEvery time.Duration
	// NoTasks turns off the admin function's scheduled tasks (tests run
	// them by hand: Runner.Admin.RunTask).
	NoTasks    bool
	SweepGrace time.Duration
	// MetaGraphURL is the Graph API the Meta leads are fetched from (tests:
	// a fake on loopback); "" keeps LEADRELAY_META_GRAPH_URL or its
	// default. MetaAppSecret verifies Meta notifications; "" keeps
	// LEADRELAY_META_APP_SECRET (or its SSM parameter).
	MetaGraphURL  string
	MetaAppSecret string
	// GoogleAdsURL is the Google Ads API the ad spend import reads (tests:
	// a fake on loopback); "" keeps LEADRELAY_GOOGLE_ADS_URL or its
	// default. The import reads Meta's insights at MetaGraphURL.
	GoogleAdsURL string
	// SheetsURL and GoogleTokenURL are the Sheets API and the token
	// endpoint of Sheets deliveries (tests: a fake on loopback); ""
	// keeps LEADRELAY_SHEETS_URL and LEADRELAY_GOOGLE_TOKEN_URL or their
	// defaults.
	SheetsURL      string
	GoogleTokenURL string
	// StripeURL is Stripe's API of buyer billing (tests: stripefake on
	// loopback); "" keeps LEADRELAY_STRIPE_URL or its default.
	StripeURL string
	Log       *slog.Logger
	// PublicURL is the base URL Twilio's voice webhooks are signed over
	// and their callbacks point at; "" keeps LEADRELAY_PUBLIC_URL, or the
	// runner's own URL. TwilioAuthToken checks their signatures; "" keeps
	// LEADRELAY_TWILIO_AUTH_TOKEN (or its SSM parameter).
	PublicURL       string
	TwilioAuthToken string
}

// Runner is a running local LeadRelay.
type Runner struct {
	App *app.App
	// URL is the API's base URL, "http://127.0.0.1:8080".
	URL    string
	Queues queue.URLs
	Demo   *DemoBuyer
	// Sweeper is the sweeper the runner runs every SweepEvery.
	Sweeper *sweeper.Handler
	// Admin is the operators' API, whose scheduled tasks (the feedback
	// loops, the scoring models' training) the runner runs as the stack's
	// schedules do.
	Admin *admin.Handler
	// Console is the operators' console, at URL + "/console".
	Console *console.Server

	srv       *http.Server
	stream    *streamPoller
	redeliver int // every n-th batch, 0: never
	cancel    context.CancelFunc
	wg        sync.WaitGroup
}

// Start creates the table and queues if they do not exist, applies the
// configuration file, and starts serving and polling.
func Start(ctx context.Context, o Options) (*Runner, error) {
	if o.Visibility == 0 {
		o.Visibility = 30 * time.Second
	}
	if o.Pollers == 0 {
		o.Pollers = 4
	}
	if o.Pollers < 0 {
		o.Pollers = 0
	}
	if o.ConfigTTL == 0 {
		o.ConfigTTL = settings.DefaultConfigTTL
	}
	if o.Prefix == "" {
		o.Prefix = "leadrelay-"
	}
	if o.Log == nil {
		o.Log = slog.New(slog.NewJSONHandler(os.Stderr, nil))
	}
	ln, err := net.Listen("tcp", o.Addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", o.Addr, err)
	}
	addr := ln.Addr().String()
	// The functions' settings path (settings.FromEnv), with what the
	// runner decides: its table and queues, private targets, the TTL.
	s, err := settings.FromEnv(os.Getenv)
	if err != nil {
		ln.Close()
		return nil, err
	}
	s.Table, s.AllowPrivateTargets, s.ConfigTTL = o.Prefix+"leads", o.AllowPrivateTargets, o.ConfigTTL
	s.ModelTTL = o.ConfigTTL // a model trained locally takes effect as fast as a configuration change
	if err := store.CreateTable(ctx, dynamodb.NewFromConfig(o.AWS), s.Table); err != nil {
		ln.Close()
		return nil, err
	}
	urls, err := queue.Ensure(ctx, sqs.NewFromConfig(o.AWS), o.Prefix, int(o.Visibility/time.Second))
	if err != nil {
		ln.Close()
		return nil, err
	}
	s.RoutingQueueURL, s.RoutingDLQURL, s.DeliveryQueueURL, s.DeliveryDLQURL = urls.Routing, urls.RoutingDLQ, urls.Delivery, urls.DeliveryDLQ
	s.MetaQueueURL, s.MetaDLQURL = urls.Meta, urls.MetaDLQ
	if o.MetaGraphURL != "" {
		s.MetaGraphURL = strings.TrimSuffix(o.MetaGraphURL, "/")
	}
	if o.GoogleAdsURL != "" {
		s.GoogleAdsURL = strings.TrimSuffix(o.GoogleAdsURL, "/")
	}
	if o.SheetsURL != "" {
		s.SheetsURL = strings.TrimSuffix(o.SheetsURL, "/")
	}
	if o.GoogleTokenURL != "" {
		s.GoogleTokenURL = o.GoogleTokenURL
	}
	if o.StripeURL != "" {
		s.StripeURL = strings.TrimSuffix(o.StripeURL, "/")
	}
	if o.MetaAppSecret != "" {
		s.MetaAppSecret = o.MetaAppSecret
	}
	if o.PublicURL != "" {
		s.PublicURL = strings.TrimSuffix(o.PublicURL, "/")
	}
	if s.PublicURL == "" {
		s.PublicURL = "http://" + addr
	}
	if o.TwilioAuthToken != "" {
		s.TwilioAuthToken = o.TwilioAuthToken
	}
	if s.PingSecret == "" && s.PingSecretParam == "" {
		s.PingSecret = pingSecret() // ping.go: a random one for this run
	}
	if s.SecretsKeyID == "" && s.SecretsKey == "" {
		// The configuration's secrets are sealed under a local key: a
		// random one for this run unless LEADRELAY_SECRETS_KEY sets it
		// (the demo configuration is applied again at every start).
		s.SecretsKey = pingSecret()
	}
	a := app.New(s, o.AWS, o.Log)
	if _, err := a.PingSecret.Get(ctx); err != nil { // read at start here: a bad secret stops the run
		ln.Close()
		return nil, err
	}
	if o.ConfigFile != "" {
		if err := applyFile(ctx, a, o.ConfigFile, addr); err != nil {
			ln.Close()
			return nil, err
		}
	}
	r := &Runner{App: a, URL: "http://" + addr, Queues: urls, Demo: NewDemoBuyer(o.Log)}
	if o.Redeliver {
		r.redeliver = max(o.RedeliverEvery, 1)
	}
	ingest, adm := a.Ingest(), a.Admin(o.AdminToken)
	r.Admin = adm
	// The operators' console over the same admin handler, signed in with
	// the operator token, its sessions in the table.
	r.Console = &console.Server{API: adm, APIToken: o.AdminToken, Sessions: a.Store, Token: o.AdminToken,
		PublicURL: r.URL, Now: a.Base.Now, Log: o.Log}
	mux := http.NewServeMux()
	mux.Handle("/v1/admin/", proxy(adm.Handle, o.Log))
	mux.Handle("/console", proxy(r.Console.Handle, o.Log))
	mux.Handle("/console/", proxy(r.Console.Handle, o.Log))
	mux.Handle("/v1/pings", proxy(a.Ping().Handle, o.Log))
	mux.Handle("/demo/buyer", r.Demo)
	mux.Handle("/", proxy(ingest.Handle, o.Log))
	r.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	pctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	r.cancel = cancel
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		if err := r.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			o.Log.Error("API server stopped", "error", err)
		}
	}()
	rt, dl := a.Router(), a.Delivery()
	if o.DeliveryJitter != nil {
		dl.Jitter = o.DeliveryJitter
	}
	for i := 0; i < o.Pollers; i++ {
		r.poll(pctx, a.SQS, urls.Routing, rt.Handle, o.Log)
		r.poll(pctx, a.SQS, urls.Delivery, dl.Handle, o.Log)
	}
	// The Meta queue's leads, fetched from the Graph API by the ingest
	// handler (its event source mapping on AWS): one poller is enough.
	if o.Pollers > 0 {
		r.poll(pctx, a.SQS, urls.Meta, ingest.HandleMeta, o.Log)
	}
	bg, bgCfg := a, o.AWS
	if o.BackgroundAWS != nil {
		bgCfg = *o.BackgroundAWS
		bg = app.New(s, bgCfg, o.Log)
		bg.Configs = a.Configs
	}
	r.stream = newStreamPoller(dynamodbstreams.NewFromConfig(bgCfg), bg.DynamoDB, s.Table, bg.Aggregator().Handle, o.Log)
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		r.stream.run(pctx)
	}()
	r.Sweeper = bg.Sweeper()
	r.Sweeper.RouteGrace = o.SweepGrace
	if o.SweepEvery == 0 {
		o.SweepEvery = time.Minute
	}
	if o.SweepEvery > 0 {
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			t := time.NewTicker(o.SweepEvery)
			defer t.Stop()
			for {
				select {
				case <-pctx.Done():
					return
				case <-t.C:
					_ = r.Sweeper.Handle(pctx, events.CloudWatchEvent{})
				}
			}
		}()
	}
	if !o.NoTasks {
		r.runTasks(pctx, o.Log)
	}
	return r, nil
}

// runTasks runs the admin function's scheduled tasks on the stack's
// schedules: the feedback loops every limits.FeedbackInterval, the ad
// spend import hourly, the lead stages to Meta every
// limits.ConversionsInterval, buyer billing every limits.BillingInterval,
// the scoring models' training daily.
func (r *Runner) runTasks(ctx context.Context, log *slog.Logger) {
	every := func(d time.Duration, task string) {
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			t := time.NewTicker(d)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
					if err := r.Admin.RunTask(ctx, admin.Task{Task: task}); err != nil {
						log.Warn("scheduled task", "task", task, "error", err)
					}
				}
			}
		}()
	}
	every(limits.FeedbackInterval, admin.TaskFeedback)
	every(time.Hour, admin.TaskSpend)
	every(limits.ConversionsInterval, admin.TaskConversions)
	every(limits.BillingInterval, admin.TaskBilling)
	every(24*time.Hour, admin.TaskTrain)
}

// SettleLedger waits until the aggregate handler has folded in every
// ledger entry written before the call (the P&L is then exact).
func (r *Runner) SettleLedger(ctx context.Context) error { return r.stream.settle(ctx) }

// Stop stops serving, lets the pollers finish their batches, and returns.
func (r *Runner) Stop(ctx context.Context) error {
	err := r.srv.Shutdown(ctx)
	r.cancel()
	r.wg.Wait()
	return err
}

func applyFile(ctx context.Context, a *app.App, path, addr string) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read configuration: %w", err)
	}
	c, err := config.Parse([]byte(expandFile(string(raw), addr)))
	if err != nil {
		return fmt.Errorf("configuration %s: %w", path, err)
	}
	// Stored as the admin API stores it: its secrets sealed.
	cur, err := a.Store.LoadConfig(ctx)
	if err != nil {
		return fmt.Errorf("apply configuration %s: %w", path, err)
	}
	if err := config.KeepSecrets(c, cur); err != nil {
		return fmt.Errorf("configuration %s: %w", path, err)
	}
	if err := secrets.Seal(ctx, c, cur, a.Secrets); err != nil {
		return fmt.Errorf("configuration %s: %w", path, err)
	}
	if _, _, err := a.Store.SaveConfig(ctx, c, -1); err != nil {
		return fmt.Errorf("apply configuration %s: %w", path, err)
	}
	a.Configs.Invalidate()
	return nil
}

// envRef is a ${NAME} reference in a configuration file.
var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// expandFile puts the environment's values in place of a configuration
// file's ${NAME} references (${LEADRELAY_ADDR}: the runner's address).
// Only the braced form is expanded: a bare $name is the configuration's
// own ($lead_id in a buyer's field mapping).
func expandFile(doc, addr string) string {
	return envRef.ReplaceAllStringFunc(doc, func(m string) string {
		k := envRef.FindStringSubmatch(m)[1]
		if k == "LEADRELAY_ADDR" {
			return addr
		}
		return os.Getenv(k)
	})
}

// proxy serves an API Gateway proxy handler over HTTP.
func proxy(h func(context.Context, httpapi.Request) (httpapi.Response, error), log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, req.Body, 10<<20))
		if err != nil {
			writeJSON(w, httpapi.Error(http.StatusRequestEntityTooLarge, "payload_too_large", "the body is over API Gateway's 10 MiB"))
			return
		}
		ev := httpapi.Request{
			HTTPMethod:            req.Method,
			Path:                  req.URL.Path,
			Resource:              req.URL.Path,
			Headers:               map[string]string{},
			MultiValueHeaders:     map[string][]string{},
			QueryStringParameters: map[string]string{},
			RequestContext: events.APIGatewayProxyRequestContext{
				Stage: "local", HTTPMethod: req.Method, Path: req.URL.Path,
				Identity: events.APIGatewayRequestIdentity{SourceIP: req.RemoteAddr},
			},
		}
		for k, v := range req.Header {
			ev.Headers[k] = v[0]
			ev.MultiValueHeaders[k] = v
		}
		for k, v := range req.URL.Query() {
			ev.QueryStringParameters[k] = v[0]
		}
		ev.MultiValueQueryStringParameters = req.URL.Query()
		if id, ok := strings.CutPrefix(req.URL.Path, "/v1/leads/"); ok {
			ev.Resource = "/v1/leads/{id}"
			ev.PathParameters = map[string]string{"id": id}
		}
		if utf8.Valid(body) {
			ev.Body = string(body)
		} else {
			ev.Body, ev.IsBase64Encoded = base64.StdEncoding.EncodeToString(body), true
		}
		resp, err := h(req.Context(), ev)
		if err != nil {
			log.Error("handler error", "path", req.URL.Path, "error", err)
			resp = httpapi.Error(http.StatusBadGateway, "internal", "the function failed")
		}
		writeJSON(w, resp)
	})
}

func writeJSON(w http.ResponseWriter, resp httpapi.Response) {
	for k, v := range resp.Headers {
		w.Header().Set(k, v)
	}
	for k, vs := range resp.MultiValueHeaders {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	w.WriteHeader(resp.StatusCode)
	if resp.IsBase64Encoded {
		b, _ := base64.StdEncoding.DecodeString(resp.Body)
		_, _ = w.Write(b)
		return
	}
	_, _ = io.WriteString(w, resp.Body)
}

// poll runs one poller: receive a batch, hand it to the handler, delete
// what succeeded. Failed messages come back after their visibility timeout
// (or the backoff the handler set), as with Lambda's event source mapping.
func (r *Runner) poll(ctx context.Context, api *sqs.Client, url string, h func(context.Context, events.SQSEvent) (events.SQSEventResponse, error), log *slog.Logger) {
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		batches := 0
		for ctx.Err() == nil {
			out, err := api.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
				QueueUrl: aws.String(url), MaxNumberOfMessages: 10, WaitTimeSeconds: 1,
				MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameAll},
				MessageAttributeNames:       []string{"All"},
			})
			if err != nil {
				if ctx.Err() == nil {
					log.Warn("receive messages", "queue", url, "error", err)
					time.Sleep(500 * time.Millisecond)
				}
				continue
			}
			if len(out.Messages) == 0 {
				continue
			}
			ev := events.SQSEvent{}
			for _, m := range out.Messages {
				rec := events.SQSMessage{
					MessageId: aws.ToString(m.MessageId), ReceiptHandle: aws.ToString(m.ReceiptHandle),
					Body: aws.ToString(m.Body), Attributes: m.Attributes, EventSource: "aws:sqs",
					MessageAttributes: map[string]events.SQSMessageAttribute{},
				}
				for k, v := range m.MessageAttributes {
					rec.MessageAttributes[k] = events.SQSMessageAttribute{StringValue: v.StringValue, DataType: aws.ToString(v.DataType)}
				}
				ev.Records = append(ev.Records, rec)
			}
			// Like Lambda, the batch runs to completion once received.
			resp, err := h(context.WithoutCancel(ctx), ev)
			failed := map[string]bool{}
			if err != nil {
				log.Error("batch failed", "queue", url, "error", err)
				continue
			}
			for _, f := range resp.BatchItemFailures {
				failed[f.ItemIdentifier] = true
			}
			batches++
			if r.redeliver > 0 && batches%r.redeliver == 0 {
				if _, err := h(context.WithoutCancel(ctx), redelivered(ev)); err != nil {
					log.Error("redelivered batch failed", "queue", url, "error", err)
				}
			}
			var del []sqstypes.DeleteMessageBatchRequestEntry
			for i, m := range ev.Records {
				if !failed[m.MessageId] {
					del = append(del, sqstypes.DeleteMessageBatchRequestEntry{Id: aws.String(fmt.Sprint(i)), ReceiptHandle: aws.String(m.ReceiptHandle)})
				}
			}
			if len(del) > 0 {
				if _, err := api.DeleteMessageBatch(context.WithoutCancel(ctx), &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(url), Entries: del}); err != nil {
					log.Warn("delete messages", "queue", url, "error", err)
				}
			}
		}
	}()
}

// redelivered is a batch as SQS delivers it once more.
func redelivered(ev events.SQSEvent) events.SQSEvent {
	out := events.SQSEvent{Records: make([]events.SQSMessage, len(ev.Records))}
	for i, m := range ev.Records {
		attrs := make(map[string]string, len(m.Attributes))
		for k, v := range m.Attributes {
			attrs[k] = v
		}
		n, _ := strconv.Atoi(attrs["ApproximateReceiveCount"])
		attrs["ApproximateReceiveCount"] = strconv.Itoa(n + 1)
		m.Attributes = attrs
		out.Records[i] = m
	}
	return out
}
