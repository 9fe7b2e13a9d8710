package test

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/parley-rtc/parley/protocol"
	parley "github.com/parley-rtc/parley/sdk/go"
)

type customMsg struct {
	user  string
	cmdID int
	seq   uint64
	data  []byte
}

// TestCustomSignaling: with the RTS extension switched on and consent to
// "signaling", custom messages reach the other participants in order with
// their sequence numbers and exact data; with the switch off the SDK
// refuses before sending and the server refuses what arrives anyway
// (proves SWITCH-3); size and rate limits are TRTC's.
func TestCustomSignaling(t *testing.T) {
	env := startServer(t)
	ctx := testCtx(t, 30*time.Second)
	rts := parley.Config{InitConfig: &parley.InitConfig{Switches: map[string]bool{parley.SwitchRTS: true}}}
	got := make(chan customMsg, 64)
	alice := env.clientWith(t, "alice", rts, testPolicyVersion, protocol.PurposeRTC, protocol.PurposeSignaling)
	bobCfg := rts
	bobCfg.Listener = parley.Listener{OnRecvCustomCmdMsg: func(u string, id int, seq uint64, d []byte) {
		got <- customMsg{u, id, seq, bytes.Clone(d)}
	}}
	bob := env.clientWith(t, "bob", bobCfg, testPolicyVersion, protocol.PurposeRTC, protocol.PurposeSignaling)
	plain := env.client(t, "carol", parley.Listener{})
	for _, c := range []*parley.Client{alice, bob, plain} {
		if _, err := c.EnterRoom(ctx, parley.EnterParams{RoomID: 44, Scene: protocol.SceneVideoCall}); err != nil {
			t.Fatal(err)
		}
	}
	for i := 1; i <= 3; i++ {
		if err := alice.SendCustomCmdMsg(ctx, i, []byte(fmt.Sprintf("stroke-%d", i)), true, true); err != nil {
			t.Fatal(err)
		}
	}
	for i := 1; i <= 3; i++ {
		m := waitFor(t, ctx, got, "a custom message at bob")
		if m.user != "alice" || m.cmdID != i || m.seq != uint64(i) || string(m.data) != fmt.Sprintf("stroke-%d", i) {
			t.Fatalf("message %d: %+v", i, m)
		}
	}
	if err := plain.SendCustomCmdMsg(ctx, 1, []byte("x"), true, true); !errors.Is(err, parley.ErrSwitchOff) {
		t.Fatalf("send with ext.rts off: %v, want ErrSwitchOff", err)
	}
	if err := alice.SendCustomCmdMsg(ctx, 11, []byte("x"), true, true); err == nil {
		t.Fatal("cmd_id 11 accepted")
	}
	if err := alice.SendCustomCmdMsg(ctx, 1, bytes.Repeat([]byte("x"), 1025), true, true); err == nil {
		t.Fatal("a 1025-byte message accepted")
	}

	// A raw client with the switch off is refused by the server.
	raw := dialRaw(t, ctx, env)
	join, _ := protocol.Encode(protocol.TypeJoin, 1, protocol.JoinRequest{
		SDKAppID: env.appID, UserID: "mallory", UserSig: env.userSig(t, "mallory"), RoomID: 44, Scene: protocol.SceneVideoCall,
		DeviceID: "raw-mallory", Consent: &protocol.ConsentClaim{PolicyVersion: testPolicyVersion,
			Purposes: []string{protocol.PurposeRTC, protocol.PurposeSignaling}, Method: protocol.ConsentMethodSDK, GrantedAt: time.Now().UnixMilli()},
	})
	raw.write(ctx, websocket.MessageText, join)
	raw.next(ctx, protocol.TypeJoined)
	raw.write(ctx, websocket.MessageText, []byte(`{"type":"custom_cmd","id":2,"data":{"cmd_id":1,"data":"aGk="}}`))
	raw.expectError(ctx, protocol.ErrCodeFieldRejected, "rts.message")

	// Rate: past 30 messages in a burst the server says to slow down.
	var limited error
	for i := 0; i < 40 && limited == nil; i++ {
		limited = alice.SendCustomCmdMsg(ctx, 2, []byte("burst"), true, true)
	}
	var se *parley.ServerError
	if !errors.As(limited, &se) || se.Code != protocol.ErrCodeRateLimited || !strings.Contains(se.Message, "30 per second") {
		t.Fatalf("40 messages in a burst: %v, want -4007", limited)
	}
}
