package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/parley-rtc/parley/protocol"
	parley "github.com/parley-rtc/parley/sdk/go"
)

const deviceUsage = `Usage: parley device --config device.json [--json] [--duration D]

Runs a field device (seed 000, industrial edition): reads the init config
and, only if its "consent" block says "granted": true, enters the room and
publishes what the config switches on: audio with "audio_enable": 1, one
video track per "streams_config" entry. Without consent it makes no
network connection at all. It leaves the room on SIGTERM / Ctrl-C or after
--duration. Every key is documented in docs/device.md.

Flags:
`

// deviceNoConsent is the refusal printed when the init config does not
// grant consent (CONSENT-1/2).
const deviceNoConsent = "consent not granted: the device makes no network connection until the init config's consent block grants it"

// Device bounds.
const (
	deviceJoinTimeout  = 15 * time.Second
	deviceLeaveTimeout = 5 * time.Second
)

// Device runs a field-device agent from an init config.
func Device(ctx context.Context, args []string, env Env) int {
	return runDevice(ctx, args, env, nil)
}

// runDevice is Device with the SDK's network given: nil is the operating
// system's; tests pass a recording transport to prove what the agent
// touches.
func runDevice(ctx context.Context, args []string, env Env, tr parley.Transport) int {
	fs := flag.NewFlagSet("parley device", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	fs.Usage = func() {
		io.WriteString(env.Stderr, deviceUsage)
		fs.PrintDefaults()
	}
	configPath := fs.String("config", "", "the init config `file` (JSON, docs/device.md)")
	asJSON := fs.Bool("json", false, "print one JSON status object per line instead of text")
	duration := fs.Duration("duration", 0, "leave the room after `D` (default: run until interrupted)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return ExitOK
		}
		return ExitUsage
	}
	switch {
	case fs.NArg() > 0:
		fmt.Fprintf(env.Stderr, "parley device: unexpected argument %q\n", fs.Arg(0))
		return ExitUsage
	case *configPath == "":
		fmt.Fprintln(env.Stderr, "parley device: --config is required")
		return ExitUsage
	case *duration < 0:
		fmt.Fprintln(env.Stderr, "parley device: --duration must not be negative")
		return ExitUsage
	}
	failf := func(format string, a ...any) int {
		fmt.Fprintf(env.Stderr, "parley device: "+format+"\n", a...)
		return ExitFailure
	}
	b, err := readLimited(*configPath, parley.MaxInitConfigBytes)
	if err != nil {
		return failf("%v", err)
	}
	ic, err := parley.ParseInitConfig(b)
	if err != nil {
		return failf("%s: %v", *configPath, err)
	}
	// Consent first: without it nothing below runs, so no socket, no
	// name lookup, no device read.
	if ic.Consent == nil || !ic.Consent.Granted {
		return failf("%s", deviceNoConsent)
	}
	if err := checkAgentKeys(&ic); err != nil {
		return failf("%s: %v", *configPath, err)
	}
	media, err := openDeviceMedia(&ic, filepath.Dir(*configPath))
	if err != nil {
		return failf("%s: %v", *configPath, err)
	}
	st := &deviceStatus{env: env, json: *asJSON}
	a := &deviceAgent{ic: ic, st: st, fatal: make(chan string, 1)}
	return a.run(ctx, tr, media, *duration)
}

// readLimited reads a file of at most limit bytes.
func readLimited(path string, limit int) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, int64(limit)+1))
	if err != nil {
		return nil, err
	}
	if len(b) > limit {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, limit)
	}
	return b, nil
}

// checkAgentKeys requires what the agent needs to connect.
func checkAgentKeys(ic *parley.InitConfig) error {
	var missing []string
	if ic.ServerURL == "" {
		missing = append(missing, "server_url")
	}
	if ic.SDKAppID == 0 {
		missing = append(missing, "sdkappid")
	}
	if ic.UserID == "" {
		missing = append(missing, "user_id")
	}
	if ic.UserSig == "" {
		missing = append(missing, "usersig")
	}
	if ic.RoomID == 0 && ic.StrRoomID == "" {
		missing = append(missing, "room_id or str_room_id")
	}
	if len(missing) > 0 {
		return fmt.Errorf("the device agent needs %s", strings.Join(missing, ", "))
	}
	return nil
}

// deviceMedia are the opened sources, before any network use.
type deviceMedia struct {
	audio       parley.SampleSource // nil unless audio_enable is 1
	audioSource string
	video       []deviceVideo
}

type deviceVideo struct {
	cfg parley.StreamConfig
	src parley.SampleSource
}

// openDeviceMedia opens every configured source: a missing file fails
// the run before it connects. Paths are relative to the config file.
func openDeviceMedia(ic *parley.InitConfig, dir string) (deviceMedia, error) {
	var m deviceMedia
	resolve := func(src string) string {
		p := strings.TrimPrefix(src, "file:")
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, p)
		}
		return p
	}
	if ic.AudioEnable {
		m.audioSource = ic.AudioSource
		if m.audioSource == "" {
			m.audioSource = parley.SourceSynthetic
		}
		var err error
		if m.audioSource == parley.SourceSynthetic {
			m.audio, err = parley.NewSyntheticSource(parley.SyntheticOptions{Kind: protocol.KindAudio})
		} else {
			m.audio, err = parley.NewOggSource(resolve(m.audioSource))
		}
		if err != nil {
			return m, fmt.Errorf("audio_source: %w", err)
		}
	}
	for i, s := range ic.Streams {
		codec := s.Codec
		if codec == "" {
			codec = parley.CodecVP8
		}
		var src parley.SampleSource
		var err error
		switch {
		case s.Source == "" || s.Source == parley.SourceSynthetic:
			src, err = parley.NewSyntheticSource(parley.SyntheticOptions{Kind: protocol.KindVideo, Codec: codec,
				FrameRate: s.FPS, Width: s.Width, Height: s.Height})
		case codec == parley.CodecH264:
			fps := s.FPS
			if fps == 0 {
				fps = 30
			}
			src, err = parley.NewH264Source(resolve(s.Source), fps)
		default:
			src, err = parley.NewIVFSource(resolve(s.Source))
		}
		if err != nil {
			return m, fmt.Errorf("streams_config[%d] (%s): %w", i, s.StreamID, err)
		}
		m.video = append(m.video, deviceVideo{cfg: s, src: src})
	}
	return m, nil
}

// deviceAgent is one run of the field-device agent.
type deviceAgent struct {
	ic    parley.InitConfig
	st    *deviceStatus
	fatal chan string // a reason the run cannot go on (exit non-zero)
}

func (a *deviceAgent) stop(reason string) {
	select {
	case a.fatal <- reason:
	default:
	}
}

func (a *deviceAgent) listener() parley.Listener {
	return parley.Listener{
		OnExitRoom: func(reason int) {
			if reason == protocol.ExitReasonLeft {
				return
			}
			a.st.emit("exited", map[string]any{"reason": reason}, "left the room: %s", exitReasonText(reason))
			a.stop(fmt.Sprintf("the server ended the session (%s)", exitReasonText(reason)))
		},
		OnConnectionLost:     func() { a.st.emit("connection_lost", nil, "signaling lost, reconnecting") },
		OnConnectionRecovery: func() { a.st.emit("connection_recovered", nil, "back in the room") },
		OnConsentRequired: func(code int, reason string) {
			a.st.emit("consent_required", map[string]any{"code": code, "reason": reason},
				"the server requires fresh consent (%d): %s", code, reason)
			a.stop("consent required")
		},
		OnError: func(err error) { a.st.emit("error", map[string]any{"error": err.Error()}, "%v", err) },
		OnStatistics: func(s parley.Statistics) {
			var kbps uint32
			for _, l := range s.Local {
				kbps += l.VideoBitrate + l.AudioBitrate
			}
			a.st.emit("statistics", map[string]any{"rtt_ms": s.RTT, "up_loss_pct": s.UpLoss, "send_kbps": kbps},
				"sending %d kbps, rtt %d ms, uplink loss %d %%", kbps, s.RTT, s.UpLoss)
		},
	}
}

func exitReasonText(r int) string {
	switch r {
	case protocol.ExitReasonKicked:
		return "removed by the server"
	case protocol.ExitReasonDismissed:
		return "room dismissed"
	case protocol.ExitReasonReplaced:
		return "replaced by a newer login with the same user id"
	case protocol.ExitReasonServerClose:
		return "server shutting down"
	}
	return fmt.Sprintf("reason %d", r)
}

func (a *deviceAgent) run(ctx context.Context, tr parley.Transport, media deviceMedia, duration time.Duration) int {
	ic := &a.ic
	c, err := parley.New(parley.Config{
		URL: ic.ServerURL, SDKAppID: ic.SDKAppID, UserID: ic.UserID, UserSig: ic.UserSig,
		Transport: tr, InitConfig: ic, Listener: a.listener(),
		Logger: slog.New(slog.NewTextHandler(a.st.env.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		return a.st.fail("%v", err)
	}
	defer func() { _ = c.Uninit() }()
	// The consent the operator recorded in the config (method
	// device_config), then Init: still no network use.
	if err := c.GrantConsentFromInitConfig(); err != nil {
		return a.st.fail("%v", err)
	}
	if err := c.Init(ctx); err != nil {
		return a.st.fail("%v", err)
	}
	if !ic.ForceLogin {
		a.st.emit("note", map[string]any{"force_login": 0},
			"force_login 0: Parley cannot refuse a second login with this user id; it replaces the older one (docs/device.md)")
	}
	room := ic.StrRoomID
	if room == "" {
		room = fmt.Sprint(ic.RoomID)
	}
	jctx, cancel := context.WithTimeout(ctx, deviceJoinTimeout)
	defer cancel()
	ms, err := c.EnterRoom(jctx, parley.EnterParams{RoomID: ic.RoomID, StrRoomID: ic.StrRoomID, Scene: protocol.SceneVideoCall})
	if err != nil {
		var se *parley.ServerError
		if errors.As(err, &se) {
			return a.st.fail("the server refused to let %s in (code %d): %s", ic.UserID, se.Code, se.Message)
		}
		return a.st.fail("enter room %s at %s: %v", room, ic.ServerURL, err)
	}
	a.st.emit("entered", map[string]any{"room": room, "join_ms": ms, "device_id": c.DeviceID()},
		"entered room %s in %d ms as %s (device %s)", room, ms, ic.UserID, c.DeviceID())
	if code := a.publish(jctx, c, media); code != ExitOK {
		a.leave(c)
		return code
	}
	var timeout <-chan time.Time
	if duration > 0 {
		t := time.NewTimer(duration)
		defer t.Stop()
		timeout = t.C
	}
	code := ExitOK
	select {
	case <-ctx.Done():
		a.st.emit("stopping", map[string]any{"why": "signal"}, "interrupted, leaving the room")
	case <-timeout:
		a.st.emit("stopping", map[string]any{"why": "duration"}, "%s elapsed, leaving the room", duration)
	case reason := <-a.fatal:
		a.st.emit("stopping", map[string]any{"why": reason}, "stopping: %s", reason)
		code = ExitFailure
	}
	if err := a.leave(c); err != nil && code == ExitOK {
		return a.st.fail("exit room: %v", err)
	}
	a.st.emit("left", nil, "left the room")
	return code
}

// publish starts audio (audio_enable) and one video track per listed
// stream (streams_config).
func (a *deviceAgent) publish(ctx context.Context, c *parley.Client, m deviceMedia) int {
	if m.audio != nil {
		if _, err := c.PublishAudio(ctx, m.audio); err != nil {
			return a.st.fail("publish audio: %v", err)
		}
		a.st.emit("publishing", map[string]any{"kind": "audio", "source": m.audioSource}, "publishing audio (%s)", m.audioSource)
	}
	for _, v := range m.video {
		st := v.cfg.StreamType
		if st == "" {
			st = protocol.StreamMain
		}
		src := v.cfg.Source
		if src == "" {
			src = parley.SourceSynthetic
		}
		opts := parley.VideoOptions{Codec: v.cfg.Codec, StreamType: st, Simulcast: v.cfg.Simulcast}
		if _, err := c.PublishVideo(ctx, v.src, opts); err != nil {
			return a.st.fail("publish video stream %s: %v", v.cfg.StreamID, err)
		}
		a.st.emit("publishing", map[string]any{"kind": "video", "stream_id": v.cfg.StreamID, "stream_type": st, "source": src},
			"publishing video stream %s (%s, %s)", v.cfg.StreamID, st, src)
	}
	return ExitOK
}

func (a *deviceAgent) leave(c *parley.Client) error {
	ctx, cancel := context.WithTimeout(context.Background(), deviceLeaveTimeout)
	defer cancel()
	err := c.ExitRoom(ctx)
	if errors.Is(err, parley.ErrNotInRoom) {
		return nil
	}
	return err
}

// deviceStatus prints status lines, or one JSON object per line.
type deviceStatus struct {
	env  Env
	json bool
	mu   sync.Mutex
}

func (s *deviceStatus) emit(event string, fields map[string]any, format string, a ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	if s.env.Now != nil {
		now = s.env.Now()
	}
	if !s.json {
		fmt.Fprintf(s.env.Stdout, "%s device: %s\n", now.Format("15:04:05"), fmt.Sprintf(format, a...))
		return
	}
	obj := map[string]any{"time": now.UTC().Format(time.RFC3339Nano), "event": event}
	for k, v := range fields {
		obj[k] = v
	}
	b, err := json.Marshal(obj)
	if err != nil {
		return
	}
	b = append(b, '\n')
	_, _ = s.env.Stdout.Write(b)
}

// fail reports a failure on stderr (and as a JSON status) and returns
// ExitFailure.
func (s *deviceStatus) fail(format string, a ...any) int {
	msg := fmt.Sprintf(format, a...)
	if s.json {
		s.emit("failed", map[string]any{"error": msg}, "%s", msg)
	}
	fmt.Fprintf(s.env.Stderr, "parley device: %s\n", msg)
	return ExitFailure
}
