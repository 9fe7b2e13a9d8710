package im

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parley-rtc/parley/internal/store"
	"github.com/parley-rtc/parley/internal/store/sqlite"
	"github.com/parley-rtc/parley/internal/store/sqlite/sqlitetest"
)

// Leaks are checked for the whole test binary by TestMain in im_test.go
// (goleak.VerifyTestMain), which also covers these package-internal tests.

var commitT0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// countingStore counts AppendIMMessages calls and their sizes. If gate is
// set, each call first reports on entered and then waits for gate, so a
// test can hold a batch in flight while it queues more appends.
type countingStore struct {
	store.IMStore
	batches, items atomic.Int64
	entered, gate  chan struct{}

	mu    sync.Mutex
	sizes []int
}

func (s *countingStore) AppendIMMessages(ctx context.Context, batch []store.IMAppend) ([]store.IMAppendResult, error) {
	s.batches.Add(1)
	s.items.Add(int64(len(batch)))
	s.mu.Lock()
	s.sizes = append(s.sizes, len(batch))
	s.mu.Unlock()
	if s.gate != nil {
		s.entered <- struct{}{}
		<-s.gate
	}
	return s.IMStore.AppendIMMessages(ctx, batch)
}

func (s *countingStore) batchSizes() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]int(nil), s.sizes...)
}

func openCommitStore(tb testing.TB) (*sqlite.DB, context.Context) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(tb.Context(), 60*time.Second)
	tb.Cleanup(cancel)
	db, err := sqlite.Open(ctx, filepath.Join(tb.TempDir(), "im.db"), sqlitetest.Options())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = db.Close() })
	return db, ctx
}

// newTestCommitter returns a committer over a counting wrapper of a fresh
// store; it is closed (and its loop awaited) when the test ends.
func newTestCommitter(t *testing.T, gated bool) (*committer, *countingStore, context.Context) {
	t.Helper()
	db, ctx := openCommitStore(t)
	cs := &countingStore{IMStore: db}
	if gated {
		cs.entered, cs.gate = make(chan struct{}), make(chan struct{})
	}
	c := newCommitter(cs, 0)
	t.Cleanup(c.close)
	return c, cs, ctx
}

func commitMsg(conv, sender, clientID string) store.IMMessage {
	return store.IMMessage{SDKAppID: 1, ConvID: conv, Sender: sender, ClientMsgID: clientID, At: commitT0, Body: []byte(clientID)}
}

// waitQueued waits, without sleeping, until n appends are queued behind
// the batch in flight.
func waitQueued(ctx context.Context, t *testing.T, c *committer, n int) {
	t.Helper()
	for len(c.reqs) < n {
		if ctx.Err() != nil {
			t.Fatalf("%d appends queued, want %d", len(c.reqs), n)
		}
		runtime.Gosched()
	}
}

// Many concurrent senders: every append succeeds, each conversation's seqs
// are exactly 1..N, and appends are coalesced into fewer transactions.
func TestCommitterConcurrent(t *testing.T) {
	c, cs, ctx := newTestCommitter(t, false)
	const senders, each = 200, 20
	convs := []string{"group:a", "group:b", "group:c", "c2c:x|y"}
	var mu sync.Mutex
	seqs := map[string]map[int64]int{}
	var wg sync.WaitGroup
	for g := range senders {
		wg.Go(func() {
			for i := range each {
				conv := convs[(g+i)%len(convs)]
				m, dup, err := c.append(ctx, commitMsg(conv, fmt.Sprint("u", g), fmt.Sprint(i)), []string{"x", "y"})
				if err != nil || dup || m.ConvID != conv {
					t.Errorf("sender %d append %d: %+v dup %v, %v", g, i, m, dup, err)
					return
				}
				mu.Lock()
				if seqs[conv] == nil {
					seqs[conv] = map[int64]int{}
				}
				seqs[conv][m.Seq]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	total := 0
	for _, conv := range convs {
		n := int64(len(seqs[conv]))
		for q := int64(1); q <= n; q++ {
			if seqs[conv][q] != 1 {
				t.Fatalf("%s: seq %d returned %d times (of %d seqs)", conv, q, seqs[conv][q], n)
			}
		}
		if last, err := cs.IMLastSeq(ctx, 1, conv); err != nil || last != n {
			t.Fatalf("%s: last seq %d, %v; want %d", conv, last, err, n)
		}
		total += int(n)
	}
	batches := cs.batches.Load()
	if total != senders*each || cs.items.Load() != int64(total) || batches >= int64(total) {
		t.Fatalf("%d messages stored, %d items in %d batches; want %d in fewer batches", total, cs.items.Load(), batches, senders*each)
	}
	t.Logf("%d appends in %d batches", total, batches)
}

// Appends queued while a transaction runs go into the next one, all of
// them, without any wait for a fuller batch.
func TestCommitterCoalesces(t *testing.T) {
	c, cs, ctx := newTestCommitter(t, true)
	const queued = 10
	var wg sync.WaitGroup
	seqs := make([]int64, queued+1)
	send := func(i int) {
		m, _, err := c.append(ctx, commitMsg("group:g", "s", fmt.Sprint(i)), nil)
		if err != nil {
			t.Error(err)
		}
		seqs[i] = m.Seq
	}
	wg.Go(func() { send(0) })
	<-cs.entered // the first append is alone in the first batch
	for i := 1; i <= queued; i++ {
		wg.Go(func() { send(i) })
	}
	waitQueued(ctx, t, c, queued)
	cs.gate <- struct{}{}
	<-cs.entered
	cs.gate <- struct{}{}
	wg.Wait()
	if got := cs.batchSizes(); len(got) != 2 || got[0] != 1 || got[1] != queued {
		t.Fatalf("batch sizes %v, want [1 %d]", got, queued)
	}
	if seqs[0] != 1 {
		t.Fatalf("first append seq %d", seqs[0])
	}
	seen := map[int64]bool{}
	for _, q := range seqs[1:] {
		seen[q] = true
	}
	for q := int64(2); q <= queued+1; q++ {
		if !seen[q] {
			t.Fatalf("seq %d missing from %v", q, seqs)
		}
	}
}

// Concurrent retries of one ClientMsgID, in one batch or several, store
// one message; every retry gets it back.
func TestCommitterDedupe(t *testing.T) {
	c, cs, ctx := newTestCommitter(t, false)
	const retries = 50
	var wg sync.WaitGroup
	var fresh atomic.Int64
	for range retries {
		wg.Go(func() {
			m, dup, err := c.append(ctx, commitMsg("c2c:a|b", "a", "once"), []string{"b"})
			if err != nil || m.Seq != 1 || string(m.Body) != "once" {
				t.Errorf("retry = %+v, %v", m, err)
			}
			if !dup {
				fresh.Add(1)
			}
		})
	}
	wg.Wait()
	if fresh.Load() != 1 {
		t.Fatalf("%d appends stored a new message, want 1", fresh.Load())
	}
	ms, err := cs.ListIMMessages(ctx, 1, "c2c:a|b", store.IMRange{Limit: 10})
	if err != nil || len(ms) != 1 {
		t.Fatalf("stored %+v, %v", ms, err)
	}
}

// Item errors reach their own caller only; the rest of the batch commits.
func TestCommitterItemError(t *testing.T) {
	c, cs, ctx := newTestCommitter(t, true)
	type out struct {
		m   store.IMMessage
		err error
	}
	outs := make([]out, 3)
	var wg sync.WaitGroup
	send := func(i int, m store.IMMessage) {
		wg.Go(func() {
			outs[i].m, _, outs[i].err = c.append(ctx, m, nil)
		})
	}
	send(0, commitMsg("group:g", "s", "0"))
	<-cs.entered
	send(1, commitMsg("group:g", "", "bad")) // no sender: the store rejects it
	waitQueued(ctx, t, c, 1)
	send(2, commitMsg("group:g", "s", "2"))
	waitQueued(ctx, t, c, 2)
	cs.gate <- struct{}{}
	<-cs.entered
	cs.gate <- struct{}{}
	wg.Wait()
	if outs[0].err != nil || outs[0].m.Seq != 1 || outs[2].err != nil || outs[2].m.Seq != 2 {
		t.Fatalf("good appends = %+v", outs)
	}
	if outs[1].err == nil || outs[1].m.Seq != 0 {
		t.Fatalf("bad append = %+v", outs[1])
	}
}

// A batch-level failure is every item's error.
func TestCommitterBatchError(t *testing.T) {
	c, cs, ctx := newTestCommitter(t, true)
	errs := make([]error, 3)
	var wg sync.WaitGroup
	wg.Go(func() { _, _, errs[0] = c.append(ctx, commitMsg("group:g", "s", "0"), nil) })
	<-cs.entered
	for i := 1; i < len(errs); i++ {
		wg.Go(func() { _, _, errs[i] = c.append(ctx, commitMsg("group:g", "s", fmt.Sprint(i)), nil) })
	}
	waitQueued(ctx, t, c, len(errs)-1)
	cs.gate <- struct{}{}
	// The store is closed under the second batch: its transaction cannot begin.
	<-cs.entered
	db := cs.IMStore.(*sqlite.DB)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	cs.gate <- struct{}{}
	wg.Wait()
	if errs[0] != nil {
		t.Fatalf("first batch: %v", errs[0])
	}
	for i, err := range errs[1:] {
		if err == nil || !errors.Is(err, errs[1]) {
			t.Fatalf("append %d: %v, want the batch error %v", i+1, err, errs[1])
		}
	}
}

// A caller whose ctx ends gets ctx.Err() at once; its message is still
// committed with its batch, which runs under the committer's context, and
// a retry of its ClientMsgID dedupes to it.
func TestCommitterCallerCancel(t *testing.T) {
	c, cs, ctx := newTestCommitter(t, true)
	cctx, cancel := context.WithCancel(ctx)
	errc := make(chan error, 1)
	go func() {
		_, _, err := c.append(cctx, commitMsg("group:g", "s", "x"), nil)
		errc <- err
	}()
	<-cs.entered // in flight
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled append: %v", err)
	}
	cs.gate <- struct{}{}
	go func() { // let the retry's batch through
		<-cs.entered
		cs.gate <- struct{}{}
	}()
	m, dup, err := c.append(ctx, commitMsg("group:g", "s", "x"), nil)
	if err != nil || !dup || m.Seq != 1 {
		t.Fatalf("retry = %+v dup %v, %v", m, dup, err)
	}
	// A ctx already done stores nothing.
	if _, _, err := c.append(cctx, commitMsg("group:g", "s", "y"), nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("append with done ctx: %v", err)
	}
	if last, err := cs.IMLastSeq(ctx, 1, "group:g"); err != nil || last != 1 {
		t.Fatalf("last seq %d, %v", last, err)
	}
}

// An append whose caller gave up while queued is dropped: it never reaches
// the store.
func TestCommitterSkipsAbandoned(t *testing.T) {
	c, cs, ctx := newTestCommitter(t, true)
	var wg sync.WaitGroup
	wg.Go(func() {
		if _, _, err := c.append(ctx, commitMsg("group:g", "s", "0"), nil); err != nil {
			t.Error(err)
		}
	})
	<-cs.entered
	cctx, cancel := context.WithCancel(ctx)
	errc := make(chan error, 1)
	go func() {
		_, _, err := c.append(cctx, commitMsg("group:g", "s", "gone"), nil)
		errc <- err
	}()
	waitQueued(ctx, t, c, 1)
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("abandoned append: %v", err)
	}
	cs.gate <- struct{}{}
	wg.Wait()
	c.close()
	if n := cs.batches.Load(); n != 1 {
		t.Fatalf("%d batches, want 1", n)
	}
	if last, err := cs.IMLastSeq(ctx, 1, "group:g"); err != nil || last != 1 {
		t.Fatalf("last seq %d, %v", last, err)
	}
}

// close commits and answers every accepted append before it returns;
// append afterwards fails with errCommitterClosed.
func TestCommitterCloseDrains(t *testing.T) {
	c, cs, ctx := newTestCommitter(t, true)
	const queued = 20
	var wg sync.WaitGroup
	var ok atomic.Int64
	send := func(i int) {
		wg.Go(func() {
			if _, _, err := c.append(ctx, commitMsg("group:g", "s", fmt.Sprint(i)), nil); err != nil {
				t.Error(err)
				return
			}
			ok.Add(1)
		})
	}
	send(0)
	<-cs.entered
	for i := 1; i <= queued; i++ {
		send(i)
	}
	waitQueued(ctx, t, c, queued)
	closed := make(chan struct{})
	go func() {
		c.close()
		close(closed)
	}()
	// Let the batches run only once close has shut the queue, so the
	// queued appends are drained from a closed channel.
	for {
		c.mu.RLock()
		shut := c.closed
		c.mu.RUnlock()
		if shut {
			break
		}
		if ctx.Err() != nil {
			t.Fatal("close did not shut the queue")
		}
		runtime.Gosched()
	}
	cs.gate <- struct{}{}
	<-cs.entered
	cs.gate <- struct{}{}
	<-closed
	// Everything accepted is stored by the time close returns.
	if last, err := cs.IMLastSeq(ctx, 1, "group:g"); err != nil || last != queued+1 {
		t.Fatalf("last seq after close %d, %v", last, err)
	}
	wg.Wait()
	if ok.Load() != queued+1 {
		t.Fatalf("%d of %d accepted appends succeeded", ok.Load(), queued+1)
	}
	if _, _, err := c.append(ctx, commitMsg("group:g", "s", "late"), nil); !errors.Is(err, errCommitterClosed) {
		t.Fatalf("append after close: %v", err)
	}
	c.close() // idempotent
}

// BenchmarkAppendGroupCommit compares many concurrent senders appending
// through the committer with the same senders calling AppendIMMessage
// directly (one transaction each).
func BenchmarkAppendGroupCommit(b *testing.B) {
	const sendersPerCPU = 32 // RunParallel runs this many goroutines per GOMAXPROCS
	run := func(b *testing.B, appendFn func(context.Context, store.IMMessage, []string) (store.IMMessage, bool, error)) {
		ctx := b.Context()
		var n atomic.Int64
		b.SetParallelism(sendersPerCPU)
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				i := n.Add(1)
				conv := fmt.Sprint("group:g", i%8)
				if _, _, err := appendFn(ctx, commitMsg(conv, "s", fmt.Sprint(i)), nil); err != nil {
					b.Error(err)
					return
				}
			}
		})
		b.StopTimer()
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	}
	b.Run("direct", func(b *testing.B) {
		db, _ := openCommitStore(b)
		run(b, db.AppendIMMessage)
	})
	b.Run("committer", func(b *testing.B) {
		db, _ := openCommitStore(b)
		cs := &countingStore{IMStore: db}
		c := newCommitter(cs, 0)
		defer c.close()
		run(b, c.append)
		b.ReportMetric(float64(cs.items.Load())/float64(max(cs.batches.Load(), 1)), "msgs/batch")
	})
}

// Cause drops the wrapping layers, which name users and conversations.
func TestCauseKeepsIDsOutOfLogs(t *testing.T) {
	err := fmt.Errorf("im: send to %q: %w", "c2c:alice|bob", fmt.Errorf("sqlite: list of %q: %w", "c2c:alice|bob", errors.New("database is locked")))
	if got := Cause(err); got != "database is locked" {
		t.Fatalf("Cause = %q", got)
	}
	if got := Cause(fmt.Errorf("%w: %q", ErrNotMember, "bob")); got != ErrNotMember.Error() {
		t.Fatalf("Cause of a sentinel = %q", got)
	}
}
