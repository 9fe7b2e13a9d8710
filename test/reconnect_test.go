package test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/parley-rtc/parley/protocol"
	parley "github.com/parley-rtc/parley/sdk/go"
)

// cuttableTransport is the real transport whose signaling connections the
// test can cut, as a network change would.
type cuttableTransport struct {
	parley.Transport
	mu    sync.Mutex
	conns []parley.SignalConn
}

func (c *cuttableTransport) DialSignal(ctx context.Context, url string) (parley.SignalConn, error) {
	conn, err := c.Transport.DialSignal(ctx, url)
	if err == nil {
		c.mu.Lock()
		c.conns = append(c.conns, conn)
		c.mu.Unlock()
	}
	return conn, err
}

// cut closes every signaling connection dialled so far.
func (c *cuttableTransport) cut() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, conn := range c.conns {
		_ = conn.Close()
	}
	c.conns = nil
}

// TestReconnectAfterSignalingDrop: when a subscriber's signaling
// connection drops, the SDK reconnects by itself, re-enters the room and
// receives the publisher's media again; the others see it leave with the
// timeout reason and come back.
func TestReconnectAfterSignalingDrop(t *testing.T) {
	env := startServer(t)
	ctx := testCtx(t, 60*time.Second)
	base, err := parley.NewDefaultTransport()
	if err != nil {
		t.Fatal(err)
	}
	tr := &cuttableTransport{Transport: base}

	aliceEvents := make(chan string, 16)
	alice := env.client(t, "alice", parley.Listener{
		OnRemoteUserEnter: func(u string) { aliceEvents <- "enter:" + u },
		OnRemoteUserLeave: func(u string, r int) { aliceEvents <- "leave:" + u + ":" + string(rune('0'+r)) },
	})
	if _, err := alice.EnterRoom(ctx, parley.EnterParams{RoomID: 66, Scene: protocol.SceneVideoCall}); err != nil {
		t.Fatal(err)
	}
	publishClips(t, ctx, alice, false, true)

	tracks := make(chan *parley.RemoteTrack, 4)
	lost, recovered := make(chan struct{}, 1), make(chan struct{}, 1)
	bob, err := parley.New(parley.Config{
		URL: env.srv.SignalURL(), SDKAppID: env.appID, UserID: "bob", UserSig: env.userSig(t, "bob"),
		Transport: tr, Logger: testLogger().With("client", "bob"),
		ReconnectInitial: 50 * time.Millisecond, ReconnectMax: 500 * time.Millisecond,
		Listener: parley.Listener{
			OnRemoteTrack:        func(rt *parley.RemoteTrack) { tracks <- rt },
			OnConnectionLost:     func() { lost <- struct{}{} },
			OnConnectionRecovery: func() { recovered <- struct{}{} },
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = bob.Close() })
	if err := bob.GrantConsent("2025-09-11", protocol.PurposeRTC); err != nil {
		t.Fatal(err)
	}
	if err := bob.Init(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := bob.EnterRoom(ctx, parley.EnterParams{RoomID: 66, Scene: protocol.SceneVideoCall}); err != nil {
		t.Fatal(err)
	}
	if e := waitFor(t, ctx, aliceEvents, "bob's entry"); e != "enter:bob" {
		t.Fatalf("alice saw %q", e)
	}
	first := waitFor(t, ctx, tracks, "alice's audio at bob")
	if _, err := first.ReadRTP(ctx); err != nil {
		t.Fatal(err)
	}

	tr.cut()
	waitFor(t, ctx, lost, "OnConnectionLost")
	waitFor(t, ctx, recovered, "OnConnectionRecovery")
	if e := waitFor(t, ctx, aliceEvents, "bob leaving"); e != "leave:bob:1" {
		t.Fatalf("alice saw %q, want bob leaving with reason 1 (timeout)", e)
	}
	if e := waitFor(t, ctx, aliceEvents, "bob re-entering"); e != "enter:bob" {
		t.Fatalf("alice saw %q, want bob entering again", e)
	}
	again := waitFor(t, ctx, tracks, "alice's audio at bob after the reconnect")
	for i := 0; i < 25; i++ {
		if _, err := again.ReadRTP(ctx); err != nil {
			t.Fatalf("reading after the reconnect: %v", err)
		}
	}
	users, err := env.srv.Rooms().Users(env.appID, protocol.RoomRef{ID: 66})
	if err != nil || len(users) != 2 {
		t.Fatalf("room after reconnect: %v %v, want alice and bob once each", users, err)
	}
}
