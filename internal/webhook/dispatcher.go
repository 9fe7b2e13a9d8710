package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parley-rtc/parley/internal/store"
	"github.com/prometheus/client_golang/prometheus"
)

// Defaults of the REFERENCE.md §1.4 retry schedule and of the dispatcher.
const (
	DefaultAttemptTimeout = 5 * time.Second
	DefaultRetryInterval  = 10 * time.Second
	DefaultRetryBudget    = time.Minute
	DefaultMaxInFlight    = 8
	// Retention is how long delivered and failed rows are kept
	// (DeleteExpired).
	Retention = 14 * 24 * time.Hour
)

const (
	// leaseSlack is added to the attempt timeout for a claimed row's
	// lease: if the process dies mid-attempt, the row is due again then.
	leaseSlack = 10 * time.Second
	// storeRetry is the pause after a store error in the dispatch loop.
	storeRetry = time.Second
	// maxReply bounds how much of a receiver's reply is read (TRTC:
	// replies are under 2,000 bytes).
	maxReply = 4096
)

// Target is where an app's callbacks go and the key that signs them.
type Target struct {
	URL string
	Key []byte
}

// Targets looks up an app's callback target; ok is false when the app has
// none configured (its events are not enqueued). The server implements it
// from app settings.
type Targets interface {
	Target(ctx context.Context, app uint32) (Target, bool, error)
}

// Config configures a Dispatcher.
type Config struct {
	Outbox  store.WebhookOutbox // required
	Targets Targets             // required
	// HTTPClient sends the callbacks; nil = a private client that does
	// not follow redirects. Attempt timeouts come from AttemptTimeout.
	HTTPClient *http.Client
	Clock      Clock // nil = SystemClock
	Logger     *slog.Logger
	Registerer prometheus.Registerer

	MaxInFlight    int           // concurrent attempts; 0 = 8
	AttemptTimeout time.Duration // 0 = 5 s
	RetryInterval  time.Duration // 0 = 10 s
	RetryBudget    time.Duration // last attempt starts at most this long after the first; 0 = 60 s
	// IdlePoll is how often an idle dispatcher looks for rows another
	// process enqueued (`parley incident declare` against a running
	// server's data directory); 0 = 30 s.
	IdlePoll time.Duration
}

// Dispatcher delivers the outbox. Enqueue may be called before Start and
// after Close (rows wait in the store for the next Start).
type Dispatcher struct {
	cfg       Config
	clock     Clock
	log       *slog.Logger
	m         *metrics
	client    *http.Client
	ownClient bool

	wake     chan struct{} // cap 1: "the outbox changed"
	attempts atomic.Int64  // finished attempts, for tests and status

	mu      sync.Mutex
	started bool
	cancel  context.CancelFunc
	wg      sync.WaitGroup

	// idleHook, if set (tests), is called by the loop before it blocks.
	idleHook func(inflight int, attempts int64)
}

// New builds a dispatcher; call Start to deliver.
func New(cfg Config) (*Dispatcher, error) {
	if cfg.Outbox == nil || cfg.Targets == nil {
		return nil, fmt.Errorf("%w: dispatcher needs an Outbox and Targets", ErrBadConfig)
	}
	if cfg.MaxInFlight <= 0 {
		cfg.MaxInFlight = DefaultMaxInFlight
	}
	if cfg.IdlePoll <= 0 {
		cfg.IdlePoll = 30 * time.Second
	}
	if cfg.AttemptTimeout <= 0 {
		cfg.AttemptTimeout = DefaultAttemptTimeout
	}
	if cfg.RetryInterval <= 0 {
		cfg.RetryInterval = DefaultRetryInterval
	}
	if cfg.RetryBudget <= 0 {
		cfg.RetryBudget = DefaultRetryBudget
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	d := &Dispatcher{cfg: cfg, clock: cfg.Clock, log: cfg.Logger, m: m, client: cfg.HTTPClient, wake: make(chan struct{}, 1)}
	if d.clock == nil {
		d.clock = SystemClock{}
	}
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	if d.client == nil {
		tr, ok := http.DefaultTransport.(*http.Transport)
		if ok {
			tr = tr.Clone()
		} else {
			tr = &http.Transport{}
		}
		d.client = &http.Client{
			Transport:     tr,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
		d.ownClient = true
	}
	return d, nil
}

// Enqueue durably records body for delivery to app's callback URL and
// returns once the row is committed (the event is then "accepted"). It
// returns false, nil when the app has no callback configured. An empty
// eventID gets a fresh UUIDv7; enqueuing an event id the app already has
// is a no-op that reports true (idempotent producers).
func (d *Dispatcher) Enqueue(ctx context.Context, app uint32, eventID string, body []byte) (bool, error) {
	tgt, ok, err := d.cfg.Targets.Target(ctx, app)
	if err != nil {
		return false, fmt.Errorf("webhook: callback target of app %d: %w", app, err)
	}
	if !ok || tgt.URL == "" {
		return false, nil
	}
	now := d.clock.Now()
	if eventID == "" {
		eventID = NewEventID(now)
	}
	_, err = d.cfg.Outbox.EnqueueWebhook(ctx, store.Webhook{
		SDKAppID: app, EventID: eventID, URL: tgt.URL, Body: body, CreatedAt: now, NextAttemptAt: now,
	})
	if err != nil && !errors.Is(err, store.ErrConflict) {
		return false, fmt.Errorf("webhook: enqueue: %w", err)
	}
	d.kick()
	return true, nil
}

// DeleteExpired deletes delivered and failed rows older than Retention;
// the retention engine calls it.
func (d *Dispatcher) DeleteExpired(ctx context.Context) (int64, error) {
	n, err := d.cfg.Outbox.DeleteWebhooksBefore(ctx, d.clock.Now().Add(-Retention))
	if err != nil {
		return 0, fmt.Errorf("webhook: retention: %w", err)
	}
	return n, nil
}

func (d *Dispatcher) kick() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// Start runs the dispatch loop (once per Dispatcher): it first resumes pending rows already due
// (from before a restart), then waits for enqueues and due times.
func (d *Dispatcher) Start() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.started {
		return
	}
	d.started = true
	ctx, cancel := context.WithCancel(context.Background())
	d.cancel = cancel
	d.wg.Add(1)
	go d.run(ctx)
}

// Close stops the loop and cancels attempts in flight; their rows are
// rescheduled without counting the attempt, so the next Start retries
// them (receivers may then see an event twice and deduplicate on its id).
func (d *Dispatcher) Close() error {
	d.mu.Lock()
	cancel := d.cancel
	d.cancel = nil
	d.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	d.wg.Wait()
	if d.ownClient {
		d.client.CloseIdleConnections()
	}
	return nil
}

func (d *Dispatcher) run(ctx context.Context) {
	defer d.wg.Done()
	limit := d.cfg.MaxInFlight
	done := make(chan struct{}, limit)
	inflight := 0
	var timer Timer
	stopTimer := func() {
		if timer != nil {
			timer.Stop()
			timer = nil
		}
	}
	defer stopTimer()
	for {
		var wakeIn time.Duration
		armed := false
		if free := limit - inflight; free > 0 {
			now := d.clock.Now()
			rows, err := d.cfg.Outbox.ClaimWebhooks(ctx, now, now.Add(d.cfg.AttemptTimeout+leaseSlack), free)
			switch {
			case ctx.Err() != nil:
			case err != nil:
				d.log.Error("webhook: claim failed", "err", err)
				wakeIn, armed = storeRetry, true
			default:
				for _, w := range rows {
					inflight++
					d.wg.Add(1)
					go func() {
						defer d.wg.Done()
						d.attempt(ctx, w)
						done <- struct{}{}
					}()
				}
				if inflight < limit {
					next, ok, err := d.cfg.Outbox.NextWebhookAt(ctx)
					switch {
					case ctx.Err() != nil:
					case err != nil:
						d.log.Error("webhook: next due time unknown", "err", err)
						wakeIn, armed = storeRetry, true
					case ok:
						wakeIn, armed = next.Sub(now), true
					default: // nothing pending here: look again later for others' rows
						wakeIn, armed = d.cfg.IdlePoll, true
					}
				}
			}
		}
		stopTimer()
		var timerC <-chan time.Time
		if armed {
			timer = d.clock.NewTimer(wakeIn)
			timerC = timer.C()
		}
		if d.idleHook != nil {
			d.idleHook(inflight, d.attempts.Load())
		}
		select {
		case <-ctx.Done():
			for ; inflight > 0; inflight-- {
				<-done
			}
			return
		case <-done:
			inflight--
		case <-d.wake:
		case <-timerC:
		}
	}
}

// attemptResult is an attempt's outcome. errPhrase is a fixed phrase
// without personal information; final means retrying cannot help.
type attemptResult struct {
	ok        bool
	aborted   bool // shutdown cancelled it
	final     bool
	errPhrase string
}

func (d *Dispatcher) attempt(ctx context.Context, w store.Webhook) {
	start := d.clock.Now()
	r := d.deliver(ctx, w, start)
	end := d.clock.Now()
	res := store.WebhookResult{State: store.WebhookPending, NextAttemptAt: end, Attempted: !r.aborted, LastError: r.errPhrase}
	switch {
	case r.aborted:
		res.LastError = w.LastError
	case r.ok:
		res.State = store.WebhookDelivered
	case r.final:
		res.State = store.WebhookFailed
	default:
		first := w.FirstAttemptAt
		if first.IsZero() {
			first = start
		}
		if next, ok := d.nextAttempt(first, end, w.Attempts+1); ok {
			res.NextAttemptAt = next
		} else {
			res.State = store.WebhookFailed
		}
	}
	// Record even when shutting down, so a released row is due at once
	// on the next start instead of after its lease.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), d.cfg.AttemptTimeout)
	defer cancel()
	if err := d.cfg.Outbox.FinishWebhookAttempt(wctx, w.ID, res); err != nil {
		d.log.Error("webhook: recording attempt failed", "sdkappid", w.SDKAppID, "event_id", w.EventID, "err", err)
	}
	if !r.aborted {
		outcome := "ok"
		if !r.ok {
			outcome = "error"
		}
		d.m.attempts.WithLabelValues(outcome).Inc()
		d.attempts.Add(1)
	}
	switch res.State {
	case store.WebhookDelivered:
		d.m.finished.WithLabelValues("delivered").Inc()
	case store.WebhookFailed:
		d.m.finished.WithLabelValues("failed").Inc()
		d.log.Warn("webhook: delivery failed", "sdkappid", w.SDKAppID, "event_id", w.EventID,
			"attempts", w.Attempts+1, "last_error", r.errPhrase)
	}
}

// nextAttempt is the retry schedule after failed attempt n (1-based) that
// ended at end: attempt 2 follows at once; later ones fall on the grid
// first + k·interval, the first slot after end; none starts after first +
// budget. ok is false when the budget is spent.
func (d *Dispatcher) nextAttempt(first, end time.Time, n int) (time.Time, bool) {
	if n <= 1 {
		return end, true
	}
	k := max(end.Sub(first)/d.cfg.RetryInterval+1, 1)
	next := first.Add(k * d.cfg.RetryInterval)
	if next.After(first.Add(d.cfg.RetryBudget)) {
		return time.Time{}, false
	}
	return next, true
}

func (d *Dispatcher) deliver(ctx context.Context, w store.Webhook, now time.Time) attemptResult {
	tgt, ok, err := d.cfg.Targets.Target(ctx, w.SDKAppID)
	switch {
	case ctx.Err() != nil:
		return attemptResult{aborted: true}
	case err != nil:
		return attemptResult{errPhrase: "callback target lookup failed"}
	case !ok:
		return attemptResult{final: true, errPhrase: "no callback configured"}
	}
	actx, cancel := context.WithTimeout(ctx, d.cfg.AttemptTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(actx, http.MethodPost, w.URL, bytes.NewReader(w.Body))
	if err != nil {
		return attemptResult{final: true, errPhrase: "invalid callback url"}
	}
	signRequest(req, w.SDKAppID, w.EventID, tgt.Key, w.Body, now)
	resp, err := d.client.Do(req)
	if err != nil {
		switch {
		case ctx.Err() != nil:
			return attemptResult{aborted: true}
		case errors.Is(err, context.DeadlineExceeded):
			return attemptResult{errPhrase: "timeout"}
		default:
			return attemptResult{errPhrase: "request failed"}
		}
	}
	defer resp.Body.Close()
	reply, err := io.ReadAll(io.LimitReader(resp.Body, maxReply))
	switch {
	case ctx.Err() != nil:
		return attemptResult{aborted: true}
	case errors.Is(err, context.DeadlineExceeded):
		return attemptResult{errPhrase: "timeout"}
	case resp.StatusCode != http.StatusOK:
		return attemptResult{errPhrase: fmt.Sprintf("http status %d", resp.StatusCode)}
	case err != nil:
		return attemptResult{errPhrase: "reading reply failed"}
	}
	// TRTC receivers answer {"code":0}; a reply that is not JSON, or has
	// no code, is taken as success on HTTP 200.
	var ack struct {
		Code *int `json:"code"`
	}
	if json.Unmarshal(reply, &ack) == nil && ack.Code != nil && *ack.Code != 0 {
		return attemptResult{errPhrase: fmt.Sprintf("receiver code %d", *ack.Code)}
	}
	return attemptResult{ok: true}
}
