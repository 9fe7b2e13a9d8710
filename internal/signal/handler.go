package signal

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/parley-rtc/parley/internal/room"
	"github.com/parley-rtc/parley/internal/sfu"
)

// Config holds the per-connection limits.
type Config struct {
	RatePerSecond float64       // sustained frames per second per connection
	Burst         int           // frame burst per connection
	IdleTimeout   time.Duration // close after this long without a frame
	QueueFrames   int           // outbound frames buffered per connection
	// IMCoalesce is the shortest interval between two im_message frames
	// to one connection; messages arriving sooner wait and share a frame
	// (0 disables). Default 10 ms.
	IMCoalesce time.Duration
	Logger     *slog.Logger
	Registerer prometheus.Registerer
	Now        func() time.Time
}

// Privacy are the consent and telemetry services a session uses.
type Privacy struct {
	Consent   ConsentGate
	Telemetry TelemetrySink
}

// Handler accepts signaling WebSockets.
type Handler struct {
	cfg     Config
	auth    Authorizer
	privacy Privacy
	rooms   *room.Manager
	media   *sfu.Engine
	log     *slog.Logger
	metrics *metrics
	im      *Messaging // nil: messaging disabled

	wg       sync.WaitGroup
	mu       sync.Mutex
	sessions map[*session]struct{}
	closing  bool
}

// NewHandler builds the signaling handler.
func NewHandler(cfg Config, auth Authorizer, privacy Privacy, rooms *room.Manager, media *sfu.Engine) *Handler {
	if cfg.RatePerSecond <= 0 {
		cfg.RatePerSecond = 50
	}
	if cfg.Burst <= 0 {
		cfg.Burst = 100
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = 30 * time.Second
	}
	if cfg.QueueFrames <= 0 {
		cfg.QueueFrames = 512
	}
	if cfg.IMCoalesce == 0 {
		cfg.IMCoalesce = DefaultIMCoalesce
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Handler{
		cfg: cfg, auth: auth, privacy: privacy, rooms: rooms, media: media,
		log:      cfg.Logger.With("component", "signal"),
		metrics:  newMetrics(cfg.Registerer),
		sessions: make(map[*session]struct{}),
	}
}

// ServeHTTP upgrades the request and runs the session until it ends.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	if h.closing {
		h.mu.Unlock()
		http.Error(w, "server shutting down", http.StatusServiceUnavailable)
		return
	}
	h.wg.Add(1)
	h.mu.Unlock()
	defer h.wg.Done()

	conn, err := websocket.Accept(w, r, &websocket.AcceptOptions{
		// Browsers on other origins (the demo page, apps) connect too;
		// authentication is the UserSig in the join frame, not cookies.
		InsecureSkipVerify: true,
	})
	if err != nil {
		return
	}
	// Frames up to hardReadLimit are read and answered with an error when
	// over MaxFrameBytes; larger ones close the connection (1009).
	conn.SetReadLimit(hardReadLimit)
	s := newSession(h, conn)
	h.mu.Lock()
	h.sessions[s] = struct{}{}
	h.mu.Unlock()
	h.metrics.sessions.Inc()
	s.run(r.Context())
	h.metrics.sessions.Dec()
	h.mu.Lock()
	delete(h.sessions, s)
	h.mu.Unlock()
}

// DefaultIMCoalesce is Config.IMCoalesce's default: at most 100
// im_message frames per second per connection, at most 10 ms added to a
// message that follows another within 10 ms.
const DefaultIMCoalesce = 25 * time.Millisecond

// hardReadLimit bounds what a connection may make the server read for one
// frame before it is closed.
const hardReadLimit = 1 << 20

// shutdownGrace is how long Shutdown lets sessions that were sent
// exit_room close themselves (the frame written first) before it closes
// the rest.
const shutdownGrace = 2 * time.Second

// Shutdown refuses new connections and waits for sessions to end. The
// caller exits the rooms first (room.Manager.CloseAll) so that clients get
// exit_room with reason 4; those sessions close after writing it, and any
// left after a short grace (connections that never joined) are closed.
func (h *Handler) Shutdown(ctx context.Context) error {
	h.mu.Lock()
	h.closing = true
	h.mu.Unlock()
	done := make(chan struct{})
	go func() { h.wg.Wait(); close(done) }()
	grace := time.NewTimer(shutdownGrace)
	defer grace.Stop()
	select {
	case <-done:
		return nil
	case <-grace.C:
	case <-ctx.Done():
	}
	h.mu.Lock()
	for s := range h.sessions {
		s.closeWith(websocket.StatusGoingAway, "server shutting down")
	}
	h.mu.Unlock()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

type metrics struct {
	sessions prometheus.Gauge
	frames   *prometheus.CounterVec
	errors   *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		sessions: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "parley", Subsystem: "signal", Name: "sessions", Help: "Open signaling connections."}),
		frames:   prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "parley", Subsystem: "signal", Name: "frames_total", Help: "Signaling frames received, by type."}, []string{"type"}),
		errors:   prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "parley", Subsystem: "signal", Name: "errors_total", Help: "Error replies sent, by protocol code."}, []string{"code"}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.sessions, m.frames, m.errors} {
			// A second handler on one registry (tests) keeps its own,
			// unregistered collectors rather than failing.
			_ = reg.Register(c)
		}
	}
	return m
}
