// Package server wires Parley's components into one embeddable server:
// the store, apps, rooms, the SFU, signaling and the REST API. It holds
// no logic of its own beyond construction, start-up order and shutdown.
//
//	srv, _ := server.New(cfg, server.Options{})
//	_ = srv.Start(ctx)
//	defer srv.Shutdown(ctx)
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/parley-rtc/parley/internal/app"
	"github.com/parley-rtc/parley/internal/config"
	"github.com/parley-rtc/parley/internal/retention"
	"github.com/parley-rtc/parley/internal/room"
	"github.com/parley-rtc/parley/internal/sfu"
	"github.com/parley-rtc/parley/internal/signal"
)

// Options are the server's injected dependencies; zero values get
// production defaults.
type Options struct {
	Logger   *slog.Logger
	Registry *prometheus.Registry // metrics registry; a fresh one by default (no globals)
	Now      func() time.Time
}

// DevApp is the development app created on first start.
type DevApp struct {
	SDKAppID  uint32
	SecretKey string
	Created   bool // true when this start created it
}

// Server is one Parley node.
type Server struct {
	cfg  config.Config
	opts Options
	log  *slog.Logger

	mu        sync.Mutex
	started   bool
	closers   []func() error // run in reverse order on shutdown
	httpSrv   *http.Server
	httpLn    net.Listener
	httpDone  chan error
	media     *sfu.Engine
	rooms     *room.Manager
	signal    *signal.Handler
	apps      *appDirectory
	privacy   *privacyServices
	callbacks *app.Callbacks
	dev       DevApp
	// firstOperator is the console owner this start created.
	firstOperator FirstOperator
}

// New validates the configuration. It opens nothing; Start does.
func New(cfg config.Config, opts Options) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Registry == nil {
		opts.Registry = prometheus.NewRegistry()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Server{cfg: cfg, opts: opts, log: opts.Logger}, nil
}

// ErrStarted is returned by a second Start.
var ErrStarted = errors.New("server already started")

// Start opens the store, ensures the development app, binds the media UDP
// port and the HTTP listener, and serves in the background. It returns
// once the server accepts connections.
func (s *Server) Start(ctx context.Context) (err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		return ErrStarted
	}
	s.started = true
	defer func() {
		if err != nil {
			s.closeAll()
		}
	}()

	reg := s.opts.Registry
	_ = reg.Register(collectors.NewGoCollector())
	_ = reg.Register(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	local, err := openLocal(ctx, s.cfg, s.log, s.opts.Now)
	if err != nil {
		return err
	}
	s.closers = append(s.closers, local.Close)
	apps := &appDirectory{local.Apps}
	s.apps, s.callbacks = apps, local.Callbacks
	s.privacy, err = newPrivacyServices(local.DB, local.KEK, s.log, s.opts.Now)
	if err != nil {
		return err
	}
	s.closers = append(s.closers, s.privacy.close)
	hooks, err := newWebhooks(local.DB, local.Callbacks, s.log, reg)
	if err != nil {
		return err
	}
	s.closers = append(s.closers, hooks.close)
	dev, err := apps.ensureDevApp(ctx)
	if err != nil {
		return fmt.Errorf("development app: %w", err)
	}
	s.dev = dev

	s.media, err = sfu.NewEngine(sfu.Config{
		BindIP:            s.cfg.Media.BindIP,
		UDPPort:           s.cfg.Media.UDPPort,
		PublicIP:          s.cfg.Media.PublicIP,
		SocketBufferBytes: s.cfg.Media.SocketBufferBytes,
		Logger:            s.log,
		Registerer:        reg,
	})
	if err != nil {
		return fmt.Errorf("media engine: %w", err)
	}
	s.closers = append(s.closers, s.media.Close)

	// The webhooks and the console's live view (usage for billing, media
	// state) both see every room event; the usage meter flushes every
	// minute and, at shutdown, after CloseAll has ended every session.
	live := newLiveRooms(local.DB, s.opts.Now, s.log)
	s.rooms = room.NewManager(room.Config{MaxParticipants: s.cfg.Rooms.MaxParticipants, Now: s.opts.Now,
		Observer: roomObservers{hooks.observer, live}})
	live.usage.start(usageFlushInterval)
	s.closers = append(s.closers, live.usage.close)
	rights, err := NewRights(local, s.privacy.inventory, RightsOptions{Logger: s.log, Now: s.opts.Now,
		Kick: endUserSessions(s.rooms, func() *signal.Handler { return s.signal }), Flush: s.privacy.telemetry.Flush})
	if err != nil {
		return fmt.Errorf("rights: %w", err)
	}
	// One consent service, whose ledger entries go to the audit log.
	s.privacy.consent = rights.Consent
	authz := &authorizer{apps: apps, now: s.opts.Now}
	s.signal = signal.NewHandler(signal.Config{
		RatePerSecond: s.cfg.Signal.RatePerSecond,
		Burst:         s.cfg.Signal.Burst,
		IdleTimeout:   s.cfg.Signal.IdleTimeout,
		Logger:        s.log,
		Registerer:    reg,
		Now:           s.opts.Now,
	}, authz, s.privacy.signalPrivacy(apps, rights.EraseUnguardedMinor(local.DB, s.log)), s.rooms, s.media)
	msg, err := newMessaging(local.DB, s.cfg.IM, hooks, callbackTargets{local.Callbacks}, s.log, reg, s.opts.Now)
	if err != nil {
		return err
	}
	s.closers = append(s.closers, msg.close)
	sweeper, err := NewRetention(local.DB, s.privacy.inventory, s.cfg, s.log, s.opts.Now, rights.Audit)
	if err != nil {
		return err
	}
	sweeper.Start(retention.DefaultInterval)
	s.closers = append(s.closers, func() error { sweeper.Close(); return nil })
	s.signal.EnableMessaging(msg.signalMessaging(authz))

	mux := http.NewServeMux()
	mux.Handle("GET /v1/signal", s.signal)
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte("ok\n"))
	})
	rest := newRESTAPI(s.rooms, apps, s.privacy, authz.verifyAdmin, s.log)
	rest.rights = rights
	rest.register(mux)
	mux.HandleFunc("POST /v1/self/dsr", rest.selfDSR(authz.verifyUser))
	(&imREST{svc: msg.svc, verify: authz.verifyAdmin, limiters: newLimiterSet(imRatePerAction)}).register(mux)
	if err := s.registerConsole(ctx, mux, consoleDeps{Local: local, Consent: s.privacy.consent, Inventory: s.privacy.inventory, Audit: rights.Audit, Notifier: hooks.dispatcher, Retention: sweeper,
		Rooms: s.rooms, Live: live, Telemetry: s.privacy.telemetry, Rights: rights, Logger: s.log, Now: s.opts.Now}); err != nil {
		return fmt.Errorf("console: %w", err)
	}

	if err := registerWeb(mux, webDeps{demo: s.cfg.HTTP.Demo, dev: dev.SDKAppID, secret: apps.SecretKey,
		policies: s.privacy.consent.Policies, now: s.opts.Now, log: s.log}); err != nil {
		return fmt.Errorf("web: %w", err)
	}

	ln, err := net.Listen("tcp", s.cfg.HTTP.Listen)
	if err != nil {
		return fmt.Errorf("listen %s: %w", s.cfg.HTTP.Listen, err)
	}
	s.httpLn = ln
	s.httpSrv = &http.Server{
		Handler:           accessLog(s.log, mux),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	s.httpDone = make(chan error, 1)
	go func() { s.httpDone <- s.httpSrv.Serve(ln) }()
	s.log.Info("parley started", "http", ln.Addr().String(), "udp", s.media.UDPAddr().String())
	return nil
}

// HTTPAddr is the bound HTTP address (useful with port 0).
func (s *Server) HTTPAddr() string { return s.httpLn.Addr().String() }

// SignalURL is the WebSocket URL SDKs connect to.
func (s *Server) SignalURL() string { return "ws://" + s.HTTPAddr() + "/v1/signal" }

// UDPAddr is the media port.
func (s *Server) UDPAddr() *net.UDPAddr { return s.media.UDPAddr() }

// DevApp returns the development app's credentials.
func (s *Server) DevApp() DevApp { return s.dev }

// Apps exposes the app service (console, tests).
func (s *Server) Apps() *app.Service { return s.apps.Service }

// Callbacks exposes the apps' webhook targets (console, tests).
func (s *Server) Callbacks() *app.Callbacks { return s.callbacks }

// Rooms exposes the room manager (tests, benchmarks, REST).
func (s *Server) Rooms() *room.Manager { return s.rooms }

// Shutdown exits every participant with reason 4, stops accepting
// connections, waits for sessions to end (bounded by ctx) and closes the
// media engine and the store.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.started {
		return nil
	}
	var errs []error
	if s.rooms != nil {
		s.rooms.CloseAll()
	}
	if s.signal != nil {
		if err := s.signal.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("signal sessions: %w", err))
		}
	}
	if s.httpSrv != nil {
		if err := s.httpSrv.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("http: %w", err))
		}
		if err := <-s.httpDone; err != nil && !errors.Is(err, http.ErrServerClosed) {
			errs = append(errs, fmt.Errorf("http serve: %w", err))
		}
	}
	errs = append(errs, s.closeAll())
	s.started = false
	return errors.Join(errs...)
}

func (s *Server) closeAll() error {
	var errs []error
	for i := len(s.closers) - 1; i >= 0; i-- {
		if err := s.closers[i](); err != nil {
			errs = append(errs, err)
		}
	}
	s.closers = nil
	return errors.Join(errs...)
}
