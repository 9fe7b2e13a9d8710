// Package retention is the retention engine (issue 5, item 1): every store
// that keeps personal information by time has a limit — taken from the
// inventory where it declares one (quality_logs 14 days, RETAIN-1) or from
// the app's settings and the configuration where the app chooses
// (messages: message_retention_days, else im.retention, RETAIN-3) — and a
// sweep that deletes what is older, dropping whole day partitions where
// the store has them. Deleted apps are purged from every store at the next
// sweep (RETAIN-2). Legal holds keep exactly the rows they cover past any
// limit until they end (RETAIN-4). `parley serve` runs the sweep
// continuously; `parley retention run|status|hold` runs it on demand. The
// clock is injectable so tests can move time: no sweep reads the system
// clock.
package retention

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/parley-rtc/parley/internal/privacy/inventory"
	"github.com/parley-rtc/parley/internal/store"
)

// ErrNoLimit means the inventory declares no day limit for a store.
var ErrNoLimit = errors.New("retention: no day limit declared")

// Target is one store under a time limit.
type Target struct {
	// Store is the inventory store name ("quality_logs", "messages" …).
	Store string
	// What names the data, for status output.
	What  string
	Limit time.Duration
	// Granularity is the unit the store deletes in (message history goes
	// by whole UTC days); Status tolerates it on top of the limit.
	Granularity time.Duration
	// Immediate marks a store whose sweep takes everything pending,
	// whatever its age (terminated apps): Limit is then the deadline
	// Status checks, not a cut-off.
	Immediate bool
	// Oldest returns the oldest record no legal hold in force at now
	// covers; ok is false when there is none.
	Oldest func(ctx context.Context, now time.Time) (at time.Time, ok bool, err error)
	// Sweep deletes what is older than before, except what legal holds
	// in force at now keep, and counts both.
	Sweep func(ctx context.Context, before, now time.Time) (store.SweepCount, error)
	// Overdue, if set, is for a store whose limit varies by app (message
	// history: an app's own retention, RETAIN-3; Limit is then the
	// server's default): how far the unheld record furthest past its own
	// limit is past it, negative when all are within. Status judges the
	// store by it rather than by Oldest against Limit; ok is false when
	// no record is unheld.
	Overdue func(ctx context.Context, now time.Time) (over time.Duration, ok bool, err error)
}

// Result is one target's outcome in a run.
type Result struct {
	Store   string `json:"store"`
	What    string `json:"what"`
	Limit   string `json:"limit"`
	Before  string `json:"deleted_before,omitempty"`
	Deleted int64  `json:"deleted_rows"`
	// Held counts rows past the limit that legal holds kept (RETAIN-4).
	Held  int64  `json:"held_rows"`
	Error string `json:"error,omitempty"`
}

// Status is one target's oldest unheld record against its limit.
type Status struct {
	Store      string  `json:"store"`
	What       string  `json:"what"`
	LimitDays  float64 `json:"limit_days"`
	Empty      bool    `json:"empty"`
	OldestDays float64 `json:"oldest_age_days,omitempty"`
	// Within is false when a record no hold covers is older than the
	// limit plus the store's granularity and one sweep interval: the
	// engine is behind (or not running).
	Within bool   `json:"within_limit"`
	Error  string `json:"error,omitempty"`
}

// Engine runs the sweeps. Safe for concurrent use; runs do not overlap.
type Engine struct {
	targets []Target
	now     func() time.Time
	log     *slog.Logger
	slack   time.Duration // tolerated lateness in Status
	swept   func(ctx context.Context, at time.Time, results []Result) error

	run  sync.Mutex
	stop chan struct{}
	wg   sync.WaitGroup
	once sync.Once
}

// Options configure an Engine.
type Options struct {
	Now    func() time.Time // default time.Now
	Logger *slog.Logger
	// Interval is how often Start sweeps (default DefaultInterval); it is
	// also the lateness Status tolerates.
	Interval time.Duration
	// Swept, if set, is told each run's results (the server appends them
	// to the audit log); its error joins the run's.
	Swept func(ctx context.Context, at time.Time, results []Result) error
}

// DefaultInterval is the continuous sweep's period.
const DefaultInterval = time.Hour

// New builds an engine over targets.
func New(targets []Target, opt Options) *Engine {
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	if opt.Interval <= 0 {
		opt.Interval = DefaultInterval
	}
	return &Engine{targets: targets, now: opt.Now, log: opt.Logger, slack: opt.Interval, swept: opt.Swept, stop: make(chan struct{})}
}

// Run sweeps every target once. progress, if set, is called before each
// target. A target's failure is reported in its Result and the others
// still run; the error joins the failures.
func (e *Engine) Run(ctx context.Context, progress func(done, total int, store string)) ([]Result, error) {
	e.run.Lock()
	defer e.run.Unlock()
	now := e.now()
	out := make([]Result, 0, len(e.targets))
	var errs []error
	for i, t := range e.targets {
		if progress != nil {
			progress(i, len(e.targets), t.Store)
		}
		r, err := e.sweep(ctx, t, now)
		if err != nil {
			errs = append(errs, fmt.Errorf("retention: %s: %w", t.Store, err))
		}
		out = append(out, r)
	}
	if progress != nil {
		progress(len(e.targets), len(e.targets), "")
	}
	if e.swept != nil {
		if err := e.swept(ctx, now, out); err != nil {
			errs = append(errs, fmt.Errorf("retention: record sweep: %w", err))
		}
	}
	return out, errors.Join(errs...)
}

// sweep runs one target.
func (e *Engine) sweep(ctx context.Context, t Target, now time.Time) (Result, error) {
	before := now.Add(-t.Limit)
	r := Result{Store: t.Store, What: t.What, Limit: days(t.Limit)}
	if !t.Immediate {
		r.Before = before.UTC().Format(time.RFC3339)
	}
	c, err := t.Sweep(ctx, before, now)
	r.Deleted, r.Held = c.Deleted, c.Held
	if err != nil {
		r.Error = err.Error()
	}
	if c.Deleted > 0 || c.Held > 0 || err != nil {
		e.log.Info("retention sweep", "store", t.Store, "deleted_rows", c.Deleted, "held_rows", c.Held, "failed", err != nil)
	}
	return r, err
}

// Status reports each target's oldest unheld record against its limit.
func (e *Engine) Status(ctx context.Context) ([]Status, error) {
	now := e.now()
	out := make([]Status, 0, len(e.targets))
	var errs []error
	for _, t := range e.targets {
		s := Status{Store: t.Store, What: t.What, LimitDays: t.Limit.Hours() / 24, Within: true}
		at, ok, err := t.Oldest(ctx, now)
		switch {
		case err != nil:
			s.Error, s.Within = err.Error(), false
			errs = append(errs, err)
		case !ok:
			s.Empty = true
		default:
			age := now.Sub(at)
			s.OldestDays = float64(age.Round(time.Minute)) / float64(24*time.Hour)
			s.Within = age <= t.Limit+t.Granularity+e.slack
			if t.Overdue != nil {
				over, late, err := t.Overdue(ctx, now)
				if err != nil {
					s.Error, s.Within = err.Error(), false
					errs = append(errs, err)
				} else {
					s.Within = !late || over <= t.Granularity+e.slack
				}
			}
		}
		out = append(out, s)
	}
	return out, errors.Join(errs...)
}

// Start sweeps now and then every interval until Close.
func (e *Engine) Start(interval time.Duration) {
	if interval <= 0 {
		interval = DefaultInterval
	}
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			ctx, cancel := context.WithTimeout(context.Background(), interval)
			if _, err := e.Run(ctx, nil); err != nil {
				e.log.Warn("retention sweep failed", "err", err)
			}
			cancel()
			select {
			case <-t.C:
			case <-e.stop:
				return
			}
		}
	}()
}

// Close stops Start's loop and waits for a sweep in progress.
func (e *Engine) Close() {
	e.once.Do(func() { close(e.stop) })
	e.wg.Wait()
}

func days(d time.Duration) string {
	return strconv.FormatFloat(d.Hours()/24, 'f', -1, 64) + "d"
}

// InventoryLimit is the shortest "<n>d" retention the inventory declares
// for elements kept in storeName.
func InventoryLimit(inv *inventory.Inventory, storeName string) (time.Duration, error) {
	best := time.Duration(0)
	for i := range inv.Elements {
		e := &inv.Elements[i]
		if e.Store != storeName {
			continue
		}
		n, ok := strings.CutSuffix(e.Retention.TTL, "d")
		if !ok {
			continue
		}
		d, err := strconv.Atoi(n)
		if err != nil || d <= 0 {
			continue
		}
		if lim := time.Duration(d) * 24 * time.Hour; best == 0 || lim < best {
			best = lim
		}
	}
	if best == 0 {
		return 0, fmt.Errorf("%w for store %q", ErrNoLimit, storeName)
	}
	return best, nil
}

// Stores is what the standard targets sweep.
type Stores interface {
	store.RetentionStore
	AppMessageRetention
}

// AppMessageRetention is message history kept per app (RETAIN-3: "as
// long as the app's configured retention"): an app with its own
// message_retention_days is swept by it, shorter or longer than the
// server's im.retention; the others by the server's.
type AppMessageRetention interface {
	// SweepIMMessagesPerApp deletes the messages past their app's limit
	// (before is the server's cut-off) that no hold in force at now
	// keeps.
	SweepIMMessagesPerApp(ctx context.Context, before, now time.Time) (store.SweepCount, error)
	// IMMessagesOverdue is Target.Overdue, with def the server's limit.
	IMMessagesOverdue(ctx context.Context, now time.Time, def time.Duration) (time.Duration, bool, error)
}

// Limits are the limits the configuration sets.
type Limits struct {
	// Messages is the message history kept (RETAIN-3) for apps that
	// chose no retention of their own (im.retention; default 7 days).
	Messages time.Duration
	// PushTokens is the push-token TTL (im.push_token_ttl).
	PushTokens time.Duration
	// Webhooks is how long finished callbacks stay in the outbox.
	Webhooks time.Duration
}

// Fixed limits.
const (
	// TerminatedAppLimit is the deadline for purging a terminated app's
	// data (RETAIN-2: deleted within 7 days); the engine purges at its
	// next sweep, well inside it.
	TerminatedAppLimit = 7 * 24 * time.Hour
	// EndedHoldLimit is how long a released or expired hold's record
	// stays (store.EndedHoldRetention).
	EndedHoldLimit = store.EndedHoldRetention
)

// ErrBadLimit means a configured limit is not positive: a zero limit
// would delete everything at once.
var ErrBadLimit = errors.New("retention: limit must be positive")

// StandardTargets are the stores Parley keeps by time: telemetry day
// partitions (the inventory's quality_logs limit, RETAIN-1), message
// history (RETAIN-3: each app's own limit where it set one, else
// im.retention), finished webhook rows, push tokens, the data of
// terminated apps (RETAIN-2) and the records of ended legal holds. Every
// sweep keeps what legal holds cover (RETAIN-4).
func StandardTargets(st Stores, inv *inventory.Inventory, lim Limits) ([]Target, error) {
	quality, err := InventoryLimit(inv, "quality_logs")
	if err != nil {
		return nil, err
	}
	for name, d := range map[string]time.Duration{"messages": lim.Messages, "push tokens": lim.PushTokens, "webhooks": lim.Webhooks} {
		if d <= 0 {
			return nil, fmt.Errorf("%w: %s limit is %v", ErrBadLimit, name, d)
		}
	}
	return []Target{
		{Store: "quality_logs", What: "telemetry (day partitions)", Limit: quality,
			Oldest: st.OldestTelemetry, Sweep: st.SweepTelemetry},
		{Store: "messages", What: "message history (im_messages); apps may set their own limit", Limit: lim.Messages,
			Granularity: 24 * time.Hour, Oldest: st.OldestIMMessage, Sweep: st.SweepIMMessagesPerApp,
			Overdue: func(ctx context.Context, now time.Time) (time.Duration, bool, error) {
				return st.IMMessagesOverdue(ctx, now, lim.Messages)
			}},
		{Store: "webhook_outbox", What: "finished callbacks (bodies hold user ids)", Limit: lim.Webhooks,
			Oldest: st.OldestFinishedWebhook, Sweep: st.SweepFinishedWebhooks},
		{Store: "im_push_tokens", What: "offline push tokens", Limit: lim.PushTokens,
			Oldest: st.OldestIMPushToken, Sweep: st.SweepIMPushTokens},
		{Store: "terminated_apps", What: "every row of deleted apps", Limit: TerminatedAppLimit, Immediate: true,
			Oldest: st.OldestPendingTermination,
			Sweep: func(ctx context.Context, _, now time.Time) (store.SweepCount, error) {
				return st.PurgeTerminatedApps(ctx, now)
			}},
		{Store: "legal_holds", What: "records of ended legal holds", Limit: EndedHoldLimit,
			Oldest: st.OldestEndedLegalHold,
			Sweep: func(ctx context.Context, before, _ time.Time) (store.SweepCount, error) {
				return st.DeleteEndedLegalHolds(ctx, before)
			}},
	}, nil
}
