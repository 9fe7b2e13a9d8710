package test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parley-rtc/parley/internal/config"
	"github.com/parley-rtc/parley/protocol"
	parley "github.com/parley-rtc/parley/sdk/go"
)

// The browser tests drive Debian's Chromium with playwright-core
// (test/web): the scenarios are Node scripts, this file starts the server,
// runs them, plays the Go side and checks what the server saw. Without
// Chromium, Node or test/web/node_modules they skip, except under CI=true,
// where they fail: .ci/run installs all three.

// screenshotDir is where the scenarios write their screenshots (kept as
// CI artifacts; README "Browser tests").
const screenshotDir = "../artifacts/screenshots"

const chromiumPath = "/usr/bin/chromium"

// needBrowser returns the node binary, or skips (fails under CI).
func needBrowser(t *testing.T) string {
	t.Helper()
	missing := func(what string) {
		msg := what + " missing: apt-get install chromium chromium-driver nodejs npm && npm --prefix test/web ci"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		missing("node")
	}
	if _, err := os.Stat(chromiumPath); err != nil {
		missing(chromiumPath)
	}
	if _, err := os.Stat("web/node_modules/playwright-core"); err != nil {
		missing("test/web/node_modules/playwright-core")
	}
	return node
}

// logCapture keeps every record the server logs, for assertions on the
// route log and the SRTP profile lines.
type logCapture struct {
	mu   sync.Mutex
	recs []capturedRecord
}

type capturedRecord struct {
	msg   string
	attrs map[string]string
}

func (c *logCapture) Enabled(context.Context, slog.Level) bool { return true }
func (c *logCapture) WithAttrs([]slog.Attr) slog.Handler       { return c }
func (c *logCapture) WithGroup(string) slog.Handler            { return c }
func (c *logCapture) Handle(_ context.Context, r slog.Record) error {
	rec := capturedRecord{msg: r.Message, attrs: map[string]string{}}
	r.Attrs(func(a slog.Attr) bool {
		rec.attrs[a.Key] = a.Value.String()
		return true
	})
	c.mu.Lock()
	c.recs = append(c.recs, rec)
	c.mu.Unlock()
	return nil
}

// mark is the number of records so far; since returns those after it.
func (c *logCapture) mark() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.recs)
}

func (c *logCapture) since(mark int, msg string) []capturedRecord {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []capturedRecord
	for _, r := range c.recs[mark:] {
		if r.msg == msg {
			out = append(out, r)
		}
	}
	return out
}

// browserServer starts a server whose log is captured at debug level.
func browserServer(t *testing.T) (*testEnv, *logCapture) {
	t.Helper()
	capture := &logCapture{}
	env := startServerWithLogger(t, slog.New(capture), func(c *config.Config) { c.HTTP.Demo = true })
	return env, capture
}

// scenario is one running Node scenario.
type scenario struct {
	stdin  io.WriteCloser
	steps  chan scenarioStep
	result chan json.RawMessage
	done   chan error
	stderr *bytes.Buffer
}

type scenarioStep struct {
	name string
	data json.RawMessage
}

// startScenario runs test/web/scenarios/<name>.mjs against env with the
// given parameters (base URL, screenshot directory and Chromium path are
// added).
func startScenario(t *testing.T, ctx context.Context, env *testEnv, name string, params map[string]any) *scenario {
	t.Helper()
	node := needBrowser(t)
	shots, err := filepath.Abs(screenshotDir)
	if err != nil {
		t.Fatal(err)
	}
	p := map[string]any{"base": "http://" + env.srv.HTTPAddr(), "screenshots": shots, "chromium": chromiumPath,
		"sdkappid": env.appID}
	for k, v := range params {
		p[k] = v
	}
	pj, _ := json.Marshal(p)
	cmd := exec.CommandContext(ctx, node, filepath.Join("web", "scenarios", name+".mjs"))
	cmd.Env = append(os.Environ(), "PARLEY_E2E="+string(pj))
	cmd.WaitDelay = 5 * time.Second
	sc := &scenario{steps: make(chan scenarioStep, 16), result: make(chan json.RawMessage, 1), done: make(chan error, 1), stderr: &bytes.Buffer{}}
	cmd.Stderr = sc.stderr
	if sc.stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc.readOutput(t, name, out)
		sc.done <- cmd.Wait()
	}()
	return sc
}

func (sc *scenario) readOutput(t *testing.T, name string, out io.Reader) {
	s := bufio.NewScanner(out)
	s.Buffer(make([]byte, 1<<20), 1<<20)
	for s.Scan() {
		line := s.Text()
		switch {
		case strings.HasPrefix(line, "STEP "):
			f := strings.SplitN(strings.TrimPrefix(line, "STEP "), " ", 2)
			st := scenarioStep{name: f[0]}
			if len(f) == 2 {
				st.data = json.RawMessage(f[1])
			}
			sc.steps <- st
		case strings.HasPrefix(line, "RESULT "):
			sc.result <- json.RawMessage(strings.TrimPrefix(line, "RESULT "))
		default:
			t.Logf("%s: %s", name, line)
		}
	}
}

// step waits for the named step.
func (sc *scenario) step(t *testing.T, ctx context.Context, name string) json.RawMessage {
	t.Helper()
	for {
		select {
		case st := <-sc.steps:
			if st.name == name {
				return st.data
			}
		case err := <-sc.done:
			t.Fatalf("scenario ended before step %s: %v\n%s", name, err, sc.stderr)
		case <-ctx.Done():
			t.Fatalf("timed out waiting for step %s\n%s", name, sc.stderr)
		}
	}
}

// finish waits for the scenario to exit successfully and decodes its
// result into v.
func (sc *scenario) finish(t *testing.T, ctx context.Context, v any) {
	t.Helper()
	select {
	case err := <-sc.done:
		if err != nil {
			t.Fatalf("scenario failed: %v\n%s", err, sc.stderr)
		}
	case <-ctx.Done():
		t.Fatalf("scenario timed out\n%s", sc.stderr)
	}
	select {
	case r := <-sc.result:
		if err := json.Unmarshal(r, v); err != nil {
			t.Fatalf("result %s: %v", r, err)
		}
	default:
		t.Fatalf("scenario printed no RESULT\n%s", sc.stderr)
	}
}

// noProblems fails on any console error, uncaught exception or failed
// request a scenario collected.
func noProblems(t *testing.T, problems []string) {
	t.Helper()
	for _, p := range problems {
		t.Error(p)
	}
}

// pixelStats is the canvas check of a remote video tile.
type pixelStats struct {
	Mean, Stddev, LitFraction float64
	Width, Height             int
}

type videoCheck struct {
	FramesDecoded int        `json:"framesDecoded"`
	Pixels        pixelStats `json:"pixels"`
}

// assertPicture checks that a decoded remote picture is a real image:
// frames decoded, a size, and texture (Chromium's fake camera and the
// test clip both have it; a black or blank frame has none).
func assertPicture(t *testing.T, who string, v videoCheck) {
	t.Helper()
	if v.FramesDecoded <= 0 {
		t.Errorf("%s: framesDecoded %d", who, v.FramesDecoded)
	}
	if v.Pixels.Width <= 0 || v.Pixels.Height <= 0 {
		t.Errorf("%s: video size %dx%d", who, v.Pixels.Width, v.Pixels.Height)
	}
	if v.Pixels.LitFraction < 0.5 || v.Pixels.Stddev < 2 {
		t.Errorf("%s: the picture looks blank: %+v", who, v.Pixels)
	}
}

// srtpProfiles are the profiles the server logged for the PeerConnections
// it negotiated since mark.
func srtpProfiles(capture *logCapture, mark int) []string {
	var out []string
	for _, r := range capture.since(mark, "sfu: srtp profile chosen") {
		out = append(out, r.attrs["pc"]+"="+r.attrs["profile"])
	}
	return out
}

// (a) The consent popup appears; a visitor who refuses sends nothing to
// Parley: the page records no request or WebSocket after the click, keeps
// no id, and the server's route log shows no request at all after it.
// proves CONSENT-1 proves CONSENT-4
func TestBrowserConsentRefuseSendsNothing(t *testing.T) {
	env, capture := browserServer(t)
	ctx := testCtx(t, 90*time.Second)
	sc := startScenario(t, ctx, env, "consent_refuse", nil)
	sc.step(t, ctx, "before-refuse")
	mark := capture.mark()
	sc.step(t, ctx, "after-refuse")
	var res struct {
		State      string   `json:"state"`
		Sent       []string `json:"sent"`
		Storage    []string `json:"storage"`
		PopupText  string   `json:"popupText"`
		PolicyHref string   `json:"policyHref"`
		Problems   []string `json:"problems"`
	}
	sc.finish(t, ctx, &res)
	if routes := capture.since(mark, "http request"); len(routes) > 0 {
		t.Errorf("the server received %d requests after Refuse: %v", len(routes), routes)
	}
	if len(res.Sent) > 0 {
		t.Errorf("the page sent after Refuse: %v", res.Sent)
	}
	if len(res.Storage) > 0 {
		t.Errorf("the page stored %v after Refuse", res.Storage)
	}
	if res.State != "refused" {
		t.Errorf("state %q, want refused", res.State)
	}
	if !strings.Contains(res.PopupText, "withdraw") || res.PolicyHref == "" {
		t.Errorf("the popup lacks the policy summary or the link to the full policy: %q %q", res.PopupText, res.PolicyHref)
	}
	noProblems(t, res.Problems)
}

// (b) Two browsers call each other and each decodes the other's video;
// the server negotiates AEAD-GCM SRTP with Chromium. (e) The console then
// charts the finished call's statistics, at desktop and phone widths.
func TestBrowserCallAndDashboard(t *testing.T) {
	env, capture := browserServer(t)
	ctx := testCtx(t, 180*time.Second)
	room := fmt.Sprintf("e2e-%d", time.Now().UnixNano()%1e6)
	mark := capture.mark()
	sc := startScenario(t, ctx, env, "two_browsers", map[string]any{"room": room, "callSeconds": 7})
	var call struct {
		Seen     map[string]videoCheck `json:"seen"`
		Ciphers  []string              `json:"ciphers"`
		Overlay  string                `json:"overlay"`
		Problems []string              `json:"problems"`
	}
	sc.finish(t, ctx, &call)
	for _, u := range []string{"alice", "bob"} {
		assertPicture(t, u, call.Seen[u])
	}
	profiles := srtpProfiles(capture, mark)
	t.Logf("server SRTP profiles: %v; Chromium's: %v", profiles, call.Ciphers)
	if len(profiles) < 4 { // two PCs per browser
		t.Errorf("the server logged %d SRTP profiles, want one per PeerConnection (4)", len(profiles))
	}
	for _, p := range profiles {
		if !strings.Contains(p, "GCM") {
			t.Errorf("SRTP profile %s: want AEAD-GCM with Chromium", p)
		}
	}
	if call.Overlay == "" {
		t.Error("the stats overlay is empty")
	}
	noProblems(t, call.Problems)

	op := env.srv.FirstOperator()
	dash := startScenario(t, ctx, env, "console_dashboard", map[string]any{"room": room, "operator": op.Name, "password": op.Password,
		"ledgerUser": "alice"})
	var res struct {
		Charts map[string]struct {
			RTTLines  int `json:"rttLines"`
			Cards     int `json:"cards"`
			OverflowX int `json:"overflowX"`
		} `json:"charts"`
		Operators []string `json:"operators"`
		Ledger    []string `json:"ledger"`
		Problems  []string `json:"problems"`
	}
	dash.finish(t, ctx, &res)
	// The operators view lists the owner (the session's own account);
	// alice's consent history holds the grant the demo's popup recorded.
	if len(res.Operators) != 1 || !strings.Contains(res.Operators[0], op.Name+" (you)") ||
		!strings.Contains(res.Operators[0], "Active") {
		t.Errorf("operators view rows %q", res.Operators)
	}
	if len(res.Ledger) == 0 || !strings.Contains(res.Ledger[0], "Grant") {
		t.Errorf("consent history rows %q", res.Ledger)
	}
	for name, c := range res.Charts {
		if c.RTTLines == 0 || c.Cards < 6 {
			t.Errorf("%s: %d rtt lines in %d chart cards, want a drawn series in 6 cards", name, c.RTTLines, c.Cards)
		}
		if c.OverflowX > 0 {
			t.Errorf("%s: the page overflows the viewport by %d px", name, c.OverflowX)
		}
	}
	noProblems(t, res.Problems)
}

// (c) A browser and a Go SDK client exchange media both ways: the browser
// decodes the Go client's VP8 clip, the Go client receives the browser's
// camera as VP8 frames with a keyframe of the camera's size.
func TestBrowserAndGoClientExchangeMedia(t *testing.T) {
	env, capture := browserServer(t)
	ctx := testCtx(t, 120*time.Second)
	room := fmt.Sprintf("mixed-%d", time.Now().UnixNano()%1e6)
	video := newReceived()
	tracks := make(chan *parley.RemoteTrack, 4)
	goClient := env.client(t, "gopher", parley.Listener{
		OnRemoteTrack: func(rt *parley.RemoteTrack) {
			if rt.Kind() == protocol.KindVideo {
				rt.OnPacket(video.add)
			}
			tracks <- rt
		},
	})
	if _, err := goClient.EnterRoom(ctx, parley.EnterParams{StrRoomID: room, Scene: protocol.SceneVideoCall}); err != nil {
		t.Fatal(err)
	}
	publishClips(t, ctx, goClient, true, true)
	mark := capture.mark()

	sc := startScenario(t, ctx, env, "browser_go", map[string]any{"room": room, "user": "webby", "goUser": "gopher"})
	var seen struct {
		Seen videoCheck `json:"seen"`
	}
	if err := json.Unmarshal(sc.step(t, ctx, "browser-decoded"), &seen); err != nil {
		t.Fatal(err)
	}
	assertPicture(t, "browser (Go client's clip)", seen.Seen)
	for {
		rt := waitFor(t, ctx, tracks, "the browser's track at the Go client")
		if rt.UserID() != "webby" {
			t.Fatalf("unexpected track from %q", rt.UserID())
		}
		if rt.Kind() == protocol.KindVideo {
			break
		}
	}
	// Wait (bounded) for half a second of the browser's video and a
	// keyframe with its size. Packets are put in sequence order first: on
	// a loaded machine (the race detector, Chromium encoding) a lost
	// packet comes back later by NACK, out of arrival order.
	var frames [][]byte
	w, h := 0, 0
	for {
		frames = vp8Frames(inSeqOrder(video.snapshot()))
		for _, f := range frames {
			if fw, fh, ok := parley.ParseVP8KeyframeSize(f); ok {
				w, h = fw, fh
				break
			}
		}
		if len(frames) >= 15 && w > 0 && h > 0 {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the Go client received %d VP8 frames from the browser, keyframe %dx%d", len(frames), w, h)
		case <-time.After(200 * time.Millisecond):
		}
	}
	t.Logf("Go client: %d VP8 frames from the browser, keyframe %dx%d; browser: %+v", len(frames), w, h, seen.Seen)
	if _, err := io.WriteString(sc.stdin, "done\n"); err != nil {
		t.Fatal(err)
	}
	var res struct {
		Ciphers  []string `json:"ciphers"`
		Problems []string `json:"problems"`
	}
	sc.finish(t, ctx, &res)
	for _, p := range srtpProfiles(capture, mark) {
		if !strings.Contains(p, "GCM") {
			t.Errorf("SRTP profile %s with Chromium: want AEAD-GCM", p)
		}
	}
	noProblems(t, res.Problems)
}

// (d) Chat survives a reload: messages are IM group messages, synced
// from history when the page comes back, in order; the consent given
// before the reload is remembered. Withdrawing from the page then reaches
// the server's ledger, leaves the room and forgets the grant.
// proves CONSENT-5
func TestBrowserChatSurvivesReload(t *testing.T) {
	env, _ := browserServer(t)
	ctx := testCtx(t, 120*time.Second)
	room := fmt.Sprintf("chat-%d", time.Now().UnixNano()%1e6)
	sc := startScenario(t, ctx, env, "chat_reload", map[string]any{"room": room})
	sc.step(t, ctx, "withdrawn")
	// The page's stop() recorded the withdrawal and left the room.
	ledger := env.rest(t, "DescribeConsentLedger", map[string]any{"UserId": "alice"}, "")
	entries, _ := ledger["Entries"].([]any)
	if len(entries) == 0 || fmt.Sprint(entries[0].(map[string]any)["Action"]) != "withdraw" {
		t.Errorf("withdrawing in the demo did not reach the ledger first: %v", entries)
	}
	if users, _ := env.srv.Rooms().Users(env.appID, protocol.RoomRef{Str: room}); len(users) != 1 || users[0].UserID != "bob" {
		t.Errorf("room after alice withdrew: %+v, want only bob", users)
	}
	if _, err := io.WriteString(sc.stdin, "checked\n"); err != nil {
		t.Fatal(err)
	}
	var res struct {
		AfterReload          []string `json:"afterReload"`
		StorageAfterWithdraw []string `json:"storageAfterWithdraw"`
		Problems             []string `json:"problems"`
	}
	sc.finish(t, ctx, &res)
	if len(res.AfterReload) < 2 {
		t.Errorf("after the reload the chat shows %v, want both messages", res.AfterReload)
	}
	if len(res.StorageAfterWithdraw) > 0 {
		t.Errorf("the page kept %v after withdrawal", res.StorageAfterWithdraw)
	}
	noProblems(t, res.Problems)
}
