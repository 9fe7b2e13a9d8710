package test

import (
	"bytes"
	"fmt"
	"log/slog"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/parley-rtc/parley/internal/privacy/inventory"
	"github.com/parley-rtc/parley/protocol"
	parley "github.com/parley-rtc/parley/sdk/go"
)

// receivedFields asks the dashboard API which telemetry fields the server
// stored for a user.
func receivedFields(t *testing.T, env *testEnv, user string) map[string]bool {
	t.Helper()
	resp := env.rest(t, "DescribeCallQuality", map[string]any{"UserId": user,
		"StartTime": time.Now().Add(-time.Hour).Unix(), "EndTime": time.Now().Add(time.Hour).Unix()}, "")
	pts, _ := resp["Points"].([]any)
	out := map[string]bool{}
	for _, p := range pts {
		fields, _ := p.(map[string]any)["fields"].(map[string]any)
		for k := range fields {
			out[k] = true
		}
	}
	return out
}

// allowedFields is what the inventory lets a Go client with these
// switches and purposes send.
func allowedFields(inv *inventory.Inventory, switches map[string]bool, purposes ...string) map[string]bool {
	consented := map[string]bool{}
	for _, p := range purposes {
		consented[p] = true
	}
	out := map[string]bool{}
	for i := range inv.Elements {
		e := &inv.Elements[i]
		if e.Wire == nil || !e.OnPlatform("go") || !consented[e.Purpose] {
			continue
		}
		if sw := inv.SwitchFor(e.ID); sw != "" && !switches[sw] {
			continue
		}
		out[e.ID] = true
	}
	return out
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestSwitchMatrix runs a real call for each switch configuration and
// compares what the server stored with what the inventory and the
// switches allow: nothing outside it ever arrives, the core fields do,
// every switched-off field is absent, and with every optional switch off
// the call still works (proves COLLECT-5, SWITCH-1, SWITCH-2, SWITCH-3).
// Afterwards no stored byte and no log line holds the client's full IP
// address, only its /24 prefix (proves COLLECT-2).
func TestSwitchMatrix(t *testing.T) {
	var logs syncBuffer
	env := startServerWithLogger(t, slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo})))
	ctx := testCtx(t, 90*time.Second)
	inv, err := inventory.Default()
	if err != nil {
		t.Fatal(err)
	}
	allFields := map[string]bool{"ext.apm": true}
	for _, sw := range parley.KnownSwitches() {
		if strings.HasPrefix(sw, "field.") {
			allFields[sw] = true
		}
	}
	configs := []struct {
		name     string
		switches map[string]bool
	}{
		{"everything optional off", map[string]bool{}},
		{"apm on, no optional fields", map[string]bool{"ext.apm": true}},
		{"apm on, device model and network type", map[string]bool{"ext.apm": true, "field.device.model": true, "field.network.type": true}},
		{"apm on, every optional field", allFields},
	}
	listener := newReceived()
	viewer := env.client(t, "viewer", parley.Listener{OnRemoteTrack: func(rt *parley.RemoteTrack) { rt.OnPacket(listener.add) }})
	if _, err := viewer.EnterRoom(ctx, parley.EnterParams{RoomID: 21, Scene: protocol.SceneVideoCall}); err != nil {
		t.Fatal(err)
	}
	purposes := []string{protocol.PurposeRTC, protocol.PurposeQuality}
	for i, c := range configs {
		user := fmt.Sprintf("matrix%d", i)
		cl := env.clientWith(t, user, parley.Config{InitConfig: &parley.InitConfig{AudioEnable: true, Switches: c.switches}}, testPolicyVersion, purposes...)
		if _, err := cl.EnterRoom(ctx, parley.EnterParams{RoomID: 21, Scene: protocol.SceneVideoCall}); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		publishClips(t, ctx, cl, false, true)
		// The call works: audio reaches the viewer.
		for start := len(listener.snapshot()); len(listener.snapshot()) < start+50; {
			waitFor(t, ctx, listener.notify, c.name+": audio at the viewer")
		}
		// One telemetry period and a margin.
		wait := time.NewTimer(2600 * time.Millisecond)
		<-wait.C
		if err := cl.ExitRoom(ctx); err != nil {
			t.Fatal(err)
		}
		got := receivedFields(t, env, user)
		allowed := allowedFields(inv, c.switches, purposes...)
		for f := range got {
			if !allowed[f] {
				t.Errorf("%s: the server stored %s, which these switches do not allow", c.name, f)
			}
		}
		if !c.switches["ext.apm"] {
			if len(got) != 0 {
				t.Errorf("%s: telemetry stored with the APM extension off: %v", c.name, keys(got))
			}
			continue
		}
		for _, must := range []string{"quality.rtt_ms", "quality.down_loss_pct", "sdk.version", "device.os", "network.ip_address", "event.type"} {
			if !got[must] {
				t.Errorf("%s: %s missing; stored %v", c.name, must, keys(got))
			}
		}
		for sw := range allFields {
			field := strings.TrimPrefix(sw, "field.")
			if strings.HasPrefix(sw, "field.") && !c.switches[sw] && got[field] {
				t.Errorf("%s: %s stored though its switch is off", c.name, field)
			}
		}
		if c.switches["field.network.type"] && !got["network.type"] {
			t.Errorf("%s: network.type switched on but not received", c.name)
		}
	}

	// COLLECT-2: the client's address appears nowhere in full.
	clientIP := []byte("127.0.0.1")
	if f := dataDirContains(t, env.dataDir, clientIP); f != "" {
		t.Errorf("a full client IP address is stored in %s", f)
	}
	// The truncated prefix is stored (device facts are sealed under the
	// user's key on disk, so it is read back through the API).
	if !strings.Contains(fmt.Sprint(env.rest(t, "DescribeCallQuality", map[string]any{"UserId": "matrix1",
		"StartTime": time.Now().Add(-time.Hour).Unix(), "EndTime": time.Now().Add(time.Hour).Unix()}, "")), "127.0.0.0/24") {
		t.Error("the truncated prefix 127.0.0.0/24 was not stored: the check above proved nothing")
	}
	// The server's own listen addresses are logged at start; any other
	// occurrence of the address would be a client's.
	scrubbed := bytes.ReplaceAll(logs.Bytes(), []byte(env.srv.HTTPAddr()), nil)
	scrubbed = bytes.ReplaceAll(scrubbed, []byte(env.srv.UDPAddr().String()), nil)
	if loc := regexp.MustCompile(`127\.0\.0\.1`).FindIndex(scrubbed); loc != nil {
		t.Errorf("a log line holds a full client IP: …%s…", scrubbed[max(0, loc[0]-80):min(len(scrubbed), loc[1]+40)])
	}
}
