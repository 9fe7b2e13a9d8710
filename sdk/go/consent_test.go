package parley

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/webrtc/v4/pkg/media"

	"github.com/parley-rtc/parley/protocol"
)

// newBareClient builds a client without consent.
func newBareClient(t *testing.T, url string, tr Transport, ic *InitConfig, l Listener) *Client {
	t.Helper()
	c, err := New(Config{
		URL: url, SDKAppID: 1400000001, UserID: "alice", UserSig: "sig",
		Transport: tr, InitConfig: ic, Listener: l,
		StatsInterval: 200 * time.Millisecond, ReconnectInitial: 20 * time.Millisecond,
		ReconnectMax: 100 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// countingSource counts the samples pulled from a source.
type countingSource struct {
	src   SampleSource
	pulls atomic.Int64
}

func (s *countingSource) NextSample(ctx context.Context) (media.Sample, error) {
	s.pulls.Add(1)
	return s.src.NextSample(ctx)
}

func newCounting(t *testing.T, kind protocol.Kind) *countingSource {
	t.Helper()
	src, err := NewSyntheticSource(SyntheticOptions{Kind: kind})
	if err != nil {
		t.Fatal(err)
	}
	return &countingSource{src: src}
}

func logServer(t *testing.T, log *frameLog) *fakeServer {
	t.Helper()
	return answeringServer(t, log, nil)
}

// allSwitches turns on every known switch.
func allSwitches() map[string]bool {
	m := map[string]bool{}
	for _, id := range KnownSwitches() {
		m[id] = true
	}
	return m
}

// proves CONSENT-1
// proves CONSENT-2
func TestNoNetworkBeforeConsentAndInit(t *testing.T) {
	flog := newFrameLog()
	s := logServer(t, flog)
	rec := newRecorder(t)
	ic := &InitConfig{AudioEnable: true, Streams: []StreamConfig{{StreamID: "cam"}}, Switches: allSwitches()}
	var consentCalls atomic.Int32
	c := newBareClient(t, s.url(), rec, ic, Listener{OnConsentRequired: func(int, string) { consentCalls.Add(1) }})
	ctx := testCtx(t)
	rec.requireSilent(t, "New")

	// Before consent: every entry point refuses without touching the network.
	_, err := c.EnterRoom(ctx, EnterParams{RoomID: 1})
	if !errors.Is(err, ErrNotInitialized) || !errors.Is(err, ErrConsentRequired) {
		t.Fatalf("EnterRoom before consent = %v", err)
	}
	if err := c.Init(ctx); !errors.Is(err, ErrConsentRequired) {
		t.Fatalf("Init before consent = %v, want ErrConsentRequired", err)
	}
	audio := newCounting(t, protocol.KindAudio)
	if _, err := c.PublishAudio(ctx, audio); !errors.Is(err, ErrNotInRoom) {
		t.Fatalf("PublishAudio before consent = %v", err)
	}
	// The network ICE would use fails for every operation.
	n := c.gate.Net()
	netErrs := []error{}
	_, err = n.ListenUDP("udp4", &net.UDPAddr{})
	netErrs = append(netErrs, err)
	_, err = n.ListenPacket("udp4", "0.0.0.0:0")
	netErrs = append(netErrs, err)
	_, err = n.ListenTCP("tcp4", &net.TCPAddr{})
	netErrs = append(netErrs, err)
	_, err = n.Dial("udp4", "192.0.2.1:3478")
	netErrs = append(netErrs, err)
	_, err = n.DialUDP("udp4", nil, &net.UDPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 1})
	netErrs = append(netErrs, err)
	_, err = n.DialTCP("tcp4", nil, &net.TCPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 1})
	netErrs = append(netErrs, err)
	_, err = n.ResolveUDPAddr("udp4", "stun.example.com:3478")
	netErrs = append(netErrs, err)
	_, err = n.ResolveIPAddr("ip4", "example.com")
	netErrs = append(netErrs, err)
	_, err = n.ResolveTCPAddr("tcp4", "example.com:80")
	netErrs = append(netErrs, err)
	_, err = n.Interfaces()
	netErrs = append(netErrs, err)
	_, err = n.InterfaceByName("lo")
	netErrs = append(netErrs, err)
	_, err = n.InterfaceByIndex(1)
	netErrs = append(netErrs, err)
	_, err = n.CreateDialer(&net.Dialer{}).Dial("tcp4", "192.0.2.1:80")
	netErrs = append(netErrs, err)
	_, err = n.CreateListenConfig(&net.ListenConfig{}).ListenPacket(ctx, "udp4", "0.0.0.0:0")
	netErrs = append(netErrs, err)
	_, err = n.CreateListenConfig(&net.ListenConfig{}).Listen(ctx, "tcp4", "127.0.0.1:0")
	netErrs = append(netErrs, err)
	_, err = c.gate.DialSignal(ctx, s.url())
	netErrs = append(netErrs, err)
	for i, err := range netErrs {
		if !errors.Is(err, ErrConsentRequired) {
			t.Errorf("gated operation %d = %v, want ErrConsentRequired", i, err)
		}
	}
	rec.requireSilent(t, "before GrantConsent")

	// Consent alone opens nothing: Init is still needed.
	if err := c.SetAgeBand(protocol.AgeBandAdult, ""); err != nil {
		t.Fatal(err)
	}
	if err := c.GrantConsent(testPolicyVersion, protocol.PurposeRTC, protocol.PurposeQuality); err != nil {
		t.Fatal(err)
	}
	rec.requireSilent(t, "GrantConsent")
	_, err = c.EnterRoom(ctx, EnterParams{RoomID: 1})
	if !errors.Is(err, ErrNotInitialized) || errors.Is(err, ErrConsentRequired) {
		t.Fatalf("EnterRoom before Init = %v, want ErrNotInitialized only", err)
	}
	rec.requireSilent(t, "EnterRoom before Init")
	// Init itself performs no I/O and collects nothing.
	if err := c.Init(ctx); err != nil {
		t.Fatal(err)
	}
	rec.requireSilent(t, "Init")
	if c.DeviceID() == "" || protocol.ValidateDeviceID(c.DeviceID()) != nil {
		t.Fatalf("device id %q", c.DeviceID())
	}
	select {
	case <-s.conns:
		t.Fatal("the server saw a connection before EnterRoom")
	default:
	}

	// After consent and Init the first socket is EnterRoom's.
	if _, err := c.EnterRoom(ctx, EnterParams{RoomID: 1}); err != nil {
		t.Fatal(err)
	}
	fc := s.next(t)
	if rec.count("DialSignal") != 1 {
		t.Errorf("dials = %d", rec.count("DialSignal"))
	}
	j := fc.join
	if j.DeviceID != c.DeviceID() || j.Platform != "go" || j.Consent == nil ||
		j.Consent.PolicyVersion != testPolicyVersion || j.Consent.Method != protocol.ConsentMethodSDK ||
		!j.Consent.Has(protocol.PurposeQuality) || j.Consent.AgeBand != protocol.AgeBandAdult || j.Consent.GrantedAt == 0 {
		t.Errorf("join = %+v consent %+v", j, j.Consent)
	}
	if !j.Switches[SwitchAudio] || !j.Switches[SwitchStreams] || !j.Switches[SwitchAPM] || !j.Switches["field.device.model"] {
		t.Errorf("join switches = %v", j.Switches)
	}
	if _, err := c.PublishAudio(ctx, audio); err != nil {
		t.Fatal(err)
	}
	if _, n, _ := rec.snapshot(); n == 0 || rec.count("Net.") == 0 {
		calls, _, _ := rec.snapshot()
		t.Errorf("no traffic recorded after consent: %d bytes, calls %v", n, calls)
	}
	if consentCalls.Load() != 0 {
		t.Error("OnConsentRequired fired without a refusal")
	}
}

// proves CONSENT-5
func TestStopWithdrawsWithinASecond(t *testing.T) {
	flog := newFrameLog()
	s := logServer(t, flog)
	rec := newRecorder(t)
	ic := &InitConfig{AudioEnable: true, Streams: []StreamConfig{{StreamID: "cam"}}, Switches: map[string]bool{SwitchAPM: true}}
	ev := newEvents()
	c := newBareClient(t, s.url(), rec, ic, Listener{OnExitRoom: func(r int) { ev.add(fmt.Sprintf("exit %d", r)) }})
	c.telEvery = 50 * time.Millisecond
	consentAndInit(t, c)
	ctx := testCtx(t)
	if _, err := c.EnterRoom(ctx, EnterParams{RoomID: 5}); err != nil {
		t.Fatal(err)
	}
	audio, video := newCounting(t, protocol.KindAudio), newCounting(t, protocol.KindVideo)
	if _, err := c.PublishAudio(ctx, audio); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PublishVideo(ctx, video, VideoOptions{}); err != nil {
		t.Fatal(err)
	}
	flog.wait(t, protocol.TypeTelemetry, nil)
	if audio.pulls.Load() == 0 || video.pulls.Load() == 0 {
		t.Fatal("sources not pulled while publishing")
	}
	dials := rec.count("DialSignal")

	start := time.Now()
	if err := c.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("Stop took %v, want ≤ 1 s", d)
	}
	pa, pv := audio.pulls.Load(), video.pulls.Load()
	ev.wait(t, "exit 0")
	flog.wait(t, protocol.TypeWithdraw, nil)

	// Nothing happens after Stop: no sample pulled, no frame sent.
	_, bytesAtStop, _ := rec.snapshot()
	quiet := time.NewTimer(300 * time.Millisecond)
	<-quiet.C
	if audio.pulls.Load() != pa || video.pulls.Load() != pv {
		t.Errorf("sources still pulled after Stop: audio %d→%d video %d→%d", pa, audio.pulls.Load(), pv, video.pulls.Load())
	}
	if _, n, _ := rec.snapshot(); n != bytesAtStop {
		t.Errorf("%d bytes written after Stop", n-bytesAtStop)
	}
	frames := flog.all()
	wi := slices.IndexFunc(frames, func(e protocol.Envelope) bool { return e.Type == protocol.TypeWithdraw })
	for _, e := range frames[wi+1:] {
		if e.Type == protocol.TypeTelemetry {
			t.Error("telemetry frame after withdraw_consent")
		}
		if e.Type != protocol.TypeLeave && e.Type != protocol.TypeCandidate {
			t.Errorf("frame %s after withdraw_consent", e.Type)
		}
	}
	// The consent is gone: Init and EnterRoom refuse, without dialing.
	if err := c.Init(ctx); !errors.Is(err, ErrConsentRequired) {
		t.Errorf("Init after Stop = %v", err)
	}
	if _, err := c.EnterRoom(ctx, EnterParams{RoomID: 5}); !errors.Is(err, ErrConsentRequired) {
		t.Errorf("EnterRoom after Stop = %v", err)
	}
	if rec.count("DialSignal") != dials {
		t.Error("dialed after Stop")
	}
	// Fresh consent makes the client usable again.
	consentAndInit(t, c)
	if _, err := c.EnterRoom(ctx, EnterParams{RoomID: 5}); err != nil {
		t.Fatal(err)
	}
}

// proves CONSENT-6
func TestConsentRefusedClosesGate(t *testing.T) {
	const reason = "policy 2026-01-01 is in force; fresh consent required"
	s := newFakeServer(t, func(fc *fakeConn, env protocol.Envelope) bool {
		if env.Type != protocol.TypeJoin {
			return false
		}
		fc.send(protocol.TypeError, env.ID, protocol.Error{Code: protocol.ErrCodeConsentRequired, Message: reason})
		return true
	})
	rec := newRecorder(t)
	ev := newEvents()
	c := newBareClient(t, s.url(), rec, nil, Listener{
		OnConsentRequired: func(code int, r string) { ev.add(fmt.Sprintf("consent %d %s", code, r)) },
	})
	consentAndInit(t, c)
	ctx := testCtx(t)
	_, err := c.EnterRoom(ctx, EnterParams{RoomID: 2})
	var se *ServerError
	if !errors.Is(err, ErrConsentRequired) || !errors.As(err, &se) || se.Code != protocol.ErrCodeConsentRequired {
		t.Fatalf("EnterRoom = %v, want ErrConsentRequired with -4008", err)
	}
	ev.wait(t, fmt.Sprintf("consent %d %s", protocol.ErrCodeConsentRequired, reason))
	if rec.count("DialSignal") != 1 {
		t.Fatalf("dials = %d", rec.count("DialSignal"))
	}
	// The gate is closed: no dial until fresh consent and Init.
	if _, err := c.EnterRoom(ctx, EnterParams{RoomID: 2}); !errors.Is(err, ErrConsentRequired) {
		t.Errorf("second EnterRoom = %v", err)
	}
	if err := c.Init(ctx); !errors.Is(err, ErrConsentRequired) {
		t.Errorf("Init = %v", err)
	}
	if _, err := c.gate.Net().ListenUDP("udp4", &net.UDPAddr{}); !errors.Is(err, ErrConsentRequired) {
		t.Errorf("ListenUDP = %v", err)
	}
	if rec.count("DialSignal") != 1 {
		t.Errorf("dialed while the gate is closed: %d", rec.count("DialSignal"))
	}
}

// proves MINOR-1
func TestGuardianRequired(t *testing.T) {
	var refuse atomic.Bool
	refuse.Store(true)
	s := newFakeServer(t, func(fc *fakeConn, env protocol.Envelope) bool {
		if env.Type != protocol.TypeJoin || !refuse.Load() {
			return false
		}
		fc.send(protocol.TypeError, env.ID, protocol.Error{Code: protocol.ErrCodeGuardianRequired, Message: "guardian consent required"})
		return true
	})
	c := newBareClient(t, s.url(), nil, nil, Listener{})
	ctx := testCtx(t)
	if err := c.GrantConsent(testPolicyVersion, protocol.PurposeRTC); err != nil {
		t.Fatal(err)
	}
	if err := c.SetAgeBand(protocol.AgeBandMinor, ""); err != nil {
		t.Fatal(err)
	}
	if err := c.Init(ctx); !errors.Is(err, ErrGuardianRequired) {
		t.Fatalf("Init for a minor without guardian = %v", err)
	}
	if err := c.SetAgeBand(protocol.AgeBandAdult, ""); err != nil {
		t.Fatal(err)
	}
	if err := c.Init(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := c.EnterRoom(ctx, EnterParams{RoomID: 3}); !errors.Is(err, ErrGuardianRequired) {
		t.Fatalf("EnterRoom = %v, want ErrGuardianRequired", err)
	}
	if _, err := c.EnterRoom(ctx, EnterParams{RoomID: 3}); !errors.Is(err, ErrGuardianRequired) {
		t.Fatalf("EnterRoom after -4010 = %v", err)
	}
	if err := c.Init(ctx); !errors.Is(err, ErrGuardianRequired) {
		t.Fatalf("Init after -4010 = %v", err)
	}
	if err := c.SetAgeBand(protocol.AgeBandMinor, "guardian-consent-42"); err != nil {
		t.Fatal(err)
	}
	if err := c.Init(ctx); err != nil {
		t.Fatal(err)
	}
	refuse.Store(false)
	if _, err := c.EnterRoom(ctx, EnterParams{RoomID: 3}); err != nil {
		t.Fatal(err)
	}
	fc := s.next(t)
	for fc.join.Consent == nil || fc.join.Consent.GuardianRef == "" {
		fc = s.next(t)
	}
	if fc.join.Consent.AgeBand != protocol.AgeBandMinor || fc.join.Consent.GuardianRef != "guardian-consent-42" {
		t.Errorf("claim = %+v", fc.join.Consent)
	}
	for id, on := range fc.join.Switches {
		if on && len(id) > len(fieldPrefix) && id[:len(fieldPrefix)] == fieldPrefix {
			t.Errorf("minor join with %s on", id)
		}
	}
}

func TestRefusalDuringRoomEndsIt(t *testing.T) {
	s := newFakeServer(t, nil)
	ev := newEvents()
	c := newBareClient(t, s.url(), nil, nil, Listener{
		OnExitRoom:        func(r int) { ev.add(fmt.Sprintf("exit %d", r)) },
		OnConsentRequired: func(code int, _ string) { ev.add(fmt.Sprint("consent ", code)) },
	})
	consentAndInit(t, c)
	ctx := testCtx(t)
	if _, err := c.EnterRoom(ctx, EnterParams{RoomID: 4}); err != nil {
		t.Fatal(err)
	}
	fc := s.next(t)
	fc.send(protocol.TypeError, 0, protocol.Error{Code: protocol.ErrCodeConsentRequired, Message: "withdrawn in the console"})
	ev.wait(t, fmt.Sprint("consent ", protocol.ErrCodeConsentRequired))
	ev.wait(t, "exit 1")
	if _, err := c.EnterRoom(ctx, EnterParams{RoomID: 4}); !errors.Is(err, ErrConsentRequired) {
		t.Errorf("EnterRoom = %v", err)
	}
}

func TestGrantConsentValidates(t *testing.T) {
	c := newBareClient(t, "ws://127.0.0.1:1/v1/signal", nil, nil, Listener{})
	for _, tc := range []struct {
		version  string
		purposes []string
	}{
		{"", []string{protocol.PurposeRTC}},
		{testPolicyVersion, nil},
		{testPolicyVersion, []string{"marketing"}},
		{string(make([]byte, 65)), []string{protocol.PurposeRTC}},
	} {
		err := c.GrantConsent(tc.version, tc.purposes...)
		if !errors.Is(err, ErrInvalidConfig) || !errors.Is(err, protocol.ErrInvalidConsent) {
			t.Errorf("GrantConsent(%q, %v) = %v", tc.version, tc.purposes, err)
		}
	}
	if err := c.SetAgeBand("child", ""); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("SetAgeBand = %v", err)
	}
	if err := c.Init(context.Background()); !errors.Is(err, ErrConsentRequired) {
		t.Errorf("Init after refused grants = %v", err)
	}
	if err := c.Uninit(); err != nil {
		t.Fatal(err)
	}
	if err := c.GrantConsent(testPolicyVersion, protocol.PurposeRTC); !errors.Is(err, ErrClosed) {
		t.Errorf("GrantConsent after Uninit = %v", err)
	}
}

func TestDeviceID(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "device-id")
	mk := func(ic *InitConfig, file string) *Client {
		c, err := New(Config{URL: "ws://127.0.0.1:1/v1/signal", SDKAppID: 1, UserID: "u", UserSig: "s",
			InitConfig: ic, DeviceIDFile: file})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		consentAndInit(t, c)
		return c
	}
	a, b := mk(nil, ""), mk(nil, "")
	if a.DeviceID() == b.DeviceID() {
		t.Error("two installs share a device id")
	}
	p1 := mk(nil, file)
	if _, err := os.Stat(file); err != nil {
		t.Fatal(err)
	}
	if p2 := mk(nil, file); p2.DeviceID() != p1.DeviceID() {
		t.Errorf("persisted id not reused: %s vs %s", p1.DeviceID(), p2.DeviceID())
	}
	if c := mk(&InitConfig{DeviceID: "rig-7"}, file); c.DeviceID() != "rig-7" {
		t.Errorf("init config device id = %s", c.DeviceID())
	}
	// Before consent nothing is read or written.
	other := filepath.Join(dir, "other")
	c, err := New(Config{URL: "ws://127.0.0.1:1/v1/signal", SDKAppID: 1, UserID: "u", UserSig: "s", DeviceIDFile: other})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Init(context.Background()); !errors.Is(err, ErrConsentRequired) {
		t.Fatal(err)
	}
	if _, err := os.Stat(other); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("device id file written before consent: %v", err)
	}
}
