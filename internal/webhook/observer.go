package webhook

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parley-rtc/parley/internal/room"
	"github.com/prometheus/client_golang/prometheus"
)

// DefaultObserverBuffer is the observer's hand-off queue length.
const DefaultObserverBuffer = 4096

// Enqueuer durably accepts a callback body for an app; *Dispatcher is one.
type Enqueuer interface {
	Enqueue(ctx context.Context, app uint32, eventID string, body []byte) (queued bool, err error)
}

// ObserverConfig configures an Observer.
type ObserverConfig struct {
	Outbox     Enqueuer // required
	Buffer     int      // hand-off queue length; 0 = DefaultObserverBuffer
	Clock      Clock    // nil = SystemClock
	Logger     *slog.Logger
	Registerer prometheus.Registerer
}

// Observer is the room.Observer that turns room events into durable
// webhooks. RoomEvent runs under the room lock, so it only stamps the
// event's time and hands it to a bounded channel; one goroutine renders
// and enqueues. When the channel is full (the store cannot keep up) or the
// observer is closed, the event is dropped and counted in
// parley_webhook_room_events_dropped_total: rooms never wait on webhooks.
// An event is durable only once the goroutine has enqueued it; events
// still in the channel at a crash are lost.
type Observer struct {
	cfg     ObserverConfig
	clock   Clock
	log     *slog.Logger
	m       *metrics
	ch      chan stamped
	closed  atomic.Bool
	dropped atomic.Uint64

	ctx     context.Context
	cancel  context.CancelFunc
	stop    chan struct{}
	done    chan struct{}
	started atomic.Bool
	once    sync.Once
}

type stamped struct {
	ev room.Event
	at time.Time
}

var _ room.Observer = (*Observer)(nil)

// NewObserver builds an observer; call Start to run it.
func NewObserver(cfg ObserverConfig) (*Observer, error) {
	if cfg.Outbox == nil {
		return nil, fmt.Errorf("%w: observer needs an Outbox", ErrBadConfig)
	}
	if cfg.Buffer <= 0 {
		cfg.Buffer = DefaultObserverBuffer
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	o := &Observer{cfg: cfg, clock: cfg.Clock, log: cfg.Logger, m: m,
		ch: make(chan stamped, cfg.Buffer), stop: make(chan struct{}), done: make(chan struct{})}
	if o.clock == nil {
		o.clock = SystemClock{}
	}
	if o.log == nil {
		o.log = slog.New(slog.DiscardHandler)
	}
	o.ctx, o.cancel = context.WithCancel(context.Background())
	return o, nil
}

// Start runs the enqueuing goroutine. Call it once.
func (o *Observer) Start() {
	if o.closed.Load() || o.started.Swap(true) {
		return
	}
	go o.run()
}

// RoomEvent implements room.Observer. It never blocks.
func (o *Observer) RoomEvent(ev room.Event) {
	if o.closed.Load() {
		o.drop()
		return
	}
	select {
	case o.ch <- stamped{ev: ev, at: o.clock.Now()}:
	default:
		o.drop()
	}
}

func (o *Observer) drop() {
	o.dropped.Add(1)
	o.m.dropped.Inc()
}

// Dropped returns how many events this observer dropped.
func (o *Observer) Dropped() uint64 { return o.dropped.Load() }

func (o *Observer) run() {
	defer close(o.done)
	for {
		select {
		case s := <-o.ch:
			o.handle(s)
		case <-o.stop:
			for { // drain what was accepted before Close
				select {
				case s := <-o.ch:
					o.handle(s)
				default:
					return
				}
			}
		}
	}
}

func (o *Observer) handle(s stamped) {
	if o.ctx.Err() != nil {
		o.drop()
		return
	}
	id := NewEventID(s.at)
	body, err := RoomBody(s.ev, id, s.at)
	if err != nil {
		o.log.Warn("webhook: room event not rendered", "sdkappid", s.ev.SDKAppID, "event_type", int(s.ev.Type), "err", err)
		return
	}
	if _, err := o.cfg.Outbox.Enqueue(o.ctx, s.ev.SDKAppID, id, body); err != nil {
		o.drop()
		o.log.Error("webhook: room event not enqueued", "sdkappid", s.ev.SDKAppID, "event_type", int(s.ev.Type), "event_id", id, "err", err)
	}
}

// Close stops accepting events and enqueues those already queued until ctx
// ends; what is left then is dropped (counted). It waits for the goroutine.
func (o *Observer) Close(ctx context.Context) error {
	var err error
	o.once.Do(func() {
		o.closed.Store(true)
		if !o.started.Load() {
			o.cancel()
			return
		}
		close(o.stop)
		select {
		case <-o.done:
		case <-ctx.Done():
			err = fmt.Errorf("webhook: observer close: %w", ctx.Err())
		}
		o.cancel()
		<-o.done
	})
	return err
}
