package parley

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/parley-rtc/parley/protocol"
)

// SDKVersion is sent in join requests.
const SDKVersion = "parley-go/0.1"

// Config configures a Client.
type Config struct {
	// URL of the signaling endpoint, e.g. ws://host:7880/v1/signal.
	URL      string
	SDKAppID uint32
	UserID   string
	UserSig  string
	// Transport carries all network traffic; nil uses NewDefaultTransport.
	Transport Transport
	// Logger receives SDK logs; nil discards them. User IDs are never logged.
	Logger   *slog.Logger
	Listener Listener
	// StatsInterval is the OnStatistics period; zero means 2 s as in TRTC.
	StatsInterval time.Duration
	// Reconnect bounds the backoff between reconnect attempts; zero values
	// mean 250 ms initial and 10 s maximum.
	ReconnectInitial, ReconnectMax time.Duration
}

// EnterParams names the room to enter (TRTCParams).
type EnterParams struct {
	RoomID        uint32
	StrRoomID     string
	Scene         protocol.Scene
	Role          protocol.Role // required in live scenes; anchor otherwise
	PrivateMapKey string
}

// Client is one user's connection to a Parley server: one room at a time,
// with a publisher and a subscriber PeerConnection. Methods are safe for
// concurrent use.
type Client struct {
	cfg  Config
	log  *slog.Logger
	tr   Transport
	api  *webrtc.API
	disp dispatcher

	mu         sync.Mutex
	closed     bool
	room       *EnterParams // nil when not in a room
	role       protocol.Role
	sess       *session // nil while reconnecting
	tracks     map[string]*LocalTrack
	roomCancel context.CancelFunc
	superDone  chan struct{}
}

// New validates cfg and builds a client. It opens no connection and sends
// nothing: the network is first used by EnterRoom (CONSENT-1: a consent
// gate wraps cfg.Transport, so nothing reaches the network before it).
func New(cfg Config) (*Client, error) {
	if !strings.HasPrefix(cfg.URL, "ws://") && !strings.HasPrefix(cfg.URL, "wss://") {
		return nil, fmt.Errorf("%w: URL %q is not ws:// or wss://", ErrInvalidConfig, cfg.URL)
	}
	if cfg.SDKAppID == 0 || cfg.UserSig == "" {
		return nil, fmt.Errorf("%w: SDKAppID and UserSig are required", ErrInvalidConfig)
	}
	if err := protocol.ValidateUserID(cfg.UserID); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	if cfg.StatsInterval <= 0 {
		cfg.StatsInterval = 2 * time.Second
	}
	if cfg.ReconnectInitial <= 0 {
		cfg.ReconnectInitial = 250 * time.Millisecond
	}
	if cfg.ReconnectMax < cfg.ReconnectInitial {
		cfg.ReconnectMax = max(10*time.Second, cfg.ReconnectInitial)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	tr := cfg.Transport
	if tr == nil {
		dt, err := NewDefaultTransport()
		if err != nil {
			return nil, err
		}
		tr = dt
	}
	api, err := newAPI(tr, log)
	if err != nil {
		return nil, err
	}
	return &Client{cfg: cfg, log: log, tr: tr, api: api, tracks: make(map[string]*LocalTrack)}, nil
}

// UserID returns the configured user id.
func (c *Client) UserID() string { return c.cfg.UserID }

// EnterRoom joins a room and returns the join time in ms (TRTC
// onEnterRoom's result, also delivered to Listener.OnEnterRoom). A refusal
// by the server is a *ServerError carrying the negative TRTC code.
func (c *Client) EnterRoom(ctx context.Context, p EnterParams) (int64, error) {
	req := c.joinRequest(p)
	if err := req.Validate(); err != nil {
		return 0, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	p.Role = req.Role
	c.mu.Lock()
	switch {
	case c.closed:
		c.mu.Unlock()
		return 0, ErrClosed
	case c.room != nil:
		c.mu.Unlock()
		return 0, ErrAlreadyInRoom
	}
	c.room = &p // reserve: a concurrent EnterRoom now fails fast
	c.mu.Unlock()

	s, res, err := c.connect(ctx, p)
	if err != nil {
		c.mu.Lock()
		c.room = nil
		c.mu.Unlock()
		return 0, err
	}
	roomCtx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	c.mu.Lock()
	c.sess, c.role, c.roomCancel, c.superDone = s, res.Role, cancel, done
	c.mu.Unlock()
	s.start(res, nil)
	go c.supervise(roomCtx, s, done)
	c.emit(func(l *Listener) {
		if l.OnEnterRoom != nil {
			l.OnEnterRoom(res.Result)
		}
	})
	return res.Result, nil
}

func (c *Client) joinRequest(p EnterParams) protocol.JoinRequest {
	return protocol.JoinRequest{
		SDKAppID: c.cfg.SDKAppID, UserID: c.cfg.UserID, UserSig: c.cfg.UserSig,
		RoomID: p.RoomID, StrRoomID: p.StrRoomID, Scene: p.Scene, Role: p.Role,
		PrivateMapKey: p.PrivateMapKey, SDKVersion: SDKVersion,
	}
}

// connect dials, joins and builds both PeerConnections; on success the
// session is ready but its loops are not started.
func (c *Client) connect(ctx context.Context, p EnterParams) (*session, protocol.JoinResponse, error) {
	var res protocol.JoinResponse
	conn, err := c.tr.DialSignal(ctx, c.cfg.URL)
	if err != nil {
		return nil, res, err
	}
	sig := newSignaler(conn, c.log)
	env, err := sig.request(ctx, protocol.TypeJoin, c.joinRequest(p))
	if err == nil {
		err = protocol.DecodeData(env, &res)
	}
	if err == nil && env.Type != protocol.TypeJoined {
		err = fmt.Errorf("%w: join answered with %q", ErrProtocol, env.Type)
	}
	if err != nil {
		sig.close()
		return nil, res, err
	}
	s, err := newSession(c, sig, res.Role)
	if err != nil {
		sig.close()
		return nil, res, err
	}
	return s, res, nil
}

// ExitRoom leaves the room: local tracks stop, the server is told with
// `leave`, both PeerConnections close and Listener.OnExitRoom(0) fires.
func (c *Client) ExitRoom(ctx context.Context) error {
	c.mu.Lock()
	if c.room == nil || c.roomCancel == nil {
		c.mu.Unlock()
		return ErrNotInRoom
	}
	cancel, done := c.roomCancel, c.superDone
	c.roomCancel = nil
	c.mu.Unlock()

	// Stop the supervisor first so no reconnect races the leave.
	cancel()
	<-done
	c.mu.Lock()
	s := c.sess
	c.mu.Unlock()
	var err error
	if s != nil {
		err = s.leave(ctx)
	}
	c.endRoom()
	c.emit(func(l *Listener) {
		if l.OnExitRoom != nil {
			l.OnExitRoom(protocol.ExitReasonLeft)
		}
	})
	return err
}

// endRoom tears down the current session and stops all local tracks.
func (c *Client) endRoom() {
	c.mu.Lock()
	s, tracks := c.sess, c.tracks
	c.sess, c.room, c.roomCancel = nil, nil, nil
	c.tracks = make(map[string]*LocalTrack)
	c.mu.Unlock()
	if s != nil {
		s.teardown()
	}
	for _, t := range tracks {
		t.stop()
	}
}

// Close leaves the room if in one and waits for pending callbacks. Do not
// call it from a Listener callback.
func (c *Client) Close() error {
	c.mu.Lock()
	c.closed = true
	in := c.room != nil && c.roomCancel != nil
	c.mu.Unlock()
	var err error
	if in {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err = c.ExitRoom(ctx)
		cancel()
		if errors.Is(err, ErrNotInRoom) {
			err = nil
		}
	}
	c.disp.wait()
	return err
}

// SwitchRole changes the role in a live scene. Switching to audience
// unpublishes local tracks on the server; the SDK stops them too.
func (c *Client) SwitchRole(ctx context.Context, role protocol.Role) error {
	if !role.Valid() {
		return fmt.Errorf("%w: role %d", ErrInvalidConfig, role)
	}
	s, err := c.session()
	if err != nil {
		return err
	}
	if _, err := s.sig.request(ctx, protocol.TypeSwitchRole, protocol.SwitchRole{Role: role}); err != nil {
		return err
	}
	c.mu.Lock()
	c.role = role
	if c.room != nil {
		c.room.Role = role
	}
	var stopped []*LocalTrack
	if !role.CanPublish() {
		for id, t := range c.tracks {
			stopped = append(stopped, t)
			delete(c.tracks, id)
		}
	}
	c.mu.Unlock()
	for _, t := range stopped {
		s.removeSender(t.id)
		t.stop()
	}
	if len(stopped) > 0 {
		return s.negotiate(ctx)
	}
	return nil
}

// SetLayer asks the server to forward simulcast layer rid ("q", "h" or
// "f") of a remote user's video track.
func (c *Client) SetLayer(ctx context.Context, userID, trackID, rid string) error {
	s, err := c.session()
	if err != nil {
		return err
	}
	_, err = s.sig.request(ctx, protocol.TypeSetLayer, protocol.SetLayer{UserID: userID, TrackID: trackID, Layer: rid})
	return err
}

// session returns the live session or why there is none.
func (c *Client) session() (*session, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.room == nil:
		return nil, ErrNotInRoom
	case c.sess == nil:
		return nil, fmt.Errorf("%w: reconnecting", ErrConnectionLost)
	}
	return c.sess, nil
}

// emit queues a listener callback.
func (c *Client) emit(f func(l *Listener)) {
	c.disp.post(func() { f(&c.cfg.Listener) })
}

func (c *Client) emitError(err error) {
	c.log.Warn("parley: error", "err", err)
	c.emit(func(l *Listener) {
		if l.OnError != nil {
			l.OnError(err)
		}
	})
}
