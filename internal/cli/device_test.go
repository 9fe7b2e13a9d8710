package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/transport/v5"

	"github.com/parley-rtc/parley/internal/auth"
	"github.com/parley-rtc/parley/internal/config"
	"github.com/parley-rtc/parley/internal/server"
	"github.com/parley-rtc/parley/protocol"
	parley "github.com/parley-rtc/parley/sdk/go"
)

// recordingTransport wraps the operating-system transport and records
// every network operation the agent's SDK asks for.
type recordingTransport struct {
	inner parley.Transport
	mu    sync.Mutex
	calls []string
}

func newRecordingTransport(t *testing.T) *recordingTransport {
	t.Helper()
	dt, err := parley.NewDefaultTransport()
	if err != nil {
		t.Fatal(err)
	}
	return &recordingTransport{inner: dt}
}

func (r *recordingTransport) record(s string) {
	r.mu.Lock()
	r.calls = append(r.calls, s)
	r.mu.Unlock()
}

func (r *recordingTransport) recorded() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.calls...)
}

func (r *recordingTransport) DialSignal(ctx context.Context, url string) (parley.SignalConn, error) {
	r.record("DialSignal " + url)
	return r.inner.DialSignal(ctx, url)
}

func (r *recordingTransport) Net() transport.Net {
	r.record("Net")
	return &recordingNet{Net: r.inner.Net(), r: r}
}

// recordingNet records the socket, dial, lookup and interface calls.
type recordingNet struct {
	transport.Net
	r *recordingTransport
}

func (n *recordingNet) ListenUDP(network string, laddr *net.UDPAddr) (transport.UDPConn, error) {
	n.r.record("ListenUDP")
	return n.Net.ListenUDP(network, laddr)
}

func (n *recordingNet) Dial(network, address string) (net.Conn, error) {
	n.r.record("Dial " + address)
	return n.Net.Dial(network, address)
}

func (n *recordingNet) ResolveUDPAddr(network, address string) (*net.UDPAddr, error) {
	n.r.record("ResolveUDPAddr " + address)
	return n.Net.ResolveUDPAddr(network, address)
}

func (n *recordingNet) Interfaces() ([]*transport.Interface, error) {
	n.r.record("Interfaces")
	return n.Net.Interfaces()
}

func deviceRun(t *testing.T, ctx context.Context, tr parley.Transport, args ...string) (int, string, string) {
	t.Helper()
	var out, errb syncBuffer
	code := runDevice(ctx, args, Env{Stdout: &out, Stderr: &errb, Getenv: func(string) string { return "" }, Now: time.Now}, tr)
	return code, out.String(), errb.String()
}

// syncBuffer is a bytes.Buffer safe for the agent's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func writeConfig(t *testing.T, dir string, cfg map[string]any) string {
	t.Helper()
	b, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "device.json")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// proves CONSENT-1
// proves CONSENT-2
func TestDeviceWithoutConsentMakesNoConnection(t *testing.T) {
	base := map[string]any{
		// A name, not an address: resolving it would be a DNS query.
		"server_url": "ws://field-server.parley.invalid:7880/v1/signal",
		"sdkappid":   1400000001, "user_id": "rig-1", "usersig": "sig", "room_id": 7,
		"audio_enable": 1, "streams_config": []map[string]any{{"stream_id": "front"}},
		"switches": map[string]bool{"ext.apm": true, "field.device.model": true},
	}
	for name, consent := range map[string]any{
		"no consent block": nil,
		"not granted":      map[string]any{"granted": false, "policy_version": "2025-09-11", "purposes": []string{"rtc"}},
	} {
		t.Run(name, func(t *testing.T) {
			cfg := map[string]any{}
			for k, v := range base {
				cfg[k] = v
			}
			if consent != nil {
				cfg["consent"] = consent
			}
			path := writeConfig(t, t.TempDir(), cfg)
			tr := newRecordingTransport(t)
			code, out, errs := deviceRun(t, context.Background(), tr, "--config", path)
			if code != ExitFailure || !strings.Contains(errs, deviceNoConsent) {
				t.Fatalf("exit %d, stderr %q; want %d and %q", code, errs, ExitFailure, deviceNoConsent)
			}
			if out != "" {
				t.Errorf("stdout %q", out)
			}
			if calls := tr.recorded(); len(calls) != 0 {
				t.Errorf("network use without consent: %v", calls)
			}
		})
	}
}

func TestDeviceUsageAndConfigErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte(`{"audio_enable": 1, "video": 1}`), 0o600); err != nil {
		t.Fatal(err)
	}
	noURL := writeConfig(t, t.TempDir(), map[string]any{
		"consent": map[string]any{"granted": true, "policy_version": "v1", "purposes": []string{"rtc"}},
	})
	missingFile := writeConfig(t, t.TempDir(), map[string]any{
		"server_url": "ws://127.0.0.1:1/v1/signal", "sdkappid": 1, "user_id": "u", "usersig": "s", "room_id": 1,
		"streams_config": []map[string]any{{"stream_id": "front", "source": "file:missing.ivf"}},
		"consent":        map[string]any{"granted": true, "policy_version": "v1", "purposes": []string{"rtc"}},
	})
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{nil, ExitUsage, "--config is required"},
		{[]string{"--config", bad, "extra"}, ExitUsage, `unexpected argument "extra"`},
		{[]string{"--config", bad, "--duration", "-1s"}, ExitUsage, "--duration"},
		{[]string{"--config", filepath.Join(dir, "none.json")}, ExitFailure, "no such file"},
		{[]string{"--config", bad}, ExitFailure, `unknown key "video"`},
		{[]string{"--config", noURL}, ExitFailure, "needs server_url, sdkappid, user_id, usersig, room_id or str_room_id"},
		{[]string{"--config", missingFile}, ExitFailure, "streams_config[0] (front)"},
	} {
		tr := newRecordingTransport(t)
		code, _, errs := deviceRun(t, context.Background(), tr, tc.args...)
		if code != tc.code || !strings.Contains(errs, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", tc.args, code, errs, tc.code, tc.want)
		}
		if calls := tr.recorded(); len(calls) != 0 {
			t.Errorf("%v: network use: %v", tc.args, calls)
		}
	}
	if code, _, errs := deviceRun(t, context.Background(), nil, "--help"); code != ExitOK || !strings.Contains(errs, "docs/device.md") {
		t.Errorf("--help: exit %d, %q", code, errs)
	}
}

// startDeviceServer runs an in-process Parley server on loopback.
func startDeviceServer(t *testing.T) *server.Server {
	t.Helper()
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.HTTP.Listen = "127.0.0.1:0"
	cfg.Media.UDPPort = 0
	srv, err := server.New(cfg, server.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return srv
}

// proves SWITCH-1
// proves SWITCH-2
func TestDeviceWithConsentPublishes(t *testing.T) {
	srv := startDeviceServer(t)
	dev := srv.DevApp()
	sig := func(user string) string {
		s, err := auth.GenerateUserSig(dev.SDKAppID, dev.SecretKey, user, time.Hour, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	dir := t.TempDir()
	clip, err := os.ReadFile("../../testdata/media/vp8.ivf")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "front.ivf"), clip, 0o600); err != nil {
		t.Fatal(err)
	}
	const room = 4242
	path := writeConfig(t, dir, map[string]any{
		"server_url": srv.SignalURL(), "sdkappid": dev.SDKAppID, "user_id": "rig-1", "usersig": sig("rig-1"),
		"room_id": room, "device_id": "rig-1-cab", "force_login": 1,
		"audio_enable":   1,
		"streams_config": []map[string]any{{"stream_id": "front", "source": "file:front.ivf", "codec": "vp8"}},
		"consent":        map[string]any{"granted": true, "policy_version": "2025-09-11", "purposes": []string{"rtc", "quality"}},
	})

	// A remote expert watches the room with the Go SDK.
	got := make(chan string, 16)
	var once sync.Map
	viewer, err := parley.New(parley.Config{
		URL: srv.SignalURL(), SDKAppID: dev.SDKAppID, UserID: "expert", UserSig: sig("expert"),
		Listener: parley.Listener{OnRemoteTrack: func(rt *parley.RemoteTrack) {
			rt.OnPacket(func(*rtp.Packet) {
				if _, seen := once.LoadOrStore(rt.UserID()+"/"+string(rt.Kind()), true); !seen {
					got <- rt.UserID() + "/" + string(rt.Kind())
				}
			})
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer viewer.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := viewer.GrantConsent("2025-09-11", protocol.PurposeRTC); err != nil {
		t.Fatal(err)
	}
	if err := viewer.Init(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := viewer.EnterRoom(ctx, parley.EnterParams{RoomID: room, Scene: protocol.SceneVideoCall}); err != nil {
		t.Fatal(err)
	}

	tr := newRecordingTransport(t)
	agentCtx, stop := context.WithCancel(ctx)
	type result struct {
		code     int
		out, err string
	}
	done := make(chan result, 1)
	go func() {
		code, out, errs := deviceRun(t, agentCtx, tr, "--config", path, "--json")
		done <- result{code, out, errs}
	}()
	want := map[string]bool{"rig-1/audio": true, "rig-1/video": true}
	for len(want) > 0 {
		select {
		case k := <-got:
			delete(want, k)
		case r := <-done:
			t.Fatalf("agent ended early: exit %d\nstdout %s\nstderr %s", r.code, r.out, r.err)
		case <-ctx.Done():
			t.Fatalf("viewer did not receive %v", want)
		}
	}
	stop() // SIGTERM
	var r result
	select {
	case r = <-done:
	case <-time.After(15 * time.Second):
		t.Fatal("agent did not exit after cancellation")
	}
	if r.code != ExitOK {
		t.Fatalf("exit %d\nstdout %s\nstderr %s", r.code, r.out, r.err)
	}
	events := map[string]int{}
	for _, line := range strings.Split(strings.TrimSpace(r.out), "\n") {
		var obj map[string]any
		if err := json.Unmarshal([]byte(line), &obj); err != nil {
			t.Fatalf("status line %q: %v", line, err)
		}
		events[fmt.Sprint(obj["event"])]++
		if obj["event"] == "entered" && obj["device_id"] != "rig-1-cab" {
			t.Errorf("entered = %v", obj)
		}
	}
	if events["entered"] != 1 || events["publishing"] != 2 || events["left"] != 1 {
		t.Errorf("status events %v\n%s", events, r.out)
	}
	dials := 0
	for _, c := range tr.recorded() {
		if strings.HasPrefix(c, "DialSignal") {
			dials++
		}
	}
	if dials != 1 {
		t.Errorf("dials = %d, calls %v", dials, tr.recorded())
	}
}
