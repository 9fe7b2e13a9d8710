package im

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/parley-rtc/parley/internal/store"
)

// defaultMaxBatch bounds a group commit when newCommitter is given none:
// large enough to absorb a burst from thousands of senders, small enough
// that one transaction does not hold the single writer for long.
const defaultMaxBatch = 256

// errCommitterClosed is returned by append once close has begun.
var errCommitterClosed = errors.New("im: message committer closed")

// committer coalesces concurrent appends into AppendIMMessages batches
// (group commit): SQLite has one writer, so under load one transaction per
// message is the bottleneck, while one transaction per batch pays the
// commit once for every message queued behind it.
//
// It never waits to fill a batch: the loop takes whatever is queued when
// the previous transaction ends, so an append at low load costs one
// transaction, as a direct AppendIMMessage does, and batches grow only
// while senders are already waiting on the writer.
type committer struct {
	st       store.IMStore
	maxBatch int
	reqs     chan *commitReq
	// afterBatch, if set before the first append, runs in the loop after
	// the stored callbacks of each committed batch.
	afterBatch func()

	// ctx is the batches' context. It belongs to the committer, not to a
	// caller, so one caller giving up cannot fail the others' transaction;
	// close cancels it only after the last batch.
	ctx    context.Context
	cancel context.CancelFunc

	// mu orders sends on reqs before close(reqs): append sends under the
	// read lock, close takes the write lock to mark closed and close the
	// channel, so no send can hit a closed channel and nothing accepted
	// is left unanswered.
	mu     sync.RWMutex
	closed bool
	done   chan struct{} // closed when the loop has exited
}

// commitReq is one queued append. res has room for the one answer, so the
// loop never blocks on a caller that stopped waiting.
type commitReq struct {
	ctx  context.Context
	item store.IMAppend
	res  chan store.IMAppendResult
	// stored, if set, runs in the loop for a newly stored (not
	// duplicate) message, in commit order, before the caller is answered:
	// publishing there delivers a conversation's messages in seq order.
	stored func(store.IMMessage)
}

// newCommitter returns a committer over st that batches at most maxBatch
// appends (defaultMaxBatch if maxBatch <= 0) and starts its loop. The
// caller must call close.
func newCommitter(st store.IMStore, maxBatch int) *committer {
	if maxBatch <= 0 {
		maxBatch = defaultMaxBatch
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &committer{
		st:       st,
		maxBatch: maxBatch,
		// A buffer of one batch lets senders queue without a handoff to
		// the loop while a transaction runs.
		reqs:   make(chan *commitReq, maxBatch),
		ctx:    ctx,
		cancel: cancel,
		done:   make(chan struct{}),
	}
	go c.loop()
	return c
}

// append has the contract of store.IMStore.AppendIMMessage, with the
// message committed in a batch with other concurrent appends.
//
// If ctx ends while the append is queued or in flight it returns ctx.Err()
// at once, but the message may still be committed with its batch: the
// caller cannot tell, so a client retrying with the same ClientMsgID gets
// the stored message back as a duplicate rather than a second copy. An
// append whose ctx has ended before its batch starts is dropped unstored.
func (c *committer) append(ctx context.Context, m store.IMMessage, parties []string) (store.IMMessage, bool, error) {
	return c.appendThen(ctx, m, parties, nil)
}

// appendThen is append with a stored callback (see commitReq.stored).
func (c *committer) appendThen(ctx context.Context, m store.IMMessage, parties []string, stored func(store.IMMessage)) (store.IMMessage, bool, error) {
	if err := ctx.Err(); err != nil {
		return store.IMMessage{}, false, err
	}
	r := &commitReq{ctx: ctx, item: store.IMAppend{Msg: m, Parties: parties}, res: make(chan store.IMAppendResult, 1), stored: stored}
	if err := c.enqueue(ctx, r); err != nil {
		return store.IMMessage{}, false, err
	}
	select {
	case res := <-r.res:
		if res.Err != nil {
			return store.IMMessage{}, false, res.Err
		}
		return res.Msg, res.Duplicate, nil
	case <-ctx.Done():
		return store.IMMessage{}, false, ctx.Err()
	}
}

// enqueue hands r to the loop, unless the committer is closed or ctx ends
// first (the queue is full while the writer is slow).
func (c *committer) enqueue(ctx context.Context, r *commitReq) error {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.closed {
		return fmt.Errorf("append message: %w", errCommitterClosed)
	}
	select {
	case c.reqs <- r:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// close stops accepting appends, waits until every accepted one has been
// committed and answered, then stops the loop. It is safe to call more
// than once.
func (c *committer) close() {
	c.mu.Lock()
	if !c.closed {
		c.closed = true
		close(c.reqs) // the loop drains what is buffered, then exits
	}
	c.mu.Unlock()
	<-c.done
	c.cancel()
}

// loop runs one batch at a time until reqs is closed and drained.
func (c *committer) loop() {
	defer close(c.done)
	batch := make([]*commitReq, 0, c.maxBatch)
	for {
		r, ok := <-c.reqs // block only for the first request of a batch
		if !ok {
			return
		}
		batch = append(batch[:0], r)
		// Take what is already queued, without waiting for more.
	fill:
		for len(batch) < c.maxBatch {
			select {
			case r, ok := <-c.reqs:
				if !ok {
					break fill // closed: commit this batch, then exit above
				}
				batch = append(batch, r)
			default:
				break fill
			}
		}
		c.commit(batch)
		clear(batch) // drop references to answered requests
	}
}

// commit stores one batch and answers every request in it.
func (c *committer) commit(batch []*commitReq) {
	items := make([]store.IMAppend, 0, len(batch))
	live := make([]*commitReq, 0, len(batch))
	for _, r := range batch {
		// Nobody waits for an append whose caller has given up: skip it
		// rather than store a message the caller was told failed.
		if err := r.ctx.Err(); err != nil {
			r.res <- store.IMAppendResult{Err: err}
			continue
		}
		items = append(items, r.item)
		live = append(live, r)
	}
	if len(items) == 0 {
		return
	}
	res, err := c.st.AppendIMMessages(c.ctx, items)
	if err == nil && len(res) != len(items) {
		err = fmt.Errorf("im: store answered %d of %d appends", len(res), len(items))
	}
	if err == nil {
		// The stored callbacks run in commit order, then afterBatch, and
		// only then are the senders answered: a batch is published as one
		// (one frame per receiving connection) and before any sender can
		// send again.
		for i, r := range live {
			if res[i].Err == nil && !res[i].Duplicate && r.stored != nil {
				r.stored(res[i].Msg)
			}
		}
		if c.afterBatch != nil {
			c.afterBatch()
		}
	}
	for i, r := range live {
		if err != nil {
			// Nothing in the batch was stored: every item fails alike.
			r.res <- store.IMAppendResult{Err: err}
			continue
		}
		r.res <- res[i]
	}
}
