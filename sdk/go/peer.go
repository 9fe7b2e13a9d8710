package parley

import (
	"fmt"
	"log/slog"
	"sync"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/webrtc/v4"

	"github.com/parley-rtc/parley/internal/pionlog"
	"github.com/parley-rtc/parley/protocol"
)

// newAPI builds the pion API every PeerConnection of a client uses. All
// sockets come from tr.Net(); mDNS is disabled because it would open
// multicast sockets and answer name queries outside the Transport.
// Pion's own logs, the interceptors' included, go to log.
func newAPI(tr Transport, log *slog.Logger) (*webrtc.API, error) {
	lf := pionlog.NewFactory(log)
	me := &webrtc.MediaEngine{}
	if err := me.RegisterDefaultCodecs(); err != nil {
		return nil, fmt.Errorf("parley: codecs: %w", err)
	}
	// Default interceptors: NACK generator and responder (the publisher
	// repairs loss from its own send history), sender/receiver reports,
	// simulcast header extensions, stats and TWCC.
	reg := &interceptor.Registry{}
	if err := webrtc.RegisterDefaultInterceptorsWithOptions(me, reg, webrtc.WithInterceptorLoggerFactory(lf)); err != nil {
		return nil, fmt.Errorf("parley: interceptors: %w", err)
	}
	se := webrtc.SettingEngine{LoggerFactory: lf}
	se.SetNet(tr.Net())
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	// A self-hosted server is often on the same host or a lab network
	// reachable only via loopback; offering loopback candidates costs
	// nothing and makes those setups work.
	se.SetIncludeLoopbackCandidate(true)
	return webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithInterceptorRegistry(reg),
		webrtc.WithSettingEngine(se)), nil
}

// peer is one of the client's two PeerConnections. It queues trickled
// candidates that arrive before the remote description they belong to.
type peer struct {
	pc     *webrtc.PeerConnection
	target protocol.Target

	negMu sync.Mutex // serialises offer/answer exchanges

	mu        sync.Mutex // guards pending and remoteSet
	pending   []webrtc.ICECandidateInit
	remoteSet bool

	// Local candidates are held back until our description has reached
	// the server, so it never sees a candidate for an unknown session.
	outMu    sync.Mutex
	outOpen  bool
	outQueue []webrtc.ICECandidateInit
	sendCand func(webrtc.ICECandidateInit)
}

func newPeer(api *webrtc.API, target protocol.Target) (*peer, error) {
	// No ICE servers: the Parley server is reached directly on its single
	// UDP port, and STUN to third parties would leak traffic past consent.
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return nil, fmt.Errorf("parley: peer connection: %w", err)
	}
	return &peer{pc: pc, target: target}, nil
}

// addCandidate applies a remote candidate, or queues it until the remote
// description is set.
func (p *peer) addCandidate(c protocol.Candidate) error {
	init := webrtc.ICECandidateInit{Candidate: c.Candidate, SDPMid: c.SDPMid, SDPMLineIndex: c.SDPMLineIndex}
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.remoteSet {
		p.pending = append(p.pending, init)
		return nil
	}
	return p.pc.AddICECandidate(init)
}

// setRemote applies a remote description and flushes queued candidates.
func (p *peer) setRemote(desc webrtc.SessionDescription) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.pc.SetRemoteDescription(desc); err != nil {
		return fmt.Errorf("parley: %s remote description: %w", p.target, err)
	}
	p.remoteSet = true
	for _, c := range p.pending {
		if err := p.pc.AddICECandidate(c); err != nil {
			return fmt.Errorf("parley: %s candidate: %w", p.target, err)
		}
	}
	p.pending = nil
	return nil
}

// onLocalCandidate is the PeerConnection's OnICECandidate handler.
func (p *peer) onLocalCandidate(c *webrtc.ICECandidate) {
	if c == nil { // end of gathering: the protocol has no frame for it
		return
	}
	init := c.ToJSON()
	p.outMu.Lock()
	if !p.outOpen {
		p.outQueue = append(p.outQueue, init)
		p.outMu.Unlock()
		return
	}
	p.outMu.Unlock()
	p.sendCand(init)
}

// openCandidates releases held and future local candidates.
func (p *peer) openCandidates() {
	p.outMu.Lock()
	if p.outOpen {
		p.outMu.Unlock()
		return
	}
	p.outOpen = true
	q := p.outQueue
	p.outQueue = nil
	p.outMu.Unlock()
	for _, c := range q {
		p.sendCand(c)
	}
}

func (p *peer) close() error { return p.pc.Close() }
