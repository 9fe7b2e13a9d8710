package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"runtime"
	"runtime/pprof"
	"sync"
	"time"
)

// Defaults for zero Options fields.
const (
	DefaultDuration        = 30 * time.Second
	DefaultWarmupTimeout   = 30 * time.Second
	DefaultJoinConcurrency = 8
)

// teardownTimeout bounds closing every client and stopping the server.
const teardownTimeout = 30 * time.Second

// Options configures RunSFU.
type Options struct {
	// URL, SDKAppID and SecretKey name a running server; with Spawn they
	// are ignored and a server is started for the run.
	URL       string
	SDKAppID  uint32
	SecretKey string
	Spawn     bool
	// ServerBinary is the parley executable Spawn runs as a child
	// (`serve`). Empty, or a `go test` binary, runs the server in this
	// process instead, where its CPU time cannot be told from the
	// clients'.
	ServerBinary string

	Publishers  int
	Subscribers int
	AudioOnly   bool
	// Duration is the measured window (default 30 s).
	Duration time.Duration
	// RoomID is the numeric room; 0 picks one from the clock so
	// concurrent runs against one server do not share a room.
	RoomID uint32
	// WarmupTimeout bounds the wait for every client to receive every
	// track after joining (default 30 s).
	WarmupTimeout time.Duration
	// JoinConcurrency bounds simultaneous joins (default 8): a realistic
	// arrival rate rather than one thundering herd.
	JoinConcurrency int

	// Progress receives human progress lines; nil discards them.
	Progress io.Writer
	// Logger receives SDK and in-process server logs; nil discards them.
	Logger *slog.Logger
	// CPUProfile, when set, receives a pprof CPU profile of the measured
	// window. It forces an in-process server so the profile covers it;
	// server goroutines carry the label role=server.
	CPUProfile io.Writer
}

// Result is a run's outcome. JSON names are the stable interface of
// `parley bench sfu --json`.
type Result struct {
	Publishers  int     `json:"publishers"`
	Subscribers int     `json:"subscribers"`
	AudioOnly   bool    `json:"audio_only"`
	DurationS   float64 `json:"duration_s"` // measured window, as timed
	RoomID      uint32  `json:"room_id"`
	ServerMode  string  `json:"server_mode"` // remote, child, in-process
	CPUs        int     `json:"cpus"`

	// Streams is the number of (receiving client, remote track) pairs.
	Streams          int     `json:"streams"`
	DeliveredPackets uint64  `json:"delivered_packets"`
	ExpectedPackets  uint64  `json:"expected_packets"`
	LostPackets      uint64  `json:"lost_packets"`
	LossPercent      float64 `json:"loss_percent"`
	DeliveredBytes   uint64  `json:"delivered_bytes"`
	DeliveredPPS     float64 `json:"delivered_pps"`
	BitrateKbps      float64 `json:"bitrate_kbps"`

	// SDKErrors counts the clients' asynchronous errors (Listener.OnError)
	// from joining to the end of the window; a healthy run has none.
	SDKErrors uint64 `json:"sdk_errors"`

	JoinMsP50       float64 `json:"join_ms_p50"` // EnterRoom wall time
	JoinMsP99       float64 `json:"join_ms_p99"`
	JoinServerMsP50 float64 `json:"join_server_ms_p50"` // EnterRoom result (server-side)
	JoinServerMsP99 float64 `json:"join_server_ms_p99"`

	LatencySamples uint64  `json:"latency_samples"`
	LatencyMsP50   float64 `json:"latency_ms_p50"`
	LatencyMsP99   float64 `json:"latency_ms_p99"`
	LatencyMsMax   float64 `json:"latency_ms_max"`

	ServerCPUSeconds            float64 `json:"server_cpu_seconds,omitempty"`
	DeliveredPerServerCPUSecond float64 `json:"delivered_per_server_cpu_second,omitempty"`
	ServerCPUMethod             string  `json:"server_cpu_method,omitempty"`
	// The server CPU split into user and kernel (system) time. On
	// loopback the kernel side of sendto includes delivering the packet
	// into the receiving client's socket.
	ServerCPUUserSeconds   float64 `json:"server_cpu_user_seconds,omitempty"`
	ServerCPUSystemSeconds float64 `json:"server_cpu_system_seconds,omitempty"`
	// BenchCPUSeconds is this process's CPU over the window: the clients,
	// plus the server when it runs in-process.
	BenchCPUSeconds float64 `json:"bench_process_cpu_seconds,omitempty"`
}

func (o Options) normalize(now time.Time) (Options, error) {
	if o.Duration == 0 {
		o.Duration = DefaultDuration
	}
	if o.WarmupTimeout == 0 {
		o.WarmupTimeout = DefaultWarmupTimeout
	}
	if o.JoinConcurrency == 0 {
		o.JoinConcurrency = DefaultJoinConcurrency
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.RoomID == 0 {
		o.RoomID = uint32(100000 + now.UnixNano()%900000)
	}
	switch {
	case !o.Spawn && (o.URL == "" || o.SDKAppID == 0 || o.SecretKey == ""):
		return o, fmt.Errorf("%w: URL, SDKAppID and SecretKey are required without Spawn", ErrInvalidOptions)
	case o.Publishers < 1:
		return o, fmt.Errorf("%w: need at least one publisher", ErrInvalidOptions)
	case o.Subscribers < 0:
		return o, fmt.Errorf("%w: negative subscriber count", ErrInvalidOptions)
	case o.Subscribers == 0 && o.Publishers == 1:
		return o, fmt.Errorf("%w: nobody receives: add subscribers or a second publisher", ErrInvalidOptions)
	case o.Duration < 0 || o.WarmupTimeout < 0 || o.JoinConcurrency < 0:
		return o, fmt.Errorf("%w: negative duration, timeout or concurrency", ErrInvalidOptions)
	}
	return o, nil
}

// run is one RunSFU invocation's state.
type run struct {
	o       Options
	t       target
	w       window
	clients []*client
}

// RunSFU runs the SFU fan-out benchmark described in the package comment.
// The server, when spawned, and every client are shut down before it
// returns, even when ctx is cancelled.
func RunSFU(ctx context.Context, o Options) (Result, error) {
	o, err := o.normalize(time.Now())
	if err != nil {
		return Result{}, err
	}
	t, err := startTarget(ctx, o)
	if err != nil {
		return Result{}, err
	}
	r := &run{o: o, t: t}
	res, err := r.execute(ctx)

	// Teardown gets its own deadline: ctx may be the cancelled one.
	tctx, cancel := context.WithTimeout(context.Background(), teardownTimeout)
	defer cancel()
	r.closeClients()
	if serr := t.stop(tctx); serr != nil {
		// The figures were taken before teardown and stay valid; a
		// server that does not stop cleanly is still worth a line.
		r.progress("warning: %v", serr)
	}
	return res, err
}

func (r *run) progress(format string, a ...any) {
	fmt.Fprintf(r.o.Progress, "bench: "+format+"\n", a...)
}

func (r *run) execute(ctx context.Context) (Result, error) {
	o := r.o
	kinds, media := 2, "audio+video"
	if o.AudioOnly {
		kinds, media = 1, "audio only"
	}
	r.progress("server %s (%s), room %d: %d publishers, %d subscribers, %s",
		r.t.url, r.t.mode(r.o.Spawn), o.RoomID, o.Publishers, o.Subscribers, media)
	pubs := make([]*client, 0, o.Publishers)
	for i := range o.Publishers {
		c, err := newClient(r.t, o, &r.w, fmt.Sprintf("bench-pub-%d", i), true, (o.Publishers-1)*kinds)
		if err != nil {
			return Result{}, err
		}
		pubs = append(pubs, c)
		r.clients = append(r.clients, c)
	}
	subs := make([]*client, 0, o.Subscribers)
	for i := range o.Subscribers {
		c, err := newClient(r.t, o, &r.w, fmt.Sprintf("bench-sub-%d", i), false, o.Publishers*kinds)
		if err != nil {
			return Result{}, err
		}
		subs = append(subs, c)
		r.clients = append(r.clients, c)
	}

	start := time.Now()
	join := func(ctx context.Context, c *client) error { return c.join(ctx, o.RoomID, o.AudioOnly) }
	// Publishers first, so subscribers join a room that already has media,
	// as viewers of a live stream do.
	if err := forEachBounded(ctx, pubs, o.JoinConcurrency, join); err != nil {
		return Result{}, err
	}
	if err := forEachBounded(ctx, subs, o.JoinConcurrency, join); err != nil {
		return Result{}, err
	}
	r.progress("%d clients joined in %s", len(r.clients), time.Since(start).Round(time.Millisecond))

	if err := r.warmup(ctx); err != nil {
		return Result{}, err
	}
	return r.measure(ctx)
}

// warmup waits until every client has a packet on each expected track.
func (r *run) warmup(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, r.o.WarmupTimeout)
	defer cancel()
	tick := time.NewTicker(2 * time.Second)
	defer tick.Stop()
	start := time.Now()
	for i, c := range r.clients {
		if err := r.waitReady(ctx, c, tick.C); err != nil {
			if !errors.Is(err, context.DeadlineExceeded) {
				return err
			}
			return r.warmupFailed(i)
		}
	}
	r.progress("warm-up done in %s", time.Since(start).Round(time.Millisecond))
	return nil
}

// waitReady blocks until c is ready or ctx ends, printing progress on
// every tick meanwhile.
func (r *run) waitReady(ctx context.Context, c *client, tick <-chan time.Time) error {
	for {
		select {
		case <-c.ready:
			return nil
		case <-tick:
			r.progress("warm-up: %d/%d clients receiving every track", r.readyCount(), len(r.clients))
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
}

func (r *run) readyCount() int {
	n := 0
	for _, c := range r.clients {
		if c.isReady() {
			n++
		}
	}
	return n
}

// warmupFailed describes the first client that is still missing tracks.
func (r *run) warmupFailed(from int) error {
	for _, c := range r.clients[from:] {
		if c.isReady() {
			continue
		}
		c.mu.Lock()
		warm, errs := c.warm, errors.Join(c.errs...)
		c.mu.Unlock()
		detail := ""
		if errs != nil {
			detail = fmt.Sprintf("; SDK errors: %v", errs)
		}
		return fmt.Errorf("%w after %s: %d/%d clients ready; %s has %d of %d tracks%s",
			ErrWarmup, r.o.WarmupTimeout, r.readyCount(), len(r.clients), c.userID, warm, c.expect, detail)
	}
	return fmt.Errorf("%w after %s", ErrWarmup, r.o.WarmupTimeout)
}

// measure opens the window for o.Duration and aggregates what it saw.
func (r *run) measure(ctx context.Context) (Result, error) {
	o := r.o
	var serverCPU0 cpuTimes
	var cpuErr error
	if r.t.cpu != nil {
		serverCPU0, cpuErr = r.t.cpu()
	}
	selfCPU0, selfErr := selfCPU()
	if o.CPUProfile != nil {
		if err := pprof.StartCPUProfile(o.CPUProfile); err != nil {
			return Result{}, fmt.Errorf("cpu profile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}

	r.w.open.Store(true)
	start := time.Now()
	timer := time.NewTimer(o.Duration)
	defer timer.Stop()
	tick := time.NewTicker(5 * time.Second)
	defer tick.Stop()
	r.progress("measuring for %s", o.Duration)
measuring:
	for {
		select {
		case <-timer.C:
			break measuring
		case now := <-tick.C:
			n := r.livePackets()
			secs := now.Sub(start).Seconds()
			r.progress("%3.0fs/%s: %d packets delivered (%.0f pkt/s)", secs, o.Duration, n, float64(n)/secs)
		case <-ctx.Done():
			r.w.open.Store(false)
			return Result{}, ctx.Err()
		}
	}
	r.w.open.Store(false)
	elapsed := time.Since(start)

	var serverCPU1, selfCPU1 cpuTimes
	if r.t.cpu != nil && cpuErr == nil {
		serverCPU1, cpuErr = r.t.cpu()
	}
	if selfErr == nil {
		selfCPU1, selfErr = selfCPU()
	}

	res := r.aggregate(elapsed)
	if r.t.cpu != nil {
		if cpuErr != nil {
			r.progress("warning: server CPU not measured: %v", cpuErr)
		} else {
			d := serverCPU1.sub(serverCPU0)
			cpu := d.total()
			res.ServerCPUMethod = r.t.cpuMethod
			res.ServerCPUSeconds = round(cpu.Seconds(), 3)
			res.ServerCPUUserSeconds = round(d.user.Seconds(), 3)
			res.ServerCPUSystemSeconds = round(d.system.Seconds(), 3)
			if cpu > 0 {
				res.DeliveredPerServerCPUSecond = math.Round(float64(res.DeliveredPackets) / cpu.Seconds())
			}
		}
	}
	if selfErr == nil {
		res.BenchCPUSeconds = round(selfCPU1.sub(selfCPU0).total().Seconds(), 3)
	}
	return res, nil
}

func (r *run) livePackets() uint64 {
	var n uint64
	for _, c := range r.clients {
		n += c.livePackets()
	}
	return n
}

// aggregate sums the closed window over every client and stream.
func (r *run) aggregate(elapsed time.Duration) Result {
	o := r.o
	res := Result{
		Publishers: o.Publishers, Subscribers: o.Subscribers, AudioOnly: o.AudioOnly,
		DurationS: round(elapsed.Seconds(), 3), RoomID: o.RoomID, ServerMode: r.t.mode(r.o.Spawn), CPUs: runtime.NumCPU(),
	}
	var lat histogram
	joins := make([]time.Duration, 0, len(r.clients))
	serverJoins := make([]time.Duration, 0, len(r.clients))
	for _, c := range r.clients {
		joins = append(joins, c.joinWall)
		serverJoins = append(serverJoins, time.Duration(c.joinResult)*time.Millisecond)
		lat.merge(&c.hist)
		res.SDKErrors += c.errCount.Load()
		for _, s := range c.snapshotStreams() {
			t := s.totals()
			res.Streams++
			res.DeliveredPackets += t.packets
			res.DeliveredBytes += t.bytes
			res.ExpectedPackets += t.expected
			res.LostPackets += t.lost()
		}
	}
	secs := elapsed.Seconds()
	res.DeliveredPPS = round(float64(res.DeliveredPackets)/secs, 1)
	res.BitrateKbps = round(float64(res.DeliveredBytes)*8/1000/secs, 1)
	if res.ExpectedPackets > 0 {
		res.LossPercent = round(float64(res.LostPackets)*100/float64(res.ExpectedPackets), 4)
	}
	j := sampleQuantiles(joins, 0.5, 0.99)
	res.JoinMsP50, res.JoinMsP99 = ms(j[0]), ms(j[1])
	j = sampleQuantiles(serverJoins, 0.5, 0.99)
	res.JoinServerMsP50, res.JoinServerMsP99 = ms(j[0]), ms(j[1])
	res.LatencySamples = lat.total()
	res.LatencyMsP50 = ms(lat.quantile(0.5))
	res.LatencyMsP99 = ms(lat.quantile(0.99))
	res.LatencyMsMax = ms(time.Duration(lat.max.Load()))
	return res
}

// closeClients leaves the room with every client in parallel; a client
// that fails to leave cleanly is reported, not fatal.
func (r *run) closeClients() {
	var wg sync.WaitGroup
	for _, c := range r.clients {
		wg.Go(func() {
			if err := c.close(); err != nil {
				r.o.Logger.Debug("bench: client close", "user", c.userID, "err", err)
			}
		})
	}
	wg.Wait()
}

// forEachBounded runs f on every item with at most n at a time and
// returns the first error; the rest are cancelled through ctx.
func forEachBounded[T any](ctx context.Context, items []T, n int, f func(context.Context, T) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	sem := make(chan struct{}, n)
	var wg sync.WaitGroup
	for _, it := range items {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := f(ctx, it); err != nil {
				cancel(err)
			}
		})
	}
	wg.Wait()
	return context.Cause(ctx)
}

func round(v float64, places int) float64 {
	p := math.Pow(10, float64(places))
	return math.Round(v*p) / p
}
