package parley

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/parley-rtc/parley/protocol"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func newTestClient(t *testing.T, url string, ev *events) *Client {
	t.Helper()
	c, err := New(Config{
		URL: url, SDKAppID: 1400000001, UserID: "alice", UserSig: "sig",
		StatsInterval: 200 * time.Millisecond, ReconnectInitial: 20 * time.Millisecond,
		ReconnectMax: 100 * time.Millisecond,
		Listener: Listener{
			OnEnterRoom:          func(r int64) { ev.add(fmt.Sprintf("enter %d", r)) },
			OnExitRoom:           func(r int) { ev.add(fmt.Sprintf("exit %d", r)) },
			OnRemoteUserEnter:    func(u string) { ev.add("user_enter " + u) },
			OnRemoteUserLeave:    func(u string, r int) { ev.add(fmt.Sprintf("user_leave %s %d", u, r)) },
			OnUserVideoAvailable: func(u string, a bool) { ev.add(fmt.Sprintf("video %s %v", u, a)) },
			OnUserAudioAvailable: func(u string, a bool) { ev.add(fmt.Sprintf("audio %s %v", u, a)) },
			OnConnectionLost:     func() { ev.add("lost") },
			OnConnectionRecovery: func() { ev.add("recovered") },
			OnError:              func(err error) { ev.add("error " + err.Error()) },
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	consentAndInit(t, c)
	return c
}

// testPolicyVersion is the policy version the tests consent to.
const testPolicyVersion = "2025-09-11"

// consentAndInit records consent for rtc and quality and initialises c.
func consentAndInit(t *testing.T, c *Client) {
	t.Helper()
	if err := c.GrantConsent(testPolicyVersion, protocol.PurposeRTC, protocol.PurposeQuality); err != nil {
		t.Fatal(err)
	}
	if err := c.Init(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestNewValidates(t *testing.T) {
	cases := []Config{
		{URL: "http://x", SDKAppID: 1, UserID: "a", UserSig: "s"},
		{URL: "ws://x", SDKAppID: 0, UserID: "a", UserSig: "s"},
		{URL: "ws://x", SDKAppID: 1, UserID: "bad id", UserSig: "s"},
	}
	for _, cfg := range cases {
		if _, err := New(cfg); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("New(%+v) = %v, want ErrInvalidConfig", cfg, err)
		}
	}
}

func TestEnterAndExitRoom(t *testing.T) {
	s := newFakeServer(t, nil)
	ev := newEvents()
	c := newTestClient(t, s.url(), ev)
	ctx := testCtx(t)
	ms, err := c.EnterRoom(ctx, EnterParams{RoomID: 123, Scene: protocol.SceneVideoCall})
	if err != nil || ms != 42 {
		t.Fatalf("EnterRoom = %d, %v", ms, err)
	}
	fc := s.next(t)
	if fc.join.RoomID != 123 || fc.join.UserID != "alice" || fc.join.Role != protocol.RoleAnchor {
		t.Errorf("join = %+v", fc.join)
	}
	ev.wait(t, "enter 42")
	if _, err := c.EnterRoom(ctx, EnterParams{RoomID: 1}); !errors.Is(err, ErrAlreadyInRoom) {
		t.Errorf("second EnterRoom = %v", err)
	}
	if err := c.ExitRoom(ctx); err != nil {
		t.Fatal(err)
	}
	fc.waitFrame(t, protocol.TypeLeave)
	ev.wait(t, "exit 0")
	if err := c.ExitRoom(ctx); !errors.Is(err, ErrNotInRoom) {
		t.Errorf("second ExitRoom = %v", err)
	}
}

func TestJoinRejected(t *testing.T) {
	s := newFakeServer(t, func(fc *fakeConn, env protocol.Envelope) bool {
		if env.Type != protocol.TypeJoin {
			return false
		}
		fc.send(protocol.TypeError, env.ID, protocol.Error{Code: protocol.ErrCodeUserSigInvalid, Message: "expired"})
		return true
	})
	c := newTestClient(t, s.url(), newEvents())
	_, err := c.EnterRoom(testCtx(t), EnterParams{StrRoomID: "room-1", Scene: protocol.SceneVideoCall})
	var se *ServerError
	if !errors.As(err, &se) || se.Code != -3320 {
		t.Fatalf("EnterRoom = %v, want ServerError -3320", err)
	}
	// The reservation is released: a later join may succeed.
	if _, err := c.EnterRoom(testCtx(t), EnterParams{RoomID: 1}); errors.Is(err, ErrAlreadyInRoom) {
		t.Fatal("room still reserved after a refused join")
	}
}

func TestInvalidEnterParams(t *testing.T) {
	c := newTestClient(t, "ws://127.0.0.1:1/v1/signal", newEvents())
	// Live scenes need a role; checked before any network use.
	_, err := c.EnterRoom(testCtx(t), EnterParams{RoomID: 1, Scene: protocol.SceneLive})
	if !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("EnterRoom = %v", err)
	}
}

func TestAudiencePublishRefused(t *testing.T) {
	s := newFakeServer(t, nil)
	c := newTestClient(t, s.url(), newEvents())
	ctx := testCtx(t)
	if _, err := c.EnterRoom(ctx, EnterParams{RoomID: 7, Scene: protocol.SceneLive, Role: protocol.RoleAudience}); err != nil {
		t.Fatal(err)
	}
	src, err := NewSyntheticSource(SyntheticOptions{Kind: protocol.KindVideo})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.PublishVideo(ctx, src, VideoOptions{})
	var se *ServerError
	if !errors.As(err, &se) || se.Code != protocol.ErrCodePublishNotAllowed {
		t.Fatalf("PublishVideo = %v, want -4004", err)
	}
	// The refused track is not kept for re-publishing.
	c.mu.Lock()
	n := len(c.tracks)
	c.mu.Unlock()
	if n != 0 {
		t.Errorf("%d tracks kept", n)
	}
}

func TestRoomEvents(t *testing.T) {
	s := newFakeServer(t, func(fc *fakeConn, env protocol.Envelope) bool {
		if env.Type != protocol.TypeJoin {
			return false
		}
		_ = protocol.DecodeData(env, &fc.join)
		fc.send(protocol.TypeJoined, env.ID, protocol.JoinResponse{Result: 5, Role: protocol.RoleAnchor,
			Participants: []protocol.ParticipantInfo{{UserID: "bob", Role: protocol.RoleAnchor,
				Tracks: []protocol.TrackInfo{{TrackID: "audio-main", UserID: "bob", Kind: protocol.KindAudio, StreamType: protocol.StreamMain}}}}})
		return true
	})
	ev := newEvents()
	c := newTestClient(t, s.url(), ev)
	if _, err := c.EnterRoom(testCtx(t), EnterParams{RoomID: 9}); err != nil {
		t.Fatal(err)
	}
	ev.wait(t, "user_enter bob")
	ev.wait(t, "audio bob true")
	fc := s.next(t)
	fc.send(protocol.TypeUserEnter, 0, protocol.ParticipantInfo{UserID: "carol", Role: protocol.RoleAnchor})
	ev.wait(t, "user_enter carol")
	fc.send(protocol.TypeAvailability, 0, protocol.Availability{UserID: "carol", Kind: protocol.KindVideo, StreamType: protocol.StreamMain, Available: true})
	ev.wait(t, "video carol true")
	fc.send(protocol.TypeUserLeave, 0, protocol.UserLeave{UserID: "carol", Reason: protocol.LeaveReasonKicked})
	ev.wait(t, "user_leave carol 2")
	fc.send(protocol.TypeError, 0, protocol.Error{Code: protocol.ErrCodeRateLimited, Message: "slow down"})
	ev.wait(t, "error parley: server refused (-4007): slow down")
}

func TestServerExitRoomDoesNotReconnect(t *testing.T) {
	for _, reason := range []int{1, 2, 3, 4} {
		t.Run(fmt.Sprint(reason), func(t *testing.T) {
			s := newFakeServer(t, nil)
			ev := newEvents()
			c := newTestClient(t, s.url(), ev)
			if _, err := c.EnterRoom(testCtx(t), EnterParams{RoomID: 9}); err != nil {
				t.Fatal(err)
			}
			fc := s.next(t)
			fc.send(protocol.TypeExitRoom, 0, protocol.ExitRoom{Reason: reason})
			ev.wait(t, fmt.Sprintf("exit %d", reason))
			if err := c.ExitRoom(testCtx(t)); !errors.Is(err, ErrNotInRoom) {
				t.Errorf("ExitRoom after server exit = %v", err)
			}
			select {
			case <-s.conns:
				t.Fatal("client reconnected after exit_room")
			case <-time.After(300 * time.Millisecond):
			}
		})
	}
}

func TestReconnectAfterDrop(t *testing.T) {
	s := newFakeServer(t, nil)
	ev := newEvents()
	c := newTestClient(t, s.url(), ev)
	ctx := testCtx(t)
	if _, err := c.EnterRoom(ctx, EnterParams{StrRoomID: "r", Scene: protocol.SceneVideoCall}); err != nil {
		t.Fatal(err)
	}
	first := s.next(t)
	first.ws.CloseNow() // abrupt drop, no exit_room
	ev.wait(t, "lost")
	second := s.next(t)
	ev.wait(t, "recovered")
	if second.join.StrRoomID != "r" || second.join.UserID != "alice" {
		t.Errorf("rejoin = %+v", second.join)
	}
	// Requests work on the new connection.
	if err := c.SetLayer(ctx, "bob", "video-main", "q"); err != nil {
		t.Fatal(err)
	}
	second.waitFrame(t, protocol.TypeSetLayer)
	if err := c.ExitRoom(ctx); err != nil {
		t.Fatal(err)
	}
	ev.wait(t, "exit 0")
}

func TestReconnectGivesUpOnFatalRefusal(t *testing.T) {
	var s *fakeServer
	s = newFakeServer(t, func(fc *fakeConn, env protocol.Envelope) bool {
		s.mu.Lock()
		n := s.joins
		s.mu.Unlock()
		if env.Type != protocol.TypeJoin || n == 0 {
			return false
		}
		fc.send(protocol.TypeError, env.ID, protocol.Error{Code: protocol.ErrCodeUserSigInvalid, Message: "expired"})
		return true
	})
	ev := newEvents()
	c := newTestClient(t, s.url(), ev)
	if _, err := c.EnterRoom(testCtx(t), EnterParams{RoomID: 3}); err != nil {
		t.Fatal(err)
	}
	s.next(t).ws.CloseNow()
	ev.wait(t, "lost")
	ev.wait(t, "exit 1")
}
