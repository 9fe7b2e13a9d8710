package parley

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/parley-rtc/parley/protocol"
)

// testPeerAPI is the fake server's pion stack.
func testPeerAPI(t *testing.T) *webrtc.API {
	t.Helper()
	me := &webrtc.MediaEngine{}
	if err := me.RegisterDefaultCodecs(); err != nil {
		t.Fatal(err)
	}
	reg := &interceptor.Registry{}
	if err := webrtc.RegisterDefaultInterceptors(me, reg); err != nil {
		t.Fatal(err)
	}
	se := webrtc.SettingEngine{}
	se.SetIncludeLoopbackCandidate(true)
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	return webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithInterceptorRegistry(reg), webrtc.WithSettingEngine(se))
}

// mediaPeer is the fake server's side of one of the client's PCs.
type mediaPeer struct {
	mu sync.Mutex
	pc *webrtc.PeerConnection
}

func (m *mediaPeer) get() *webrtc.PeerConnection {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.pc
}

func (m *mediaPeer) addCandidate(t *testing.T, env protocol.Envelope) {
	var c protocol.Candidate
	if err := protocol.DecodeData(env, &c); err != nil {
		t.Error(err)
		return
	}
	if pc := m.get(); pc != nil {
		_ = pc.AddICECandidate(webrtc.ICECandidateInit{Candidate: c.Candidate, SDPMid: c.SDPMid, SDPMLineIndex: c.SDPMLineIndex})
	}
}

func completeLocal(t *testing.T, pc *webrtc.PeerConnection, desc webrtc.SessionDescription) string {
	t.Helper()
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(desc); err != nil {
		t.Error(err)
		return ""
	}
	<-gathered
	return pc.LocalDescription().SDP
}

// TestPublishAndKeyframeRequest publishes a synthetic VP8 track to a pion
// answerer standing in for the server, checks the stamped payload arrives
// and that a PLI from the server surfaces as OnKeyframeRequest.
func TestPublishAndKeyframeRequest(t *testing.T) {
	api := testPeerAPI(t)
	var pub mediaPeer
	got := make(chan *rtp.Packet, 1024)
	var published []protocol.PublishRequest
	var pubMu sync.Mutex
	s := newFakeServer(t, func(fc *fakeConn, env protocol.Envelope) bool {
		switch env.Type {
		case protocol.TypePublish:
			var p protocol.PublishRequest
			_ = protocol.DecodeData(env, &p)
			pubMu.Lock()
			published = append(published, p)
			pubMu.Unlock()
			return false
		case protocol.TypeCandidate:
			pub.addCandidate(t, env)
			return true
		case protocol.TypeOffer:
		default:
			return false
		}
		pc := pub.get()
		if pc == nil {
			var err error
			if pc, err = api.NewPeerConnection(webrtc.Configuration{}); err != nil {
				t.Error(err)
				return true
			}
			pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
				if tr.StreamID() != "alice" || tr.ID() != "video-main" {
					t.Errorf("msid %s %s", tr.StreamID(), tr.ID())
				}
				_ = pc.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: uint32(tr.SSRC())}})
				for {
					p, _, err := tr.ReadRTP()
					if err != nil {
						return
					}
					select {
					case got <- p:
					default:
					}
				}
			})
			pub.mu.Lock()
			pub.pc = pc
			pub.mu.Unlock()
			t.Cleanup(func() { _ = pc.Close() })
		}
		var sd protocol.SessionDescription
		_ = protocol.DecodeData(env, &sd)
		if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: sd.SDP}); err != nil {
			t.Error(err)
			return true
		}
		answer, err := pc.CreateAnswer(nil)
		if err != nil {
			t.Error(err)
			return true
		}
		fc.send(protocol.TypeAnswer, env.ID, protocol.SessionDescription{Type: "answer", SDP: completeLocal(t, pc, answer)})
		return true
	})
	ev := newEvents()
	c := newTestClient(t, s.url(), ev)
	c.cfg.Listener.OnKeyframeRequest = func(id string) { ev.add("keyframe " + id) }
	ctx := testCtx(t)
	if _, err := c.EnterRoom(ctx, EnterParams{RoomID: 1}); err != nil {
		t.Fatal(err)
	}
	src, err := NewSyntheticSource(SyntheticOptions{Kind: protocol.KindVideo, FrameBytes: 3000})
	if err != nil {
		t.Fatal(err)
	}
	lt, err := c.PublishVideo(ctx, src, VideoOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pubMu.Lock()
	if len(published) != 1 || published[0].TrackID != lt.ID() || published[0].Kind != protocol.KindVideo {
		t.Errorf("publish = %+v", published)
	}
	pubMu.Unlock()
	ev.wait(t, "keyframe video-main")
	stamped := 0
	deadline := time.After(10 * time.Second)
	for stamped < 5 {
		select {
		case p := <-got:
			if sent, n, ok := ParseSyntheticStamp(p.Payload); ok {
				if lat := time.Since(sent); lat < 0 || lat > 5*time.Second {
					t.Errorf("frame %d latency %v", n, lat)
				}
				stamped++
			}
		case <-deadline:
			t.Fatalf("only %d stamped packets", stamped)
		}
	}
	if err := lt.SetMuted(ctx, true); err != nil {
		t.Fatal(err)
	}
	if err := lt.Unpublish(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.ExitRoom(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestSubscribe has the fake server offer a VP8 track from "bob" on the
// subscriber PC; the client answers, delivers it as a RemoteTrack and
// reports its resolution in statistics.
func TestSubscribe(t *testing.T) {
	api := testPeerAPI(t)
	var sub mediaPeer
	s := newFakeServer(t, func(fc *fakeConn, env protocol.Envelope) bool {
		switch env.Type {
		case protocol.TypeCandidate:
			sub.addCandidate(t, env)
			return true
		case protocol.TypeAnswer:
			var sd protocol.SessionDescription
			_ = protocol.DecodeData(env, &sd)
			if err := sub.get().SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: sd.SDP}); err != nil {
				t.Error(err)
			}
			return true
		}
		return false
	})
	ev := newEvents()
	c := newTestClient(t, s.url(), ev)
	remote := make(chan *RemoteTrack, 1)
	c.cfg.Listener.OnRemoteTrack = func(rt *RemoteTrack) { remote <- rt }
	stats := make(chan Statistics, 16)
	c.cfg.Listener.OnStatistics = func(st Statistics) {
		select {
		case stats <- st:
		default:
		}
	}
	ctx := testCtx(t)
	if _, err := c.EnterRoom(ctx, EnterParams{RoomID: 1}); err != nil {
		t.Fatal(err)
	}
	fc := s.next(t)

	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pc.Close() })
	sub.mu.Lock()
	sub.pc = pc
	sub.mu.Unlock()
	track, err := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8}, "video-main", "bob")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pc.AddTransceiverFromTrack(track, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly}); err != nil {
		t.Fatal(err)
	}
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	fc.send(protocol.TypeOffer, 0, protocol.SessionDescription{Type: "offer", SDP: completeLocal(t, pc, offer)})

	pumpCtx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		src, _ := NewSyntheticSource(SyntheticOptions{Width: 640, Height: 360})
		for {
			smp, err := src.NextSample(pumpCtx)
			if err != nil {
				return
			}
			_ = track.WriteSample(smp)
		}
	}()
	defer func() { stop(); wg.Wait() }()

	var rt *RemoteTrack
	select {
	case rt = <-remote:
	case <-time.After(10 * time.Second):
		t.Fatal("no remote track")
	}
	if rt.UserID() != "bob" || rt.TrackID() != "video-main" || rt.Kind() != protocol.KindVideo {
		t.Fatalf("remote track %s %s %s", rt.UserID(), rt.TrackID(), rt.Kind())
	}
	for stamped := 0; stamped < 3; {
		p, err := rt.ReadRTP(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, ok := ParseSyntheticStamp(p.Payload); ok {
			stamped++
		}
	}
	for {
		select {
		case st := <-stats:
			if len(st.Remote) == 1 && st.Remote[0].Width == 640 {
				r := st.Remote[0]
				if r.UserID != "bob" || r.Height != 360 || r.VideoBitrate == 0 || st.ReceivedBytes == 0 {
					t.Errorf("remote stats %+v", st)
				}
				return
			}
		case <-ctx.Done():
			t.Fatal("no statistics with remote resolution")
		}
	}
}

func TestSyntheticLayers(t *testing.T) {
	src, _ := NewSyntheticSource(SyntheticOptions{Width: 1280, Height: 720, FrameBytes: 4000})
	q := src.scaled(4).Options()
	if q.Width != 320 || q.Height != 180 || q.FrameBytes != 1000 {
		t.Errorf("q layer %+v", q)
	}
}
