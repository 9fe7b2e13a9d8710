package parley

import (
	"context"
	crand "crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/parley-rtc/parley/protocol"
)

// ErrNotLoggedIn is returned by Messenger methods after Logout or Close.
var ErrNotLoggedIn = errors.New("parley: not logged in to messaging")

// IMMessage is a received, synced or paged message.
type IMMessage = protocol.IMMessage

// IMListener receives messaging events. Callbacks run on one goroutine, in
// order; they should return quickly.
type IMListener struct {
	// OnMessage delivers each message of a conversation exactly once and
	// in seq order — live, or caught up after a reconnect — except the
	// messages this Messenger sent itself.
	OnMessage func(m IMMessage)
	// OnRecalled delivers the tombstone of a recalled message.
	OnRecalled func(m IMMessage)
	// OnReceipt reports that user read conv up to readSeq.
	OnReceipt func(conv, user string, readSeq int64)
	// OnGroupEvent reports membership changes of the user's groups.
	OnGroupEvent func(ev protocol.IMGroupEvent)
	// OnSignal delivers a peer-to-peer custom signal (SendSignal).
	OnSignal func(from string, data []byte)
	// OnConnectionLost and OnConnectionRecovered bracket a reconnect;
	// the messages missed in between are delivered (through OnMessage,
	// in order) as the catch-up after recovery runs.
	OnConnectionLost      func()
	OnConnectionRecovered func()
	// OnError reports failures of the background sync.
	OnError func(err error)
}

// IMOptions configure LoginIM.
type IMOptions struct {
	Listener IMListener
	// Cursors are the last seq the app has already shown per
	// conversation (from Messenger.Cursors of an earlier run). A
	// conversation without one starts after the server's read cursor:
	// unread messages are delivered, read ones are history.
	Cursors map[string]int64
}

// Messenger is a logged-in messaging session on its own signaling
// connection (V2TIMManager). It reconnects by itself and then catches up
// by sequence number, so every message reaches OnMessage exactly once, in
// order. Methods are safe for concurrent use.
type Messenger struct {
	c   *Client
	l   IMListener
	ctx context.Context
	// cancel ends the supervisor; Logout and Close call it.
	cancel context.CancelFunc
	done   chan struct{}

	mu       sync.Mutex
	sig      *signaler     // nil while reconnecting
	ready    chan struct{} // closed when sig is set again
	loggedIn bool

	// The delivery state below belongs to the event loop goroutine;
	// cursorsMu guards the copy Cursors reads.
	convs     map[string]*convState
	cursorsMu sync.Mutex
	cursors   map[string]int64
	results   chan syncResult
	lists     chan []protocol.IMConversation
	ownIDs    *ownIDs
}

// convState is one conversation's delivery state: seen is the last seq
// delivered; held are pushed messages waiting for a gap to be filled.
type convState struct {
	seen    int64
	syncing bool
	held    map[int64]IMMessage
}

type syncResult struct {
	conv string
	msgs []IMMessage
	more bool
	err  error
}

// LoginIM logs in to messaging (purpose "im" must be among the consented
// purposes; Init first). It returns once the server accepted the login;
// the catch-up of missed messages runs in the background.
func (c *Client) LoginIM(ctx context.Context, opt IMOptions) (*Messenger, error) {
	if err := c.notReady(); err != nil {
		return nil, err
	}
	c.mu.Lock()
	ok := c.consent != nil && slices.Contains(c.consent.Purposes, protocol.PurposeIM)
	c.mu.Unlock()
	if !ok {
		// Nothing is sent for a purpose the user did not agree to.
		return nil, fmt.Errorf("%w: messaging needs purpose %q", ErrConsentRequired, protocol.PurposeIM)
	}
	mctx, cancel := context.WithCancel(context.Background())
	m := &Messenger{c: c, l: opt.Listener, ctx: mctx, cancel: cancel, done: make(chan struct{}),
		ready: make(chan struct{}), convs: map[string]*convState{}, cursors: map[string]int64{},
		results: make(chan syncResult, 16), lists: make(chan []protocol.IMConversation, 1), ownIDs: newOwnIDs(4096)}
	for conv, seq := range opt.Cursors {
		m.convs[conv] = &convState{seen: seq}
		m.cursors[conv] = seq
	}
	sig, err := m.dial(ctx)
	if err != nil {
		cancel()
		return nil, err
	}
	m.setSig(sig)
	m.loggedIn = true
	c.mu.Lock()
	if c.messengers == nil {
		c.messengers = map[*Messenger]struct{}{}
	}
	c.messengers[m] = struct{}{}
	c.mu.Unlock()
	go m.supervise(sig)
	return m, nil
}

// takeMessengers empties the client's set of Messengers and returns them.
func (c *Client) takeMessengers() []*Messenger {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]*Messenger, 0, len(c.messengers))
	for m := range c.messengers {
		out = append(out, m)
	}
	c.messengers = nil
	return out
}

// liveSig is the current connection, nil while reconnecting.
func (m *Messenger) liveSig() *signaler {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.sig
}

// dial connects and logs in.
func (m *Messenger) dial(ctx context.Context) (*signaler, error) {
	conn, err := m.c.gate.DialSignal(ctx, m.c.cfg.URL)
	if err != nil {
		return nil, err
	}
	sig := newSignaler(conn, m.c.log, m.c.mapRefusal)
	join := m.c.joinRequest(EnterParams{})
	login := protocol.IMLogin{SDKAppID: join.SDKAppID, UserID: join.UserID, UserSig: join.UserSig, SDKVersion: SDKVersion,
		DeviceID: join.DeviceID, Platform: join.Platform, Consent: join.Consent, Switches: join.Switches}
	env, err := sig.request(ctx, protocol.TypeIMLogin, login)
	if err == nil && env.Type != protocol.TypeIMLoggedIn {
		err = fmt.Errorf("%w: im_login answered with %q", ErrProtocol, env.Type)
	}
	if err != nil {
		sig.close()
		return nil, err
	}
	return sig, nil
}

func (m *Messenger) setSig(sig *signaler) {
	m.mu.Lock()
	m.sig = sig
	close(m.ready)
	m.mu.Unlock()
}

// current waits for a live connection.
func (m *Messenger) current(ctx context.Context) (*signaler, error) {
	for {
		m.mu.Lock()
		sig, ready, in := m.sig, m.ready, m.loggedIn
		m.mu.Unlock()
		switch {
		case !in && sig == nil:
			return nil, ErrNotLoggedIn
		case sig != nil:
			return sig, nil
		}
		select {
		case <-ready:
		case <-m.done:
			return nil, ErrNotLoggedIn
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// request sends an IM request on the current connection, waiting through
// a reconnect; with retry it resends after a connection loss (the
// request must be idempotent — sends are, by client message id).
func (m *Messenger) request(ctx context.Context, t protocol.Type, data any, out any, retry bool) error {
	for {
		sig, err := m.current(ctx)
		if err != nil {
			return err
		}
		env, err := sig.request(ctx, t, data)
		if errors.Is(err, ErrConnectionLost) && retry && ctx.Err() == nil {
			continue
		}
		if err != nil {
			return err
		}
		if out != nil && len(env.Data) > 0 {
			if err := json.Unmarshal(env.Data, out); err != nil {
				return fmt.Errorf("%w: %s reply: %w", ErrProtocol, t, err)
			}
		}
		return nil
	}
}

// supervise runs the event loop of each connection and reconnects.
func (m *Messenger) supervise(sig *signaler) {
	defer close(m.done)
	for {
		for _, cs := range m.convs {
			cs.syncing = false // a sync on the old connection is void
		}
		m.catchUp(sig)
		lost := m.eventLoop(sig)
		if !lost {
			return
		}
		m.mu.Lock()
		m.sig, m.ready = nil, make(chan struct{})
		m.mu.Unlock()
		sig.close()
		m.emit(func(l *IMListener) {
			if l.OnConnectionLost != nil {
				l.OnConnectionLost()
			}
		})
		next, err := m.redial()
		if err != nil {
			m.emitErr(err)
			m.mu.Lock()
			m.loggedIn = false
			close(m.ready)
			m.mu.Unlock()
			return
		}
		m.setSig(next)
		sig = next
		m.emit(func(l *IMListener) {
			if l.OnConnectionRecovered != nil {
				l.OnConnectionRecovered()
			}
		})
	}
}

// redial retries with capped exponential backoff and full jitter until it
// is logged in again, the Messenger ends, or the server refuses for good.
func (m *Messenger) redial() (*signaler, error) {
	backoff := m.c.cfg.ReconnectInitial
	for {
		t := time.NewTimer(backoff/2 + rand.N(backoff/2+1))
		select {
		case <-m.ctx.Done():
			t.Stop()
			return nil, ErrNotLoggedIn
		case <-t.C:
		}
		actx, cancel := context.WithTimeout(m.ctx, attemptTimeout)
		sig, err := m.dial(actx)
		cancel()
		if err == nil {
			return sig, nil
		}
		var se *ServerError
		if m.ctx.Err() != nil || errors.As(err, &se) && !retryable(se.Code) ||
			errors.Is(err, ErrConsentRequired) || errors.Is(err, ErrGuardianRequired) || errors.Is(err, ErrNotInitialized) {
			return nil, err
		}
		backoff = min(backoff*2, m.c.cfg.ReconnectMax)
	}
}

// eventLoop handles pushed frames and sync results until the connection
// ends; it reports whether the connection was lost (as opposed to the
// Messenger ending).
func (m *Messenger) eventLoop(sig *signaler) bool {
	for {
		select {
		case <-m.ctx.Done():
			return false
		case <-sig.done:
			// Deliver what was read before the loss.
			for {
				select {
				case in := <-sig.events:
					m.handle(sig, in)
				default:
					return m.ctx.Err() == nil
				}
			}
		case in := <-sig.events:
			m.handle(sig, in)
		case r := <-m.results:
			m.synced(sig, r)
		case list := <-m.lists:
			m.caughtUp(sig, list)
		}
	}
}

func (m *Messenger) handle(sig *signaler, in inbound) {
	env := in.Envelope
	switch env.Type {
	case protocol.TypeError:
		// Unsolicited: the server ended this login, because the user's
		// account was cancelled or their data deleted (-4008).
		// mapRefusal closes the consent gate, so the reconnect after the
		// socket closes stops at once instead of logging in again.
		m.emitErr(m.c.mapRefusal(decodeServerError(env)))
	case protocol.TypeIMMessage:
		msgs := in.msgs
		if msgs == nil && len(env.Data) > 0 { // a frame that took the general path
			var p struct {
				Messages []IMMessage `json:"messages"`
			}
			if err := json.Unmarshal(env.Data, &p); err != nil {
				m.emitErr(fmt.Errorf("%w: im_message: %w", ErrProtocol, err))
				return
			}
			msgs = p.Messages
		}
		for _, msg := range msgs {
			m.pushed(sig, msg)
		}
	case protocol.TypeIMRecalled:
		var msg IMMessage
		if json.Unmarshal(env.Data, &msg) == nil {
			m.emit(func(l *IMListener) {
				if l.OnRecalled != nil {
					l.OnRecalled(msg)
				}
			})
		}
	case protocol.TypeIMReceipt:
		var r protocol.IMReceipt
		if json.Unmarshal(env.Data, &r) == nil && r.User != m.c.cfg.UserID {
			m.emit(func(l *IMListener) {
				if l.OnReceipt != nil {
					l.OnReceipt(r.Conv, r.User, r.ReadSeq)
				}
			})
		}
	case protocol.TypeIMGroupEvent:
		var g protocol.IMGroupEvent
		if json.Unmarshal(env.Data, &g) == nil {
			m.emit(func(l *IMListener) {
				if l.OnGroupEvent != nil {
					l.OnGroupEvent(g)
				}
			})
		}
	case protocol.TypeIMSignal:
		var s protocol.IMSignalEvent
		if json.Unmarshal(env.Data, &s) == nil {
			m.emit(func(l *IMListener) {
				if l.OnSignal != nil {
					l.OnSignal(s.From, s.Data)
				}
			})
		}
	}
}

func (m *Messenger) conv(id string) *convState {
	cs := m.convs[id]
	if cs == nil {
		cs = &convState{}
		m.convs[id] = cs
	}
	return cs
}

// pushed takes a live message: delivered if it is the next one, dropped
// if already seen, held while the gap before it is synced.
func (m *Messenger) pushed(sig *signaler, msg IMMessage) {
	if msg.Live {
		m.deliver(msg) // AVChatRoom: no history to sync against
		return
	}
	cs := m.conv(msg.Conv)
	switch {
	case msg.Seq <= cs.seen:
		return
	case msg.Seq == cs.seen+1 && !cs.syncing:
		m.advance(cs, msg)
		m.drain(cs)
	default:
		if cs.held == nil {
			cs.held = map[int64]IMMessage{}
		}
		cs.held[msg.Seq] = msg
		m.startSync(sig, msg.Conv, cs)
	}
}

// advance delivers msg and moves the conversation's cursor.
func (m *Messenger) advance(cs *convState, msg IMMessage) {
	cs.seen = msg.Seq
	m.cursorsMu.Lock()
	m.cursors[msg.Conv] = msg.Seq
	m.cursorsMu.Unlock()
	if msg.Sender == m.c.cfg.UserID && m.ownIDs.has(msg.ClientMsgID) {
		return // this Messenger's own send, acknowledged to the caller
	}
	m.deliver(msg)
}

func (m *Messenger) deliver(msg IMMessage) {
	m.emit(func(l *IMListener) {
		if l.OnMessage != nil {
			l.OnMessage(msg)
		}
	})
}

// drain delivers held messages that now follow the cursor.
func (m *Messenger) drain(cs *convState) {
	for {
		msg, ok := cs.held[cs.seen+1]
		if !ok {
			break
		}
		delete(cs.held, msg.Seq)
		m.advance(cs, msg)
	}
	for seq := range cs.held {
		if seq <= cs.seen {
			delete(cs.held, seq)
		}
	}
}

// startSync fetches the conversation after its cursor off the event loop
// (which must keep reading: replies travel the same connection).
func (m *Messenger) startSync(sig *signaler, conv string, cs *convState) {
	if cs.syncing {
		return
	}
	cs.syncing = true
	after := cs.seen
	go func() {
		ctx, cancel := context.WithTimeout(m.ctx, attemptTimeout)
		defer cancel()
		var page protocol.IMMessages
		env, err := sig.request(ctx, protocol.TypeIMSync, protocol.IMSync{Conv: conv, AfterSeq: after, Limit: protocol.MaxIMPageSize})
		if err == nil {
			err = json.Unmarshal(env.Data, &page)
		}
		select {
		case m.results <- syncResult{conv: conv, msgs: page.Messages, more: page.More, err: err}:
		case <-sig.done:
		case <-m.ctx.Done():
		}
	}()
}

// synced applies a sync page on the event loop.
func (m *Messenger) synced(sig *signaler, r syncResult) {
	cs := m.conv(r.conv)
	cs.syncing = false
	if r.err != nil {
		m.emitErr(fmt.Errorf("parley: sync %s: %w", r.conv, r.err))
		return // the next push or reconnect retries
	}
	for _, msg := range r.msgs {
		if msg.Seq > cs.seen {
			// Seqs have no gaps; a jump means retention dropped the
			// messages before it.
			m.advance(cs, msg)
		}
	}
	m.drain(cs)
	if r.more || (len(cs.held) > 0 && len(r.msgs) > 0) {
		m.startSync(sig, r.conv, cs)
		return
	}
	if len(cs.held) > 0 {
		// The server has nothing between the cursor and what is held
		// (e.g. a retention drop): take the held messages in order.
		for _, seq := range slices.Sorted(maps.Keys(cs.held)) {
			m.advance(cs, cs.held[seq])
			delete(cs.held, seq)
		}
	}
}

// catchUp fetches the conversation list off the event loop; caughtUp then
// syncs every conversation with messages after the cursor, so after a
// (re)login what was missed is delivered in order.
func (m *Messenger) catchUp(sig *signaler) {
	go func() {
		ctx, cancel := context.WithTimeout(m.ctx, attemptTimeout)
		defer cancel()
		var list protocol.IMConversations
		env, err := sig.request(ctx, protocol.TypeIMConvs, nil)
		if err == nil {
			err = json.Unmarshal(env.Data, &list)
		}
		if err != nil {
			var se *ServerError
			loggedOut := errors.As(err, &se) && se.Code == protocol.ErrCodeNotLoggedIn // a Logout raced the list
			if m.ctx.Err() == nil && !errors.Is(err, ErrConnectionLost) && !loggedOut {
				m.emitErr(fmt.Errorf("parley: conversation list: %w", err))
			}
			return
		}
		select {
		case m.lists <- list.Conversations:
		case <-sig.done:
		case <-m.ctx.Done():
		}
	}()
}

func (m *Messenger) caughtUp(sig *signaler, list []protocol.IMConversation) {
	for _, c := range list {
		cs, known := m.convs[c.Conv]
		if !known {
			cs = &convState{seen: c.ReadSeq}
			m.convs[c.Conv] = cs
		}
		if c.LastSeq > cs.seen {
			m.startSync(sig, c.Conv, cs)
		}
	}
}

// Cursors returns the last seq delivered per conversation; pass it as
// IMOptions.Cursors to resume in a later run without duplicates.
func (m *Messenger) Cursors() map[string]int64 {
	m.cursorsMu.Lock()
	defer m.cursorsMu.Unlock()
	return maps.Clone(m.cursors)
}

func (m *Messenger) emit(f func(l *IMListener)) { f(&m.l) }

func (m *Messenger) emitErr(err error) {
	m.emit(func(l *IMListener) {
		if l.OnError != nil {
			l.OnError(err)
		}
	})
}

// Logout ends the login: the server forgets this device's push token
// (nothing is pushed to it afterwards) and the connection closes.
func (m *Messenger) Logout(ctx context.Context) error {
	m.mu.Lock()
	sig := m.sig
	in := m.loggedIn
	m.loggedIn = false
	m.mu.Unlock()
	if !in {
		return ErrNotLoggedIn
	}
	var err error
	if sig != nil {
		_, err = sig.request(ctx, protocol.TypeIMLogout, nil)
	}
	m.shutdown(sig)
	return err
}

// Close drops the connection without logging out: the device keeps its
// push token and gets offline pushes.
func (m *Messenger) Close() error {
	m.mu.Lock()
	sig := m.sig
	m.loggedIn = false
	m.mu.Unlock()
	m.shutdown(sig)
	return nil
}

func (m *Messenger) shutdown(sig *signaler) {
	m.c.mu.Lock()
	delete(m.c.messengers, m)
	m.c.mu.Unlock()
	m.cancel()
	<-m.done
	m.mu.Lock()
	if m.sig != nil {
		sig = m.sig
	}
	m.sig = nil
	m.mu.Unlock()
	if sig != nil {
		sig.close()
	}
}

// ownIDs remembers the client message ids this Messenger sent, so their
// echo from the server is not delivered as a new message. Bounded: the
// oldest ids are forgotten first.
type ownIDs struct {
	mu    sync.Mutex
	set   map[string]struct{}
	order []string
	max   int
}

func newOwnIDs(n int) *ownIDs { return &ownIDs{set: map[string]struct{}{}, max: n} }

func (o *ownIDs) add(id string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if _, ok := o.set[id]; ok {
		return
	}
	o.set[id] = struct{}{}
	o.order = append(o.order, id)
	if len(o.order) > o.max {
		delete(o.set, o.order[0])
		o.order = o.order[1:]
	}
}

func (o *ownIDs) has(id string) bool {
	if id == "" {
		return false
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	_, ok := o.set[id]
	return ok
}

// newClientMsgID is a random id for deduplicating retries.
func newClientMsgID() string { return "go-" + crand.Text() }
