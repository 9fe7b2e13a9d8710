package retention_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/parley-rtc/parley/internal/privacy/inventory"
	"github.com/parley-rtc/parley/internal/retention"
	"github.com/parley-rtc/parley/internal/store"
	"github.com/parley-rtc/parley/internal/store/sqlite"
	"github.com/parley-rtc/parley/internal/store/sqlite/sqlitetest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) set(t time.Time)     { c.mu.Lock(); c.t = t; c.mu.Unlock() }
func (c *clock) add(d time.Duration) { c.set(c.Now().Add(d)) }

var t0 = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

const day = 24 * time.Hour

// fixture is a real SQLite store in a temporary directory, an engine
// over it with the standard targets and an injected clock, and a second,
// read-only connection that inspects the file with plain SQL.
type fixture struct {
	db  *sqlite.DB
	raw *sql.DB
	clk *clock
	eng *retention.Engine
}

func newFixture(t *testing.T, lim retention.Limits) *fixture {
	t.Helper()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "parley.db")
	db, err := sqlite.Open(ctx, path, sqlitetest.Options())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	raw, err := sql.Open("sqlite", "file:"+path+"?_pragma=query_only(1)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	inv, err := inventory.Default()
	if err != nil {
		t.Fatal(err)
	}
	targets, err := retention.StandardTargets(db, inv, lim)
	if err != nil {
		t.Fatal(err)
	}
	clk := &clock{t: t0}
	return &fixture{db: db, raw: raw, clk: clk, eng: retention.New(targets, retention.Options{Now: clk.Now, Interval: time.Hour})}
}

var defaultLimits = retention.Limits{Messages: 7 * day, PushTokens: 60 * day, Webhooks: 14 * day}

// run sweeps once and returns the results by store.
func (f *fixture) run(t *testing.T) map[string]retention.Result {
	t.Helper()
	res, err := f.eng.Run(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]retention.Result{}
	for _, r := range res {
		out[r.Store] = r
	}
	return out
}

func (f *fixture) count(t *testing.T, query string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := f.raw.QueryRowContext(t.Context(), query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

func (f *fixture) addTelemetry(t *testing.T, app uint32, user []byte, at time.Time) {
	t.Helper()
	if err := f.db.InsertTelemetry(t.Context(), []store.TelemetryRecord{{At: at, SDKAppID: app, RoomKey: "n:1", UserRef: user,
		DeviceRef: []byte("d"), Section: "quality", Data: []byte(`{"quality.rtt_ms":20}`)}}); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) addMessage(t *testing.T, app uint32, sender, body string, at time.Time) store.IMMessage {
	t.Helper()
	m, _, err := f.db.AppendIMMessage(t.Context(), store.IMMessage{SDKAppID: app, ConvID: "group:room", Sender: sender,
		At: at, Body: []byte(body)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func (f *fixture) addWebhook(t *testing.T, app uint32, event string, at time.Time, state store.WebhookState) int64 {
	t.Helper()
	id, err := f.db.EnqueueWebhook(t.Context(), store.Webhook{SDKAppID: app, EventID: event, URL: "http://x", Body: []byte("{}"),
		CreatedAt: at, NextAttemptAt: at})
	if err != nil {
		t.Fatal(err)
	}
	if state != store.WebhookPending {
		if err := f.db.FinishWebhookAttempt(t.Context(), id, store.WebhookResult{State: state, Attempted: true}); err != nil {
			t.Fatal(err)
		}
	}
	return id
}

func (f *fixture) addPushToken(t *testing.T, app uint32, user string, at time.Time) {
	t.Helper()
	if err := f.db.PutIMPushToken(t.Context(), store.IMPushToken{SDKAppID: app, UserID: user, DeviceID: "d-" + user,
		Vendor: "fcm", Token: "t", RegisteredAt: at}); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) assertWithin(t *testing.T, when string) {
	t.Helper()
	st, err := f.eng.Status(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range st {
		if !s.Within {
			t.Errorf("%s: %s is over its limit: %+v", when, s.Store, s)
		}
	}
}

// Time travel: records older than each store's limit are gone after a
// sweep, younger ones stay; status reports the oldest age against the
// limit. proves RETAIN-1, RETAIN-3
func TestSweepAfterTimeTravel(t *testing.T) {
	f := newFixture(t, defaultLimits)
	ctx := t.Context()
	inv, err := inventory.Default()
	if err != nil {
		t.Fatal(err)
	}
	if lim, err := retention.InventoryLimit(inv, "quality_logs"); err != nil || lim != 14*day {
		t.Fatalf("quality_logs limit = %v, %v; the inventory declares 14d", lim, err)
	}
	for _, seed := range []struct {
		at  time.Time
		tag string
	}{{t0, "old"}, {t0.Add(10 * day), "new"}} {
		f.addTelemetry(t, 1, []byte("u"), seed.at)
		f.addMessage(t, 1, "a", seed.tag, seed.at)
		f.addWebhook(t, 1, "ev-"+seed.tag, seed.at, store.WebhookDelivered)
		f.addPushToken(t, 1, "u-"+seed.tag, seed.at)
	}

	f.clk.add(15*day + time.Hour) // the old records are 15 days old
	st, err := f.eng.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st[0].Store != "quality_logs" || st[0].Within {
		t.Fatalf("status before the sweep = %+v; want quality_logs over its limit", st[0])
	}
	res := f.run(t)
	want := map[string]int64{"quality_logs": 1, "messages": 1, "webhook_outbox": 1}
	for store, r := range res {
		if r.Deleted != want[store] || r.Held != 0 {
			t.Errorf("%s: deleted %d, held %d; want %d deleted", store, r.Deleted, r.Held, want[store])
		}
	}
	recs, err := f.db.QueryTelemetry(ctx, store.TelemetryQuery{SDKAppID: 1, From: t0.Add(-time.Hour), To: f.clk.Now()})
	if err != nil || len(recs) != 1 || !recs[0].At.After(t0) {
		t.Fatalf("telemetry after the sweep = %d records, %v; want only the 5-day-old one", len(recs), err)
	}
	msgs, err := f.db.ListIMMessages(ctx, 1, "group:room", store.IMRange{Limit: 10})
	if err != nil || len(msgs) != 1 || string(msgs[0].Body) != "new" || msgs[0].Seq != 2 {
		t.Fatalf("messages after the sweep = %+v, %v", msgs, err)
	}
	f.assertWithin(t, "after the sweep")
	// Sixty days on, every store is empty, the push tokens included.
	f.clk.add(60 * day)
	f.run(t)
	st, _ = f.eng.Status(ctx)
	for _, s := range st {
		if !s.Empty {
			t.Errorf("%s not empty 75 days on: %+v", s.Store, s)
		}
	}
	// A message sent afterwards continues the sequence: seqs are never
	// reused.
	if m := f.addMessage(t, 1, "a", "x", f.clk.Now()); m.Seq != 3 {
		t.Fatalf("next seq = %d; want 3", m.Seq)
	}
}

// The engine sweeping every hour for 14 days and one interval: after each
// sweep no telemetry row and no finished callback older than 14 days
// exists, to the hour, while every younger one is still there; pending
// callbacks are never swept. proves RETAIN-1
func TestFourteenDaysHourByHour(t *testing.T) {
	f := newFixture(t, defaultLimits)
	ctx := t.Context()
	offsets := []time.Duration{0, 6 * time.Hour, 30 * time.Hour, 13 * day}
	hooks := map[int64]time.Time{}
	for i, off := range offsets {
		f.addTelemetry(t, 1, []byte("u"), t0.Add(off))
		hooks[f.addWebhook(t, 1, "ev-"+string(rune('a'+i)), t0.Add(off), store.WebhookFailed)] = t0.Add(off)
	}
	pending := f.addWebhook(t, 1, "ev-pending", t0, store.WebhookPending)
	const limit = 14 * day
	for f.clk.Now().Before(t0.Add(limit + 31*time.Hour)) {
		f.clk.add(time.Hour)
		f.run(t)
		now := f.clk.Now()
		recs, err := f.db.QueryTelemetry(ctx, store.TelemetryQuery{SDKAppID: 1, From: t0.Add(-day), To: t0.Add(30 * day)})
		if err != nil {
			t.Fatal(err)
		}
		young := 0
		for _, off := range offsets {
			if !t0.Add(off).Before(now.Add(-limit)) {
				young++
			}
		}
		if len(recs) != young {
			t.Fatalf("at %s: %d telemetry rows, want the %d younger than 14 days", now, len(recs), young)
		}
		for _, r := range recs {
			if now.Sub(r.At) > limit {
				t.Fatalf("at %s: a telemetry row of %s is older than 14 days", now, r.At)
			}
		}
		for id, at := range hooks {
			_, err := f.db.GetWebhook(ctx, id)
			if gone := err != nil; gone != (now.Sub(at) > limit) {
				t.Fatalf("at %s: finished callback of %s: lookup error %v", now, at, err)
			}
		}
		if _, err := f.db.GetWebhook(ctx, pending); err != nil {
			t.Fatalf("the pending callback was swept: %v", err)
		}
	}
	parts, err := f.db.TelemetryPartitions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range parts {
		if !p.Day.Add(day).After(f.clk.Now().Add(-limit)) {
			t.Errorf("partition %s is wholly older than 14 days", p.Day.Format(time.DateOnly))
		}
	}
	f.assertWithin(t, "after 14 days")
}

// Start sweeps at once and Close stops it.
func TestStartClose(t *testing.T) {
	ran := make(chan struct{}, 1)
	eng := retention.New([]retention.Target{{Store: "s", Limit: time.Hour,
		Oldest: func(context.Context, time.Time) (time.Time, bool, error) { return time.Time{}, false, nil },
		Sweep: func(context.Context, time.Time, time.Time) (store.SweepCount, error) {
			select {
			case ran <- struct{}{}:
			default:
			}
			return store.SweepCount{}, nil
		}}}, retention.Options{})
	eng.Start(time.Hour)
	<-ran
	eng.Close()
	eng.Close() // idempotent
}

// A zero configured limit would delete everything at once: refused.
func TestStandardTargetsRefuseZeroLimit(t *testing.T) {
	f := newFixture(t, defaultLimits)
	inv, _ := inventory.Default()
	if _, err := retention.StandardTargets(f.db, inv, retention.Limits{Messages: 7 * day, Webhooks: 14 * day}); err == nil {
		t.Fatal("a zero push-token limit was accepted")
	}
}

func TestHoldExpiry(t *testing.T) {
	now := time.Date(2026, 11, 5, 8, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		until, forDur string
		want          time.Time
	}{
		{"2027-01-31", "", time.Date(2027, 2, 1, 0, 0, 0, 0, time.UTC)},
		{"2027-01-31T12:00:00Z", "", time.Date(2027, 1, 31, 12, 0, 0, 0, time.UTC)},
		{"", "90d", now.Add(90 * day)},
		{"", "36h", now.Add(36 * time.Hour)},
	} {
		got, err := retention.HoldExpiry(now, c.until, c.forDur)
		if err != nil || !got.Equal(c.want) {
			t.Errorf("HoldExpiry(%q, %q) = %v, %v; want %v", c.until, c.forDur, got, err, c.want)
		}
	}
	for _, c := range [][2]string{{"", ""}, {"2027-01-31", "90d"}, {"2020-01-01", ""}, {"", "0d"}, {"", "-3h"}, {"tomorrow", ""}, {"", "forever"}} {
		if _, err := retention.HoldExpiry(now, c[0], c[1]); err == nil {
			t.Errorf("HoldExpiry(%q, %q) accepted", c[0], c[1])
		}
	}
}
