package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/parley-rtc/parley/internal/bench"
)

const benchUsage = `Usage: parley bench <benchmark> [flags]

Benchmarks:
  sfu        fan media from P publishers out to S subscribers through the SFU
             and report delivery, loss, join time, latency and server CPU
  im         fan instant messages out to N clients in G groups and report
             deliveries/s, end-to-end latency, server CPU and RSS per client
  telemetry  ingest telemetry frames (decode, validate against the inventory,
             pseudonymise, store in SQLite) and report records per second
  dsr        erase a user with a million stored rows (crypto-shred, row
             deletion, verification, receipt) and sweep ten million expired
             telemetry rows; report the times

Run 'parley bench <benchmark> --help' for its flags.
`

// benchHiddenFlag is left out of --help: it serves the developers who
// profile the server, not the operators who size it.
const benchHiddenFlag = "cpuprofile"

// Bench runs a benchmark against a Parley server.
func Bench(ctx context.Context, args []string, env Env) int {
	if len(args) == 0 {
		io.WriteString(env.Stderr, benchUsage)
		return ExitUsage
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		io.WriteString(env.Stderr, benchUsage)
		return ExitOK
	case "sfu":
		return benchSFU(ctx, args[1:], env)
	case "telemetry":
		return benchTelemetry(ctx, args[1:], env)
	case "im":
		return benchIM(ctx, args[1:], env)
	case "dsr":
		return benchDSR(ctx, args[1:], env)
	default:
		fmt.Fprintf(env.Stderr, "parley bench: unknown benchmark %q\n\n", args[0])
		io.WriteString(env.Stderr, benchUsage)
		return ExitUsage
	}
}

// benchSFUFlags are the parsed flags of `parley bench sfu`.
type benchSFUFlags struct {
	benchTarget
	room       usUint32Value
	pubs, subs int
	audioOnly  bool
	duration   time.Duration
	warmup     time.Duration
	json       bool
	cpuProfile string
}

func newBenchSFUFlags(env Env) *benchSFUFlags {
	f := &benchSFUFlags{}
	fs := f.register("parley bench sfu", env, "")
	fs.IntVar(&f.pubs, "publishers", 1, "publishing clients `P`")
	fs.IntVar(&f.subs, "subscribers", 10, "subscribing (audience) clients `S`")
	fs.BoolVar(&f.audioOnly, "audio-only", false, "publish Opus only (default: Opus 50 pkt/s + VP8 ~30 fps)")
	fs.DurationVar(&f.duration, "duration", bench.DefaultDuration, "measured window, after warm-up")
	fs.DurationVar(&f.warmup, "warmup", bench.DefaultWarmupTimeout, "longest wait for every subscriber to receive every track")
	fs.Var(&f.room, "room", "numeric room `ID` (default: derived from the clock)")
	fs.BoolVar(&f.json, "json", false, "print one JSON object instead of a table")
	fs.StringVar(&f.cpuProfile, "cpuprofile", "", "write a CPU profile of the measured window to `file` (runs the server in-process)")
	fs.Usage = func() {
		fmt.Fprint(env.Stderr, "Usage: parley bench sfu (--spawn | --url URL --sdkappid N --key KEY)\n"+
			"                        [--publishers P] [--subscribers S] [--audio-only] [--duration 30s] [--room R] [--json]\n\n"+
			"Progress goes to stderr; results to stdout.\n\nFlags:\n")
		printVisibleFlags(fs, env.Stderr)
	}
	return f
}

// printVisibleFlags prints fs's flags but benchHiddenFlag. PrintDefaults
// cannot skip flags, so the visible ones go through a scratch FlagSet.
func printVisibleFlags(fs *flag.FlagSet, w io.Writer) {
	visible := flag.NewFlagSet(fs.Name(), flag.ContinueOnError)
	visible.SetOutput(w)
	fs.VisitAll(func(fl *flag.Flag) {
		if fl.Name != benchHiddenFlag {
			visible.Var(fl.Value, fl.Name, fl.Usage)
			// Var takes the current value as the default; after a
			// parse that is the user's value, not the default.
			visible.Lookup(fl.Name).DefValue = fl.DefValue
		}
	})
	visible.PrintDefaults()
}

// parse parses and checks args; it returns -1 to continue, or the exit
// code to return.
func (f *benchSFUFlags) parse(args []string, env Env) int {
	if code := f.parseTarget(args, env); code >= 0 {
		return code
	}
	switch {
	case f.pubs < 1:
		return f.usageErr(env, "--publishers must be at least 1")
	case f.subs < 0:
		return f.usageErr(env, "--subscribers must not be negative")
	case f.subs == 0 && f.pubs == 1:
		return f.usageErr(env, "nobody would receive: use --subscribers ≥ 1 or --publishers ≥ 2")
	case f.duration <= 0:
		return f.usageErr(env, "--duration must be positive")
	case f.warmup <= 0:
		return f.usageErr(env, "--warmup must be positive")
	case f.cpuProfile != "" && !f.spawn:
		return f.usageErr(env, "--cpuprofile profiles an in-process server: it needs --spawn")
	}
	return -1
}

// benchTarget is the server a load benchmark runs against: --spawn
// starts one, or --url with the app's --sdkappid and --key names a
// running one. bench sfu and bench im share it.
type benchTarget struct {
	fs       *flag.FlagSet
	url      string
	sdkAppID usUint32Value
	key      string
	spawn    bool
}

// register makes the flag set and its target flags; spawnNote adds to
// --spawn's help what the spawned server does differently.
func (f *benchTarget) register(name string, env Env, spawnNote string) *flag.FlagSet {
	f.fs = flag.NewFlagSet(name, flag.ContinueOnError)
	fs := f.fs
	fs.SetOutput(env.Stderr)
	fs.StringVar(&f.url, "url", "", "signaling `URL` of a running server, e.g. ws://127.0.0.1:7880/v1/signal")
	fs.Var(&f.sdkAppID, "sdkappid", "the app's `SDKAppID` (with --url)")
	fs.StringVar(&f.key, "key", "", "the app's SecretKey, to sign UserSigs (default $"+usSecretKeyEnv+")")
	fs.BoolVar(&f.spawn, "spawn", false, "start a server for the run (child process, temporary data dir, loopback"+spawnNote+") instead of --url")
	return fs
}

// parseTarget parses args and checks the target flags; it returns -1 to
// continue with the benchmark's own checks, or the exit code to return.
func (f *benchTarget) parseTarget(args []string, env Env) int {
	if err := f.fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return ExitOK
		}
		return ExitUsage
	}
	if f.key == "" && env.Getenv != nil && !f.spawn {
		f.key = env.Getenv(usSecretKeyEnv)
	}
	switch {
	case f.fs.NArg() > 0:
		return f.usageErr(env, "unexpected argument %q", f.fs.Arg(0))
	case f.spawn && (f.url != "" || f.sdkAppID.set || f.key != ""):
		return f.usageErr(env, "--spawn starts its own server: drop --url, --sdkappid and --key")
	case !f.spawn && f.url == "":
		return f.usageErr(env, "--url is required (or --spawn to start a server for the run)")
	case !f.spawn && !strings.HasPrefix(f.url, "ws://") && !strings.HasPrefix(f.url, "wss://"):
		return f.usageErr(env, "--url must be ws:// or wss://, got %q", f.url)
	case !f.spawn && (!f.sdkAppID.set || f.sdkAppID.v == 0):
		return f.usageErr(env, "--sdkappid is required with --url (1-4294967295)")
	case !f.spawn && f.key == "":
		return f.usageErr(env, "--key or $%s is required with --url", usSecretKeyEnv)
	}
	return -1
}

func (f *benchTarget) usageErr(env Env, format string, a ...any) int {
	fmt.Fprintf(env.Stderr, "%s: %s\n", f.fs.Name(), fmt.Sprintf(format, a...))
	f.fs.Usage()
	return ExitUsage
}

func benchSFU(ctx context.Context, args []string, env Env) int {
	f := newBenchSFUFlags(env)
	if rc := f.parse(args, env); rc >= 0 {
		return rc
	}
	o := bench.Options{
		URL: f.url, SDKAppID: f.sdkAppID.v, SecretKey: f.key, Spawn: f.spawn,
		Publishers: f.pubs, Subscribers: f.subs, AudioOnly: f.audioOnly,
		Duration: f.duration, WarmupTimeout: f.warmup, RoomID: f.room.v,
		Progress: env.Stderr,
	}
	exe, prof, code := benchSetup(env, f.spawn, f.cpuProfile)
	if code != ExitOK {
		return code
	}
	if prof != nil {
		defer prof.Close()
		o.CPUProfile = prof
	}
	o.ServerBinary = exe
	res, err := bench.RunSFU(ctx, o)
	return benchReport(env, "sfu", res, err, f.json, printBenchTable)
}

// benchSetup resolves what a spawning bench needs: the running parley
// binary is the server binary (its `serve` runs as a child so the server's
// CPU time excludes the clients), and the CPU profile file, if asked for
// (the caller closes it). code is ExitOK unless one failed.
func benchSetup(env Env, spawn bool, cpuProfile string) (exe string, prof *os.File, code int) {
	if spawn {
		var err error
		if exe, err = os.Executable(); err != nil {
			return "", nil, fail(env, "bench: locate the parley binary: %v", err)
		}
	}
	if cpuProfile != "" {
		var err error
		if prof, err = os.Create(cpuProfile); err != nil {
			return "", nil, fail(env, "bench: %v", err)
		}
	}
	return exe, prof, ExitOK
}

// benchReport prints a bench's result (JSON or the table) or its error:
// invalid options are a usage error.
func benchReport[R any](env Env, name string, res R, err error, asJSON bool, table func(io.Writer, R)) int {
	if err != nil {
		if errors.Is(err, bench.ErrInvalidOptions) {
			fmt.Fprintf(env.Stderr, "parley bench %s: %v\n", name, err)
			return ExitUsage
		}
		return fail(env, "bench %s: %v", name, err)
	}
	if asJSON {
		return writeJSON(env, res)
	}
	table(env.Stdout, res)
	return ExitOK
}

// printBenchTable prints a Result for people.
func printBenchTable(w io.Writer, r bench.Result) {
	media := "audio+video"
	if r.AudioOnly {
		media = "audio only"
	}
	fmt.Fprintf(w, "Parley SFU benchmark: %d publisher(s) → %d subscriber(s), %s, %.1f s measured, %s server, %d CPUs\n\n",
		r.Publishers, r.Subscribers, media, r.DurationS, r.ServerMode, r.CPUs)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(name, format string, a ...any) {
		fmt.Fprintf(tw, "  %s\t"+format+"\n", append([]any{name}, a...)...)
	}
	row("delivered packets", "%s (%s pkt/s over %d streams)", group(r.DeliveredPackets), group(uint64(r.DeliveredPPS)), r.Streams)
	row("lost packets", "%s of %s expected (%.3f %%)", group(r.LostPackets), group(r.ExpectedPackets), r.LossPercent)
	row("bitrate", "%s kbps delivered", group(uint64(r.BitrateKbps)))
	row("join time p50 / p99", "%.1f / %.1f ms (server side %.0f / %.0f ms)", r.JoinMsP50, r.JoinMsP99, r.JoinServerMsP50, r.JoinServerMsP99)
	row("latency p50 / p99 / max", "%.2f / %.2f / %.2f ms (%s samples)", r.LatencyMsP50, r.LatencyMsP99, r.LatencyMsMax, group(r.LatencySamples))
	if r.SDKErrors > 0 {
		row("SDK errors", "%d (asynchronous, see OnError)", r.SDKErrors)
	}
	if r.ServerCPUMethod != "" {
		row("server CPU", "%.2f s: user %.2f, system %.2f (%s)", r.ServerCPUSeconds, r.ServerCPUUserSeconds, r.ServerCPUSystemSeconds, r.ServerCPUMethod)
		row("delivered / server CPU-s", "%s", group(uint64(r.DeliveredPerServerCPUSecond)))
	}
	if r.BenchCPUSeconds > 0 {
		row("bench process CPU", "%.2f s", r.BenchCPUSeconds)
	}
	tw.Flush()
}

// benchIMFlags are the parsed flags of `parley bench im`.
type benchIMFlags struct {
	benchTarget
	clients    int
	groups     int
	rate       float64
	duration   time.Duration
	size       int
	loginConc  int
	loginWait  time.Duration
	drain      time.Duration
	json       bool
	cpuProfile string
}

func newBenchIMFlags(env Env) *benchIMFlags {
	f := &benchIMFlags{}
	fs := f.register("parley bench im", env, ", IM limits raised above the load")
	fs.IntVar(&f.clients, "clients", bench.DefaultIMClients, "messaging clients `N`, one WebSocket each")
	fs.IntVar(&f.groups, "groups", bench.DefaultIMGroups, "Meeting groups `G`; client i joins group i mod G")
	fs.Float64Var(&f.rate, "rate", bench.DefaultIMRate, "offered messages/s over all clients; each fans out to the other members of its group")
	fs.DurationVar(&f.duration, "duration", bench.DefaultDuration, "sending window")
	fs.IntVar(&f.size, "size", bench.DefaultIMMessageBytes, "message text `bytes`")
	fs.IntVar(&f.loginConc, "login-concurrency", bench.DefaultIMLoginConcurrency, "simultaneous logins")
	fs.DurationVar(&f.loginWait, "login-timeout", bench.DefaultIMLoginTimeout, "longest login and group-join phase")
	fs.DurationVar(&f.drain, "drain", bench.DefaultIMDrainTimeout, "longest wait for the last deliveries after the window")
	fs.BoolVar(&f.json, "json", false, "print one JSON object instead of a table")
	fs.StringVar(&f.cpuProfile, "cpuprofile", "", "write a CPU profile of the window to `file` (runs the server in-process)")
	fs.Usage = func() {
		fmt.Fprint(env.Stderr, "Usage: parley bench im (--spawn | --url URL --sdkappid N --key KEY)\n"+
			"                       [--clients N] [--groups G] [--rate R] [--duration 30s] [--size B] [--json]\n\n"+
			"Progress goes to stderr; results to stdout.\n\nFlags:\n")
		printVisibleFlags(fs, env.Stderr)
	}
	return f
}

// parse parses and checks args; it returns -1 to continue, or the exit
// code to return.
func (f *benchIMFlags) parse(args []string, env Env) int {
	if code := f.parseTarget(args, env); code >= 0 {
		return code
	}
	switch {
	case f.groups < 1 || f.clients < 2*f.groups:
		return f.usageErr(env, "--clients must be at least 2 × --groups (every group needs a receiver)")
	case !(f.rate > 0):
		return f.usageErr(env, "--rate must be positive")
	case f.duration <= 0 || f.loginWait <= 0 || f.drain <= 0:
		return f.usageErr(env, "--duration, --login-timeout and --drain must be positive")
	case f.size < 1:
		return f.usageErr(env, "--size must be positive")
	case f.loginConc < 1:
		return f.usageErr(env, "--login-concurrency must be at least 1")
	case f.cpuProfile != "" && !f.spawn:
		return f.usageErr(env, "--cpuprofile profiles an in-process server: it needs --spawn")
	}
	return -1
}

func benchIM(ctx context.Context, args []string, env Env) int {
	f := newBenchIMFlags(env)
	if rc := f.parse(args, env); rc >= 0 {
		return rc
	}
	o := bench.IMOptions{
		URL: f.url, SDKAppID: f.sdkAppID.v, SecretKey: f.key, Spawn: f.spawn,
		Clients: f.clients, Groups: f.groups, Rate: f.rate, Duration: f.duration, MessageBytes: f.size,
		LoginConcurrency: f.loginConc, LoginTimeout: f.loginWait, DrainTimeout: f.drain,
		Progress: env.Stderr,
	}
	exe, prof, code := benchSetup(env, f.spawn, f.cpuProfile)
	if code != ExitOK {
		return code
	}
	if prof != nil {
		defer prof.Close()
		o.CPUProfile = prof
	}
	o.ServerBinary = exe
	res, err := bench.RunIM(ctx, o)
	return benchReport(env, "im", res, err, f.json, printBenchIMTable)
}

// printBenchIMTable prints an IMResult for people.
func printBenchIMTable(w io.Writer, r bench.IMResult) {
	fmt.Fprintf(w, "Parley IM benchmark: %d clients in %d groups (%.1f members each), %.0f messages/s offered, %.1f s window, %s server, %d CPUs\n\n",
		r.Clients, r.Groups, r.MembersPerGroup, r.OfferedPerSecond, r.DurationS, r.ServerMode, r.CPUs)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(name, format string, a ...any) {
		fmt.Fprintf(tw, "  %s\t"+format+"\n", append([]any{name}, a...)...)
	}
	row("login", "%.1f s for all (per client p50 %.1f / p99 %.1f ms)", r.LoginSeconds, r.LoginMsP50, r.LoginMsP99)
	row("sent", "%s (%s/s; %s offered slots unsent)", group(r.SentMessages), group(uint64(r.SentPerSecond)), group(r.UnsentMessages))
	errs := "none"
	if len(r.SendErrors) > 0 {
		var parts []string
		for _, k := range slices.Sorted(maps.Keys(r.SendErrors)) {
			parts = append(parts, fmt.Sprintf("%s: %d", k, r.SendErrors[k]))
		}
		errs = strings.Join(parts, ", ")
	}
	row("send errors", "%s", errs)
	row("delivered", "%s of %s expected (%s/s over %.1f s)", group(r.DeliveredMessages), group(r.ExpectedDeliveries),
		group(uint64(r.DeliveredPerSecond)), r.DeliverySeconds)
	row("latency p50 / p99 / max", "%.1f / %.1f / %.1f ms", r.LatencyMsP50, r.LatencyMsP99, r.LatencyMsMax)
	if r.SDKErrors > 0 || r.Reconnects > 0 {
		row("SDK errors / reconnects", "%d / %d", r.SDKErrors, r.Reconnects)
	}
	if r.ServerCPUMethod != "" {
		row("server CPU", "%.2f s: user %.2f, system %.2f (%s)", r.ServerCPUSeconds, r.ServerCPUUserSeconds, r.ServerCPUSystemSeconds, r.ServerCPUMethod)
		row("server CPU-s / 100k delivered", "%.3f", r.ServerCPUSecondsPer100k)
	}
	if r.ServerRSSMethod != "" {
		row("server RSS per client", "%s bytes (%s → %s MB, %s)", group(uint64(max(r.ServerRSSBytesPerClient, 0))),
			strconv.FormatFloat(float64(r.ServerRSSBytesBefore)/(1<<20), 'f', 1, 64),
			strconv.FormatFloat(float64(r.ServerRSSBytesAfter)/(1<<20), 'f', 1, 64), r.ServerRSSMethod)
	}
	if r.BenchProcessCPUSeconds > 0 {
		row("bench process CPU", "%.2f s (%.3f s / 100k delivered)", r.BenchProcessCPUSeconds, r.BenchProcessCPUPer100k)
	}
	tw.Flush()
}

// group formats n with thousands separators.
func group(n uint64) string {
	s := strconv.FormatUint(n, 10)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}
