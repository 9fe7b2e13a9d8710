package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/parley-rtc/parley/internal/config"
	"github.com/parley-rtc/parley/internal/server"
)

// How the server's CPU time is measured, as reported in Result.
const (
	// CPUChildProcStat: the server is a child process; its utime+stime
	// come from /proc/<pid>/stat, so no bench client CPU is included.
	CPUChildProcStat = "child-proc-stat"
	// CPUInProcessRusage: the server runs inside the bench process;
	// getrusage(RUSAGE_SELF) then includes every bench client as well and
	// is an upper bound on the server's share.
	CPUInProcessRusage = "in-process-rusage"
)

// serverStartTimeout bounds a spawned server's start-up (store, KEK,
// first-start dev app, listeners).
const serverStartTimeout = 30 * time.Second

// serverStopTimeout bounds a graceful stop before the child is killed; it
// exceeds serve's own 10 s shutdown grace.
const serverStopTimeout = 15 * time.Second

// target is the server a bench run talks to.
type target struct {
	url   string
	appID uint32
	key   string
	// cpu returns the server's cumulative CPU time; nil when the server is
	// remote and cannot be measured.
	cpu       func() (cpuTimes, error)
	cpuMethod string
	stop      func(context.Context) error
}

// mode names how the server runs, for the results: remote (not
// spawned), child (a spawned process) or in-process.
func (t target) mode(spawned bool) string {
	switch {
	case !spawned:
		return "remote"
	case t.cpuMethod == CPUChildProcStat:
		return "child"
	default:
		return "in-process"
	}
}

// startTarget returns the server named by o: a spawned one (child process
// when o.ServerBinary is a real parley binary, else in-process) or the
// remote one at o.URL.
func startTarget(ctx context.Context, o Options) (target, error) {
	switch {
	case !o.Spawn:
		return target{url: o.URL, appID: o.SDKAppID, key: o.SecretKey, stop: func(context.Context) error { return nil }}, nil
	case o.ServerBinary != "" && !isTestBinary(o.ServerBinary) && o.CPUProfile == nil:
		return startChild(ctx, o)
	default:
		return startInProcess(ctx, o)
	}
}

// isTestBinary reports whether path is a `go test` binary, which has no
// `serve` subcommand to run as the child.
func isTestBinary(path string) bool {
	return strings.HasSuffix(filepath.Base(path), ".test")
}

// startInProcess runs the server in this process on ephemeral loopback
// ports with a temporary data directory. Its goroutines carry the pprof
// label role=server (labels are inherited by every goroutine they start),
// so a CPU profile of the run can be narrowed to the server with
// `go tool pprof -tagfocus role=server`.
func startInProcess(ctx context.Context, o Options) (target, error) {
	dir, err := os.MkdirTemp("", "parley-bench-")
	if err != nil {
		return target{}, fmt.Errorf("%w: %w", ErrServer, err)
	}
	cfg := config.Default()
	cfg.DataDir = dir
	cfg.HTTP.Listen = "127.0.0.1:0"
	cfg.Media.UDPPort = 0
	logger := o.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	srv, err := server.New(cfg, server.Options{Logger: logger})
	if err == nil {
		pprof.Do(ctx, pprof.Labels("role", "server"), func(ctx context.Context) {
			err = srv.Start(ctx)
		})
	}
	if err != nil {
		_ = os.RemoveAll(dir)
		return target{}, fmt.Errorf("%w: %w", ErrServer, err)
	}
	dev := srv.DevApp()
	return target{
		url: srv.SignalURL(), appID: dev.SDKAppID, key: dev.SecretKey,
		cpu: selfCPU, cpuMethod: CPUInProcessRusage,
		stop: func(ctx context.Context) error {
			err := srv.Shutdown(ctx)
			return errors.Join(err, os.RemoveAll(dir))
		},
	}, nil
}

// banner is what startChild needs from `parley serve`'s start-up banner.
type banner struct {
	url   string
	appID uint32
	key   string
}

// parseBannerLine fills b from one banner line; it reports whether b is
// complete. The banner prints the bound addresses, so the child can listen
// on port 0 and there is no window in which a pre-picked free port could
// be taken by another process.
func parseBannerLine(b *banner, line string) bool {
	field := func(prefix string) (string, bool) {
		rest, ok := strings.CutPrefix(strings.TrimSpace(line), prefix)
		return strings.TrimSpace(rest), ok
	}
	if v, ok := field("SDKAppID:"); ok {
		if n, err := strconv.ParseUint(v, 10, 32); err == nil {
			b.appID = uint32(n)
		}
	} else if v, ok := field("SecretKey:"); ok {
		b.key = v
	} else if v, ok := field("URL:"); ok && strings.HasPrefix(v, "ws") {
		b.url = v
	}
	return b.url != "" && b.appID != 0 && b.key != ""
}

// bannerWriter is the child's stdout: it parses lines until the banner
// is complete, sends it on ready, and discards everything after.
type bannerWriter struct {
	ready chan banner

	mu      sync.Mutex
	partial []byte
	b       banner
	done    bool
}

func newBannerWriter() *bannerWriter { return &bannerWriter{ready: make(chan banner, 1)} }

func (w *bannerWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done {
		return len(p), nil
	}
	w.partial = append(w.partial, p...)
	for {
		line, rest, ok := bytes.Cut(w.partial, []byte{'\n'})
		if !ok {
			break
		}
		w.partial = rest
		if parseBannerLine(&w.b, string(line)) {
			w.done, w.partial = true, nil
			w.ready <- w.b
			return len(p), nil
		}
	}
	if len(w.partial) > tailBytes { // no banner line is this long
		w.partial = w.partial[:0]
	}
	return len(p), nil
}

// tailBuffer keeps the last bytes written to it: the child's stderr, shown
// when it fails to start.
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
}

const tailBytes = 4 << 10

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > tailBytes {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-tailBytes:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.TrimSpace(string(t.buf))
}

// startChild runs `<binary> serve` as a child process with a temporary
// data directory on ephemeral loopback ports, and reads the signaling URL
// and the development app's credentials from its banner. Measuring a child
// keeps the bench clients' CPU out of the server's figure.
func startChild(ctx context.Context, o Options) (target, error) {
	dir, err := os.MkdirTemp("", "parley-bench-")
	if err != nil {
		return target{}, fmt.Errorf("%w: %w", ErrServer, err)
	}
	tg, _, err := spawnServe(ctx, o.ServerBinary, dir, []string{"--data", dir}, false)
	return tg, err
}

// spawnServe starts `<binary> serve <args>` on ephemeral loopback ports
// and waits for its banner. root is the run's temporary directory: it is
// removed when the server stops or fails to start. dieWithParent kills the
// child if the bench process dies first (Linux). It returns the child's
// pid with the target.
func spawnServe(ctx context.Context, binary, root string, args []string, dieWithParent bool) (target, int, error) {
	args = append(append([]string{"serve"}, args...), "--listen", "127.0.0.1:0", "--udp-port", "0", "--log-level", "warn")
	cmd := exec.Command(binary, args...)
	// A clean environment for the server: PARLEY_CONFIG or PARLEY_KEK from
	// the operator's shell would make runs differ between machines.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PARLEY_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	if dieWithParent {
		killWithParent(cmd)
	}
	stderr := &tailBuffer{}
	cmd.Stderr = stderr
	out := newBannerWriter()
	cmd.Stdout = out
	// serve holds no grandchildren, but if anything inherited its stdout
	// the copy to out would block Wait until that holder exits.
	cmd.WaitDelay = 2 * time.Second
	if err := cmd.Start(); err != nil {
		_ = os.RemoveAll(root)
		return target{}, 0, fmt.Errorf("%w: start %s: %w", ErrServer, binary, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	pid := cmd.Process.Pid
	stop := func(ctx context.Context) error {
		defer os.RemoveAll(root)
		// SIGTERM is serve's graceful shutdown (as is SIGINT): every
		// participant gets exit_room and the store is closed cleanly. It
		// is the supervisor's signal, and unlike SIGINT it is never
		// inherited as ignored from a background job.
		if err := cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
			_ = cmd.Process.Kill()
		}
		t := time.NewTimer(serverStopTimeout)
		defer t.Stop()
		select {
		case err := <-exited:
			return childExitErr(err)
		case <-t.C:
		case <-ctx.Done():
		}
		_ = cmd.Process.Kill()
		<-exited
		return fmt.Errorf("%w: server did not stop within %s; killed", ErrServer, serverStopTimeout)
	}

	t := time.NewTimer(serverStartTimeout)
	defer t.Stop()
	select {
	case b := <-out.ready:
		return target{
			url: b.url, appID: b.appID, key: b.key,
			cpu:       func() (cpuTimes, error) { return procCPU(pid) },
			cpuMethod: CPUChildProcStat,
			stop:      stop,
		}, pid, nil
	case err := <-exited:
		_ = os.RemoveAll(root)
		return target{}, 0, fmt.Errorf("%w: server exited before its banner (%v): %s", ErrServer, err, stderr)
	case <-t.C:
		_ = stop(context.Background())
		return target{}, 0, fmt.Errorf("%w: no banner within %s: %s", ErrServer, serverStartTimeout, stderr)
	case <-ctx.Done():
		_ = stop(context.Background())
		return target{}, 0, ctx.Err()
	}
}

// childExitErr treats the exit after our SIGTERM as success.
func childExitErr(err error) error {
	var ee *exec.ExitError
	if err == nil || errors.Is(err, exec.ErrWaitDelay) || (errors.As(err, &ee) && ee.ExitCode() == 0) {
		return nil
	}
	return fmt.Errorf("%w: server exit: %w", ErrServer, err)
}

// cpuTimes is a process's cumulative CPU time, split as the kernel
// accounts it: system time is where loopback sendto, receive and wake-ups
// show up.
type cpuTimes struct {
	user, system time.Duration
}

func (c cpuTimes) total() time.Duration { return c.user + c.system }

func (c cpuTimes) sub(o cpuTimes) cpuTimes {
	return cpuTimes{user: c.user - o.user, system: c.system - o.system}
}

// parseProcStatCPU returns utime and stime in clock ticks from the
// contents of /proc/<pid>/stat (proc(5): fields 14 and 15). The command
// name (field 2) may contain spaces and parentheses, so fields are
// counted from the last ')'.
func parseProcStatCPU(stat string) (utime, stime uint64, err error) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, 0, fmt.Errorf("%w: no ')' in stat", ErrCPU)
	}
	f := strings.Fields(stat[i+1:])
	// f[0] is field 3 (state); utime is field 14, stime field 15.
	if len(f) < 13 {
		return 0, 0, fmt.Errorf("%w: %d fields in stat", ErrCPU, len(f)+2)
	}
	ut, err1 := strconv.ParseUint(f[11], 10, 64)
	st, err2 := strconv.ParseUint(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, 0, fmt.Errorf("%w: %w", ErrCPU, err)
	}
	return ut, st, nil
}
