// Package retention is the retention engine (issue 5, item 1): every store
// that keeps personal information by time has a limit — taken from the
// inventory where it declares one (quality_logs 14 days, RETAIN-1) or from
// the configuration where the app chooses (messages, RETAIN-3) — and a
// sweep that deletes what is older, dropping whole day partitions where
// the store has them. `parley serve` runs the sweep continuously; `parley
// retention run|status` runs it on demand. The clock is injectable so
// tests can move time.
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
	// Oldest returns the oldest record's time; ok is false when empty.
	Oldest func(ctx context.Context) (at time.Time, ok bool, err error)
	// Sweep deletes what is older than before and returns how many rows
	// went.
	Sweep func(ctx context.Context, before time.Time) (int64, error)
}

// Result is one target's outcome in a run.
type Result struct {
	Store   string `json:"store"`
	What    string `json:"what"`
	Limit   string `json:"limit"`
	Before  string `json:"deleted_before"`
	Deleted int64  `json:"deleted_rows"`
	Error   string `json:"error,omitempty"`
}

// Status is one target's oldest record against its limit.
type Status struct {
	Store      string  `json:"store"`
	What       string  `json:"what"`
	LimitDays  float64 `json:"limit_days"`
	Empty      bool    `json:"empty"`
	OldestDays float64 `json:"oldest_age_days,omitempty"`
	// Within is false when a record is older than the limit plus one
	// sweep interval: the engine is behind (or not running).
	Within bool   `json:"within_limit"`
	Error  string `json:"error,omitempty"`
}

// Engine runs the sweeps. Safe for concurrent use; runs do not overlap.
type Engine struct {
	targets []Target
	now     func() time.Time
	log     *slog.Logger
	slack   time.Duration // tolerated lateness in Status

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
	return &Engine{targets: targets, now: opt.Now, log: opt.Logger, slack: opt.Interval, stop: make(chan struct{})}
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
		before := now.Add(-t.Limit)
		r := Result{Store: t.Store, What: t.What, Limit: days(t.Limit), Before: before.UTC().Format(time.RFC3339)}
		n, err := t.Sweep(ctx, before)
		r.Deleted = n
		if err != nil {
			r.Error = err.Error()
			errs = append(errs, fmt.Errorf("retention: %s: %w", t.Store, err))
		}
		out = append(out, r)
		if n > 0 || err != nil {
			e.log.Info("retention sweep", "store", t.Store, "deleted_rows", n, "failed", err != nil)
		}
	}
	if progress != nil {
		progress(len(e.targets), len(e.targets), "")
	}
	return out, errors.Join(errs...)
}

// Status reports each target's oldest record against its limit.
func (e *Engine) Status(ctx context.Context) ([]Status, error) {
	now := e.now()
	out := make([]Status, 0, len(e.targets))
	var errs []error
	for _, t := range e.targets {
		s := Status{Store: t.Store, What: t.What, LimitDays: t.Limit.Hours() / 24, Within: true}
		at, ok, err := t.Oldest(ctx)
		switch {
		case err != nil:
			s.Error, s.Within = err.Error(), false
			errs = append(errs, err)
		case !ok:
			s.Empty = true
		default:
			age := now.Sub(at)
			s.OldestDays = float64(age.Round(time.Minute)) / float64(24*time.Hour)
			// Day partitions are dropped whole: a partition may hold a
			// day more than the limit.
			s.Within = age <= t.Limit+24*time.Hour+e.slack
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
	store.TelemetryStore
	store.IMStore
	store.IMPushStore
	store.WebhookOutbox
	store.RetentionStore
}

// Limits are the limits the configuration sets.
type Limits struct {
	// Messages is the message history kept (RETAIN-3: the app's
	// configured retention; default 7 days).
	Messages time.Duration
	// PushTokens is the push-token TTL (im.push_token_ttl).
	PushTokens time.Duration
	// Webhooks is how long finished callbacks stay in the outbox.
	Webhooks time.Duration
}

// StandardTargets are the stores Parley keeps by time: telemetry day
// partitions (the inventory's quality_logs limit), message history,
// finished webhook rows and push tokens.
func StandardTargets(st Stores, inv *inventory.Inventory, lim Limits) ([]Target, error) {
	quality, err := InventoryLimit(inv, "quality_logs")
	if err != nil {
		return nil, err
	}
	return []Target{
		{Store: "quality_logs", What: "telemetry day partitions", Limit: quality,
			Oldest: func(ctx context.Context) (time.Time, bool, error) {
				parts, err := st.TelemetryPartitions(ctx)
				if err != nil || len(parts) == 0 {
					return time.Time{}, false, err
				}
				return parts[0].Day, true, nil
			},
			Sweep: func(ctx context.Context, before time.Time) (int64, error) {
				parts, err := st.TelemetryPartitions(ctx)
				if err != nil {
					return 0, err
				}
				var n int64
				for _, p := range parts {
					// A whole day goes once all of it is past the limit.
					if !p.Day.Add(24 * time.Hour).After(before) {
						if err := st.DropTelemetryPartition(ctx, p.Day); err != nil {
							return n, err
						}
						n += p.Rows
					}
				}
				return n, nil
			}},
		{Store: "messages", What: "message history (im_messages)", Limit: lim.Messages,
			Oldest: st.OldestIMMessage,
			Sweep: func(ctx context.Context, before time.Time) (int64, error) {
				oldest, ok, err := st.OldestIMMessage(ctx)
				if err != nil || !ok {
					return 0, err
				}
				var n int64
				for day := oldest.UTC().Truncate(24 * time.Hour); !day.Add(24 * time.Hour).After(before); day = day.Add(24 * time.Hour) {
					k, err := st.DropIMDay(ctx, 0, day)
					n += k
					if err != nil {
						return n, err
					}
				}
				return n, nil
			}},
		{Store: "webhook_outbox", What: "finished callbacks (bodies hold user ids)", Limit: lim.Webhooks,
			Oldest: st.OldestFinishedWebhook, Sweep: st.DeleteWebhooksBefore},
		{Store: "im_push_tokens", What: "offline push tokens", Limit: lim.PushTokens,
			Oldest: st.OldestIMPushToken, Sweep: st.DeleteIMPushTokensBefore},
	}, nil
}
