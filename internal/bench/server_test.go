package bench

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// serveBanner is the banner of `parley serve` (internal/cli/serve.go).
const serveBanner = `Parley is running.
  HTTP / WebSocket: http://127.0.0.1:41234   (signaling ws://127.0.0.1:41234/v1/signal)
  Media (UDP):      127.0.0.1:40000
  Data directory:   /tmp/x
Development app:
  SDKAppID:   1400000001
  SecretKey:  0123abcd
  URL:        ws://127.0.0.1:41234/v1/signal
  (created now; 'parley app show --sdkappid 1400000001' shows it again)
`

func TestParseBanner(t *testing.T) {
	var b banner
	done := false
	for line := range strings.Lines(serveBanner) {
		done = parseBannerLine(&b, line)
	}
	want := banner{url: "ws://127.0.0.1:41234/v1/signal", appID: 1400000001, key: "0123abcd"}
	if !done || b != want {
		t.Fatalf("parsed %+v (complete %v), want %+v", b, done, want)
	}
}

func TestParseProcStatCPU(t *testing.T) {
	// The command name may hold spaces and ')' (proc(5)).
	stat := "1234 (my (odd) cmd) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 8 0 100 0 0"
	ut, st, err := parseProcStatCPU(stat)
	if err != nil || ut != 250 || st != 75 {
		t.Fatalf("got %d+%d, %v; want 250+75", ut, st, err)
	}
	for _, bad := range []string{"", "1 (x) S 1 2", "1 (x) S 1 2 3 4 5 6 7 8 9 10 x 11"} {
		if _, _, err := parseProcStatCPU(bad); !errors.Is(err, ErrCPU) {
			t.Errorf("%q: err %v, want ErrCPU", bad, err)
		}
	}
}

func TestIsTestBinary(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if !isTestBinary(exe) || isTestBinary("/usr/local/bin/parley") {
		t.Fatal("test binary detection")
	}
}

// fakeServer writes a shell script standing in for `parley serve`.
func fakeServer(t *testing.T, body string) string {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("needs /bin/sh and /proc")
	}
	p := filepath.Join(t.TempDir(), "parley")
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body), 0o700); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestStartChildReadsBannerAndStops(t *testing.T) {
	// The script prints the banner and waits for SIGTERM like serve does;
	// `wait` returns as soon as the trapped signal arrives. The sleeping
	// grandchild keeps stdout open, which WaitDelay must not hang on.
	bin := fakeServer(t, "trap 'exit 0' TERM\nprintf '%s' '"+serveBanner+"'\n"+
		"sleep 60 &\nwait\n")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	tg, err := startChild(ctx, Options{ServerBinary: bin})
	if err != nil {
		t.Fatal(err)
	}
	if tg.url != "ws://127.0.0.1:41234/v1/signal" || tg.appID != 1400000001 || tg.key != "0123abcd" || tg.cpuMethod != CPUChildProcStat {
		t.Fatalf("target %+v", tg)
	}
	if _, err := tg.cpu(); err != nil {
		t.Fatalf("cpu: %v", err)
	}
	if err := tg.stop(ctx); err != nil {
		t.Fatalf("stop: %v", err)
	}
}

func TestStartChildReportsEarlyExit(t *testing.T) {
	bin := fakeServer(t, "echo 'serve: listen: address in use' >&2\nexit 1\n")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, err := startChild(ctx, Options{ServerBinary: bin})
	if !errors.Is(err, ErrServer) || !strings.Contains(err.Error(), "address in use") {
		t.Fatalf("err %v, want ErrServer with the child's stderr", err)
	}
}

func TestSelfCPU(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("linux only")
	}
	d, err := selfCPU()
	if err != nil || d.total() <= 0 {
		t.Fatalf("selfCPU %+v, %v", d, err)
	}
	d, err = procCPU(os.Getpid())
	if err != nil || d.user < 0 || d.system < 0 {
		t.Fatalf("procCPU %+v, %v", d, err)
	}
}
