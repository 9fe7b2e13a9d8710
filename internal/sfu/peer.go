package sfu

import (
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/parley-rtc/parley/protocol"
	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"
)

// Signaler carries server-initiated signaling to the client. Implementations
// must not block long.
type Signaler interface {
	SendOffer(sdp string)               // subscriber PC: server-initiated offer
	SendCandidate(c protocol.Candidate) // trickle, Target set
}

// PeerHooks are callbacks from the SFU to the room.
type PeerHooks struct {
	OnTrack  func(t *PublishedTrack) // a declared track started arriving (first packet)
	OnFailed func()                  // ICE/DTLS failed or closed (not after Peer.Close)
}

// Peer is one client: a publisher and a subscriber PeerConnection.
type Peer struct {
	id    string
	e     *Engine
	sig   Signaler
	hooks PeerHooks
	log   *slog.Logger

	pubPC *webrtc.PeerConnection
	pubT  *pubTransport
	subPC *webrtc.PeerConnection
	sub   *subTransport

	subConnected atomic.Bool
	pubProfile   atomic.Pointer[string]
	subProfile   atomic.Pointer[string]
	failOnce     sync.Once

	mu        sync.Mutex
	closed    bool
	expected  map[string]protocol.TrackInfo
	published map[string]*PublishedTrack
	subs      map[*PublishedTrack]*DownTrack
	pendPub   []webrtc.ICECandidateInit // candidates before the remote description
	pendSub   []webrtc.ICECandidateInit

	negMu        sync.Mutex
	offerPending bool
	renegotiate  bool
}

// NewPeer creates both PeerConnections of a client. id is the user id; it
// becomes the msid stream id of the client's tracks at subscribers and is
// never logged.
func (e *Engine) NewPeer(id string, sig Signaler, hooks PeerHooks) (*Peer, error) {
	p := &Peer{
		id: id, e: e, sig: sig, hooks: hooks, log: e.log,
		pubT: newPubTransport(e), sub: newSubTransport(),
		expected: map[string]protocol.TrackInfo{}, published: map[string]*PublishedTrack{},
		subs: map[*PublishedTrack]*DownTrack{},
	}
	pubAPI, err := e.newAPI(p.pubT.factory, p.profileChosen("publisher", &p.pubProfile))
	if err != nil {
		return nil, err
	}
	subAPI, err := e.newAPI(p.sub.factory, p.profileChosen("subscriber", &p.subProfile))
	if err != nil {
		return nil, err
	}
	if p.pubPC, err = pubAPI.NewPeerConnection(webrtc.Configuration{}); err != nil {
		return nil, fmt.Errorf("sfu: publisher pc: %w", err)
	}
	if p.subPC, err = subAPI.NewPeerConnection(webrtc.Configuration{}); err != nil {
		_ = p.pubPC.Close()
		return nil, fmt.Errorf("sfu: subscriber pc: %w", err)
	}
	p.wire(p.pubPC, protocol.TargetPublisher)
	p.wire(p.subPC, protocol.TargetSubscriber)
	p.pubPC.OnTrack(p.onTrack)

	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		_ = p.pubPC.Close()
		_ = p.subPC.Close()
		return nil, ErrClosed
	}
	e.peers[p] = struct{}{}
	e.mu.Unlock()
	return p, nil
}

func (p *Peer) wire(pc *webrtc.PeerConnection, target protocol.Target) {
	pc.OnICECandidate(func(c *webrtc.ICECandidate) {
		if c == nil {
			return
		}
		init := c.ToJSON()
		p.sig.SendCandidate(protocol.Candidate{
			Target: target, Candidate: init.Candidate, SDPMid: init.SDPMid, SDPMLineIndex: init.SDPMLineIndex,
		})
	})
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		switch s {
		case webrtc.PeerConnectionStateConnected:
			if target == protocol.TargetSubscriber && !p.subConnected.Swap(true) {
				for _, dt := range p.sub.downTracks() {
					dt.onConnected()
				}
			}
		case webrtc.PeerConnectionStateFailed, webrtc.PeerConnectionStateClosed:
			if target == protocol.TargetSubscriber {
				p.subConnected.Store(false)
			}
			p.mu.Lock()
			closed := p.closed
			p.mu.Unlock()
			if !closed && p.hooks.OnFailed != nil {
				p.failOnce.Do(p.hooks.OnFailed)
			}
		default:
		}
	})
}

// ExpectTrack declares a track the client will publish. Undeclared tracks
// are not forwarded.
func (p *Peer) ExpectTrack(info protocol.TrackInfo) {
	p.mu.Lock()
	defer p.mu.Unlock()
	info.UserID = p.id
	p.expected[info.TrackID] = info
}

// RemoveTrack unpublishes a track: subscribers drop it and renegotiate.
func (p *Peer) RemoveTrack(trackID string) {
	p.mu.Lock()
	delete(p.expected, trackID)
	t := p.published[trackID]
	delete(p.published, trackID)
	p.mu.Unlock()
	if t != nil {
		t.close()
	}
}

// onTrack binds the buffer of a declared track (or simulcast layer).
func (p *Peer) onTrack(remote *webrtc.TrackRemote, recv *webrtc.RTPReceiver) {
	codec := remote.Codec()
	p.mu.Lock()
	info, ok := p.expected[remote.ID()]
	if !ok || p.closed || string(info.Kind) != remote.Kind().String() {
		p.mu.Unlock()
		p.log.Debug("ignoring undeclared track", "kind", remote.Kind().String())
		return
	}
	t := p.published[info.TrackID]
	first := t == nil
	if first {
		t = newPublishedTrack(p, info, codec.RTPCodecCapability)
		p.published[info.TrackID] = t
	}
	p.mu.Unlock()
	idx, ok := t.layerIndex(remote.RID())
	if !ok {
		p.log.Debug("ignoring undeclared simulcast layer")
		return
	}
	ssrc := uint32(remote.SSRC())
	b := p.pubT.buffer(ssrc)
	if b == nil {
		return
	}
	var twccID uint8
	for _, h := range recv.GetParameters().HeaderExtensions {
		if h.URI == transportCCURI {
			twccID = uint8(h.ID) //nolint:gosec // 1..14
		}
	}
	l := t.layers[idx]
	l.ssrc.Store(ssrc)
	l.buf.Store(b)
	b.bind(bindParams{
		track: t, layer: idx, video: t.video, clockRate: codec.ClockRate,
		codec: codecKindOf(codec.MimeType), twccID: twccID,
	})
	if first && p.hooks.OnTrack != nil {
		p.hooks.OnTrack(t)
	}
}

// HandleOffer applies the client's publisher offer and returns the answer.
func (p *Peer) HandleOffer(sdp string) (string, error) {
	pc := p.pubPC
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: sdp}); err != nil {
		return "", fmt.Errorf("%w: set offer: %w", ErrNegotiation, err)
	}
	p.flushCandidates(protocol.TargetPublisher)
	answer, err := pc.CreateAnswer(nil)
	if err != nil {
		return "", fmt.Errorf("%w: create answer: %w", ErrNegotiation, err)
	}
	if err = pc.SetLocalDescription(answer); err != nil {
		return "", fmt.Errorf("%w: set answer: %w", ErrNegotiation, err)
	}
	return pc.LocalDescription().SDP, nil
}

// HandleAnswer applies the client's answer to the subscriber offer and sends
// the next offer if changes were coalesced meanwhile.
func (p *Peer) HandleAnswer(sdp string) error {
	p.negMu.Lock()
	if !p.offerPending {
		p.negMu.Unlock()
		return fmt.Errorf("%w: unexpected answer", ErrNegotiation)
	}
	err := p.subPC.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: sdp})
	p.offerPending = false
	again := p.renegotiate
	p.renegotiate = false
	p.negMu.Unlock()
	if err != nil {
		return fmt.Errorf("%w: set answer: %w", ErrNegotiation, err)
	}
	p.flushCandidates(protocol.TargetSubscriber)
	if again {
		p.negotiate()
	}
	return nil
}

// negotiate sends a subscriber offer, or marks one as due when an offer is
// already outstanding (never two offers in flight).
func (p *Peer) negotiate() {
	p.negMu.Lock()
	if p.offerPending {
		p.renegotiate = true
		p.negMu.Unlock()
		return
	}
	offer, err := p.subPC.CreateOffer(nil)
	if err == nil {
		err = p.subPC.SetLocalDescription(offer)
	}
	if err != nil {
		p.negMu.Unlock()
		p.log.Warn("subscriber offer failed", "err", err)
		return
	}
	p.offerPending = true
	sdp := p.subPC.LocalDescription().SDP
	p.negMu.Unlock()
	p.sig.SendOffer(sdp)
}

// AddCandidate adds a trickled remote candidate to the PC named by c.Target.
func (p *Peer) AddCandidate(c protocol.Candidate) error {
	init := webrtc.ICECandidateInit{Candidate: c.Candidate, SDPMid: c.SDPMid, SDPMLineIndex: c.SDPMLineIndex}
	pc := p.pubPC
	if c.Target == protocol.TargetSubscriber {
		pc = p.subPC
	}
	p.mu.Lock()
	if pc.RemoteDescription() == nil {
		if c.Target == protocol.TargetSubscriber {
			p.pendSub = append(p.pendSub, init)
		} else {
			p.pendPub = append(p.pendPub, init)
		}
		p.mu.Unlock()
		return nil
	}
	p.mu.Unlock()
	if err := pc.AddICECandidate(init); err != nil {
		return fmt.Errorf("%w: candidate: %w", ErrNegotiation, err)
	}
	return nil
}

func (p *Peer) flushCandidates(target protocol.Target) {
	p.mu.Lock()
	pc, pend := p.pubPC, p.pendPub
	p.pendPub = nil
	if target == protocol.TargetSubscriber {
		p.pendPub = pend
		pc, pend = p.subPC, p.pendSub
		p.pendSub = nil
	}
	p.mu.Unlock()
	for _, c := range pend {
		if err := pc.AddICECandidate(c); err != nil {
			p.log.Debug("queued candidate rejected", "err", err)
		}
	}
}

// Subscribe adds a DownTrack for t to the subscriber PC and renegotiates.
func (p *Peer) Subscribe(t *PublishedTrack) error {
	if t.owner == p {
		return ErrSelfSubscribe
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return ErrClosed
	}
	if _, ok := p.subs[t]; ok {
		p.mu.Unlock()
		return ErrAlreadySubscribed
	}
	dt := newDownTrack(t, p)
	p.subs[t] = dt
	p.mu.Unlock()

	sender, err := p.subPC.AddTrack(dt)
	if err == nil {
		dt.sender = sender
		if !t.addDownTrack(dt) {
			_ = p.subPC.RemoveTrack(sender)
			err = ErrClosed
		}
	}
	if err != nil {
		p.mu.Lock()
		delete(p.subs, t)
		p.mu.Unlock()
		return fmt.Errorf("sfu: subscribe: %w", err)
	}
	p.negotiate()
	return nil
}

// Unsubscribe removes the DownTrack for t and renegotiates.
func (p *Peer) Unsubscribe(t *PublishedTrack) {
	p.mu.Lock()
	dt := p.subs[t]
	delete(p.subs, t)
	closed := p.closed
	p.mu.Unlock()
	if dt == nil {
		return
	}
	dt.closed.Store(true)
	t.removeDownTrack(dt)
	if closed {
		return
	}
	if dt.sender != nil {
		_ = p.subPC.RemoveTrack(dt.sender)
	}
	p.negotiate()
}

// SetLayer picks the simulcast layer (RID) forwarded to this subscriber;
// the switch happens at the next keyframe of that layer.
func (p *Peer) SetLayer(t *PublishedTrack, rid string) error {
	p.mu.Lock()
	dt := p.subs[t]
	p.mu.Unlock()
	if dt == nil {
		return ErrNotSubscribed
	}
	idx, ok := t.layerIndex(rid)
	if !ok {
		return fmt.Errorf("%w: %q", ErrUnknownLayer, rid)
	}
	dt.setTarget(idx)
	return nil
}

// profileChosen records and logs the SRTP protection profile the SFU,
// as DTLS server, chose for one PeerConnection: whether a browser got
// AEAD-GCM or the 6.5x slower AES-CM (REFERENCE §8.3) shows in the log.
func (p *Peer) profileChosen(pc string, into *atomic.Pointer[string]) func(string) {
	return func(profile string) {
		into.Store(&profile)
		p.log.Info("sfu: srtp profile chosen", "pc", pc, "profile", profile)
	}
}

// SRTPProtectionProfiles reports the SRTP profiles chosen on the publisher
// and subscriber PCs ("" until the SFU, as DTLS server, has selected one).
func (p *Peer) SRTPProtectionProfiles() (publisher, subscriber string) {
	if s := p.pubProfile.Load(); s != nil {
		publisher = *s
	}
	if s := p.subProfile.Load(); s != nil {
		subscriber = *s
	}
	return publisher, subscriber
}

// Close unpublishes the peer's tracks, drops its subscriptions and closes
// both PeerConnections.
func (p *Peer) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	published := make([]*PublishedTrack, 0, len(p.published))
	for _, t := range p.published {
		published = append(published, t)
	}
	subs := p.subs
	p.subs = map[*PublishedTrack]*DownTrack{}
	p.mu.Unlock()
	p.e.removePeer(p)
	for t, dt := range subs {
		dt.closed.Store(true)
		t.removeDownTrack(dt)
	}
	for _, t := range published {
		t.close()
	}
	err := p.pubPC.Close()
	if serr := p.subPC.Close(); err == nil {
		err = serr
	}
	return err
}

// sendPLI asks the publisher for a keyframe (RFC 4585 §6.3.1).
func (p *Peer) sendPLI(mediaSSRC uint32) {
	p.e.metrics.plisOut.Inc()
	_ = p.pubPC.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{SenderSSRC: p.pubT.senderSSRC, MediaSSRC: mediaSSRC}})
}

// tick runs the periodic RTCP of this peer (see Engine.reportLoop).
func (p *Peer) tick(now int64, n uint64) {
	p.mu.Lock()
	tracks := make([]*PublishedTrack, 0, len(p.published))
	for _, t := range p.published {
		tracks = append(tracks, t)
	}
	p.mu.Unlock()

	var out []rtcp.Packet
	var reports []rtcp.ReceptionReport
	var sns []uint16
	for _, t := range tracks {
		for _, l := range t.layers {
			b := l.buf.Load()
			if b == nil {
				continue
			}
			if sns = b.collectNacks(now, sns[:0]); len(sns) > 0 {
				p.e.metrics.nacksOut.Add(float64(len(sns)))
				out = append(out, &rtcp.TransportLayerNack{
					SenderSSRC: p.pubT.senderSSRC, MediaSSRC: b.ssrc, Nacks: rtcp.NackPairsFromSequenceNumbers(sns),
				})
			}
			if n%20 == 0 {
				if rr, ok := b.receptionReport(now); ok {
					reports = append(reports, rr)
				}
			}
		}
	}
	for len(reports) > 0 { // at most 31 report blocks per RR (RFC 3550 §6.4.2)
		k := min(len(reports), 31)
		out = append(out, &rtcp.ReceiverReport{SSRC: p.pubT.senderSSRC, Reports: reports[:k]})
		reports = reports[k:]
	}
	if n%2 == 0 {
		out = append(out, p.pubT.twccFeedback()...)
	}
	if len(out) > 0 {
		_ = p.pubPC.WriteRTCP(out)
	}
	if n%20 == 0 && p.subConnected.Load() {
		var srs []rtcp.Packet
		for _, dt := range p.sub.downTracks() {
			if sr, ok := dt.senderReport(now); ok {
				srs = append(srs, sr)
			}
		}
		if len(srs) > 0 {
			_ = p.subPC.WriteRTCP(srs)
		}
	}
}
