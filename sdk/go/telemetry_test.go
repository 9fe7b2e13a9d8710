package parley

import (
	"encoding/json"
	"errors"
	"io/fs"
	"net/netip"
	"path"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parley-rtc/parley/internal/privacy/inventory"
	"github.com/parley-rtc/parley/protocol"
)

// fakeFS stands in for /proc and /sys and records every path read.
type fakeFS struct {
	mu    sync.Mutex
	files map[string]string
	read  []string
}

func newFakeFS() *fakeFS {
	return &fakeFS{files: map[string]string{
		"/sys/class/dmi/id/sys_vendor":           "ACME Industrial\n",
		"/sys/class/dmi/id/product_name":         "Rig X1\n",
		"/proc/cpuinfo":                          "processor\t: 0\nmodel name\t: Test CPU @ 2.0GHz\n",
		"/proc/meminfo":                          "MemTotal:        2048000 kB\nMemFree: 1 kB\n",
		"/sys/class/power_supply/BAT0/capacity":  "87\n",
		"/sys/class/power_supply/BAT0/type":      "Battery\n",
		"/sys/class/power_supply/AC/capacity":    "100\n",
		"/sys/class/power_supply/AC/type":        "Mains\n",
		"/sys/class/drm/card0-HDMI-A-1/status":   "connected\n",
		"/sys/class/drm/card0-HDMI-A-1/modes":    "1920x1080\n1280x720\n",
		"/proc/self/status":                      "Name:\tparley\nThreads:\t9\n",
		"/proc/sys/kernel/osrelease":             "6.1.0-test\n",
		"/proc/stat":                             "cpu  100 0 100 800 0 0 0 0 0 0\n",
		"/sys/class/net/wlan0/wireless/.present": "",
		"/sys/class/net/wlan0/operstate":         "down\n",
	}}
}

func (f *fakeFS) readFile(p string) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.read = append(f.read, p)
	s, ok := f.files[p]
	if !ok {
		return nil, fs.ErrNotExist
	}
	return []byte(s), nil
}

func (f *fakeFS) glob(pattern string) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.read = append(f.read, "glob "+pattern)
	seen := map[string]bool{}
	var out []string
	for p := range f.files {
		for d := p; d != "/" && d != "."; d = path.Dir(d) {
			if ok, _ := path.Match(pattern, d); ok && !seen[d] {
				seen[d] = true
				out = append(out, d)
			}
		}
	}
	sort.Strings(out)
	return out, nil
}

func (f *fakeFS) paths() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.read)
}

// instrument replaces c's file access with fs and wraps every collector
// with a call counter.
func instrument(c *Client, fsys *fakeFS) map[string]*atomic.Int32 {
	c.readFile, c.glob = fsys.readFile, fsys.glob
	calls := map[string]*atomic.Int32{}
	for i, f := range c.facts {
		n := new(atomic.Int32)
		calls[f.id] = n
		read := f.read
		c.facts[i].read = func(e *factEnv) (any, bool) {
			n.Add(1)
			return read(e)
		}
	}
	return calls
}

func decodeReport(t *testing.T, env protocol.Envelope) protocol.TelemetryReport {
	t.Helper()
	var rep protocol.TelemetryReport
	if err := protocol.DecodeData(env, &rep); err != nil {
		t.Fatal(err)
	}
	return rep
}

func hasDevice(env protocol.Envelope) bool {
	var rep protocol.TelemetryReport
	return protocol.DecodeData(env, &rep) == nil && rep.Device != nil
}

func str(t *testing.T, m map[string]json.RawMessage, k string) string {
	t.Helper()
	var s string
	if err := json.Unmarshal(m[k], &s); err != nil {
		t.Fatalf("%s: %s: %v", k, m[k], err)
	}
	return s
}

// apmClient builds an initialised client with the given switches, a fast
// telemetry period and an instrumented device.
func apmClient(t *testing.T, url string, switches map[string]bool) (*Client, *fakeFS, map[string]*atomic.Int32) {
	t.Helper()
	ic := &InitConfig{AudioEnable: true, Streams: []StreamConfig{{StreamID: "cam"}}, Switches: switches}
	c := newBareClient(t, url, nil, ic, Listener{})
	c.telEvery = 50 * time.Millisecond
	fsys := newFakeFS()
	calls := instrument(c, fsys)
	consentAndInit(t, c)
	return c, fsys, calls
}

// proves SWITCH-1
// proves SWITCH-2
func TestSwitchesRefuseMedia(t *testing.T) {
	flog := newFrameLog()
	s := logServer(t, flog)
	ctx := testCtx(t)
	c := newBareClient(t, s.url(), nil, &InitConfig{Streams: []StreamConfig{{StreamID: "cam", StreamType: protocol.StreamMain}}}, Listener{})
	consentAndInit(t, c)
	if _, err := c.EnterRoom(ctx, EnterParams{RoomID: 8}); err != nil {
		t.Fatal(err)
	}
	audio := newCounting(t, protocol.KindAudio)
	if _, err := c.PublishAudio(ctx, audio); !errors.Is(err, ErrSwitchOff) {
		t.Fatalf("PublishAudio with audio_enable absent = %v", err)
	}
	sub := newCounting(t, protocol.KindVideo)
	if _, err := c.PublishVideo(ctx, sub, VideoOptions{StreamType: protocol.StreamSub}); !errors.Is(err, ErrSwitchOff) {
		t.Fatalf("PublishVideo of an unlisted stream = %v", err)
	}
	if audio.pulls.Load() != 0 || sub.pulls.Load() != 0 {
		t.Error("a switched-off source was read")
	}
	if len(flog.ofType(protocol.TypePublish)) != 0 {
		t.Error("publish frame for a switched-off track")
	}
	main := newCounting(t, protocol.KindVideo)
	if _, err := c.PublishVideo(ctx, main, VideoOptions{}); err != nil {
		t.Fatalf("PublishVideo of the listed stream = %v", err)
	}
	join := decodeJoin(t, flog)
	if join.Switches[SwitchAudio] || !join.Switches[SwitchStreams] {
		t.Errorf("join switches = %v", join.Switches)
	}
	// No streams_config: no video at all.
	c2 := newBareClient(t, s.url(), nil, &InitConfig{AudioEnable: true}, Listener{})
	consentAndInit(t, c2)
	if _, err := c2.EnterRoom(ctx, EnterParams{RoomID: 9}); err != nil {
		t.Fatal(err)
	}
	if _, err := c2.PublishVideo(ctx, newCounting(t, protocol.KindVideo), VideoOptions{}); !errors.Is(err, ErrSwitchOff) {
		t.Fatalf("PublishVideo without streams_config = %v", err)
	}
}

func decodeJoin(t *testing.T, flog *frameLog) protocol.JoinRequest {
	t.Helper()
	var j protocol.JoinRequest
	if err := protocol.DecodeData(flog.ofType(protocol.TypeJoin)[0], &j); err != nil {
		t.Fatal(err)
	}
	return j
}

// proves COLLECT-5
// proves COLLECT-4
func TestCollectorNotCalledWhenSwitchOff(t *testing.T) {
	flog := newFrameLog()
	s := logServer(t, flog)
	c, fsys, calls := apmClient(t, s.url(), map[string]bool{SwitchAPM: true, "field.device.model": true})
	// Every optional device element of the inventory has its collector.
	var ids []string
	for _, f := range c.facts {
		ids = append(ids, f.id)
	}
	for _, e := range telemetryElements() {
		if e.section == protocol.SectionDevice && e.sw != "" && !slices.Contains(ids, e.id) {
			t.Errorf("no collector for %s", e.id)
		}
	}
	if _, err := c.EnterRoom(testCtx(t), EnterParams{RoomID: 1}); err != nil {
		t.Fatal(err)
	}
	rep := decodeReport(t, flog.wait(t, protocol.TypeTelemetry, hasDevice))
	if got := str(t, rep.Device, elModel); got != "Rig X1" {
		t.Errorf("device.model = %q", got)
	}
	for id, n := range calls {
		switch {
		case id == elModel && n.Load() != 1:
			t.Errorf("collector %s called %d times, want once per session", id, n.Load())
		case id != elModel && n.Load() != 0:
			t.Errorf("collector %s called with its switch off", id)
		}
		if _, sent := rep.Device[id]; sent && id != elModel {
			t.Errorf("%s sent with its switch off", id)
		}
	}
	for _, p := range fsys.paths() {
		for _, off := range []string{"sys_vendor", "cpuinfo", "meminfo", "power_supply", "/proc/self/status", "drm", "/sys/class/net"} {
			if strings.Contains(p, off) {
				t.Errorf("read %s with its switch off", p)
			}
		}
	}
	// The required facts: SDK version, OS, OS version, truncated IP.
	if str(t, rep.Device, elSDKVersion) != SDKVersion || str(t, rep.Device, elIPAddress) != "127.0.0.0/24" {
		t.Errorf("device section = %v", rep.Device)
	}
	if osName() == "linux" && (str(t, rep.Device, elOS) != "linux" || str(t, rep.Device, elOSVersion) != "6.1.0-test") {
		t.Errorf("device section = %v", rep.Device)
	}
}

// proves COLLECT-4
func TestDeviceFactsWhenSwitchedOn(t *testing.T) {
	flog := newFrameLog()
	s := logServer(t, flog)
	c, _, calls := apmClient(t, s.url(), allSwitches())
	c.cfg.IPPrefixBits = IPPrefixBits{V4: 16}
	if _, err := c.EnterRoom(testCtx(t), EnterParams{RoomID: 1}); err != nil {
		t.Fatal(err)
	}
	rep := decodeReport(t, flog.wait(t, protocol.TypeTelemetry, hasDevice))
	want := map[string]string{
		elBrand: `"ACME Industrial"`, elModel: `"Rig X1"`, elCPU: `"Test CPU @ 2.0GHz"`, elMemoryMB: `2000`,
		elThreadCount: `9`, elNetworkType: `"unknown"`, elWifiState: `"off"`, elIPAddress: `"127.0.0.0/16"`,
	}
	for k, v := range want {
		if string(rep.Device[k]) != v {
			t.Errorf("%s = %s, want %s", k, rep.Device[k], v)
		}
	}
	for id, n := range calls {
		if n.Load() != 1 {
			t.Errorf("collector %s called %d times", id, n.Load())
		}
	}
	// Later reports carry no device section.
	for range 3 {
		if r := decodeReport(t, flog.wait(t, protocol.TypeTelemetry, nil)); r.Device != nil {
			t.Fatal("device section sent twice on one connection")
		}
	}
}

// proves MINOR-1
func TestMinorModeForcesFieldsOff(t *testing.T) {
	flog := newFrameLog()
	s := logServer(t, flog)
	ic := &InitConfig{AudioEnable: true, Switches: allSwitches()}
	c := newBareClient(t, s.url(), nil, ic, Listener{})
	c.telEvery = 50 * time.Millisecond
	calls := instrument(c, newFakeFS())
	if err := c.SetAgeBand(protocol.AgeBandMinor, "guardian-ref-1"); err != nil {
		t.Fatal(err)
	}
	consentAndInit(t, c)
	if _, err := c.EnterRoom(testCtx(t), EnterParams{RoomID: 1}); err != nil {
		t.Fatal(err)
	}
	rep := decodeReport(t, flog.wait(t, protocol.TypeTelemetry, hasDevice))
	for id, n := range calls {
		if n.Load() != 0 {
			t.Errorf("collector %s called in minor mode", id)
		}
	}
	for k := range rep.Device {
		if k != elSDKVersion && k != elOS && k != elOSVersion && k != elIPAddress {
			t.Errorf("%s sent in minor mode", k)
		}
	}
	for id, on := range decodeJoin(t, flog).Switches {
		if on && strings.HasPrefix(id, fieldPrefix) {
			t.Errorf("join switch %s on in minor mode", id)
		}
	}
}

// proves SWITCH-3
func TestAllOptionalOffStillWorks(t *testing.T) {
	flog := newFrameLog()
	s := logServer(t, flog)
	ic := &InitConfig{AudioEnable: true, Streams: []StreamConfig{{StreamID: "cam"}}}
	c := newBareClient(t, s.url(), nil, ic, Listener{})
	c.telEvery = 20 * time.Millisecond
	calls := instrument(c, newFakeFS())
	consentAndInit(t, c)
	ctx := testCtx(t)
	if _, err := c.EnterRoom(ctx, EnterParams{RoomID: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PublishAudio(ctx, newCounting(t, protocol.KindAudio)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PublishVideo(ctx, newCounting(t, protocol.KindVideo), VideoOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := c.ExitRoom(ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(flog.ofType(protocol.TypeTelemetry)); n != 0 {
		t.Errorf("%d telemetry frames with ext.apm off", n)
	}
	for id, n := range calls {
		if n.Load() != 0 {
			t.Errorf("collector %s called with everything off", id)
		}
	}
	for id, on := range decodeJoin(t, flog).Switches {
		if on != (id == SwitchAudio || id == SwitchStreams) {
			t.Errorf("join switch %s = %v", id, on)
		}
	}
}

// proves COLLECT-6
func TestTelemetryOnlyInsideARoom(t *testing.T) {
	flog := newFrameLog()
	s := logServer(t, flog)
	c, _, _ := apmClient(t, s.url(), map[string]bool{SwitchAPM: true})
	ctx := testCtx(t)
	if _, err := c.EnterRoom(ctx, EnterParams{RoomID: 1}); err != nil {
		t.Fatal(err)
	}
	tr, err := c.PublishAudio(ctx, newCounting(t, protocol.KindAudio))
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.SetMuted(ctx, true); err != nil {
		t.Fatal(err)
	}
	var events []string
	for !slices.Contains(events, eventMuteAudio) {
		rep := decodeReport(t, flog.wait(t, protocol.TypeTelemetry, nil))
		for _, e := range rep.Events {
			events = append(events, str(t, e, elEventType))
		}
		if rep.Quality != nil && rep.Quality[elRTT] == nil {
			t.Errorf("quality section without rtt: %v", rep.Quality)
		}
	}
	if !slices.Equal(events[:3], []string{eventEnterRoom, eventEnableAudio, eventMuteAudio}) {
		t.Errorf("events = %v", events)
	}
	if err := c.ExitRoom(ctx); err != nil {
		t.Fatal(err)
	}
	frames := flog.all()
	li := slices.IndexFunc(frames, func(e protocol.Envelope) bool { return e.Type == protocol.TypeLeave })
	var final protocol.TelemetryReport
	for i := li - 1; i >= 0; i-- {
		if frames[i].Type == protocol.TypeTelemetry {
			final = decodeReport(t, frames[i])
			break
		}
	}
	if len(final.Events) == 0 || str(t, final.Events[len(final.Events)-1], elEventType) != eventExitRoom {
		var types []protocol.Type
		for _, f := range frames {
			types = append(types, f.Type)
		}
		t.Errorf("the last report before leave = %+v, want the exit_room event; frames %v", final, types)
	}
	n := len(flog.ofType(protocol.TypeTelemetry))
	quiet := time.NewTimer(200 * time.Millisecond) // four periods
	<-quiet.C
	if got := len(flog.ofType(protocol.TypeTelemetry)); got != n {
		t.Errorf("%d telemetry frames outside a room", got-n)
	}
}

func TestTelemetryOffWithoutInitConfig(t *testing.T) {
	flog := newFrameLog()
	s := logServer(t, flog)
	c := newBareClient(t, s.url(), nil, nil, Listener{})
	c.telEvery = 10 * time.Millisecond
	consentAndInit(t, c)
	ctx := testCtx(t)
	if _, err := c.EnterRoom(ctx, EnterParams{RoomID: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PublishAudio(ctx, newCounting(t, protocol.KindAudio)); err != nil {
		t.Fatal(err)
	}
	quiet := time.NewTimer(100 * time.Millisecond)
	<-quiet.C
	if n := len(flog.ofType(protocol.TypeTelemetry)); n != 0 {
		t.Errorf("%d telemetry frames without ext.apm", n)
	}
}

func TestTelemetryWithoutQualityConsent(t *testing.T) {
	flog := newFrameLog()
	s := logServer(t, flog)
	ic := &InitConfig{AudioEnable: true, Switches: allSwitches()}
	c := newBareClient(t, s.url(), nil, ic, Listener{})
	c.telEvery = 20 * time.Millisecond
	calls := instrument(c, newFakeFS())
	if err := c.GrantConsent(testPolicyVersion, protocol.PurposeRTC); err != nil {
		t.Fatal(err)
	}
	if err := c.Init(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.EnterRoom(testCtx(t), EnterParams{RoomID: 1}); err != nil {
		t.Fatal(err)
	}
	rep := decodeReport(t, flog.wait(t, protocol.TypeTelemetry, nil))
	if rep.Quality != nil || rep.Streams != nil || rep.Events != nil {
		t.Errorf("quality-purpose sections without quality consent: %+v", rep)
	}
	for k := range rep.Device {
		if k != elSDKVersion && k != elOS && k != elOSVersion && k != elIPAddress {
			t.Errorf("%s sent without quality consent", k)
		}
	}
	for id, n := range calls {
		if n.Load() != 0 {
			t.Errorf("collector %s called without quality consent", id)
		}
	}
}

func TestRejectedFieldNotSentAgain(t *testing.T) {
	flog := newFrameLog()
	var refused atomic.Bool
	s := answeringServer(t, flog, func(fc *fakeConn, env protocol.Envelope) bool {
		if env.Type != protocol.TypeTelemetry || refused.Swap(true) {
			return false
		}
		fc.send(protocol.TypeError, env.ID, protocol.Error{Code: protocol.ErrCodeFieldRejected,
			Message: "telemetry: quality.cpu_system_pct: switched_off"})
		return true
	})
	c, _, _ := apmClient(t, s.url(), map[string]bool{SwitchAPM: true})
	if _, err := c.EnterRoom(testCtx(t), EnterParams{RoomID: 1}); err != nil {
		t.Fatal(err)
	}
	flog.wait(t, protocol.TypeTelemetry, nil)
	for range 3 {
		rep := decodeReport(t, flog.wait(t, protocol.TypeTelemetry, nil))
		if _, ok := rep.Quality[elCPUSystem]; ok {
			t.Fatal("a refused field was sent again")
		}
		if rep.Quality[elRTT] == nil {
			t.Fatalf("other fields dropped too: %v", rep.Quality)
		}
	}
	if got := rejectedField(`{"section":"device","field":"device.model","reason":"platform"}`); got != elModel {
		t.Errorf("rejectedField(JSON) = %q", got)
	}
	for msg, want := range map[string]string{
		"stream.width in streams: bad_value: out of range":                      elWidth,
		"device.os in device: bad_value: device.os_version-like value not enum": elOS,
		"quality.rtt_ms in quality: switched_off: switch ext.apm is off":        elRTT,
		"telemetry refused": "",
	} {
		if got := rejectedField(msg); got != want {
			t.Errorf("rejectedField(%q) = %q, want %q", msg, got, want)
		}
	}
}

// proves COLLECT-1
// proves COLLECT-4
func TestTelemetryKeysAreInventoryIDs(t *testing.T) {
	inv, err := inventory.Default()
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range telemetryElements() {
		el, ok := inv.Element(e.id)
		if !ok || el.Wire == nil {
			t.Errorf("%s is not a telemetry element of the inventory", e.id)
			continue
		}
		if el.Wire.Section != e.section || el.Switch != e.sw || el.Purpose != e.purpose || !el.OnPlatform(platformGo) {
			t.Errorf("%s: SDK %+v, inventory section %s switch %q purpose %s platforms %v",
				e.id, e, el.Wire.Section, el.Switch, el.Purpose, el.Platforms)
		}
	}
	// Every telemetry element declared for platform "go" is known to the SDK.
	for i := range inv.Elements {
		el := &inv.Elements[i]
		if el.Wire != nil && el.OnPlatform(platformGo) &&
			!slices.ContainsFunc(telemetryElements(), func(e element) bool { return e.id == el.ID }) {
			t.Errorf("inventory telemetry element %s unknown to the SDK", el.ID)
		}
	}
	// The switch ids are exactly the inventory's.
	var want []string
	for _, sw := range inv.Switches {
		if sw.ID != SwitchAudio && sw.ID != SwitchStreams {
			want = append(want, sw.ID)
		}
	}
	sort.Strings(want)
	if got := KnownSwitches(); !slices.Equal(got, want) {
		t.Errorf("KnownSwitches = %v\ninventory       %v", got, want)
	}
	for _, id := range optionalElements() {
		if el, ok := inv.Element(id); !ok || el.Switch != fieldPrefix+id {
			t.Errorf("optional element %s: inventory %+v", id, el)
		}
	}

	// A live report with everything on carries only inventory ids, each in
	// its section, each with a value the inventory's validator accepts.
	flog := newFrameLog()
	s := logServer(t, flog)
	c, fsys, _ := apmClient(t, s.url(), allSwitches())
	ctx := testCtx(t)
	if _, err := c.EnterRoom(ctx, EnterParams{RoomID: 1}); err != nil {
		t.Fatal(err)
	}
	tr, err := c.PublishVideo(ctx, newCounting(t, protocol.KindVideo), VideoOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.PublishAudio(ctx, newCounting(t, protocol.KindAudio)); err != nil {
		t.Fatal(err)
	}
	_ = tr.SetMuted(ctx, true)
	seen := map[string]bool{}
	check := func(section string, m map[string]json.RawMessage) {
		for k, v := range m {
			seen[section] = true
			el, ok := inv.Element(k)
			if !ok || el.Wire == nil || el.Wire.Section != section {
				t.Errorf("key %s in section %s is not declared there", k, section)
				continue
			}
			if _, err := el.ValidateValue(v); err != nil {
				t.Errorf("%s = %s: %v", k, v, err)
			}
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(seen) < 4 && time.Now().Before(deadline) {
		rep := decodeReport(t, flog.wait(t, protocol.TypeTelemetry, nil))
		check(protocol.SectionQuality, rep.Quality)
		check(protocol.SectionDevice, rep.Device)
		for _, m := range rep.Streams {
			check(protocol.SectionStreams, m)
		}
		for _, m := range rep.Events {
			check(protocol.SectionEvents, m)
		}
		for _, k := range []string{elBatteryPct, elScreenRes} {
			if _, sent := rep.Device[k]; sent {
				t.Errorf("%s sent, but it is not declared for platform go", k)
			}
		}
	}
	if len(seen) != 4 {
		t.Errorf("sections seen: %v", seen)
	}
	for _, p := range fsys.paths() {
		if strings.Contains(p, "power_supply") || strings.Contains(p, "drm") {
			t.Errorf("read %s: not declared for platform go", p)
		}
	}
}

// proves COLLECT-2
func TestTruncateIP(t *testing.T) {
	for _, tc := range []struct {
		in   string
		bits IPPrefixBits
		want string
	}{
		{"203.0.113.77", IPPrefixBits{}, "203.0.113.0/24"},
		{"10.1.2.3", IPPrefixBits{}, "10.1.2.0/24"},
		{"127.0.0.1", IPPrefixBits{}, "127.0.0.0/24"},
		{"203.0.113.77", IPPrefixBits{V4: 16}, "203.0.0.0/16"},
		{"203.0.113.77", IPPrefixBits{V4: 8}, "203.0.0.0/8"},
		{"203.0.113.77", IPPrefixBits{V4: 30}, "203.0.113.0/24"}, // never less strict
		{"::ffff:198.51.100.9", IPPrefixBits{}, "198.51.100.0/24"},
		{"2001:db8:1234:5678:9abc::1", IPPrefixBits{}, "2001:db8:1234::/48"},
		{"2001:db8:1234:5678:9abc::1", IPPrefixBits{V6: 32}, "2001:db8::/32"},
		{"2001:db8:1234:5678:9abc::1", IPPrefixBits{V6: 64}, "2001:db8:1234::/48"},
		{"fe80::1%eth0", IPPrefixBits{}, "fe80::/48"},
		{"::1", IPPrefixBits{}, "::/48"},
	} {
		got := truncateIP(netip.MustParseAddr(tc.in), tc.bits)
		if got.String() != tc.want {
			t.Errorf("truncateIP(%s, %+v) = %s, want %s", tc.in, tc.bits, got, tc.want)
		}
	}
	for _, bad := range []IPPrefixBits{{V4: 25}, {V6: 49}, {V4: -1}} {
		if _, err := New(Config{URL: "ws://x", SDKAppID: 1, UserID: "u", UserSig: "s", IPPrefixBits: bad}); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("IPPrefixBits %+v accepted", bad)
		}
	}
}
