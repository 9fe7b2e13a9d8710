package test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/parley-rtc/parley/protocol"
	parley "github.com/parley-rtc/parley/sdk/go"
)

// rawConn is a bare WebSocket speaking the protocol by hand.
type rawConn struct {
	t    *testing.T
	conn *websocket.Conn
}

func dialRaw(t *testing.T, ctx context.Context, env *testEnv) *rawConn {
	t.Helper()
	c, _, err := websocket.Dial(ctx, env.srv.SignalURL(), nil)
	if err != nil {
		t.Fatal(err)
	}
	c.SetReadLimit(1 << 20)
	t.Cleanup(func() { _ = c.CloseNow() })
	return &rawConn{t: t, conn: c}
}

func (r *rawConn) write(ctx context.Context, typ websocket.MessageType, b []byte) {
	r.t.Helper()
	if err := r.conn.Write(ctx, typ, b); err != nil {
		r.t.Fatalf("write: %v", err)
	}
}

// next reads frames until one of type want arrives (events such as
// user_enter may come first).
func (r *rawConn) next(ctx context.Context, want protocol.Type) protocol.Envelope {
	r.t.Helper()
	for {
		_, b, err := r.conn.Read(ctx)
		if err != nil {
			r.t.Fatalf("read while waiting for %s: %v", want, err)
		}
		env, err := protocol.DecodeEnvelope(b)
		if err != nil {
			r.t.Fatalf("server sent a bad frame: %v", err)
		}
		if env.Type == want {
			return env
		}
	}
}

func (r *rawConn) expectError(ctx context.Context, code int, contains string) {
	r.t.Helper()
	env := r.next(ctx, protocol.TypeError)
	var e protocol.Error
	if err := json.Unmarshal(env.Data, &e); err != nil {
		r.t.Fatal(err)
	}
	if e.Code != code || !strings.Contains(e.Message, contains) {
		r.t.Fatalf("error (%d, %q), want (%d, …%q…)", e.Code, e.Message, code, contains)
	}
}

// TestMalformedFramesLeaveServerAndRoomUnharmed: a client in the room
// sends garbage, an oversized frame, unknown types, binary data and
// misspelt fields; each gets a precise error reply, its own session goes
// on (ping still answered), and a call in the same room keeps flowing.
func TestMalformedFramesLeaveServerAndRoomUnharmed(t *testing.T) {
	env := startServer(t)
	ctx := testCtx(t, 45*time.Second)

	// A running call: alice publishes audio, bob receives it.
	got := newReceived()
	bob := env.client(t, "bob", parley.Listener{OnRemoteTrack: func(rt *parley.RemoteTrack) { rt.OnPacket(got.add) }})
	alice := env.client(t, "alice", parley.Listener{})
	for _, c := range []*parley.Client{alice, bob} {
		if _, err := c.EnterRoom(ctx, parley.EnterParams{RoomID: 99, Scene: protocol.SceneVideoCall}); err != nil {
			t.Fatal(err)
		}
	}
	publishClips(t, ctx, alice, false, true)
	waitFor(t, ctx, got.notify, "audio at bob")

	// The attacker joins the same room over a raw connection.
	raw := dialRaw(t, ctx, env)
	join, _ := protocol.Encode(protocol.TypeJoin, 1, protocol.JoinRequest{
		SDKAppID: env.appID, UserID: "mallory", UserSig: env.userSig(t, "mallory"), RoomID: 99, Scene: protocol.SceneVideoCall,
		DeviceID: "raw-device-1", Consent: &protocol.ConsentClaim{PolicyVersion: "2025-09-11", Purposes: []string{protocol.PurposeRTC},
			Method: protocol.ConsentMethodSDK, GrantedAt: time.Now().UnixMilli()},
	})
	raw.write(ctx, websocket.MessageText, join)
	raw.next(ctx, protocol.TypeJoined)

	bad := []struct {
		typ      websocket.MessageType
		frame    string
		code     int
		contains string
	}{
		{websocket.MessageText, `{"type":`, protocol.ErrCodeBadRequest, "malformed frame"},
		{websocket.MessageText, `not json at all`, protocol.ErrCodeBadRequest, "malformed frame"},
		{websocket.MessageText, `{"type":"self_destruct"}`, protocol.ErrCodeUnknownType, "unknown frame type"},
		{websocket.MessageText, `{"type":"joined","data":{}}`, protocol.ErrCodeUnknownType, "server-to-client"},
		{websocket.MessageText, `{"type":"publish","id":5,"data":{"track_id":"a","kind":"smell"}}`, protocol.ErrCodeBadRequest, `kind: "smell"`},
		{websocket.MessageText, `{"type":"mute","data":{"kind":"audio","mutd":true}}`, protocol.ErrCodeBadRequest, `unknown field "mutd"`},
		{websocket.MessageText, `{"type":"offer","data":{"type":"offer","sdp":"v=0 garbage"}}`, protocol.ErrCodeNegotiationFailed, ""},
		{websocket.MessageText, `{"type":"join","data":{}}`, protocol.ErrCodeSDKAppIDInvalid, "sdkappid"},
		{websocket.MessageBinary, "\x00\x01\x02", protocol.ErrCodeBadRequest, "binary frames"},
		{websocket.MessageText, `{"type":"ping","data":"` + strings.Repeat("A", protocol.MaxFrameBytes) + `"}`, protocol.ErrCodeBadRequest, "frame too large"},
	}
	for _, b := range bad {
		raw.write(ctx, b.typ, []byte(b.frame))
		raw.expectError(ctx, b.code, b.contains)
	}
	// The attacker's own session is still usable.
	raw.write(ctx, websocket.MessageText, []byte(`{"type":"ping","id":42}`))
	if pong := raw.next(ctx, protocol.TypePong); pong.ID != 42 {
		t.Fatalf("pong id %d, want 42", pong.ID)
	}
	// The call in the room kept flowing.
	before := len(got.snapshot())
	for len(got.snapshot()) < before+25 {
		waitFor(t, ctx, got.notify, "audio at bob after the malformed frames")
	}
	// A frame past the hard read limit closes only the offender's
	// connection; the server accepts new clients afterwards.
	// The server may close (1009) before the client finishes writing, so
	// the write itself may fail with a reset; either way the connection
	// must end, with 1009 when the close frame arrived first.
	if werr := raw.conn.Write(ctx, websocket.MessageText, []byte(strings.Repeat("x", 2<<20))); werr == nil {
		_, _, err := raw.conn.Read(ctx)
		if err == nil {
			t.Fatal("the connection survived a 2 MiB frame")
		}
		if st := websocket.CloseStatus(err); st != -1 && st != websocket.StatusMessageTooBig {
			t.Fatalf("after a 2 MiB frame: close %v, want 1009", st)
		}
	}
	carol := env.client(t, "carol", parley.Listener{})
	if _, err := carol.EnterRoom(ctx, parley.EnterParams{RoomID: 99, Scene: protocol.SceneVideoCall}); err != nil {
		t.Fatalf("join after the attack: %v", err)
	}
}

// TestSignalRateLimit: a connection flooding frames gets -4007 replies.
func TestSignalRateLimit(t *testing.T) {
	env := startServer(t)
	ctx := testCtx(t, 20*time.Second)
	raw := dialRaw(t, ctx, env)
	// burst 100 + 50/s: 400 pings in a tight loop must hit the limit.
	for i := 0; i < 400; i++ {
		raw.write(ctx, websocket.MessageText, []byte(`{"type":"ping"}`))
	}
	raw.expectError(ctx, protocol.ErrCodeRateLimited, "too many frames")
}
