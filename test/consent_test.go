package test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/parley-rtc/parley/protocol"
	parley "github.com/parley-rtc/parley/sdk/go"
)

// TestMaterialPolicyRequiresFreshConsent: after the app publishes a
// material policy version, a session with consent to an older version is
// refused with "consent required" until the user consents again
// (proves CONSENT-6); a non-material version changes nothing.
func TestMaterialPolicyRequiresFreshConsent(t *testing.T) {
	env := startServer(t)
	ctx := testCtx(t, 30*time.Second)
	publish := func(version string, material bool) {
		t.Helper()
		resp := env.rest(t, "PublishPolicy", map[string]any{"Version": version, "Material": material}, "")
		if resp["Error"] != nil {
			t.Fatalf("PublishPolicy %s: %v", version, resp["Error"])
		}
	}
	enter := func(c *parley.Client) error {
		_, err := c.EnterRoom(ctx, parley.EnterParams{RoomID: 12, Scene: protocol.SceneVideoCall})
		return err
	}
	publish("v1", false)
	alice := env.clientWith(t, "alice", parley.Config{}, "v1", protocol.PurposeRTC)
	if err := enter(alice); err != nil {
		t.Fatalf("consent to the current version: %v", err)
	}
	if err := alice.ExitRoom(ctx); err != nil {
		t.Fatal(err)
	}
	publish("v1.1", false)
	if err := enter(alice); err != nil {
		t.Fatalf("a non-material version must not require fresh consent: %v", err)
	}
	if err := alice.ExitRoom(ctx); err != nil {
		t.Fatal(err)
	}
	publish("v2", true)
	required := make(chan int, 1)
	bob := env.clientWith(t, "bob", parley.Config{Listener: parley.Listener{OnConsentRequired: func(code int, _ string) { required <- code }}}, "v1", protocol.PurposeRTC)
	err := enter(bob)
	if !errors.Is(err, parley.ErrConsentRequired) {
		t.Fatalf("join with consent to v1 after material v2: %v, want ErrConsentRequired", err)
	}
	if code := waitFor(t, ctx, required, "OnConsentRequired"); code != protocol.ErrCodeConsentRequired {
		t.Fatalf("OnConsentRequired code %d", code)
	}
	// The SDK closed its gate: nothing more goes out until fresh consent.
	if err := enter(bob); !errors.Is(err, parley.ErrConsentRequired) && !errors.Is(err, parley.ErrNotInitialized) {
		t.Fatalf("second attempt without fresh consent: %v", err)
	}
	if err := bob.GrantConsent("v2", protocol.PurposeRTC); err != nil {
		t.Fatal(err)
	}
	if err := bob.Init(ctx); err != nil {
		t.Fatal(err)
	}
	if err := enter(bob); err != nil {
		t.Fatalf("join after consenting to v2: %v", err)
	}
	// The refused v1 claim was not recorded; the v2 grant was (CONSENT-3).
	ledger := env.rest(t, "DescribeConsentLedger", map[string]any{"UserId": "bob"}, "")
	entries, _ := ledger["Entries"].([]any)
	if len(entries) != 1 || entries[0].(map[string]any)["PolicyVersion"] != "v2" {
		t.Fatalf("bob's ledger: %v, want one grant of v2", entries)
	}
}

// TestStopHaltsMediaAndTelemetryWithinOneSecond: Stop withdraws consent
// — the server records it, the user's media stops reaching others and no
// telemetry arrives after it, all within one second (proves CONSENT-5).
func TestStopHaltsMediaAndTelemetryWithinOneSecond(t *testing.T) {
	env := startServer(t)
	ctx := testCtx(t, 60*time.Second)
	initCfg := &parley.InitConfig{AudioEnable: true, Switches: map[string]bool{"ext.apm": true}}
	alice := env.clientWith(t, "alice", parley.Config{InitConfig: initCfg}, testPolicyVersion, protocol.PurposeRTC, protocol.PurposeQuality)
	got := newReceived()
	bob := env.client(t, "bob", parley.Listener{OnRemoteTrack: func(rt *parley.RemoteTrack) { rt.OnPacket(got.add) }})
	for _, c := range []*parley.Client{alice, bob} {
		if _, err := c.EnterRoom(ctx, parley.EnterParams{RoomID: 13, Scene: protocol.SceneVideoCall}); err != nil {
			t.Fatal(err)
		}
	}
	publishClips(t, ctx, alice, false, true)
	for len(got.snapshot()) < 50 {
		waitFor(t, ctx, got.notify, "alice's audio at bob")
	}
	// Wait for alice's first telemetry report to be stored.
	qualityPoints := func() int {
		resp := env.rest(t, "DescribeCallQuality", map[string]any{"UserId": "alice", "Section": "quality",
			"StartTime": time.Now().Add(-time.Hour).Unix(), "EndTime": time.Now().Add(time.Hour).Unix()}, "")
		n, _ := resp["Total"].(float64)
		return int(n)
	}
	deadline := time.Now().Add(10 * time.Second)
	for qualityPoints() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no telemetry stored from alice")
		}
		waitFor(t, ctx, got.notify, "more audio while telemetry arrives")
	}

	start := time.Now()
	if err := alice.Stop(ctx); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if took := time.Since(start); took > time.Second {
		t.Fatalf("Stop took %v, want ≤ 1 s", took)
	}

	countAtStop := len(got.snapshot())
	// Nothing from alice may arrive after a short drain of packets
	// already in flight; listen for a full telemetry period and more.
	drain := time.NewTimer(2500 * time.Millisecond)
	<-drain.C
	if extra := len(got.snapshot()) - countAtStop; extra > 5 {
		t.Fatalf("%d packets of alice's audio reached bob after Stop", extra)
	}
	before := qualityPoints()
	later := time.NewTimer(2500 * time.Millisecond)
	<-later.C
	if after := qualityPoints(); after != before {
		t.Fatalf("telemetry kept arriving after Stop: %d → %d reports", before, after)
	}
	ledger := env.rest(t, "DescribeConsentLedger", map[string]any{"UserId": "alice"}, "")
	entries, _ := ledger["Entries"].([]any)
	if len(entries) == 0 || fmt.Sprint(entries[0].(map[string]any)["Action"]) != "withdraw" {
		t.Fatalf("the server did not record the withdrawal first: %v", entries)
	}
	if users, _ := env.srv.Rooms().Users(env.appID, protocol.RoomRef{ID: 13}); len(users) != 1 {
		t.Fatalf("room after Stop: %v, want only bob", users)
	}
	// Init without fresh consent fails; the gate stays closed.
	if err := alice.Init(context.Background()); !errors.Is(err, parley.ErrConsentRequired) {
		t.Fatalf("Init after Stop without fresh consent: %v", err)
	}
}

// TestServerEnforcesMinorsAndSwitchesOnRawClients: a client that skips
// the SDK's own checks gets the same answers from the server — a minor
// without a guardian-consent reference is refused (proves MINOR-1 server
// side), and a telemetry field whose switch is off is refused with its
// name (proves SWITCH-3 server side), as is a medium whose switch is off.
func TestServerEnforcesMinorsAndSwitchesOnRawClients(t *testing.T) {
	env := startServer(t)
	ctx := testCtx(t, 20*time.Second)
	join := func(raw *rawConn, user string, claim *protocol.ConsentClaim, switches map[string]bool) {
		b, _ := protocol.Encode(protocol.TypeJoin, 1, protocol.JoinRequest{
			SDKAppID: env.appID, UserID: user, UserSig: env.userSig(t, user), RoomID: 30, Scene: protocol.SceneVideoCall,
			DeviceID: "raw-" + user, Platform: "go", Consent: claim, Switches: switches,
		})
		raw.write(ctx, websocket.MessageText, b)
	}
	claim := func(ageBand, guardian string) *protocol.ConsentClaim {
		return &protocol.ConsentClaim{PolicyVersion: testPolicyVersion, Purposes: []string{protocol.PurposeRTC, protocol.PurposeQuality},
			Method: protocol.ConsentMethodSDK, GrantedAt: time.Now().UnixMilli(), AgeBand: ageBand, GuardianRef: guardian}
	}

	minor := dialRaw(t, ctx, env)
	join(minor, "kid", claim(protocol.AgeBandMinor, ""), nil)
	minor.expectError(ctx, protocol.ErrCodeGuardianRequired, "guardian")

	// A minor with a guardian's consent gets in, with every optional
	// field forced off whatever the client claims.
	guarded := dialRaw(t, ctx, env)
	join(guarded, "kid2", claim(protocol.AgeBandMinor, "guardian-ref-42"), map[string]bool{"ext.apm": true, "field.device.model": true})
	guarded.next(ctx, protocol.TypeJoined)
	guarded.write(ctx, websocket.MessageText, []byte(`{"type":"telemetry","id":2,"data":{"seq":1,"at":1,"device":{"device.model":"X1"}}}`))
	guarded.expectError(ctx, protocol.ErrCodeFieldRejected, "device.model")

	adult := dialRaw(t, ctx, env)
	join(adult, "grown", claim(protocol.AgeBandAdult, ""), map[string]bool{"ext.apm": true})
	adult.next(ctx, protocol.TypeJoined)
	adult.write(ctx, websocket.MessageText, []byte(`{"type":"telemetry","id":3,"data":{"seq":1,"at":1,"quality":{"quality.rtt_ms":12},"device":{"device.cpu":"x86"}}}`))
	adult.expectError(ctx, protocol.ErrCodeFieldRejected, "device.cpu")
	adult.write(ctx, websocket.MessageText, []byte(`{"type":"telemetry","id":4,"data":{"seq":2,"at":2,"quality":{"quality.rtt_ms":12}}}`))
	if ok := adult.next(ctx, protocol.TypeOK); ok.ID != 4 {
		t.Fatalf("a valid report was not accepted: %+v", ok)
	}
	// audio_enable is absent from this join: audio is refused.
	adult.write(ctx, websocket.MessageText, []byte(`{"type":"publish","id":5,"data":{"track_id":"a","kind":"audio"}}`))
	adult.expectError(ctx, protocol.ErrCodeFieldRejected, "audio_enable")
}
