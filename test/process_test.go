package test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/parley-rtc/parley/internal/auth"
	"github.com/parley-rtc/parley/protocol"
	parley "github.com/parley-rtc/parley/sdk/go"
)

// buildParley compiles the real binary once per test.
func buildParley(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "parley")
	cmd := exec.Command("go", "build", "-o", bin, "../cmd/parley")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

type serveProc struct {
	cmd      *exec.Cmd
	httpAddr string
	appID    uint32
	key      string
	created  bool
	exited   chan error
}

var (
	bannerHTTP   = regexp.MustCompile(`HTTP / WebSocket: http://(\S+)`)
	bannerAppID  = regexp.MustCompile(`SDKAppID:\s+(\d+)`)
	bannerSecret = regexp.MustCompile(`SecretKey:\s+([0-9a-f]+)`)
)

// startServe runs `parley serve` and reads its banner. listen is the
// HTTP address ("" = a free port).
func startServe(t *testing.T, ctx context.Context, bin, dataDir string, listen ...string) *serveProc {
	t.Helper()
	addr := "127.0.0.1:0"
	if len(listen) > 0 {
		addr = listen[0]
	}
	cmd := exec.Command(bin, "serve", "--data", dataDir, "--listen", addr, "--udp-port", "0")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &serveProc{cmd: cmd, exited: make(chan error, 1)}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		p.exited <- cmd.Wait()
	}()
	// The banner ends with the "Generate a UserSig" hint.
	for done := false; !done; {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatal("parley serve exited before printing its banner")
			}
			if m := bannerHTTP.FindStringSubmatch(l); m != nil {
				p.httpAddr = m[1]
			}
			if m := bannerAppID.FindStringSubmatch(l); m != nil {
				id, _ := strconv.ParseUint(m[1], 10, 32)
				p.appID = uint32(id)
			}
			if m := bannerSecret.FindStringSubmatch(l); m != nil {
				p.key = m[1]
			}
			p.created = p.created || strings.Contains(l, "created now")
			done = strings.HasPrefix(l, "Generate a UserSig")
		case <-ctx.Done():
			t.Fatal("timed out reading the banner")
		}
	}
	if p.key == "" || p.httpAddr == "" || p.appID == 0 {
		t.Fatalf("incomplete banner: %+v", p)
	}
	go func() {
		for range lines { // drain so the process never blocks on stdout
		}
	}()
	return p
}

// TestServeProcess runs the real binary: first start creates and prints
// the dev app, /healthz answers, a client in a room gets exit_room with
// reason 4 on SIGTERM and the process exits 0; a restart on the same data
// directory keeps the app; the app and usersig commands work on it.
func TestServeProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	ctx := testCtx(t, 120*time.Second)
	bin := buildParley(t)
	data := t.TempDir()

	p := startServe(t, ctx, bin, data)
	resp, err := http.Get("http://" + p.httpAddr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/healthz: %d", resp.StatusCode)
	}
	exit := make(chan int, 1)
	sig, _ := auth.GenerateUserSig(p.appID, p.key, "alice", time.Hour, time.Now())
	c, err := parley.New(parley.Config{URL: "ws://" + p.httpAddr + "/v1/signal", SDKAppID: p.appID, UserID: "alice", UserSig: sig,
		Listener: parley.Listener{OnExitRoom: func(r int) { exit <- r }}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.GrantConsent("2025-09-11", protocol.PurposeRTC); err != nil {
		t.Fatal(err)
	}
	if err := c.Init(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := c.EnterRoom(ctx, parley.EnterParams{RoomID: 1, Scene: protocol.SceneVideoCall}); err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if r := waitFor(t, ctx, exit, "exit_room on SIGTERM"); r != protocol.ExitReasonServerClose {
		t.Fatalf("exit reason %d, want %d", r, protocol.ExitReasonServerClose)
	}
	if err := waitFor(t, ctx, p.exited, "the process to exit"); err != nil {
		t.Fatalf("parley serve after SIGTERM: %v (want exit status 0)", err)
	}

	again := startServe(t, ctx, bin, data)
	if !p.created || again.created {
		t.Fatalf("dev app created on first start: %v, on restart: %v (want true, false)", p.created, again.created)
	}
	if again.appID != p.appID || again.key != p.key {
		t.Fatalf("restart changed the dev app: %d → %d", p.appID, again.appID)
	}
	_ = again.cmd.Process.Signal(syscall.SIGTERM)
	waitFor(t, ctx, again.exited, "the second process to exit")

	out, err := exec.Command(bin, "app", "create", "--data", data, "--name", "demo", "--json").Output()
	if err != nil {
		t.Fatalf("app create: %v", err)
	}
	var created struct {
		SDKAppID  uint32 `json:"sdkappid"`
		SecretKey string `json:"secret_key"`
	}
	if err := json.Unmarshal(out, &created); err != nil || created.SDKAppID == p.appID || len(created.SecretKey) != 64 {
		t.Fatalf("app create --json: %s (%v)", out, err)
	}
	id := strconv.FormatUint(uint64(created.SDKAppID), 10)
	gen, err := exec.Command(bin, "usersig", "gen", "--sdkappid", id, "--key", created.SecretKey, "--user", "bob").Output()
	if err != nil {
		t.Fatalf("usersig gen: %v", err)
	}
	token := strings.TrimSpace(string(gen))
	if err := exec.Command(bin, "usersig", "verify", "--sdkappid", id, "--key", created.SecretKey, "--user", "bob", "--sig", token).Run(); err != nil {
		t.Fatalf("usersig verify of a fresh token: %v", err)
	}
	verify := exec.Command(bin, "usersig", "verify", "--sdkappid", id, "--key", created.SecretKey, "--user", "carol", "--sig", token)
	msg, err := verify.CombinedOutput()
	if err == nil || !strings.Contains(string(msg), "wrong user") {
		t.Fatalf("usersig verify for another user: err=%v output=%s", err, msg)
	}
	help, _ := exec.Command(bin, "serve", "--help").CombinedOutput()
	for _, flag := range []string{"-data", "-listen", "-udp-port", "-public-ip", "-config"} {
		if !strings.Contains(string(help), flag) {
			t.Errorf("serve --help does not list %s", flag)
		}
	}
}
