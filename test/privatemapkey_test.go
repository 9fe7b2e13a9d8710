package test

import (
	"testing"
	"time"

	"github.com/parley-rtc/parley/internal/auth"
	"github.com/parley-rtc/parley/protocol"
	parley "github.com/parley-rtc/parley/sdk/go"
)

// TestPrivateMapKeyEnforced: with the app's PrivateMapKey switch on, a
// join needs a key for that user and room, and its privilege bits decide
// who may publish (REFERENCE.md §1.1).
func TestPrivateMapKeyEnforced(t *testing.T) {
	env := startServer(t)
	ctx := testCtx(t, 30*time.Second)
	a, err := env.srv.Apps().Get(ctx, env.appID)
	if err != nil {
		t.Fatal(err)
	}
	s := a.Settings
	s.EnforcePrivateMapKey = true
	if err := env.srv.Apps().UpdateSettings(ctx, env.appID, s); err != nil {
		t.Fatal(err)
	}
	room := protocol.RoomRef{ID: 500}
	pmk := func(user string, r protocol.RoomRef, priv auth.Privileges) string {
		k, err := auth.GeneratePrivateMapKey(env.appID, env.key, user, r, priv, 5*time.Minute, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	enter := func(c *parley.Client, key string) error {
		_, err := c.EnterRoom(ctx, parley.EnterParams{RoomID: room.ID, Scene: protocol.SceneVideoCall, PrivateMapKey: key})
		return err
	}

	alice := env.client(t, "alice", parley.Listener{})
	if code, msg := enterCode(t, enter(alice, "")); code != protocol.ErrCodePrivilegeDenied {
		t.Fatalf("no key: (%d %q), want %d", code, msg, protocol.ErrCodePrivilegeDenied)
	}
	if code, msg := enterCode(t, enter(alice, pmk("alice", protocol.RoomRef{Str: "500"}, auth.PrivAll))); code != protocol.ErrCodePrivilegeDenied {
		t.Fatalf("key for string room \"500\" used on numeric room 500: (%d %q)", code, msg)
	}
	if code, _ := enterCode(t, enter(alice, pmk("mallory", room, auth.PrivAll))); code != protocol.ErrCodePrivilegeDenied {
		t.Fatal("another user's key accepted")
	}
	if code, _ := enterCode(t, enter(alice, pmk("alice", room, auth.PrivSendAudio))); code != protocol.ErrCodePrivilegeDenied {
		t.Fatal("a key without the enter bit let alice in")
	}
	// 42 = enter + receive audio/video: a viewer.
	if err := enter(alice, pmk("alice", room, auth.PrivAudience)); err != nil {
		t.Fatalf("viewer key: %v", err)
	}
	src, err := parley.NewSyntheticSource(parley.SyntheticOptions{Kind: protocol.KindAudio})
	if err != nil {
		t.Fatal(err)
	}
	if code, _ := enterCode(t, func() error { _, err := alice.PublishAudio(ctx, src); return err }()); code != protocol.ErrCodePublishNotAllowed {
		t.Fatalf("publish with a viewer key: code %d, want %d", code, protocol.ErrCodePublishNotAllowed)
	}
	bob := env.client(t, "bob", parley.Listener{})
	if err := enter(bob, pmk("bob", room, auth.PrivEnterRoom|auth.PrivSendAudio)); err != nil {
		t.Fatal(err)
	}
	bobSrc, err := parley.NewSyntheticSource(parley.SyntheticOptions{Kind: protocol.KindAudio})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bob.PublishAudio(ctx, bobSrc); err != nil {
		t.Fatalf("publish audio with the send-audio bit: %v", err)
	}
	video, err := parley.NewSyntheticSource(parley.SyntheticOptions{Kind: protocol.KindVideo})
	if err != nil {
		t.Fatal(err)
	}
	if code, _ := enterCode(t, func() error { _, err := bob.PublishVideo(ctx, video, parley.VideoOptions{}); return err }()); code != protocol.ErrCodePublishNotAllowed {
		t.Fatalf("publish video without the send-video bit: code %d", code)
	}
}
