package webhook

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/parley-rtc/parley/internal/store/sqlite"
	"github.com/parley-rtc/parley/internal/store/sqlite/sqlitetest"
	"go.uber.org/goleak"
)

// Every test must leave no goroutine behind (dispatcher loops, attempts,
// HTTP connections, SQLite pools).
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// testT0 is millisecond-aligned, as the outbox stores milliseconds.
func testT0() time.Time { return time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC) }

// fakeClock is a manual clock: timers fire only in Advance.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers map[*fakeTimer]struct{}
}

type fakeTimer struct {
	c  *fakeClock
	at time.Time
	ch chan time.Time
}

func newFakeClock(t time.Time) *fakeClock {
	return &fakeClock{now: t, timers: map[*fakeTimer]struct{}{}}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) NewTimer(d time.Duration) Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{c: c, at: c.now.Add(d), ch: make(chan time.Time, 1)}
	if d <= 0 {
		t.ch <- c.now
	} else {
		c.timers[t] = struct{}{}
	}
	return t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	for t := range c.timers {
		if !t.at.After(c.now) {
			delete(c.timers, t)
			t.ch <- c.now
		}
	}
}

func (t *fakeTimer) C() <-chan time.Time { return t.ch }

func (t *fakeTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	_, ok := t.c.timers[t]
	delete(t.c.timers, t)
	return ok
}

// idleWatch observes the dispatch loop through its idle hook.
type idleWatch struct {
	mu       sync.Mutex
	inflight int
	attempts int64
	ch       chan struct{}
}

func newIdleWatch() *idleWatch { return &idleWatch{ch: make(chan struct{}, 1)} }

func (w *idleWatch) hook(inflight int, attempts int64) {
	w.mu.Lock()
	w.inflight, w.attempts = inflight, attempts
	w.mu.Unlock()
	select {
	case w.ch <- struct{}{}:
	default:
	}
}

// wait returns once the loop is blocked with nothing in flight after at
// least attempts finished attempts.
func (w *idleWatch) wait(t *testing.T, attempts int64) {
	t.Helper()
	deadline := time.NewTimer(10 * time.Second)
	defer deadline.Stop()
	for {
		w.mu.Lock()
		ok := w.inflight == 0 && w.attempts >= attempts
		got := w.attempts
		w.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-w.ch:
		case <-deadline.C:
			t.Fatalf("dispatcher not idle after %d attempts (has %d)", attempts, got)
		}
	}
}

// mapTargets is an in-test Targets.
type mapTargets map[uint32]Target

func (m mapTargets) Target(_ context.Context, app uint32) (Target, bool, error) {
	tg, ok := m[app]
	return tg, ok, nil
}

func openDB(t *testing.T, path string) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(context.Background(), path, sqlitetest.Options())
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func tempDB(t *testing.T) string { return filepath.Join(t.TempDir(), "parley.db") }
