package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parley-rtc/parley/internal/auth"
	"github.com/parley-rtc/parley/internal/config"
	"github.com/parley-rtc/parley/internal/server"
	"github.com/parley-rtc/parley/protocol"
	parley "github.com/parley-rtc/parley/sdk/go"
)

// Defaults of `parley bench im` for zero IMOptions fields.
// benchGCPercent is the GOGC of the process simulating the clients.
const benchGCPercent = 400

const (
	DefaultIMClients          = 100
	DefaultIMGroups           = 10
	DefaultIMRate             = 1000 // messages/s offered, all clients together
	DefaultIMMessageBytes     = 64
	DefaultIMLoginConcurrency = 16
	DefaultIMLoginTimeout     = 3 * time.Minute
	DefaultIMDrainTimeout     = 10 * time.Second
)

// imSendTimeout bounds one Send. A send still in flight when the window
// closes is waited for (cancelling it could leave the message stored but
// uncounted), so this also bounds the wait after the window.
const imSendTimeout = 10 * time.Second

// imPolicyVersion is the consent the synthetic users give; a fresh server
// publishes no policy, so any version is accepted.
const imPolicyVersion = "2025-09-11"

// imStampPrefix starts the cloud_custom_data of every bench message; the
// send time in Unix ns follows.
const imStampPrefix = "pb:"

// IMOptions configures RunIM.
type IMOptions struct {
	// URL, SDKAppID and SecretKey name a running server; with Spawn they
	// are ignored and a server is started for the run.
	URL       string
	SDKAppID  uint32
	SecretKey string
	Spawn     bool
	// ServerBinary is the parley executable Spawn runs as a child
	// (`serve`); empty, or a `go test` binary, runs the server in this
	// process instead.
	ServerBinary string

	// Clients log in to messaging, each on its own WebSocket; client i
	// joins group i mod Groups, so every group has Clients/Groups members
	// (±1), at least two.
	Clients int
	Groups  int
	// Rate is the offered load in messages/s over all clients; each
	// message fans out to the other members of its group.
	Rate float64
	// Duration is the sending window (default 30 s).
	Duration time.Duration
	// MessageBytes is the length of each message's text (default 64).
	MessageBytes int
	// LoginConcurrency bounds simultaneous logins (default 16);
	// LoginTimeout bounds the whole login and group-join phase (3 min).
	LoginConcurrency int
	LoginTimeout     time.Duration
	// DrainTimeout bounds the wait, after the last send was answered,
	// for the last deliveries (default 10 s).
	DrainTimeout time.Duration

	// Progress receives human progress lines; nil discards them.
	Progress io.Writer
	// Logger receives SDK and in-process server logs; nil discards them.
	Logger *slog.Logger
	// CPUProfile, when set, receives a CPU profile of the window and the
	// drain. It forces an in-process server; server goroutines carry the
	// label role=server (`go tool pprof -tagfocus role=server`).
	CPUProfile io.Writer
}

// IMResult is a run's outcome; the JSON names are the stable interface of
// `parley bench im --json`.
type IMResult struct {
	Clients         int     `json:"clients"`
	Groups          int     `json:"groups"`
	MembersPerGroup float64 `json:"members_per_group"` // mean
	MessageBytes    int     `json:"message_bytes"`
	ServerMode      string  `json:"server_mode"` // remote, child, in-process
	CPUs            int     `json:"cpus"`

	LoginSeconds float64 `json:"login_seconds"` // login + group join of every client
	LoginMsP50   float64 `json:"login_ms_p50"`  // per client: LoginIM + group op
	LoginMsP99   float64 `json:"login_ms_p99"`

	DurationS        float64 `json:"duration_s"` // sending window, as timed
	OfferedPerSecond float64 `json:"offered_per_second"`
	// SentMessages are the sends the server acknowledged in the window.
	SentMessages  uint64  `json:"sent_messages"`
	SentPerSecond float64 `json:"sent_per_second"`
	// UnsentMessages are offered send slots a client did not reach
	// before the window closed, still waiting for its previous send's
	// acknowledgement.
	UnsentMessages uint64 `json:"unsent_messages"`
	// SendErrors counts failed sends by the server's code ("10023" rate
	// limited …), or "timeout", "connection", "other".
	SendErrors map[string]uint64 `json:"send_errors"`

	// ExpectedDeliveries is Σ over groups of acknowledged sends × (members
	// − 1): the sender's own copy is not delivered to it.
	ExpectedDeliveries uint64 `json:"expected_deliveries"`
	// DeliveredMessages counts OnMessage calls for bench messages, up to
	// the end of the drain.
	DeliveredMessages uint64 `json:"delivered_messages"`
	MissingDeliveries uint64 `json:"missing_deliveries"`
	// DeliverySeconds runs from the window's start to the last delivery;
	// DeliveredPerSecond is DeliveredMessages over it, so a server that
	// falls behind is not credited with its backlog.
	DeliverySeconds    float64 `json:"delivery_seconds"`
	DeliveredPerSecond float64 `json:"delivered_per_second"`
	// DeliveredInWindow counts deliveries before the window closed.
	DeliveredInWindow uint64 `json:"delivered_in_window"`

	// BenchGCPercent is the client-simulating process's GOGC (the
	// spawned server's is the default).
	BenchGCPercent int     `json:"bench_gc_percent"`
	LatencyMsP50   float64 `json:"latency_ms_p50"`
	LatencyMsP90   float64 `json:"latency_ms_p90"`
	LatencyMsP99   float64 `json:"latency_ms_p99"`
	LatencyMsMax   float64 `json:"latency_ms_max"`

	// SDKErrors counts Messenger OnError calls; Reconnects counts
	// OnConnectionLost (a server drops a client that does not read).
	SDKErrors  uint64 `json:"sdk_errors"`
	Reconnects uint64 `json:"reconnects"`

	// Server CPU from the window's start to the end of the drain.
	ServerCPUSeconds        float64 `json:"server_cpu_seconds,omitempty"`
	ServerCPUUserSeconds    float64 `json:"server_cpu_user_seconds,omitempty"`
	ServerCPUSystemSeconds  float64 `json:"server_cpu_system_seconds,omitempty"`
	ServerCPUSecondsPer100k float64 `json:"server_cpu_seconds_per_100k,omitempty"`
	ServerCPUMethod         string  `json:"server_cpu_method,omitempty"`
	ServerRSSBytesBefore    uint64  `json:"server_rss_bytes_before_login,omitempty"`
	ServerRSSBytesAfter     uint64  `json:"server_rss_bytes_after_login,omitempty"`
	ServerRSSBytesPerClient float64 `json:"server_rss_bytes_per_client,omitempty"`
	ServerRSSMethod         string  `json:"server_rss_method,omitempty"`
	// BenchProcessCPUSeconds is this process's CPU over the same span:
	// the clients (the SDK's receive path above all), plus the server
	// when it runs in-process.
	BenchProcessCPUSeconds    float64 `json:"bench_process_cpu_seconds,omitempty"`
	BenchProcessCPUPer100k    float64 `json:"bench_process_cpu_seconds_per_100k,omitempty"`
	ServerGroupRate           float64 `json:"server_group_rate,omitempty"` // im.group_rate of a spawned server
	ServerSignalRatePerClient float64 `json:"server_signal_rate_per_connection,omitempty"`
}

func (o IMOptions) normalize() (IMOptions, error) {
	if o.Clients == 0 {
		o.Clients = DefaultIMClients
	}
	if o.Groups == 0 {
		o.Groups = DefaultIMGroups
	}
	if o.Rate == 0 {
		o.Rate = DefaultIMRate
	}
	if o.Duration == 0 {
		o.Duration = DefaultDuration
	}
	if o.MessageBytes == 0 {
		o.MessageBytes = DefaultIMMessageBytes
	}
	if o.LoginConcurrency == 0 {
		o.LoginConcurrency = DefaultIMLoginConcurrency
	}
	if o.LoginTimeout == 0 {
		o.LoginTimeout = DefaultIMLoginTimeout
	}
	if o.DrainTimeout == 0 {
		o.DrainTimeout = DefaultIMDrainTimeout
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	switch {
	case !o.Spawn && (o.URL == "" || o.SDKAppID == 0 || o.SecretKey == ""):
		return o, fmt.Errorf("%w: URL, SDKAppID and SecretKey are required without Spawn", ErrInvalidOptions)
	case o.Clients < 2 || o.Groups < 1:
		return o, fmt.Errorf("%w: need at least 2 clients and 1 group", ErrInvalidOptions)
	case o.Clients < 2*o.Groups:
		return o, fmt.Errorf("%w: %d clients cannot fill %d groups with 2 members each", ErrInvalidOptions, o.Clients, o.Groups)
	case !(o.Rate > 0) || math.IsInf(o.Rate, 0):
		return o, fmt.Errorf("%w: rate must be a positive number of messages/s", ErrInvalidOptions)
	case o.MessageBytes < 1 || o.MessageBytes > 8<<10:
		return o, fmt.Errorf("%w: message size must be 1-8192 bytes", ErrInvalidOptions)
	case o.Duration < 0 || o.LoginTimeout < 0 || o.DrainTimeout < 0 || o.LoginConcurrency < 0:
		return o, fmt.Errorf("%w: negative duration, timeout or concurrency", ErrInvalidOptions)
	}
	return o, nil
}

// imLimits are the server limits a spawned server gets so that the
// offered load, not a limiter, is what is measured: the group rate (40/s
// by default) at twice the mean per-group rate, and the per-connection
// signaling budget at twice a client's send rate plus headroom for pings
// and group operations.
func imLimits(o IMOptions) (groupRate, sigRate float64, sigBurst int) {
	groupRate = math.Max(config.DefaultIMGroupRate, math.Ceil(2*o.Rate/float64(o.Groups)))
	sigRate = math.Max(config.DefaultSignalRate, math.Ceil(2*o.Rate/float64(o.Clients))+10)
	sigBurst = max(config.DefaultSignalBurst, int(2*sigRate))
	return groupRate, sigRate, sigBurst
}

// imTarget is the server of an IM run: the common target plus the process
// whose resident memory is read.
type imTarget struct {
	target
	pid       int    // 0: RSS not measurable
	rssMethod string // child-proc-status, in-process-self
}

func startIMTarget(ctx context.Context, o IMOptions) (imTarget, error) {
	switch {
	case !o.Spawn:
		return imTarget{target: target{url: o.URL, appID: o.SDKAppID, key: o.SecretKey,
			stop: func(context.Context) error { return nil }}}, nil
	case o.ServerBinary != "" && !isTestBinary(o.ServerBinary) && o.CPUProfile == nil:
		return startIMChild(ctx, o)
	default:
		return startIMInProcess(ctx, o)
	}
}

// startIMInProcess runs the server in this process with the bench's
// limits; see startInProcess.
func startIMInProcess(ctx context.Context, o IMOptions) (imTarget, error) {
	dir, err := os.MkdirTemp("", "parley-bench-im-")
	if err != nil {
		return imTarget{}, fmt.Errorf("%w: %w", ErrServer, err)
	}
	cfg := config.Default()
	cfg.DataDir = dir
	cfg.HTTP.Listen = "127.0.0.1:0"
	cfg.Media.UDPPort = 0
	cfg.IM.GroupRate, cfg.Signal.RatePerSecond, cfg.Signal.Burst = imLimits(o)
	srv, err := server.New(cfg, server.Options{Logger: o.Logger})
	if err == nil {
		pprof.Do(ctx, pprof.Labels("role", "server"), func(ctx context.Context) {
			err = srv.Start(ctx)
		})
	}
	if err != nil {
		_ = os.RemoveAll(dir)
		return imTarget{}, fmt.Errorf("%w: %w", ErrServer, err)
	}
	dev := srv.DevApp()
	return imTarget{
		target: target{
			url: srv.SignalURL(), appID: dev.SDKAppID, key: dev.SecretKey,
			cpu: selfCPU, cpuMethod: CPUInProcessRusage,
			stop: func(ctx context.Context) error {
				return errors.Join(srv.Shutdown(ctx), os.RemoveAll(dir))
			},
		},
		pid: os.Getpid(), rssMethod: "in-process-self",
	}, nil
}

// startIMChild runs `<binary> serve` like startChild, with a
// configuration file raising the IM and signaling limits.
func startIMChild(ctx context.Context, o IMOptions) (imTarget, error) {
	root, err := os.MkdirTemp("", "parley-bench-im-")
	if err != nil {
		return imTarget{}, fmt.Errorf("%w: %w", ErrServer, err)
	}
	groupRate, sigRate, sigBurst := imLimits(o)
	cfgFile := filepath.Join(root, "parley.yaml")
	yaml := fmt.Sprintf("im:\n  group_rate: %g\nsignal:\n  rate_per_second: %g\n  burst: %d\n", groupRate, sigRate, sigBurst)
	if err := os.WriteFile(cfgFile, []byte(yaml), 0o600); err != nil {
		_ = os.RemoveAll(root)
		return imTarget{}, fmt.Errorf("%w: %w", ErrServer, err)
	}
	tg, pid, err := spawnServe(ctx, o.ServerBinary, root, []string{"--config", cfgFile, "--data", filepath.Join(root, "data")}, true)
	if err != nil {
		return imTarget{}, err
	}
	return imTarget{target: tg, pid: pid, rssMethod: "child-proc-status"}, nil
}

// parseVmRSS returns VmRSS in bytes from the contents of
// /proc/<pid>/status (proc(5): "VmRSS:   12345 kB").
func parseVmRSS(status string) (uint64, error) {
	for line := range strings.Lines(status) {
		rest, ok := strings.CutPrefix(line, "VmRSS:")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			break
		}
		kb, err := strconv.ParseUint(f[0], 10, 64)
		if err != nil {
			break
		}
		return kb << 10, nil
	}
	return 0, errors.New("bench: no VmRSS line in /proc/<pid>/status")
}

func procRSS(pid int) (uint64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	return parseVmRSS(string(b))
}

// imHist is a latency histogram shared by every receiver: 0.1 ms buckets
// up to 100 ms, 1 ms buckets up to 10 s, then one overflow bucket. It is
// bounded (~87 KB) and resolves an overloaded server's seconds as well as
// an idle one's sub-millisecond.
type imHist struct {
	counts [imFineBuckets + imCoarseBuckets + 1]atomic.Uint64
	max    atomic.Int64
}

const (
	imFineRes       = 100 * time.Microsecond
	imFineLimit     = 100 * time.Millisecond
	imFineBuckets   = int(imFineLimit / imFineRes)
	imCoarseRes     = time.Millisecond
	imCoarseLimit   = 10 * time.Second
	imCoarseBuckets = int((imCoarseLimit - imFineLimit) / imCoarseRes)
)

func (h *imHist) record(d time.Duration) {
	d = max(d, 0) // one host clock: negative is only a clock step
	var i int
	switch {
	case d < imFineLimit:
		i = int(d / imFineRes)
	case d < imCoarseLimit:
		i = imFineBuckets + int((d-imFineLimit)/imCoarseRes)
	default:
		i = imFineBuckets + imCoarseBuckets
	}
	h.counts[i].Add(1)
	for {
		cur := h.max.Load()
		if int64(d) <= cur || h.max.CompareAndSwap(cur, int64(d)) {
			return
		}
	}
}

// upper is bucket i's upper edge.
func (h *imHist) upper(i int) time.Duration {
	if i < imFineBuckets {
		return time.Duration(i+1) * imFineRes
	}
	return imFineLimit + time.Duration(i-imFineBuckets+1)*imCoarseRes
}

// quantile is the nearest-rank q-quantile, as its bucket's upper edge
// (the maximum if lower, or in the overflow bucket); 0 when empty.
func (h *imHist) quantile(q float64) time.Duration {
	var n uint64
	for i := range h.counts {
		n += h.counts[i].Load()
	}
	if n == 0 {
		return 0
	}
	rank := uint64(nearestRank(q, int(n)))
	mx := time.Duration(h.max.Load())
	var seen uint64
	for i := range h.counts {
		seen += h.counts[i].Load()
		if seen > rank {
			if i == len(h.counts)-1 {
				return mx
			}
			return min(h.upper(i), mx)
		}
	}
	return mx
}

// imClient is one simulated user: an SDK Client and its Messenger.
type imClient struct {
	r      *imRun
	idx    int
	userID string
	group  int
	sdk    *parley.Client
	m      *parley.Messenger
	login  time.Duration // LoginIM + group op, as the client saw it
}

// imRun is one RunIM invocation's state.
type imRun struct {
	o        IMOptions
	t        imTarget
	runID    string
	groupIDs []string
	members  []int // per group
	clients  []*imClient
	elems    []protocol.IMElement
	tr       parley.Transport

	open      atomic.Bool   // receivers count while open
	stopSend  chan struct{} // closed to stop the senders early (ctx ended)
	delivered atomic.Uint64
	inWindow  atomic.Uint64
	lastRecv  atomic.Int64 // Unix ns of the latest delivery
	foreign   atomic.Uint64
	hist      imHist
	sent      []atomic.Uint64 // acknowledged sends per group
	sdkErrs   atomic.Uint64
	lost      atomic.Uint64
	unsent    atomic.Uint64 // send slots not reached by the end of the window

	errMu    sync.Mutex
	sendErrs map[string]uint64
	firstErr []error // the first few, for diagnostics
}

// RunIM runs the instant-messaging fan-out benchmark: Clients users log in
// over real WebSockets with the Go SDK and join Groups Meeting groups;
// during Duration they send Rate messages/s in total, each stamped with
// its send time, and every other member of the group counts and times its
// delivery. The server, when spawned, and every client are shut down
// before it returns, even when ctx is cancelled.
func RunIM(ctx context.Context, o IMOptions) (IMResult, error) {
	o, err := o.normalize()
	if err != nil {
		return IMResult{}, err
	}
	// Each client holds a socket here, and the server (a child inherits
	// the limit) one more per client.
	if err := raiseFileLimit(uint64(o.Clients) + 256); err != nil {
		return IMResult{}, err
	}
	t, err := startIMTarget(ctx, o)
	if err != nil {
		return IMResult{}, err
	}
	gcPercent := 100
	if !o.Spawn || t.cpuMethod == CPUChildProcStat { // the server has its own heap
		gcPercent = benchGCPercent
		// This process only simulates the clients — a thousand devices
		// in one heap, which a real deployment never has. Collecting
		// their garbage less often leaves more of the shared cores to the
		// server under test (whose GC settings stay the default); the
		// figure is reported as bench_gc_percent.
		defer debug.SetGCPercent(debug.SetGCPercent(benchGCPercent))
	}
	r := &imRun{o: o, t: t, sendErrs: map[string]uint64{}, stopSend: make(chan struct{})}
	res, err := r.execute(ctx)
	res.BenchGCPercent = gcPercent

	tctx, cancel := context.WithTimeout(context.Background(), teardownTimeout)
	defer cancel()
	r.teardown(tctx)
	if serr := t.stop(tctx); serr != nil {
		r.progress("warning: %v", serr)
	}
	return res, err
}

func (r *imRun) progress(format string, a ...any) {
	fmt.Fprintf(r.o.Progress, "bench: "+format+"\n", a...)
}

func (r *imRun) rss() (uint64, bool) {
	if r.t.pid == 0 {
		return 0, false
	}
	v, err := procRSS(r.t.pid)
	if err != nil {
		r.progress("warning: server RSS not read: %v", err)
		return 0, false
	}
	return v, true
}

func (r *imRun) execute(ctx context.Context) (IMResult, error) {
	o := r.o
	now := time.Now()
	// A run id keeps users and groups apart from earlier runs against
	// the same server: a reused user would catch up old messages.
	r.runID = strconv.FormatInt(now.UnixMilli()%(36*36*36*36*36*36), 36)
	r.groupIDs = make([]string, o.Groups)
	r.members = make([]int, o.Groups)
	r.sent = make([]atomic.Uint64, o.Groups)
	for g := range o.Groups {
		r.groupIDs[g] = "bench-" + r.runID + "-" + strconv.Itoa(g)
	}
	r.elems = parley.TextElements(strings.Repeat("m", o.MessageBytes))
	tr, err := parley.NewDefaultTransport() // shared: one interface scan, not one per client
	if err != nil {
		return IMResult{}, err
	}
	r.tr = tr
	groupRate, sigRate, _ := imLimits(o)
	r.progress("server %s (%s): %d clients in %d groups, %.0f messages/s offered", r.t.url, r.t.mode(r.o.Spawn), o.Clients, o.Groups, o.Rate)
	if !o.Spawn && o.Rate/float64(o.Groups) > config.DefaultIMGroupRate {
		r.progress("warning: %.0f messages/s per group exceeds the default im.group_rate (%d/s); expect 10023 errors unless the server raised it",
			o.Rate/float64(o.Groups), config.DefaultIMGroupRate)
	}

	for i := range o.Clients {
		c, err := r.newClient(i)
		if err != nil {
			return IMResult{}, err
		}
		r.clients = append(r.clients, c)
		r.members[c.group]++
	}

	rss0, rssOK := r.rss()
	loginStart := time.Now()
	if err := r.loginAll(ctx); err != nil {
		return IMResult{}, err
	}
	loginTime := time.Since(loginStart)
	rss1, rss1OK := r.rss()
	rssOK = rssOK && rss1OK
	r.progress("%d clients logged in and joined in %s", len(r.clients), loginTime.Round(time.Millisecond))

	res, err := r.measure(ctx)
	if err != nil {
		return IMResult{}, err
	}
	res.Clients, res.Groups, res.MessageBytes = o.Clients, o.Groups, o.MessageBytes
	res.MembersPerGroup = round(float64(o.Clients)/float64(o.Groups), 2)
	res.ServerMode, res.CPUs = r.t.mode(r.o.Spawn), runtime.NumCPU()
	res.OfferedPerSecond = o.Rate
	res.LoginSeconds = round(loginTime.Seconds(), 3)
	logins := make([]time.Duration, len(r.clients))
	for i, c := range r.clients {
		logins[i] = c.login
	}
	q := sampleQuantiles(logins, 0.5, 0.99)
	res.LoginMsP50, res.LoginMsP99 = ms(q[0]), ms(q[1])
	if rssOK {
		res.ServerRSSBytesBefore, res.ServerRSSBytesAfter = rss0, rss1
		res.ServerRSSBytesPerClient = math.Round((float64(rss1) - float64(rss0)) / float64(o.Clients))
		res.ServerRSSMethod = r.t.rssMethod
	}
	if o.Spawn {
		res.ServerGroupRate, res.ServerSignalRatePerClient = groupRate, sigRate
	}
	return res, nil
}

func (r *imRun) newClient(i int) (*imClient, error) {
	t := r.t
	c := &imClient{r: r, idx: i, userID: "bim-" + r.runID + "-" + strconv.Itoa(i), group: i % r.o.Groups}
	sig, err := auth.GenerateUserSig(t.appID, t.key, c.userID, userSigLifetime, time.Now())
	if err != nil {
		return nil, fmt.Errorf("usersig for %s: %w", c.userID, err)
	}
	c.sdk, err = parley.New(parley.Config{URL: t.url, SDKAppID: t.appID, UserID: c.userID, UserSig: sig,
		Logger: r.o.Logger, Transport: r.tr})
	if err != nil {
		return nil, fmt.Errorf("client %s: %w", c.userID, err)
	}
	return c, nil
}

// loginAll logs every client in, bounded by LoginConcurrency and
// LoginTimeout: first each group's owner, who creates the group, then
// the members, who join it.
func (r *imRun) loginAll(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, r.o.LoginTimeout)
	defer cancel()
	var done atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(2 * time.Second)
		defer tick.Stop()
		for {
			select {
			case <-tick.C:
				r.progress("login: %d/%d clients", done.Load(), len(r.clients))
			case <-stop:
				return
			}
		}
	})
	defer func() {
		close(stop)
		wg.Wait()
	}()
	login := func(ctx context.Context, c *imClient) error {
		err := c.loginAndJoin(ctx)
		done.Add(1)
		return err
	}
	g := r.o.Groups
	err := forEachBounded(ctx, r.clients[:g], r.o.LoginConcurrency, login)
	if err == nil {
		err = forEachBounded(ctx, r.clients[g:], r.o.LoginConcurrency, login)
	}
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil {
			return fmt.Errorf("%w: %d/%d clients logged in within %s", ErrJoin, done.Load(), len(r.clients), r.o.LoginTimeout)
		}
		return err
	}
	return nil
}

func (c *imClient) loginAndJoin(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, joinTimeout)
	defer cancel()
	// The synthetic users consent like any app's users must before the
	// SDK touches the network (CONSENT-1); messaging is purpose "im".
	if err := c.sdk.GrantConsent(imPolicyVersion, protocol.PurposeRTC, protocol.PurposeIM); err != nil {
		return fmt.Errorf("%w: %s: %w", ErrJoin, c.userID, err)
	}
	if err := c.sdk.Init(ctx); err != nil {
		return fmt.Errorf("%w: %s: %w", ErrJoin, c.userID, err)
	}
	start := time.Now()
	m, err := c.sdk.LoginIM(ctx, parley.IMOptions{Listener: parley.IMListener{
		OnMessage:        c.r.onMessage,
		OnError:          c.r.onSDKError,
		OnConnectionLost: func() { c.r.lost.Add(1) },
	}})
	if err != nil {
		return fmt.Errorf("%w: %s: im login: %w", ErrJoin, c.userID, err)
	}
	c.m = m
	op := protocol.IMGroupOp{Op: protocol.GroupOpJoin, GroupID: c.r.groupIDs[c.group]}
	if c.idx == c.group { // the group's first client creates it
		op = protocol.IMGroupOp{Op: protocol.GroupOpCreate, GroupID: op.GroupID, Type: imGroupType, Name: "bench"}
	}
	if _, err := m.Group(ctx, op); err != nil {
		return fmt.Errorf("%w: %s: group %s %s: %w", ErrJoin, c.userID, op.Op, op.GroupID, err)
	}
	c.login = time.Since(start)
	return nil
}

// imGroupType is the group type whose members join freely.
const imGroupType = "Meeting"

// onMessage runs on each Messenger's event goroutine: it must be cheap.
func (r *imRun) onMessage(m parley.IMMessage) {
	stamp, ok := strings.CutPrefix(m.CloudCustomData, imStampPrefix)
	if !ok {
		r.foreign.Add(1)
		return
	}
	sent, err := strconv.ParseInt(stamp, 10, 64)
	if err != nil {
		r.foreign.Add(1)
		return
	}
	now := time.Now().UnixNano()
	r.hist.record(time.Duration(now - sent))
	r.delivered.Add(1)
	if r.open.Load() {
		r.inWindow.Add(1)
	}
	for {
		cur := r.lastRecv.Load()
		if now <= cur || r.lastRecv.CompareAndSwap(cur, now) {
			break
		}
	}
}

func (r *imRun) onSDKError(err error) {
	r.sdkErrs.Add(1)
	r.errMu.Lock()
	if len(r.firstErr) < 4 {
		r.firstErr = append(r.firstErr, err)
	}
	r.errMu.Unlock()
}

func (r *imRun) sendError(err error) {
	key := "other"
	var se *parley.ServerError
	switch {
	case errors.As(err, &se):
		key = strconv.Itoa(se.Code)
	case errors.Is(err, context.DeadlineExceeded):
		key = "timeout"
	case errors.Is(err, parley.ErrConnectionLost), errors.Is(err, parley.ErrNotLoggedIn):
		key = "connection"
	}
	r.errMu.Lock()
	r.sendErrs[key]++
	if len(r.firstErr) < 4 {
		r.firstErr = append(r.firstErr, err)
	}
	r.errMu.Unlock()
}

// sendLoop sends c's share of the load: client i sends at start + (i +
// k·N)/Rate, so the clients together offer Rate evenly spaced messages/s.
// A client has one send in flight, as a user does: a send answered late
// is followed at once by the next one due. No send starts after end (the
// one in flight is waited for); the slots it did not reach are counted
// as unsent, so a server that acknowledges slowly shows as a sent rate
// below the offered one.
func (c *imClient) sendLoop(start, end time.Time) {
	r := c.r
	n := len(r.clients)
	gap := float64(time.Second) / r.o.Rate
	to := parley.IMTarget{Group: r.groupIDs[c.group]}
	stamp := make([]byte, 0, len(imStampPrefix)+20)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	slot := func(k int) time.Time { return start.Add(time.Duration(gap * float64(c.idx+k*n))) }
	for k := 0; ; k++ {
		at := slot(k)
		if !at.Before(end) {
			return
		}
		if d := time.Until(at); d > 0 {
			timer.Reset(d)
			select {
			case <-timer.C:
			case <-r.stopSend:
				return
			}
		}
		select {
		case <-r.stopSend:
			return
		default:
		}
		now := time.Now()
		if !now.Before(end) {
			// Behind schedule at the end: the slots from k on are unsent.
			for ; slot(k).Before(end); k++ {
				r.unsent.Add(1)
			}
			return
		}
		stamp = strconv.AppendInt(append(stamp[:0], imStampPrefix...), now.UnixNano(), 10)
		ctx, cancel := context.WithTimeout(context.Background(), imSendTimeout)
		_, err := c.m.Send(ctx, to, parley.OutMessage{Elements: r.elems, CloudCustomData: string(stamp)})
		cancel()
		if err != nil {
			r.sendError(err)
			continue
		}
		r.sent[c.group].Add(1)
	}
}

func (r *imRun) sentTotal() uint64 {
	var n uint64
	for g := range r.sent {
		n += r.sent[g].Load()
	}
	return n
}

func (r *imRun) expected() uint64 {
	var n uint64
	for g := range r.sent {
		n += r.sent[g].Load() * uint64(r.members[g]-1)
	}
	return n
}

func (r *imRun) errorCount() uint64 {
	r.errMu.Lock()
	defer r.errMu.Unlock()
	var n uint64
	for _, v := range r.sendErrs {
		n += v
	}
	return n
}

// measure runs the sending window and the drain, and aggregates.
func (r *imRun) measure(ctx context.Context) (IMResult, error) {
	o := r.o
	var cpu0 cpuTimes
	var cpuErr error
	if r.t.cpu != nil {
		cpu0, cpuErr = r.t.cpu()
	}
	self0, selfErr := selfCPU()
	if o.CPUProfile != nil {
		if err := pprof.StartCPUProfile(o.CPUProfile); err != nil {
			return IMResult{}, fmt.Errorf("cpu profile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	start := time.Now()
	end := start.Add(o.Duration)
	r.open.Store(true)
	var senders sync.WaitGroup
	for _, c := range r.clients {
		senders.Go(func() { c.sendLoop(start, end) })
	}
	sendersDone := make(chan struct{})
	go func() {
		senders.Wait()
		close(sendersDone)
	}()
	r.progress("sending for %s", o.Duration)
	tick := time.NewTicker(5 * time.Second)
	defer tick.Stop()
	window := time.NewTimer(o.Duration)
	defer window.Stop()
	var windowEnd time.Time
	cancelled := false
sending:
	for {
		select {
		case <-window.C:
			windowEnd = time.Now()
			r.open.Store(false)
			r.progress("window closed: waiting for the sends in flight and the last deliveries")
			break sending
		case now := <-tick.C:
			secs := now.Sub(start).Seconds()
			sent, del := r.sentTotal(), r.delivered.Load()
			r.progress("%3.0fs/%s: sent %d (%.0f/s), delivered %d (%.0f/s), send errors %d",
				secs, o.Duration, sent, float64(sent)/secs, del, float64(del)/secs, r.errorCount())
		case <-ctx.Done():
			// The sends in flight are not cut short (bounded by
			// imSendTimeout), so a message is never left stored but
			// uncounted; no new ones start.
			close(r.stopSend)
			cancelled = true
			windowEnd = time.Now()
			r.open.Store(false)
			break sending
		}
	}
	// Every sender stops by end (or cancellation) + imSendTimeout.
	<-sendersDone
	if cancelled {
		return IMResult{}, ctx.Err()
	}

	drain := time.NewTimer(o.DrainTimeout)
	defer drain.Stop()
	poll := time.NewTicker(20 * time.Millisecond)
	defer poll.Stop()
draining:
	for r.delivered.Load() < r.expected() {
		select {
		case <-poll.C:
		case <-drain.C:
			r.progress("warning: drain timed out after %s with %d of %d deliveries", o.DrainTimeout, r.delivered.Load(), r.expected())
			break draining
		case <-ctx.Done():
			return IMResult{}, ctx.Err()
		}
	}

	var cpu1, self1 cpuTimes
	if r.t.cpu != nil && cpuErr == nil {
		cpu1, cpuErr = r.t.cpu()
	}
	if selfErr == nil {
		self1, selfErr = selfCPU()
	}

	elapsed := windowEnd.Sub(start)
	res := IMResult{
		DurationS:         round(elapsed.Seconds(), 3),
		SentMessages:      r.sentTotal(),
		DeliveredMessages: r.delivered.Load(),
		DeliveredInWindow: r.inWindow.Load(),
		UnsentMessages:    r.unsent.Load(),
		SDKErrors:         r.sdkErrs.Load(),
		Reconnects:        r.lost.Load(),
	}
	res.SentPerSecond = round(float64(res.SentMessages)/elapsed.Seconds(), 1)
	res.ExpectedDeliveries = r.expected()
	if res.DeliveredMessages < res.ExpectedDeliveries {
		res.MissingDeliveries = res.ExpectedDeliveries - res.DeliveredMessages
	}
	if last := r.lastRecv.Load(); last > start.UnixNano() {
		res.DeliverySeconds = round(time.Duration(last-start.UnixNano()).Seconds(), 3)
		res.DeliveredPerSecond = round(float64(res.DeliveredMessages)/res.DeliverySeconds, 1)
	}
	r.errMu.Lock()
	res.SendErrors = maps.Clone(r.sendErrs)
	firstErrs := slices.Clone(r.firstErr)
	r.errMu.Unlock()
	if len(firstErrs) > 0 {
		r.progress("first errors: %v", errors.Join(firstErrs...))
	}
	if n := r.foreign.Load(); n > 0 {
		r.progress("warning: %d messages without a bench stamp were delivered", n)
	}
	res.LatencyMsP50 = ms(r.hist.quantile(0.5))
	res.LatencyMsP90 = ms(r.hist.quantile(0.9))
	res.LatencyMsP99 = ms(r.hist.quantile(0.99))
	res.LatencyMsMax = ms(time.Duration(r.hist.max.Load()))
	if r.t.cpu != nil {
		if cpuErr != nil {
			r.progress("warning: server CPU not measured: %v", cpuErr)
		} else {
			d := cpu1.sub(cpu0)
			res.ServerCPUMethod = r.t.cpuMethod
			res.ServerCPUSeconds = round(d.total().Seconds(), 3)
			res.ServerCPUUserSeconds = round(d.user.Seconds(), 3)
			res.ServerCPUSystemSeconds = round(d.system.Seconds(), 3)
			if res.DeliveredMessages > 0 {
				res.ServerCPUSecondsPer100k = round(d.total().Seconds()*1e5/float64(res.DeliveredMessages), 3)
			}
		}
	}
	if selfErr == nil {
		d := self1.sub(self0).total().Seconds()
		res.BenchProcessCPUSeconds = round(d, 3)
		if res.DeliveredMessages > 0 {
			res.BenchProcessCPUPer100k = round(d*1e5/float64(res.DeliveredMessages), 3)
		}
	}
	return res, nil
}

// teardown dismisses the groups (so a remote server is left as found,
// bar the stored messages) and closes every client, in parallel, within
// ctx: a client that does not close in time is left to the process exit.
func (r *imRun) teardown(ctx context.Context) {
	var wg sync.WaitGroup
	for g := range min(r.o.Groups, len(r.clients)) {
		if m := r.clients[g].m; m != nil {
			wg.Go(func() {
				dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
				defer cancel()
				_, _ = m.Group(dctx, protocol.IMGroupOp{Op: protocol.GroupOpDismiss, GroupID: r.groupIDs[g]})
			})
		}
	}
	wg.Wait()
	done := make(chan struct{})
	go func() {
		defer close(done)
		var wg sync.WaitGroup
		sem := make(chan struct{}, 64)
		for _, c := range r.clients {
			sem <- struct{}{}
			wg.Go(func() {
				defer func() { <-sem }()
				if c.m != nil {
					_ = c.m.Close()
				}
				if err := c.sdk.Close(); err != nil {
					r.o.Logger.Debug("bench: client close", "user", c.userID, "err", err)
				}
			})
		}
		wg.Wait()
	}()
	select {
	case <-done:
	case <-ctx.Done():
		r.progress("warning: clients still closing after the teardown timeout")
	}
}
