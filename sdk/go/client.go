package parley

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
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

	// InitConfig is the seed-000 init configuration (ParseInitConfig):
	// audio only with "audio_enable": 1, video only for the streams
	// "streams_config" lists, APM telemetry only with "ext.apm", each
	// optional device fact only with its "field.*" switch. nil means no
	// init config: audio and video are sent exactly when the app calls
	// PublishAudio / PublishVideo, and every extension and optional field
	// is off.
	InitConfig *InitConfig
	// DeviceIDFile, when set, persists the random install id across runs
	// (created at Init, mode 0600). Empty: a fresh id per Client.
	DeviceIDFile string
	// IPPrefixBits makes the on-device IP truncation stricter than the
	// default /24 (IPv4) and /48 (IPv6) (COLLECT-2).
	IPPrefixBits IPPrefixBits
}

// IPPrefixBits are the prefix lengths the SDK keeps of the device's IP
// address before reporting it. Zero means the default (24 and 48);
// larger values than the defaults are refused, so the truncation can only
// get stricter.
type IPPrefixBits struct {
	V4, V6 int
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
	gate *gate // every network operation goes through it
	api  *webrtc.API
	disp dispatcher
	ic   *InitConfig // the client's copy of cfg.InitConfig; immutable

	// Device-fact collectors and the file access they use; tests
	// replace them to prove which are called.
	facts    []fact
	readFile func(string) ([]byte, error)
	glob     func(string) ([]string, error)
	telEvery time.Duration // telemetry period: 2 s (no frequency option, COLLECT-6)

	bg sync.WaitGroup // background room endings after a consent refusal

	mu               sync.Mutex
	closed           bool
	consent          *protocol.ConsentClaim // nil until GrantConsent; cleared by Stop and -4008
	ageBand          string
	guardianRef      string
	guardianRequired bool // the server answered -4010
	inited           bool // Init succeeded: the gate is open
	deviceID         string
	room             *EnterParams // nil when not in a room
	role             protocol.Role
	sess             *session // nil while reconnecting
	tracks           map[string]*LocalTrack
	roomCancel       context.CancelFunc
	superDone        chan struct{}
	tel              *telState // the room's telemetry state; nil unless ext.apm is on
	messengers       map[*Messenger]struct{}
}

// telemetryInterval is the APM report period.
const telemetryInterval = 2 * time.Second

// New validates cfg and builds a client. It opens no connection, sends
// nothing and reads nothing about the device: every network operation
// goes through an egress gate that wraps cfg.Transport and stays closed
// until GrantConsent and Init (CONSENT-1/2); the first socket is
// EnterRoom's.
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
	if cfg.IPPrefixBits.V4 < 0 || cfg.IPPrefixBits.V4 > defaultV4Bits ||
		cfg.IPPrefixBits.V6 < 0 || cfg.IPPrefixBits.V6 > defaultV6Bits {
		return nil, fmt.Errorf("%w: IPPrefixBits %+v: IPv4 0-%d, IPv6 0-%d (0 = default)", ErrInvalidConfig,
			cfg.IPPrefixBits, defaultV4Bits, defaultV6Bits)
	}
	var ic *InitConfig
	if cfg.InitConfig != nil {
		if err := cfg.InitConfig.Validate(); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
		}
		ic = cfg.InitConfig.clone()
		cfg.InitConfig = ic
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	// The gate builds the default transport only once it is open: even
	// enumerating the host's interfaces waits for consent.
	g := newGate(cfg.Transport)
	api, err := newAPI(g, log)
	if err != nil {
		return nil, err
	}
	return &Client{
		cfg: cfg, log: log, gate: g, api: api, ic: ic, tracks: make(map[string]*LocalTrack),
		facts: deviceFacts(), readFile: os.ReadFile, glob: filepath.Glob, telEvery: telemetryInterval,
	}, nil
}

// UserID returns the configured user id.
func (c *Client) UserID() string { return c.cfg.UserID }

// EnterRoom joins a room and returns the join time in ms (TRTC
// onEnterRoom's result, also delivered to Listener.OnEnterRoom). A refusal
// by the server is a *ServerError carrying the negative TRTC code.
//
// EnterRoom needs Init first (ErrNotInitialized, which also matches
// ErrConsentRequired when consent is missing). The join carries the
// device id, platform "go", the consent claim and the switches in force;
// a -4008 refusal closes the gate and returns ErrConsentRequired.
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
	if err := c.notReady(); err != nil {
		c.mu.Unlock()
		return 0, err
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
	raced := c.notReady()
	if c.closed {
		raced = ErrClosed
	}
	if raced != nil {
		// Stop, Close or a refusal raced the join.
		c.room = nil
		c.mu.Unlock()
		cancel()
		s.teardown()
		return 0, raced
	}
	c.sess, c.role, c.roomCancel, c.superDone = s, res.Role, cancel, done
	if c.switchOnLocked(SwitchAPM) {
		c.tel = newTelState()
		c.tel.event(eventEnterRoom, time.Now())
	}
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
	req := protocol.JoinRequest{
		SDKAppID: c.cfg.SDKAppID, UserID: c.cfg.UserID, UserSig: c.cfg.UserSig,
		RoomID: p.RoomID, StrRoomID: p.StrRoomID, Scene: p.Scene, Role: p.Role,
		PrivateMapKey: p.PrivateMapKey, SDKVersion: SDKVersion,
		Platform: platformGo,
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	req.DeviceID = c.deviceID
	if c.consent != nil {
		claim := *c.consent
		claim.Purposes = slices.Clone(claim.Purposes)
		claim.AgeBand, claim.GuardianRef = c.ageBand, c.guardianRef
		req.Consent = &claim
	}
	req.Switches = c.switchesLocked()
	return req
}

// platformGo is the Go SDK's platform in joins.
const platformGo = "go"

// connect dials, joins and builds both PeerConnections; on success the
// session is ready but its loops are not started.
func (c *Client) connect(ctx context.Context, p EnterParams) (*session, protocol.JoinResponse, error) {
	var res protocol.JoinResponse
	conn, err := c.gate.DialSignal(ctx, c.cfg.URL)
	if err != nil {
		return nil, res, err
	}
	sig := newSignaler(conn, c.log, c.mapRefusal)
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
func (c *Client) ExitRoom(ctx context.Context) error { return c.exitRoom(ctx, true) }

// exitRoom leaves the room; report sends the final exit_room telemetry
// event (not after a withdrawal).
func (c *Client) exitRoom(ctx context.Context, report bool) error {
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
	s, tel := c.sess, c.tel
	c.mu.Unlock()
	var err error
	if s != nil {
		s.stopTelemetry()
		if report && tel != nil {
			tel.event(eventExitRoom, time.Now())
			s.flushEvents(ctx, tel)
		}
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
	c.sess, c.room, c.roomCancel, c.tel = nil, nil, nil, nil
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
	c.inited = false
	c.gate.setOpen(false)
	in := c.room != nil && c.roomCancel != nil
	c.mu.Unlock()
	for _, m := range c.takeMessengers() {
		_ = m.Close()
	}
	var err error
	if in {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err = c.ExitRoom(ctx)
		cancel()
		if errors.Is(err, ErrNotInRoom) {
			err = nil
		}
	}
	c.bg.Wait()
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
