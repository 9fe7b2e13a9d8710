package webhook

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/parley-rtc/parley/internal/store"
	"github.com/parley-rtc/parley/internal/store/sqlite"
)

const testApp = 1400000001

// receiver is an app backend: it verifies every request from the raw
// bytes and answers per reply(n), n counting requests from 1.
type receiver struct {
	t     *testing.T
	key   []byte
	clock Clock
	reply func(n int, r *http.Request) int

	mu        sync.Mutex
	times     []time.Time // clock time of each request
	eventIDs  []string
	bodies    [][]byte
	delivered map[string]int // event id -> successful deliveries
	badSig    int
}

func newReceiver(t *testing.T, clock Clock, reply func(n int, r *http.Request) int) (*receiver, *httptest.Server) {
	rc := &receiver{t: t, key: []byte("s3cretKey42"), clock: clock, reply: reply, delivered: map[string]int{}}
	srv := httptest.NewServer(rc)
	t.Cleanup(srv.Close)
	return rc, srv
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, id, err := VerifyRequest(r, rc.key, rc.clock.Now(), 0)
	rc.mu.Lock()
	if err != nil || r.Header.Get(HeaderSdkAppID) != "1400000001" || r.Header.Get(HeaderContentType) != "application/json" || len(body) == 0 {
		rc.badSig++
		rc.mu.Unlock()
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	rc.times = append(rc.times, rc.clock.Now())
	rc.eventIDs = append(rc.eventIDs, id)
	rc.bodies = append(rc.bodies, body)
	n := len(rc.times)
	rc.mu.Unlock()
	status := http.StatusOK
	if rc.reply != nil {
		status = rc.reply(n, r)
	}
	if status == http.StatusOK {
		rc.mu.Lock()
		rc.delivered[id]++
		rc.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"code":0}`))
		return
	}
	w.WriteHeader(status)
}

func (rc *receiver) snapshot() (times []time.Time, ids []string, delivered map[string]int, bad int) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	d := map[string]int{}
	for k, v := range rc.delivered {
		d[k] = v
	}
	return append([]time.Time(nil), rc.times...), append([]string(nil), rc.eventIDs...), d, rc.badSig
}

func failFirst(n int) func(int, *http.Request) int {
	return func(i int, _ *http.Request) int {
		if i <= n {
			return http.StatusInternalServerError
		}
		return http.StatusOK
	}
}

// newDispatcher starts a dispatcher on db whose loop reports to the
// returned idleWatch; it is closed at cleanup (idempotent).
func newDispatcher(t *testing.T, db *sqlite.DB, clock Clock, url string, key []byte, mod func(*Config)) (*Dispatcher, *idleWatch) {
	t.Helper()
	cfg := Config{Outbox: db, Targets: mapTargets{testApp: {URL: url, Key: key}}, Clock: clock}
	if mod != nil {
		mod(&cfg)
	}
	d, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	w := newIdleWatch()
	d.idleHook = w.hook
	t.Cleanup(func() { _ = d.Close() })
	return d, w
}

func offsets(times []time.Time, t0 time.Time) []time.Duration {
	out := make([]time.Duration, len(times))
	for i, tm := range times {
		out[i] = tm.Sub(t0)
	}
	return out
}

func equalDurations(a, b []time.Duration) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestRetryScheduleThenDelivered(t *testing.T) {
	ctx := context.Background()
	clock := newFakeClock(testT0())
	rc, srv := newReceiver(t, clock, failFirst(3))
	db := openDB(t, tempDB(t))
	defer db.Close()
	d, idle := newDispatcher(t, db, clock, srv.URL, []byte("s3cretKey42"), nil)
	d.Start()

	if ok, err := d.Enqueue(ctx, testApp, "evt-1", []byte(`{"EventType":103}`)); err != nil || !ok {
		t.Fatalf("enqueue = %v, %v", ok, err)
	}
	idle.wait(t, 2) // first try and the immediate retry, both at t0
	clock.Advance(10 * time.Second)
	idle.wait(t, 3)
	clock.Advance(10 * time.Second)
	idle.wait(t, 4) // succeeds
	clock.Advance(time.Minute)
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}

	times, ids, delivered, bad := rc.snapshot()
	want := []time.Duration{0, 0, 10 * time.Second, 20 * time.Second}
	if got := offsets(times, testT0()); !equalDurations(got, want) || bad != 0 {
		t.Fatalf("attempts at %v (bad signatures %d), want %v", got, bad, want)
	}
	for _, id := range ids {
		if id != "evt-1" {
			t.Fatalf("event id header %q, want evt-1 on every attempt", id)
		}
	}
	if delivered["evt-1"] != 1 {
		t.Fatalf("delivered %d times, want 1", delivered["evt-1"])
	}
	w, err := db.GetWebhook(ctx, 1)
	if err != nil || w.State != store.WebhookDelivered || w.Attempts != 4 || w.LastError != "" {
		t.Fatalf("row = %+v, %v; want delivered after 4 attempts", w, err)
	}
}

func TestRetryBudgetThenFailed(t *testing.T) {
	ctx := context.Background()
	clock := newFakeClock(testT0())
	rc, srv := newReceiver(t, clock, failFirst(1000))
	db := openDB(t, tempDB(t))
	defer db.Close()
	d, idle := newDispatcher(t, db, clock, srv.URL, []byte("s3cretKey42"), nil)
	d.Start()
	if _, err := d.Enqueue(ctx, testApp, "evt-f", []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	idle.wait(t, 2)
	for n := int64(3); n <= 8; n++ {
		clock.Advance(10 * time.Second)
		idle.wait(t, n)
	}
	// Budget spent: nothing is scheduled any more.
	if _, ok, err := db.NextWebhookAt(ctx); ok || err != nil {
		t.Fatalf("a failed row is still pending (%v)", err)
	}
	clock.Advance(10 * time.Minute)
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	times, _, _, _ := rc.snapshot()
	want := []time.Duration{0, 0, 10 * time.Second, 20 * time.Second, 30 * time.Second, 40 * time.Second, 50 * time.Second, 60 * time.Second}
	if got := offsets(times, testT0()); !equalDurations(got, want) {
		t.Fatalf("attempts at %v, want %v", got, want)
	}
	w, err := db.GetWebhook(ctx, 1)
	if err != nil || w.State != store.WebhookFailed || w.Attempts != 8 || w.LastError != "http status 500" {
		t.Fatalf("row = %+v, %v; want failed after 8 attempts", w, err)
	}
}

func TestNextAttemptGrid(t *testing.T) {
	d, err := New(Config{Outbox: nopOutbox{}, Targets: mapTargets{}})
	if err != nil {
		t.Fatal(err)
	}
	t0 := testT0()
	for _, c := range []struct {
		end  time.Duration
		n    int
		want time.Duration
		ok   bool
	}{
		{0, 1, 0, true}, // immediate retry
		{5 * time.Second, 1, 5 * time.Second, true}, // after a timed-out first try
		{5 * time.Second, 2, 10 * time.Second, true},
		{10 * time.Second, 3, 20 * time.Second, true}, // the slot just used is not reused
		{15 * time.Second, 3, 20 * time.Second, true},
		{59 * time.Second, 7, 60 * time.Second, true},
		{60 * time.Second, 8, 0, false},
		{10 * time.Minute, 2, 0, false}, // resumed long after: one try, then failed
	} {
		got, ok := d.nextAttempt(t0, t0.Add(c.end), c.n)
		if ok != c.ok || (ok && got.Sub(t0) != c.want) {
			t.Errorf("after attempt %d ending at +%v: next +%v %v, want +%v %v", c.n, c.end, got.Sub(t0), ok, c.want, c.ok)
		}
	}
}

// nopOutbox satisfies store.WebhookOutbox for tests that never use it.
type nopOutbox struct{ store.WebhookOutbox }

func TestDurableAcrossRestart(t *testing.T) {
	ctx := context.Background()
	path := tempDB(t)
	clock := newFakeClock(testT0())
	key := []byte("s3cretKey42")
	release := make(chan struct{})
	entered := make(chan struct{}, 1)
	rc, srv := newReceiver(t, clock, func(n int, r *http.Request) int {
		switch r.Header.Get(HeaderEventID) {
		case "evt-a":
			if n <= 2 {
				return http.StatusServiceUnavailable
			}
		case "evt-b":
			select {
			case <-release:
			default:
				entered <- struct{}{}
				<-r.Context().Done() // held until the dispatcher shuts down
				return http.StatusServiceUnavailable
			}
		}
		return http.StatusOK
	})

	// 1. Accepted by a dispatcher that never delivers: only the row.
	db := openDB(t, path)
	d, _ := newDispatcher(t, db, clock, srv.URL, key, nil)
	if ok, err := d.Enqueue(ctx, testApp, "evt-a", []byte(`{"n":"a"}`)); err != nil || !ok {
		t.Fatalf("enqueue = %v, %v", ok, err)
	}
	if err := errors.Join(d.Close(), db.Close()); err != nil {
		t.Fatal(err)
	}

	// 2. Restart: resumed at once, fails twice, then the process stops.
	db = openDB(t, path)
	d, idle := newDispatcher(t, db, clock, srv.URL, key, nil)
	d.Start()
	idle.wait(t, 2)
	if err := errors.Join(d.Close(), db.Close()); err != nil {
		t.Fatal(err)
	}

	// 3. Restart after the retry time: delivered exactly once.
	clock.Advance(10 * time.Second)
	db = openDB(t, path)
	d, idle = newDispatcher(t, db, clock, srv.URL, key, nil)
	d.Start()
	idle.wait(t, 1)

	// 4. Shutdown in the middle of an attempt: released, not counted.
	if _, err := d.Enqueue(ctx, testApp, "evt-b", []byte(`{"n":"b"}`)); err != nil {
		t.Fatal(err)
	}
	<-entered
	if err := errors.Join(d.Close(), db.Close()); err != nil {
		t.Fatal(err)
	}
	close(release)
	db = openDB(t, path)
	defer db.Close()
	wb, err := db.GetWebhook(ctx, 2)
	if err != nil || wb.State != store.WebhookPending || wb.Attempts != 0 || wb.NextAttemptAt.After(clock.Now()) {
		t.Fatalf("interrupted row = %+v, %v; want pending, 0 attempts, due now", wb, err)
	}
	d, idle = newDispatcher(t, db, clock, srv.URL, key, nil)
	d.Start()
	idle.wait(t, 1)
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}

	_, ids, delivered, bad := rc.snapshot()
	if delivered["evt-a"] != 1 || delivered["evt-b"] != 1 || bad != 0 {
		t.Fatalf("deliveries %v (bad signatures %d), want each event once; requests %v", delivered, bad, ids)
	}
	for id, want := range map[int64]int{1: 3, 2: 1} {
		w, err := db.GetWebhook(ctx, id)
		if err != nil || w.State != store.WebhookDelivered || w.Attempts != want {
			t.Fatalf("row %d = %+v, %v; want delivered after %d attempts", id, w, err, want)
		}
	}
}

func TestAttemptTimeoutAndConcurrencyBound(t *testing.T) {
	ctx := context.Background()
	clock := newFakeClock(testT0())
	release := make(chan struct{})
	var mu sync.Mutex
	cur, peak := 0, 0
	_, srv := newReceiver(t, clock, func(_ int, r *http.Request) int {
		mu.Lock()
		cur++
		peak = max(peak, cur)
		mu.Unlock()
		defer func() { mu.Lock(); cur--; mu.Unlock() }()
		select {
		case <-release:
			return http.StatusOK
		case <-r.Context().Done():
			return http.StatusServiceUnavailable
		}
	})
	db := openDB(t, tempDB(t))
	defer db.Close()
	d, idle := newDispatcher(t, db, clock, srv.URL, []byte("s3cretKey42"), func(c *Config) {
		c.MaxInFlight = 2
		c.AttemptTimeout = 50 * time.Millisecond // real time; the schedule runs on the fake clock
	})
	d.Start()
	for _, id := range []string{"e1", "e2", "e3", "e4", "e5"} {
		if _, err := d.Enqueue(ctx, testApp, id, []byte(`{}`)); err != nil {
			t.Fatal(err)
		}
	}
	idle.wait(t, 10) // each: a timed-out try and a timed-out immediate retry
	for id := int64(1); id <= 5; id++ {
		w, err := db.GetWebhook(ctx, id)
		if err != nil || w.State != store.WebhookPending || w.Attempts != 2 || w.LastError != "timeout" {
			t.Fatalf("row %d = %+v, %v; want pending after 2 timeouts", id, w, err)
		}
	}
	close(release)
	clock.Advance(10 * time.Second)
	idle.wait(t, 15)
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if peak != 2 {
		t.Fatalf("peak concurrent attempts %d, want MaxInFlight 2", peak)
	}
}

func TestEnqueueWithoutTargetAndIdempotent(t *testing.T) {
	ctx := context.Background()
	clock := newFakeClock(testT0())
	db := openDB(t, tempDB(t))
	defer db.Close()
	d, _ := newDispatcher(t, db, clock, "http://127.0.0.1:9/", []byte("k"), nil)
	if ok, err := d.Enqueue(ctx, 42, "x", []byte(`{}`)); ok || err != nil {
		t.Fatalf("app without callback: %v, %v; want not queued, no error", ok, err)
	}
	for range 2 {
		if ok, err := d.Enqueue(ctx, testApp, "same", []byte(`{}`)); !ok || err != nil {
			t.Fatalf("enqueue same id: %v, %v", ok, err)
		}
	}
	if _, err := db.GetWebhook(ctx, 2); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second enqueue of one event id made a row: %v", err)
	}
	// Retention: a finished row older than 14 days goes, pending ones stay.
	if err := db.FinishWebhookAttempt(ctx, 1, store.WebhookResult{State: store.WebhookFailed, Attempted: true}); err != nil {
		t.Fatal(err)
	}
	if n, err := d.DeleteExpired(ctx); n != 0 || err != nil {
		t.Fatalf("retention at day 0 deleted %d, %v", n, err)
	}
	clock.Advance(Retention + time.Millisecond)
	if n, err := d.DeleteExpired(ctx); n != 1 || err != nil {
		t.Fatalf("retention after 14 days deleted %d, %v; want 1", n, err)
	}
	if _, err := New(Config{}); !errors.Is(err, ErrBadConfig) {
		t.Fatalf("New without outbox: %v", err)
	}
}

// A row another process wrote into the outbox (the CLI declaring an
// incident while the server runs) is delivered by the idle dispatcher's
// next poll, without a wake-up from Enqueue; and a delivered row keeps
// its delivery record but not its body.
func TestIdlePollFindsOthersRows(t *testing.T) {
	ctx := context.Background()
	clock := newFakeClock(testT0())
	rc, srv := newReceiver(t, clock, func(int, *http.Request) int { return http.StatusOK })
	db := openDB(t, tempDB(t))
	defer db.Close()
	d, idle := newDispatcher(t, db, clock, srv.URL, []byte("s3cretKey42"), func(c *Config) { c.IdlePoll = time.Minute })
	d.Start()
	idle.wait(t, 0)
	if _, err := db.EnqueueWebhook(ctx, store.Webhook{SDKAppID: testApp, EventID: "from-cli", URL: srv.URL,
		Body: []byte(`{"EventType":"Parley.SecurityIncident"}`), CreatedAt: clock.Now(), NextAttemptAt: clock.Now()}); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Minute)
	idle.wait(t, 1)
	if _, _, delivered, _ := rc.snapshot(); delivered["from-cli"] != 1 {
		t.Fatalf("the other process's row was not delivered: %v", delivered)
	}
	w, err := db.GetWebhook(ctx, 1)
	if err != nil || w.State != store.WebhookDelivered || len(w.Body) != 0 {
		t.Fatalf("delivered row = %+v, %v; want delivered with the body cleared", w, err)
	}
}
