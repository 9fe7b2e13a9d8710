package retention_test

import (
	"context"
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

func seed(t *testing.T, ctx context.Context, db *sqlite.DB, at time.Time, tag string) {
	t.Helper()
	if err := db.InsertTelemetry(ctx, []store.TelemetryRecord{{At: at, SDKAppID: 1, RoomKey: "n:1", UserRef: []byte("u"),
		DeviceRef: []byte("d"), Section: "quality", Data: []byte(`{"quality.rtt_ms":20}`)}}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := db.AppendIMMessage(ctx, store.IMMessage{SDKAppID: 1, ConvID: "c2c:a|b", Sender: "a", At: at, Body: []byte(tag)}, []string{"b"}); err != nil {
		t.Fatal(err)
	}
	id, err := db.EnqueueWebhook(ctx, store.Webhook{SDKAppID: 1, EventID: "ev-" + tag, URL: "http://x", Body: []byte("{}"),
		CreatedAt: at, NextAttemptAt: at})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.FinishWebhookAttempt(ctx, id, store.WebhookResult{State: store.WebhookDelivered, Attempted: true}); err != nil {
		t.Fatal(err)
	}
	if err := db.PutIMPushToken(ctx, store.IMPushToken{SDKAppID: 1, UserID: "u-" + tag, DeviceID: "d", Vendor: "fcm", Token: "t", RegisteredAt: at}); err != nil {
		t.Fatal(err)
	}
}

// Time travel: records older than each store's limit are gone after a
// sweep, younger ones stay; status reports the oldest age against the
// limit. proves RETAIN-1, RETAIN-3
func TestSweepAfterTimeTravel(t *testing.T) {
	ctx := t.Context()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "parley.db"), sqlitetest.Options())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	inv, err := inventory.Default()
	if err != nil {
		t.Fatal(err)
	}
	if lim, err := retention.InventoryLimit(inv, "quality_logs"); err != nil || lim != 14*24*time.Hour {
		t.Fatalf("quality_logs limit = %v, %v; the inventory declares 14d", lim, err)
	}
	clk := &clock{t: t0}
	targets, err := retention.StandardTargets(db, inv, retention.Limits{Messages: 7 * 24 * time.Hour,
		PushTokens: 60 * 24 * time.Hour, Webhooks: 14 * 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	eng := retention.New(targets, retention.Options{Now: clk.Now})
	seed(t, ctx, db, t0, "old")
	seed(t, ctx, db, t0.Add(10*24*time.Hour), "new")

	clk.add(15*24*time.Hour + time.Hour) // the old records are 15 days old
	st, err := eng.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st[0].Store != "quality_logs" || st[0].Within {
		t.Fatalf("status before the sweep = %+v; want quality_logs over its limit", st[0])
	}
	res, err := eng.Run(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int64{"quality_logs": 1, "messages": 1, "webhook_outbox": 1, "im_push_tokens": 0}
	for _, r := range res {
		if r.Deleted != want[r.Store] {
			t.Errorf("%s: deleted %d, want %d", r.Store, r.Deleted, want[r.Store])
		}
	}
	recs, err := db.QueryTelemetry(ctx, store.TelemetryQuery{SDKAppID: 1, From: t0.Add(-time.Hour), To: clk.Now()})
	if err != nil || len(recs) != 1 || !recs[0].At.After(t0) {
		t.Fatalf("telemetry after the sweep = %d records, %v; want only the 5-day-old one", len(recs), err)
	}
	msgs, err := db.ListIMMessages(ctx, 1, "c2c:a|b", store.IMRange{Limit: 10})
	if err != nil || len(msgs) != 1 || string(msgs[0].Body) != "new" || msgs[0].Seq != 2 {
		t.Fatalf("messages after the sweep = %+v, %v", msgs, err)
	}
	st, err = eng.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range st {
		if !s.Within {
			t.Errorf("after the sweep %s is still over its limit: %+v", s.Store, s)
		}
	}
	// Sixty days on, every store is empty, the push tokens included.
	clk.add(60 * 24 * time.Hour)
	if _, err := eng.Run(ctx, nil); err != nil {
		t.Fatal(err)
	}
	st, _ = eng.Status(ctx)
	for _, s := range st {
		if !s.Empty {
			t.Errorf("%s not empty 75 days on: %+v", s.Store, s)
		}
	}
	// A message sent afterwards continues the sequence: seqs are never
	// reused.
	m, _, err := db.AppendIMMessage(ctx, store.IMMessage{SDKAppID: 1, ConvID: "c2c:a|b", Sender: "a", At: clk.Now(), Body: []byte("x")}, nil)
	if err != nil || m.Seq != 3 {
		t.Fatalf("next seq = %d, %v; want 3", m.Seq, err)
	}
}

// Start sweeps at once and Close stops it.
func TestStartClose(t *testing.T) {
	ran := make(chan struct{}, 1)
	eng := retention.New([]retention.Target{{Store: "s", Limit: time.Hour,
		Oldest: func(context.Context) (time.Time, bool, error) { return time.Time{}, false, nil },
		Sweep: func(context.Context, time.Time) (int64, error) {
			select {
			case ran <- struct{}{}:
			default:
			}
			return 0, nil
		}}}, retention.Options{})
	eng.Start(time.Hour)
	<-ran
	eng.Close()
	eng.Close() // idempotent
}
