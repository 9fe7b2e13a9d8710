package sfu

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parley-rtc/parley/protocol"
	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
	"go.uber.org/goleak"
)

// testSignaler routes SFU signaling to a test client.
type testSignaler struct {
	offers chan string
	mu     sync.Mutex
	pc     *webrtc.PeerConnection // client PC receiving candidates for target
	target protocol.Target
	queued []webrtc.ICECandidateInit
	other  *testSignaler
}

func newTestSignaler() *testSignaler { return &testSignaler{offers: make(chan string, 8)} }

func (s *testSignaler) SendOffer(sdp string) { s.offers <- sdp }

func (s *testSignaler) SendCandidate(c protocol.Candidate) {
	init := webrtc.ICECandidateInit{Candidate: c.Candidate, SDPMid: c.SDPMid, SDPMLineIndex: c.SDPMLineIndex}
	s.mu.Lock()
	defer s.mu.Unlock()
	pc := s.pcFor(c.Target)
	if pc == nil || pc.RemoteDescription() == nil {
		s.queued = append(s.queued, init)
		return
	}
	_ = pc.AddICECandidate(init)
}

// clients[target] is the client PC for that target.
func (s *testSignaler) pcFor(t protocol.Target) *webrtc.PeerConnection {
	if t == s.target {
		return s.pc
	}
	if s.other != nil {
		return s.other.pc
	}
	return nil
}

// attach sets the client PC for target and flushes queued candidates
// once its remote description is set.
func (s *testSignaler) attach(t protocol.Target, pc *webrtc.PeerConnection) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.target, s.pc = t, pc
	for _, c := range s.queued {
		_ = pc.AddICECandidate(c)
	}
	s.queued = nil
}

func newTestEngine(t *testing.T) *Engine {
	t.Helper()
	e, err := NewEngine(Config{BindIP: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// clientAPI is a plain Pion client with default codecs and interceptors
// (NACK generator/responder, reports, TWCC) on loopback only.
func clientAPI(t *testing.T) *webrtc.API {
	t.Helper()
	m := &webrtc.MediaEngine{}
	if err := m.RegisterDefaultCodecs(); err != nil {
		t.Fatal(err)
	}
	reg := &interceptor.Registry{}
	if err := webrtc.RegisterDefaultInterceptors(m, reg); err != nil {
		t.Fatal(err)
	}
	s := webrtc.SettingEngine{}
	s.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	s.SetIncludeLoopbackCandidate(true)
	s.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	s.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	return webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithSettingEngine(s), webrtc.WithInterceptorRegistry(reg))
}

// publisherClient sends Opus and VP8 with a counter in the payload. A PLI
// or FIR makes the next VP8 packet a keyframe.
type publisherClient struct {
	pc           *webrtc.PeerConnection
	audio, video *webrtc.TrackLocalStaticRTP
	plis         atomic.Int64
	keyframeDue  atomic.Bool
}

const (
	pubUser    = "alice"
	audioTrack = "mic-1"
	videoTrack = "cam-1"
)

func newPublisherClient(t *testing.T, api *webrtc.API) *publisherClient {
	t.Helper()
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	c := &publisherClient{pc: pc}
	c.audio, err = webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, audioTrack, pubUser)
	if err != nil {
		t.Fatal(err)
	}
	c.video, err = webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, videoTrack, pubUser)
	if err != nil {
		t.Fatal(err)
	}
	for _, tr := range []*webrtc.TrackLocalStaticRTP{c.audio, c.video} {
		sender, err := pc.AddTrack(tr)
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			for {
				pkts, _, err := sender.ReadRTCP()
				if err != nil {
					return
				}
				for _, p := range pkts {
					switch p.(type) {
					case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
						c.plis.Add(1)
						c.keyframeDue.Store(true)
					}
				}
			}
		}()
	}
	return c
}

// vp8Payload builds a VP8 payload (RFC 7741) with S=1, PID=0 and a counter.
func vp8Payload(counter uint32, key bool) []byte {
	p := make([]byte, 600)
	p[0] = 0x10
	if !key {
		p[1] = 0x01
	}
	binary.BigEndian.PutUint32(p[2:], counter)
	return p
}

func counterOf(codec string, payload []byte) uint32 {
	if codec == webrtc.MimeTypeVP8 {
		return binary.BigEndian.Uint32(payload[2:])
	}
	return binary.BigEndian.Uint32(payload)
}

// run sends 50 packets/s per track until ctx ends.
func (c *publisherClient) run(ctx context.Context) {
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for n := uint32(1); ; n++ {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		key := n == 1 || c.keyframeDue.Swap(false)
		_ = c.video.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: uint16(n), Timestamp: n * 900, Marker: true}, Payload: vp8Payload(n, key)})
		ap := make([]byte, 80)
		binary.BigEndian.PutUint32(ap, n)
		_ = c.audio.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: uint16(n), Timestamp: n * 480}, Payload: ap})
	}
}

type received struct {
	codec   string
	counter uint32
	sn      uint16
	key     bool
}

// subscriberClient answers the SFU's offers and reports received packets.
type subscriberClient struct {
	pc   *webrtc.PeerConnection
	pkts chan received
}

func newSubscriberClient(t *testing.T, api *webrtc.API) *subscriberClient {
	t.Helper()
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	c := &subscriberClient{pc: pc, pkts: make(chan received, 4096)}
	pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		if tr.StreamID() != pubUser || (tr.ID() != audioTrack && tr.ID() != videoTrack) {
			t.Errorf("msid = %q %q", tr.StreamID(), tr.ID())
		}
		codec := tr.Codec().MimeType
		for {
			p, _, err := tr.ReadRTP()
			if err != nil {
				return
			}
			if len(p.Payload) < 6 {
				continue
			}
			r := received{codec: codec, counter: counterOf(codec, p.Payload), sn: p.SequenceNumber}
			if codec == webrtc.MimeTypeVP8 {
				r.key = isVP8Keyframe(p.Payload)
			}
			select {
			case c.pkts <- r:
			default:
			}
		}
	})
	return c
}

// answerLoop answers every SFU offer until ctx ends.
func (c *subscriberClient) answerLoop(ctx context.Context, t *testing.T, sig *testSignaler, peer *Peer) {
	for {
		select {
		case <-ctx.Done():
			return
		case sdp := <-sig.offers:
			if err := c.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: sdp}); err != nil {
				t.Errorf("client set offer: %v", err)
				return
			}
			sig.attach(protocol.TargetSubscriber, c.pc)
			ans, err := c.pc.CreateAnswer(nil)
			if err == nil {
				gather := webrtc.GatheringCompletePromise(c.pc)
				err = c.pc.SetLocalDescription(ans)
				<-gather
			}
			if err == nil {
				err = peer.HandleAnswer(c.pc.LocalDescription().SDP)
			}
			if err != nil {
				t.Errorf("answer: %v", err)
				return
			}
		}
	}
}

type harness struct {
	e        *Engine
	pubPeer  *Peer
	subPeer  *Peer
	pub      *publisherClient
	sub      *subscriberClient
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	subReady chan *PublishedTrack
}

// startHarness connects a publisher and a subscriber client through the
// SFU and subscribes the subscriber to every track of the publisher.
func startHarness(t *testing.T, beforeSubscribe func(p *Peer, tr *PublishedTrack)) *harness {
	t.Helper()
	h := &harness{e: newTestEngine(t), subReady: make(chan *PublishedTrack, 4)}
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	api := clientAPI(t)

	subSig := newTestSignaler()
	var err error
	h.subPeer, err = h.e.NewPeer("bob", subSig, PeerHooks{})
	if err != nil {
		t.Fatal(err)
	}
	pubSig := newTestSignaler()
	h.pubPeer, err = h.e.NewPeer(pubUser, pubSig, PeerHooks{OnTrack: func(tr *PublishedTrack) {
		if err := h.subPeer.Subscribe(tr); err != nil {
			t.Errorf("subscribe: %v", err)
		}
		if beforeSubscribe != nil {
			beforeSubscribe(h.subPeer, tr)
		}
		h.subReady <- tr
	}})
	if err != nil {
		t.Fatal(err)
	}
	h.pub = newPublisherClient(t, api)
	h.sub = newSubscriberClient(t, api)
	h.pubPeer.ExpectTrack(protocol.TrackInfo{TrackID: audioTrack, Kind: protocol.KindAudio, StreamType: protocol.StreamMain})
	h.pubPeer.ExpectTrack(protocol.TrackInfo{TrackID: videoTrack, Kind: protocol.KindVideo, StreamType: protocol.StreamMain})

	offer, err := h.pub.pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	gather := webrtc.GatheringCompletePromise(h.pub.pc)
	if err = h.pub.pc.SetLocalDescription(offer); err != nil {
		t.Fatal(err)
	}
	<-gather
	answer, err := h.pubPeer.HandleOffer(h.pub.pc.LocalDescription().SDP)
	if err != nil {
		t.Fatal(err)
	}
	if err = h.pub.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer}); err != nil {
		t.Fatal(err)
	}
	pubSig.attach(protocol.TargetPublisher, h.pub.pc)

	h.wg.Add(2)
	go func() { defer h.wg.Done(); h.pub.run(ctx) }()
	go func() { defer h.wg.Done(); h.sub.answerLoop(ctx, t, subSig, h.subPeer) }()
	return h
}

func (h *harness) close(t *testing.T) {
	t.Helper()
	h.cancel()
	h.wg.Wait()
	_ = h.pub.pc.Close()
	_ = h.sub.pc.Close()
	if err := h.e.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
		t.Errorf("engine close: %v", err)
	}
}

func testDeadline(t *testing.T, d time.Duration) <-chan time.Time {
	t.Helper()
	return time.After(d)
}

func TestForwardEndToEnd(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	h := startHarness(t, nil)
	defer h.close(t)
	deadline := testDeadline(t, 20*time.Second)

	var lastV, lastA uint32
	var lastVSN uint16
	nv, na := 0, 0
	for nv < 100 || na < 100 {
		select {
		case <-deadline:
			t.Fatalf("timeout: video %d audio %d packets", nv, na)
		case r := <-h.sub.pkts:
			switch r.codec {
			case webrtc.MimeTypeVP8:
				if nv == 0 && !r.key {
					t.Fatalf("first video packet is not a keyframe")
				}
				if nv > 0 && (r.counter != lastV+1 || r.sn != lastVSN+1) {
					t.Fatalf("video out of order: counter %d after %d, sn %d after %d", r.counter, lastV, r.sn, lastVSN)
				}
				lastV, lastVSN = r.counter, r.sn
				nv++
			case webrtc.MimeTypeOpus:
				if na > 0 && r.counter != lastA+1 {
					t.Fatalf("audio out of order: %d after %d", r.counter, lastA)
				}
				lastA = r.counter
				na++
			}
		}
	}
	if h.pub.plis.Load() == 0 {
		t.Fatalf("subscriber join did not trigger a PLI at the publisher")
	}
	pubProf, _ := h.pubPeer.SRTPProtectionProfiles()
	_, subProf := h.subPeer.SRTPProtectionProfiles()
	for _, p := range []string{pubProf, subProf} {
		if p != "SRTP_AEAD_AES_128_GCM" && p != "SRTP_AEAD_AES_256_GCM" {
			t.Errorf("SRTP profile %q, want AEAD-GCM (SFU must be the DTLS server)", p)
		}
	}
	t.Logf("SRTP profiles: publisher PC %s, subscriber PC %s", pubProf, subProf)
}

func TestNACKRepairsSubscriberLoss(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	var dropped atomic.Int64
	h := startHarness(t, func(p *Peer, tr *PublishedTrack) {
		if tr.Info().Kind != protocol.KindVideo {
			return
		}
		p.mu.Lock()
		dt := p.subs[tr]
		p.mu.Unlock()
		dt.mu.Lock()
		first, seen := uint16(0), false
		dt.testDrop = func(sn uint16) bool { // runs under dt.mu
			if !seen {
				first, seen = sn, true
			}
			if d := sn - first; d >= 30 && d < 36 {
				dropped.Add(1)
				return true
			}
			return false
		}
		dt.mu.Unlock()
	})
	defer h.close(t)
	deadline := testDeadline(t, 20*time.Second)

	got := map[uint32]bool{}
	var firstCounter uint32
	for {
		select {
		case <-deadline:
			t.Fatalf("timeout: %d distinct video packets, dropped %d", len(got), dropped.Load())
		case r := <-h.sub.pkts:
			if r.codec != webrtc.MimeTypeVP8 {
				continue
			}
			if len(got) == 0 {
				firstCounter = r.counter
			}
			if got[r.counter] {
				t.Fatalf("duplicate delivery of counter %d", r.counter)
			}
			got[r.counter] = true
		}
		complete := true
		for c := firstCounter; c < firstCounter+80; c++ {
			if !got[c] {
				complete = false
				break
			}
		}
		if complete && len(got) >= 80 {
			break
		}
	}
	if dropped.Load() != 6 {
		t.Fatalf("dropped %d packets, want 6", dropped.Load())
	}
	if h.e.metricsRetransmits() < 6 {
		t.Fatalf("retransmits = %v, want >= 6", h.e.metricsRetransmits())
	}
}
