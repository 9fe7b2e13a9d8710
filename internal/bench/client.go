package bench

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parley-rtc/parley/internal/auth"
	"github.com/parley-rtc/parley/protocol"
	parley "github.com/parley-rtc/parley/sdk/go"
)

// userSigLifetime covers any bench run with a wide margin.
const userSigLifetime = 24 * time.Hour

// joinTimeout bounds one client's EnterRoom and, for a publisher, its
// publishing; a server that takes longer is broken, not slow.
const joinTimeout = 30 * time.Second

// client is one SDK client of the bench: a publisher or a subscriber.
// Every client also receives: publishers subscribe to each other.
type client struct {
	userID  string
	publish bool
	sdk     *parley.Client
	w       *window
	hist    histogram

	expect int           // remote tracks this client must receive
	ready  chan struct{} // closed when every expected track has a packet

	joinWall   time.Duration // EnterRoom as the client saw it
	joinResult int64         // EnterRoom's result: server-side join ms

	errCount atomic.Uint64 // asynchronous SDK errors (OnError)

	mu      sync.Mutex
	streams map[string]*stream // by publisher user id + "/" + track id
	warm    int
	errs    []error // the first few OnError errors, for diagnostics
}

func newClient(t target, o Options, w *window, userID string, publish bool, expect int) (*client, error) {
	sig, err := auth.GenerateUserSig(t.appID, t.key, userID, userSigLifetime, time.Now())
	if err != nil {
		return nil, fmt.Errorf("usersig for %s: %w", userID, err)
	}
	c := &client{
		userID: userID, publish: publish, w: w, expect: expect,
		ready: make(chan struct{}), streams: map[string]*stream{},
	}
	if expect == 0 {
		close(c.ready)
	}
	c.sdk, err = parley.New(parley.Config{
		URL: t.url, SDKAppID: t.appID, UserID: userID, UserSig: sig,
		Logger: o.Logger,
		Listener: parley.Listener{
			OnRemoteTrack: c.onRemoteTrack,
			OnError:       c.onError,
		},
	})
	if err != nil {
		return nil, fmt.Errorf("client %s: %w", userID, err)
	}
	return c, nil
}

// join enters the room (anchors publish, the audience only watches) and
// starts the client's synthetic sources.
func (c *client) join(ctx context.Context, roomID uint32, audioOnly bool) error {
	ctx, cancel := context.WithTimeout(ctx, joinTimeout)
	defer cancel()
	role := protocol.RoleAudience
	if c.publish {
		role = protocol.RoleAnchor
	}
	// The benchmark's synthetic users consent like any app's users must
	// before the SDK may touch the network (CONSENT-1).
	if err := c.sdk.GrantConsent("2025-09-11", protocol.PurposeRTC); err != nil {
		return fmt.Errorf("%w: %s: %w", ErrJoin, c.userID, err)
	}
	if err := c.sdk.Init(ctx); err != nil {
		return fmt.Errorf("%w: %s: %w", ErrJoin, c.userID, err)
	}
	start := time.Now()
	res, err := c.sdk.EnterRoom(ctx, parley.EnterParams{RoomID: roomID, Scene: protocol.SceneLive, Role: role})
	c.joinWall = time.Since(start)
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrJoin, c.userID, err)
	}
	c.joinResult = res
	if !c.publish {
		return nil
	}
	audio, err := parley.NewSyntheticSource(parley.SyntheticOptions{Kind: protocol.KindAudio})
	if err != nil {
		return fmt.Errorf("audio source: %w", err)
	}
	if _, err := c.sdk.PublishAudio(ctx, audio); err != nil {
		return fmt.Errorf("%w: %s publish audio: %w", ErrJoin, c.userID, err)
	}
	if audioOnly {
		return nil
	}
	// SDK defaults: VP8, 30 fps, 1,000-byte frames (one RTP packet each),
	// a keyframe every second.
	video, err := parley.NewSyntheticSource(parley.SyntheticOptions{Kind: protocol.KindVideo})
	if err != nil {
		return fmt.Errorf("video source: %w", err)
	}
	if _, err := c.sdk.PublishVideo(ctx, video, parley.VideoOptions{}); err != nil {
		return fmt.Errorf("%w: %s publish video: %w", ErrJoin, c.userID, err)
	}
	return nil
}

func (c *client) onRemoteTrack(rt *parley.RemoteTrack) {
	key := rt.UserID() + "/" + rt.TrackID()
	c.mu.Lock()
	st := c.streams[key]
	if st == nil {
		// A re-delivered track (after a renegotiation) keeps its stream,
		// so it is counted once for warm-up and its totals continue.
		st = &stream{w: c.w, hist: &c.hist, warm: c.streamWarm}
		c.streams[key] = st
	}
	c.mu.Unlock()
	rt.OnPacket(st.onPacket)
}

// streamWarm counts a stream's first packet and opens ready once every
// expected stream has delivered one.
func (c *client) streamWarm() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.warm++
	if c.warm == c.expect {
		close(c.ready)
	}
}

func (c *client) isReady() bool {
	select {
	case <-c.ready:
		return true
	default:
		return false
	}
}

func (c *client) onError(err error) {
	c.errCount.Add(1)
	c.mu.Lock()
	// Keep the first few: enough to explain a failure, bounded in memory.
	if len(c.errs) < 4 {
		c.errs = append(c.errs, err)
	}
	c.mu.Unlock()
}

func (c *client) snapshotStreams() []*stream {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]*stream, 0, len(c.streams))
	for _, s := range c.streams {
		out = append(out, s)
	}
	return out
}

// livePackets counts packets received in the window so far.
func (c *client) livePackets() uint64 {
	var n uint64
	for _, s := range c.snapshotStreams() {
		n += s.live.Load()
	}
	return n
}

func (c *client) close() error {
	return c.sdk.Close()
}
