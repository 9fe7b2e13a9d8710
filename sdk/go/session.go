package parley

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/pion/webrtc/v4"

	"github.com/parley-rtc/parley/protocol"
)

// session is one signaling connection with its two PeerConnections. A
// reconnect replaces the whole session; LocalTracks outlive it.
type session struct {
	c        *Client
	sig      *signaler
	pub, sub *peer
	ctx      context.Context
	cancel   context.CancelFunc
	wg       sync.WaitGroup

	leaving atomic.Bool // ExitRoom sent leave: no reconnect, no callback here

	mu       sync.Mutex
	closing  bool
	users    map[string]*protocol.ParticipantInfo // visible remote users
	avail    map[availKey]bool
	senders  map[string]*sender // local track id → sender on pub
	remotes  map[string]*RemoteTrack
	statPrev statsBaseline
	telPrev  statsBaseline // the telemetry loop's own baseline

	// The telemetry loop (only with ext.apm): stopTelemetry cancels it
	// and waits for telDone.
	telCancel  context.CancelFunc
	telDone    chan struct{}
	deviceSent bool // the device section went out on this connection
}

type availKey struct {
	user string
	kind protocol.Kind
	st   protocol.StreamType
}

func newSession(c *Client, sig *signaler, _ protocol.Role) (*session, error) {
	ctx, cancel := context.WithCancel(context.Background())
	s := &session{
		c: c, sig: sig, ctx: ctx, cancel: cancel,
		users:   make(map[string]*protocol.ParticipantInfo),
		avail:   make(map[availKey]bool),
		senders: make(map[string]*sender),
		remotes: make(map[string]*RemoteTrack),
	}
	var err error
	if s.pub, err = newPeer(c.api, protocol.TargetPublisher); err != nil {
		cancel()
		return nil, err
	}
	if s.sub, err = newPeer(c.api, protocol.TargetSubscriber); err != nil {
		_ = s.pub.close()
		cancel()
		return nil, err
	}
	for _, p := range []*peer{s.pub, s.sub} {
		target := p.target
		p.sendCand = func(init webrtc.ICECandidateInit) {
			cand := protocol.Candidate{Target: target, Candidate: init.Candidate,
				SDPMid: init.SDPMid, SDPMLineIndex: init.SDPMLineIndex}
			if err := sig.send(ctx, protocol.TypeCandidate, cand); err != nil {
				c.log.Debug("parley: candidate not sent", "target", target, "err", err)
			}
		}
		p.pc.OnICECandidate(p.onLocalCandidate)
	}
	s.sub.pc.OnTrack(s.onTrack)
	return s, nil
}

// start announces the room's current state (diffed against prev, the
// users known before a reconnect) and starts the session's loops.
func (s *session) start(res protocol.JoinResponse, prev *session) {
	var prevUsers map[string]*protocol.ParticipantInfo
	var prevAvail map[availKey]bool
	if prev != nil {
		prev.mu.Lock()
		prevUsers, prevAvail = prev.users, prev.avail
		prev.mu.Unlock()
	}
	s.mu.Lock()
	for i := range res.Participants {
		p := res.Participants[i]
		if p.UserID == s.c.cfg.UserID {
			continue
		}
		s.users[p.UserID] = &p
		if _, known := prevUsers[p.UserID]; !known {
			s.c.emitUserEnter(p.UserID)
		}
		for _, t := range p.Tracks {
			k := availKey{p.UserID, t.Kind, t.StreamType}
			s.avail[k] = !t.Muted
			if prevAvail[k] != !t.Muted {
				s.c.emitAvailability(p.UserID, t.Kind, t.StreamType, !t.Muted)
			}
		}
	}
	for u := range prevUsers {
		if _, still := s.users[u]; !still {
			s.c.emitUserLeave(u, protocol.LeaveReasonTimeout)
		}
	}
	s.wg.Add(2)
	tel := s.c.telemetry()
	if tel != nil {
		ctx, cancel := context.WithCancel(s.ctx)
		s.telCancel, s.telDone = cancel, make(chan struct{})
		s.wg.Add(1)
		go s.telemetryLoop(ctx, tel, s.telDone)
	}
	s.mu.Unlock()
	go s.eventLoop()
	go s.statsLoop()
}

// stopTelemetry ends the telemetry loop and waits for it, so no report
// follows (Stop, ExitRoom). Idempotent.
func (s *session) stopTelemetry() {
	s.mu.Lock()
	cancel, done := s.telCancel, s.telDone
	s.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
}

func (s *session) eventLoop() {
	defer s.wg.Done()
	for {
		select {
		case <-s.sig.done:
			return
		case in := <-s.sig.events:
			if err := s.handle(in.Envelope); err != nil {
				s.c.emitError(err)
			}
		}
	}
}

func (s *session) handle(env protocol.Envelope) error {
	switch env.Type {
	case protocol.TypeOffer:
		return s.answerOffer(env)
	case protocol.TypeCandidate:
		var c protocol.Candidate
		if err := protocol.DecodeData(env, &c); err != nil {
			return fmt.Errorf("%w: %w", ErrProtocol, err)
		}
		p := s.sub
		if c.Target == protocol.TargetPublisher {
			p = s.pub
		}
		return p.addCandidate(c)
	case protocol.TypeUserEnter:
		var p protocol.ParticipantInfo
		if err := protocol.DecodeData(env, &p); err != nil {
			return fmt.Errorf("%w: %w", ErrProtocol, err)
		}
		s.mu.Lock()
		s.users[p.UserID] = &p
		s.mu.Unlock()
		s.c.emitUserEnter(p.UserID)
	case protocol.TypeUserLeave:
		var l protocol.UserLeave
		if err := protocol.DecodeData(env, &l); err != nil {
			return fmt.Errorf("%w: %w", ErrProtocol, err)
		}
		s.mu.Lock()
		delete(s.users, l.UserID)
		for k := range s.avail {
			if k.user == l.UserID {
				delete(s.avail, k)
			}
		}
		s.mu.Unlock()
		s.c.emitUserLeave(l.UserID, l.Reason)
	case protocol.TypeTrackPublished, protocol.TypeTrackUnpublished:
		var t protocol.TrackInfo
		if err := protocol.DecodeData(env, &t); err != nil {
			return fmt.Errorf("%w: %w", ErrProtocol, err)
		}
		s.trackChanged(t, env.Type == protocol.TypeTrackPublished)
	case protocol.TypeAvailability:
		var a protocol.Availability
		if err := protocol.DecodeData(env, &a); err != nil {
			return fmt.Errorf("%w: %w", ErrProtocol, err)
		}
		s.mu.Lock()
		s.avail[availKey{a.UserID, a.Kind, a.StreamType}] = a.Available
		s.mu.Unlock()
		s.c.emitAvailability(a.UserID, a.Kind, a.StreamType, a.Available)
	case protocol.TypeRoleChanged:
		var r protocol.SwitchRole
		if err := protocol.DecodeData(env, &r); err != nil {
			return fmt.Errorf("%w: %w", ErrProtocol, err)
		}
		if r.UserID == "" || r.UserID == s.c.cfg.UserID {
			s.c.mu.Lock()
			s.c.role = r.Role
			if s.c.room != nil {
				s.c.room.Role = r.Role
			}
			s.c.mu.Unlock()
		}
	case protocol.TypeCustomCmd:
		return s.handleCustomCmd(env)
	case protocol.TypeRoomChat:
		return s.handleRoomChat(env)
	case protocol.TypeExitRoom:
		var e protocol.ExitRoom
		if err := protocol.DecodeData(env, &e); err != nil {
			return fmt.Errorf("%w: %w", ErrProtocol, err)
		}
		// The signaler recorded the reason (see signaler.exitReason). The server closes the socket after exit_room; closing here too
		// wakes the supervisor without waiting for it.
		_ = s.sig.conn.Close()
	case protocol.TypeError:
		return s.c.mapRefusal(decodeServerError(env))
	}
	// pong, ok, joined, answer without a waiting request: nothing to do.
	return nil
}

// trackChanged keeps the user's track list current (SetLayer and stats
// read it); availability arrives as its own frame.
func (s *session) trackChanged(t protocol.TrackInfo, published bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.users[t.UserID]
	if u == nil {
		// Audience members of live scenes see anchors through their
		// tracks even without user_enter.
		u = &protocol.ParticipantInfo{UserID: t.UserID}
		s.users[t.UserID] = u
	}
	kept := u.Tracks[:0]
	for _, old := range u.Tracks {
		if old.TrackID != t.TrackID {
			kept = append(kept, old)
		}
	}
	u.Tracks = kept
	if published {
		u.Tracks = append(u.Tracks, t)
	}
}

// answerOffer handles a server offer on the subscriber PeerConnection.
func (s *session) answerOffer(env protocol.Envelope) error {
	var sd protocol.SessionDescription
	if err := protocol.DecodeData(env, &sd); err != nil {
		return fmt.Errorf("%w: %w", ErrProtocol, err)
	}
	s.sub.negMu.Lock()
	defer s.sub.negMu.Unlock()
	if err := s.sub.setRemote(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: sd.SDP}); err != nil {
		return err
	}
	answer, err := s.sub.pc.CreateAnswer(nil)
	if err != nil {
		return fmt.Errorf("parley: subscriber answer: %w", err)
	}
	if err := s.sub.pc.SetLocalDescription(answer); err != nil {
		return fmt.Errorf("parley: subscriber answer: %w", err)
	}
	if err := s.sig.send(s.ctx, protocol.TypeAnswer, protocol.SessionDescription{Type: "answer", SDP: answer.SDP}); err != nil {
		return err
	}
	s.sub.openCandidates()
	return nil
}

// negotiate runs one publisher offer/answer exchange (the client offers).
func (s *session) negotiate(ctx context.Context) error {
	s.pub.negMu.Lock()
	defer s.pub.negMu.Unlock()
	offer, err := s.pub.pc.CreateOffer(nil)
	if err != nil {
		return fmt.Errorf("parley: publisher offer: %w", err)
	}
	if err := s.pub.pc.SetLocalDescription(offer); err != nil {
		return fmt.Errorf("parley: publisher offer: %w", err)
	}
	env, err := s.sig.request(ctx, protocol.TypeOffer, protocol.SessionDescription{Type: "offer", SDP: offer.SDP})
	if err != nil {
		return err
	}
	var sd protocol.SessionDescription
	if err := protocol.DecodeData(env, &sd); err != nil {
		return fmt.Errorf("%w: %w", ErrProtocol, err)
	}
	if err := s.pub.setRemote(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: sd.SDP}); err != nil {
		return err
	}
	s.pub.openCandidates()
	return nil
}

// leave sends `leave` and waits for the server to close the connection.
func (s *session) leave(ctx context.Context) error {
	s.leaving.Store(true)
	if err := s.sig.send(ctx, protocol.TypeLeave, nil); err != nil {
		if errors.Is(err, ErrConnectionLost) {
			return nil // already gone: nothing left to tell the server
		}
		return err
	}
	select {
	case <-s.sig.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("parley: leave: %w", ctx.Err())
	}
}

// exited reports a server exit_room (reasons 1–4).
func (s *session) exited() (int, bool) {
	r := s.sig.exitReason.Load()
	return int(r) - 1, r != 0
}

// teardown closes the connection and both PeerConnections and waits for
// the session's goroutines. Idempotent.
func (s *session) teardown() {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		return
	}
	s.closing = true
	s.mu.Unlock()
	s.cancel()
	s.sig.close()
	if err := s.pub.close(); err != nil {
		s.c.log.Debug("parley: publisher close", "err", err)
	}
	if err := s.sub.close(); err != nil {
		s.c.log.Debug("parley: subscriber close", "err", err)
	}
	s.wg.Wait()
}

// spawn runs f as a session goroutine unless the session is closing.
func (s *session) spawn(f func()) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return false
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		f()
	}()
	return true
}
