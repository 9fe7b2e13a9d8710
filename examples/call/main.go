// Command call is the smallest useful Parley client: it joins a room,
// publishes video and audio, and prints the remote users and tracks it
// receives plus TRTC-style statistics every two seconds.
//
//	go run ./examples/call --sdkappid 1400000001 --key SECRET --user alice --room 1234
//	go run ./examples/call --sdkappid 1400000001 --key SECRET --user bob   --room 1234
//
// It publishes testdata/media/vp8.ivf (a test pattern) and opus.ogg (a
// tone) when they exist, and synthetic media otherwise. Ctrl-C leaves the
// room cleanly.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/pion/rtp"

	"github.com/parley-rtc/parley/internal/auth"
	"github.com/parley-rtc/parley/protocol"
	parley "github.com/parley-rtc/parley/sdk/go"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// options are the command-line flags.
type options struct {
	url       string
	sdkAppID  uint
	key       string
	user      string
	room      uint
	audioOnly bool
	duration  time.Duration
	media     string
	policy    string
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("call", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.url, "url", "ws://127.0.0.1:7880/v1/signal", "signaling `URL` of the Parley server")
	fs.UintVar(&o.sdkAppID, "sdkappid", 0, "the app's `SDKAppID` (required)")
	fs.StringVar(&o.key, "key", os.Getenv("PARLEY_SECRET_KEY"), "the app's SecretKey, to sign a UserSig (default $PARLEY_SECRET_KEY)")
	fs.StringVar(&o.user, "user", "", "your `UserID` (required)")
	fs.UintVar(&o.room, "room", 1234, "numeric room `ID`")
	fs.BoolVar(&o.audioOnly, "audio-only", false, "publish audio only")
	fs.DurationVar(&o.duration, "duration", 0, "leave after this long; 0 stays until Ctrl-C")
	fs.StringVar(&o.policy, "policy-version", "2025-09-11", "privacy policy `version` the user consented to (must satisfy the app's published policies)")
	fs.StringVar(&o.media, "media", filepath.Join("testdata", "media"), "`dir`ectory with vp8.ivf and opus.ogg; synthetic media if missing")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	switch {
	case fs.NArg() > 0:
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	case o.sdkAppID == 0 || o.sdkAppID > 1<<32-1:
		return o, errors.New("--sdkappid is required (the server prints it at start-up)")
	case o.key == "":
		return o, errors.New("--key is required (the server prints the dev app's SecretKey at start-up)")
	case o.user == "":
		return o, errors.New("--user is required")
	case o.room == 0 || o.room > 1<<32-1:
		return o, errors.New("--room must be 1-4294967295")
	}
	return o, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "call:", err)
		return 2
	}
	out := &printer{w: stdout, user: o.user}

	// For the walk-through the example signs its own UserSig. A real app
	// never ships the SecretKey: its backend signs UserSigs and hands them
	// to clients after its own login.
	sig, err := auth.GenerateUserSig(uint32(o.sdkAppID), o.key, o.user, 24*time.Hour, time.Now())
	if err != nil {
		fmt.Fprintln(stderr, "call: usersig:", err)
		return 2
	}

	var stats callStats
	c, err := parley.New(parley.Config{
		URL: o.url, SDKAppID: uint32(o.sdkAppID), UserID: o.user, UserSig: sig,
		Listener: listener(out, &stats),
	})
	if err != nil {
		fmt.Fprintln(stderr, "call:", err)
		return 2
	}
	defer c.Close()

	joinCtx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	// A real app calls GrantConsent after its user agreed to the privacy
	// policy in the app's own prompt; the SDK refuses the network before
	// that (CONSENT-1). Running this example stands for that agreement.
	if err := c.GrantConsent(o.policy, protocol.PurposeRTC); err != nil {
		fmt.Fprintln(stderr, "call:", err)
		return 2
	}
	if err := c.Init(joinCtx); err != nil {
		fmt.Fprintln(stderr, "call:", err)
		return 2
	}
	ms, err := c.EnterRoom(joinCtx, parley.EnterParams{RoomID: uint32(o.room), Scene: protocol.SceneVideoCall})
	if err != nil {
		var se *parley.ServerError
		if errors.As(err, &se) {
			fmt.Fprintf(stderr, "call: the server refused to let %s in (TRTC code %d): %s\n", o.user, se.Code, se.Message)
		} else {
			fmt.Fprintf(stderr, "call: cannot reach %s: %v\n", o.url, err)
		}
		return 1
	}
	out.printf("entered room %d in %d ms", o.room, ms)
	if err := publish(joinCtx, c, o, out); err != nil {
		fmt.Fprintln(stderr, "call:", err)
		_ = c.ExitRoom(context.Background())
		return 1
	}

	var timeout <-chan time.Time
	if o.duration > 0 {
		t := time.NewTimer(o.duration)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case <-ctx.Done():
		out.printf("interrupted, leaving the room")
	case <-timeout:
		out.printf("%s elapsed, leaving the room", o.duration)
	}
	leaveCtx, cancelLeave := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancelLeave()
	if err := c.ExitRoom(leaveCtx); err != nil && !errors.Is(err, parley.ErrNotInRoom) {
		fmt.Fprintln(stderr, "call: exit room:", err)
		return 1
	}
	return 0
}

// publish starts the audio and (unless audio-only) video tracks, from the
// media files when present.
func publish(ctx context.Context, c *parley.Client, o options, out *printer) error {
	var audio parley.SampleSource
	if src, err := parley.NewOggSource(filepath.Join(o.media, "opus.ogg")); err == nil {
		audio = src
		out.printf("publishing audio from %s", filepath.Join(o.media, "opus.ogg"))
	} else {
		syn, err := parley.NewSyntheticSource(parley.SyntheticOptions{Kind: protocol.KindAudio})
		if err != nil {
			return err
		}
		audio = syn
		out.printf("publishing synthetic audio (no %s)", filepath.Join(o.media, "opus.ogg"))
	}
	if _, err := c.PublishAudio(ctx, audio); err != nil {
		return fmt.Errorf("publish audio: %w", err)
	}
	if o.audioOnly {
		return nil
	}
	var video parley.SampleSource
	if src, err := parley.NewIVFSource(filepath.Join(o.media, "vp8.ivf")); err == nil {
		video = src
		out.printf("publishing video from %s", filepath.Join(o.media, "vp8.ivf"))
	} else {
		syn, err := parley.NewSyntheticSource(parley.SyntheticOptions{Kind: protocol.KindVideo, Width: 640, Height: 360})
		if err != nil {
			return err
		}
		video = syn
		out.printf("publishing synthetic video (no %s)", filepath.Join(o.media, "vp8.ivf"))
	}
	if _, err := c.PublishVideo(ctx, video, parley.VideoOptions{}); err != nil {
		return fmt.Errorf("publish video: %w", err)
	}
	return nil
}

// callStats carries one statistics round from OnStatistics to
// OnNetworkQuality, which the SDK calls right after it for the same round.
type callStats struct {
	mu   sync.Mutex
	last parley.Statistics
}

func listener(out *printer, stats *callStats) parley.Listener {
	return parley.Listener{
		OnRemoteUserEnter: func(u string) { out.printf("%s entered", u) },
		OnRemoteUserLeave: func(u string, reason int) { out.printf("%s left (reason %d)", u, reason) },
		OnUserAudioAvailable: func(u string, ok bool) {
			out.printf("%s audio %s", u, map[bool]string{true: "available", false: "unavailable"}[ok])
		},
		OnUserVideoAvailable: func(u string, ok bool) {
			out.printf("%s video %s", u, map[bool]string{true: "available", false: "unavailable"}[ok])
		},
		OnRemoteTrack: func(t *parley.RemoteTrack) {
			out.printf("receiving %s's %s track %q (%s)", t.UserID(), t.Kind(), t.TrackID(), t.Codec())
			// A real app would decode here; the example only counts, to
			// show where packets arrive. The handler must not block.
			var n atomic.Uint64
			t.OnPacket(func(*rtp.Packet) {
				if n.Add(1) == 1 {
					out.printf("first packet from %s's %s track", t.UserID(), t.Kind())
				}
			})
		},
		OnStatistics: func(s parley.Statistics) {
			stats.mu.Lock()
			stats.last = s
			stats.mu.Unlock()
		},
		OnNetworkQuality: func(local parley.Quality, remote []parley.RemoteQuality) {
			stats.mu.Lock()
			s := stats.last
			stats.mu.Unlock()
			out.printf("%s", statsLine(s, local, remote))
		},
		OnConnectionLost:     func() { out.printf("signaling connection lost; reconnecting") },
		OnConnectionRecovery: func() { out.printf("reconnected") },
		OnExitRoom:           func(reason int) { out.printf("left the room (reason %d)", reason) },
		OnError:              func(err error) { out.printf("error: %v", err) },
	}
}

// statsLine renders one statistics round on one line.
func statsLine(s parley.Statistics, local parley.Quality, remote []parley.RemoteQuality) string {
	var b strings.Builder
	fmt.Fprintf(&b, "stats: rtt %d ms, loss up %d%% down %d%%", s.RTT, s.UpLoss, s.DownLoss)
	var upA, upV uint32
	for _, l := range s.Local {
		upA += l.AudioBitrate
		upV += l.VideoBitrate
	}
	fmt.Fprintf(&b, ", send %d+%d kbps", upA, upV)
	for _, r := range s.Remote {
		fmt.Fprintf(&b, " | %s: %d+%d kbps", r.UserID, r.AudioBitrate, r.VideoBitrate)
		if r.Width > 0 {
			fmt.Fprintf(&b, " %dx%d@%dfps", r.Width, r.Height, r.FrameRate)
		}
	}
	fmt.Fprintf(&b, " | quality %s", qualityName(local))
	for _, q := range remote {
		fmt.Fprintf(&b, ", %s %s", q.UserID, qualityName(q.Quality))
	}
	return b.String()
}

func qualityName(q parley.Quality) string {
	switch q {
	case parley.QualityExcellent:
		return "excellent"
	case parley.QualityGood:
		return "good"
	case parley.QualityPoor:
		return "poor"
	case parley.QualityBad:
		return "bad"
	case parley.QualityVeryBad:
		return "very bad"
	case parley.QualityDown:
		return "down"
	default:
		return "unknown"
	}
}

// printer writes timestamped lines; SDK callbacks and packet handlers run
// on different goroutines, so writes are serialised.
type printer struct {
	mu   sync.Mutex
	w    io.Writer
	user string
}

func (p *printer) printf(format string, a ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, "%s [%s] %s\n", time.Now().Format("15:04:05.000"), p.user, fmt.Sprintf(format, a...))
}
