package imgw

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/parley-rtc/parley/internal/im"
	"github.com/parley-rtc/parley/internal/store"
	"github.com/parley-rtc/parley/protocol"
)

// Conn is one logged-in messaging connection.
type Conn interface {
	// DeliverIM queues one encoded protocol.IMMessage. It must not block;
	// the connection batches queued messages into im_message frames.
	DeliverIM(msg []byte)
	// NotifyIM queues a server-to-client frame. It must not block.
	NotifyIM(t protocol.Type, data any)
}

// Members looks up a group's members (the IM service).
type Members interface {
	Members(ctx context.Context, app uint32, groupID string) ([]im.Member, error)
}

// Notice is one offline push: a message waiting for a device that is not
// connected. It names the message, never its content (the app's backend
// fetches what its notification shows).
type Notice struct {
	App      uint32
	User     string
	DeviceID string
	Vendor   string
	Token    string
	Conv     im.Conv
	Seq      int64
	Sender   string
	GroupID  string
	At       time.Time
}

// Pusher delivers offline pushes. The built-in one is a signed webhook to
// the app's backend; a vendor gateway (APNs, FCM …) implements the same
// interface.
type Pusher interface {
	Push(ctx context.Context, n Notice) error
}

// Config configures a Hub.
type Config struct {
	Members Members // required
	// Tokens and Pusher enable offline push; both or neither.
	Tokens store.IMPushStore
	Pusher Pusher
	// PushQueue bounds offline pushes waiting for the worker (default
	// 4096); beyond it pushes are dropped and counted.
	PushQueue  int
	Logger     *slog.Logger
	Registerer prometheus.Registerer
	Now        func() time.Time
}

type userKey struct {
	app  uint32
	user string
}

type groupKey struct {
	app   uint32
	group string
}

type memberCache struct {
	users []string
	gen   uint64
	valid bool
}

// Hub is the online registry and fan-out. Safe for concurrent use.
type Hub struct {
	cfg Config
	log *slog.Logger
	m   *metrics

	mu      sync.Mutex
	online  map[userKey]map[Conn]string // conn → device id
	members map[groupKey]*memberCache

	pushq     chan Notice
	stop      chan struct{}
	closeOnce sync.Once
	worker    sync.WaitGroup
}

// ErrNoPush means offline push is not configured.
var ErrNoPush = errors.New("imgw: offline push is not configured")

// New builds a Hub and starts its push worker; Close stops it.
func New(cfg Config) (*Hub, error) {
	if cfg.Members == nil {
		return nil, errors.New("imgw: Members is required")
	}
	if (cfg.Tokens == nil) != (cfg.Pusher == nil) {
		return nil, errors.New("imgw: Tokens and Pusher go together")
	}
	if cfg.PushQueue <= 0 {
		cfg.PushQueue = 4096
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	h := &Hub{
		cfg: cfg, log: cfg.Logger.With("component", "imgw"), m: newMetrics(cfg.Registerer),
		online: map[userKey]map[Conn]string{}, members: map[groupKey]*memberCache{},
		pushq: make(chan Notice, cfg.PushQueue), stop: make(chan struct{}),
	}
	h.worker.Add(1)
	go h.pushLoop()
	return h, nil
}

// Close stops the push worker after the queued pushes are handed to the
// Pusher (which, for the webhook pusher, makes them durable). Idempotent.
func (h *Hub) Close() {
	h.closeOnce.Do(func() { close(h.stop) })
	h.worker.Wait()
}

// Attach registers c as an online connection of (app, user).
func (h *Hub) Attach(app uint32, user, deviceID string, c Conn) {
	h.mu.Lock()
	k := userKey{app, user}
	if h.online[k] == nil {
		h.online[k] = map[Conn]string{}
	}
	h.online[k][c] = deviceID
	h.mu.Unlock()
	h.m.online.Inc()
}

// Detach removes c; the user is offline once its last connection is gone.
func (h *Hub) Detach(app uint32, user string, c Conn) {
	h.mu.Lock()
	k := userKey{app, user}
	conns := h.online[k]
	_, ok := conns[c]
	delete(conns, c)
	if len(conns) == 0 {
		delete(h.online, k)
	}
	h.mu.Unlock()
	if ok {
		h.m.online.Dec()
	}
}

// Online returns the user's connections.
func (h *Hub) Online(app uint32, user string) []Conn {
	h.mu.Lock()
	defer h.mu.Unlock()
	conns := h.online[userKey{app, user}]
	out := make([]Conn, 0, len(conns))
	for c := range conns {
		out = append(out, c)
	}
	return out
}

// RegisterToken stores a device's push token for the vendor chosen by
// VendorFor.
func (h *Hub) RegisterToken(ctx context.Context, t store.IMPushToken) error {
	if h.cfg.Tokens == nil {
		return ErrNoPush
	}
	t.RegisteredAt = h.cfg.Now()
	return h.cfg.Tokens.PutIMPushToken(ctx, t)
}

// Logout forgets the device's push token: no push reaches a device after
// an explicit logout (REFERENCE.md §2).
func (h *Hub) Logout(ctx context.Context, app uint32, user, deviceID string) error {
	if h.cfg.Tokens == nil || deviceID == "" {
		return nil
	}
	_, err := h.cfg.Tokens.DeleteIMPushTokens(ctx, app, user, deviceID)
	return err
}

// Publish implements the IM service's Publish hook.
func (h *Hub) Publish(ev im.Event) {
	switch ev.Kind {
	case im.EventMessage:
		h.PublishBatch([]im.Event{ev}) // a batch of one: the same delivery path
	case im.EventRecall:
		h.notify(ev, protocol.TypeIMRecalled, Wire(ev.Message, nil, ""))
	case im.EventRead:
		h.notify(ev, protocol.TypeIMReceipt, protocol.IMReceipt{Conv: string(ev.Conv), User: ev.User, ReadSeq: ev.ReadSeq})
	case im.EventMembership:
		h.publishMembership(ev)
	}
}

// Wire is the protocol form of a record; body, if set, is the encoded
// elements (saving an encode).
func Wire(r im.Record, body []byte, clientMsgID string) protocol.IMMessage {
	m := protocol.IMMessage{Conv: string(r.Conv), Seq: r.Seq, Sender: r.Sender, At: r.At.UnixMilli(),
		ClientMsgID: clientMsgID, CloudCustomData: r.CloudCustomData, NeedReadReceipt: r.NeedReadReceipt,
		Recalled: r.Recalled, RecalledBy: r.RecalledBy, Erased: r.Erased}
	switch {
	case body != nil:
		m.Elements = body
	case len(r.Elements) > 0:
		if b, err := im.EncodeElements(r.Elements); err == nil {
			m.Elements = b
		}
	}
	return m
}

// recipients returns the users an event concerns: C2C peers, or the
// group's members (cached).
func (h *Hub) recipients(ev im.Event) []string {
	if gid, ok := ev.Conv.Group(); ok {
		return h.groupMembers(ev.App, gid)
	}
	if a, b, ok := ev.Conv.Peers(); ok {
		return []string{a, b}
	}
	return nil
}

func (h *Hub) groupMembers(app uint32, gid string) []string {
	k := groupKey{app, gid}
	h.mu.Lock()
	c := h.members[k]
	if c == nil {
		c = &memberCache{}
		h.members[k] = c
	}
	if c.valid {
		users := c.users
		h.mu.Unlock()
		return users
	}
	gen := c.gen
	h.mu.Unlock()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	ms, err := h.cfg.Members.Members(ctx, app, gid)
	cancel()
	if err != nil {
		h.log.Warn("imgw: group members lookup failed", "sdkappid", app, "cause", im.Cause(err))
		return nil
	}
	users := make([]string, len(ms))
	for i, m := range ms {
		users[i] = m.UserID
	}
	h.mu.Lock()
	// A membership change while we read invalidated the generation: keep
	// the answer for this event only.
	if c.gen == gen {
		c.users, c.valid = users, true
	}
	h.mu.Unlock()
	return users
}

// imChunkBytes bounds the messages handed to a connection in one
// DeliverIM: the connection's frame (32 KiB of messages) takes one or two.
const imChunkBytes = 16 << 10

// PublishBatch implements the IM service's PublishBatch hook: the
// messages of one group commit, encoded once each and coalesced per
// connection, so a member of a busy group gets one frame for many
// messages (one write and one read instead of one per message).
func (h *Hub) PublishBatch(evs []im.Event) {
	type chunk struct{ buf []byte }
	per := map[Conn]*chunk{}
	var order []Conn // first-seen order, for deterministic flushing
	delivered := 0
	for _, ev := range evs {
		if ev.Kind != im.EventMessage {
			h.Publish(ev)
			continue
		}
		b, users := h.encode(ev)
		if b == nil {
			continue
		}
		var offline []string // push candidates: recipients without a connection, never the sender
		h.mu.Lock()
		for _, u := range users {
			conns := h.online[userKey{ev.App, u}]
			if len(conns) == 0 && u != ev.Message.Sender {
				offline = append(offline, u)
			}
			for c := range conns {
				ch := per[c]
				if ch == nil {
					ch = &chunk{}
					per[c] = ch
					order = append(order, c)
				}
				if len(ch.buf) > 0 && len(ch.buf)+1+len(b) > imChunkBytes {
					c.DeliverIM(ch.buf) // non-blocking enqueue
					ch.buf = nil
				}
				if len(ch.buf) > 0 {
					ch.buf = append(ch.buf, ',')
				}
				ch.buf = append(ch.buf, b...)
				delivered++
			}
		}
		h.mu.Unlock()
		h.queuePushes(ev, offline)
	}
	for _, c := range order {
		if buf := per[c].buf; len(buf) > 0 {
			c.DeliverIM(buf)
		}
	}
	h.m.delivered.Add(float64(delivered))
}

// encode encodes a message event once and returns it with its
// recipients.
func (h *Hub) encode(ev im.Event) ([]byte, []string) {
	w := Wire(ev.Message, ev.Body, ev.ClientMsgID)
	w.Live = ev.GroupType == im.AVChatRoom
	b, err := json.Marshal(w)
	if err != nil {
		h.log.Error("imgw: encode message", "err", err)
		return nil, nil
	}
	return b, h.recipients(ev)
}

// queuePushes hands offline recipients to the push worker. AVChatRoom has
// no offline push (it keeps no history either).
func (h *Hub) queuePushes(ev im.Event, offline []string) {
	if h.cfg.Pusher == nil || ev.GroupType == im.AVChatRoom {
		return
	}
	gid, _ := ev.Conv.Group()
	for _, u := range offline {
		n := Notice{App: ev.App, User: u, Conv: ev.Conv, Seq: ev.Message.Seq, Sender: ev.Message.Sender, GroupID: gid, At: ev.Message.At}
		select {
		case h.pushq <- n:
		default:
			h.m.push.WithLabelValues("dropped").Inc()
			h.log.Warn("imgw: push queue full, push dropped", "sdkappid", ev.App)
		}
	}
}

// notify sends a frame to every online connection of the event's
// recipients.
func (h *Hub) notify(ev im.Event, t protocol.Type, data any) {
	users := h.recipients(ev)
	h.mu.Lock()
	var conns []Conn
	for _, u := range users {
		for c := range h.online[userKey{ev.App, u}] {
			conns = append(conns, c)
		}
	}
	h.mu.Unlock()
	for _, c := range conns {
		c.NotifyIM(t, data)
	}
}

func (h *Hub) publishMembership(ev im.Event) {
	k := groupKey{ev.App, ev.Group}
	h.mu.Lock()
	if c := h.members[k]; c != nil {
		c.gen++
		c.valid, c.users = false, nil
	}
	if ev.Change == im.ChangeDismissed {
		delete(h.members, k)
	}
	h.mu.Unlock()
	users := ev.Users
	if ev.Change != im.ChangeDismissed {
		// The members now, plus those who left (they learn they are out).
		users = append(append([]string(nil), ev.Users...), h.groupMembers(ev.App, ev.Group)...)
	}
	data := protocol.IMGroupEvent{GroupID: ev.Group, Event: ev.Change, Users: ev.Users}
	seen := map[string]bool{}
	h.mu.Lock()
	var conns []Conn
	for _, u := range users {
		if seen[u] {
			continue
		}
		seen[u] = true
		for c := range h.online[userKey{ev.App, u}] {
			conns = append(conns, c)
		}
	}
	h.mu.Unlock()
	for _, c := range conns {
		c.NotifyIM(protocol.TypeIMGroupEvent, data)
	}
}

// pushLoop hands offline pushes to the Pusher, one per registered device.
func (h *Hub) pushLoop() {
	defer h.worker.Done()
	for {
		select {
		case n := <-h.pushq:
			h.push(n)
		case <-h.stop:
			for {
				select {
				case n := <-h.pushq:
					h.push(n)
				default:
					return
				}
			}
		}
	}
}

func (h *Hub) push(n Notice) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tokens, err := h.cfg.Tokens.IMPushTokens(ctx, n.App, n.User)
	if err != nil {
		h.m.push.WithLabelValues("error").Inc()
		h.log.Warn("imgw: push token lookup failed", "sdkappid", n.App, "cause", im.Cause(err))
		return
	}
	for _, t := range tokens {
		n.DeviceID, n.Vendor, n.Token = t.DeviceID, t.Vendor, t.Token
		if err := h.cfg.Pusher.Push(ctx, n); err != nil {
			h.m.push.WithLabelValues("error").Inc()
			h.log.Warn("imgw: push failed", "sdkappid", n.App, "vendor", t.Vendor, "cause", im.Cause(err))
			continue
		}
		h.m.push.WithLabelValues("queued").Inc()
	}
}

type metrics struct {
	online    prometheus.Gauge
	delivered prometheus.Counter
	push      *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		online: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "parley", Subsystem: "im",
			Name: "online_connections", Help: "Connections logged in to messaging."}),
		delivered: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "parley", Subsystem: "im",
			Name: "delivered_total", Help: "Messages queued to online connections."}),
		push: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "parley", Subsystem: "im",
			Name: "push_total", Help: "Offline pushes by result (queued, error, dropped)."}, []string{"result"}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.online, m.delivered, m.push} {
			_ = reg.Register(c)
		}
	}
	return m
}
