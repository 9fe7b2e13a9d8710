package parley

import (
	"sync"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/parley-rtc/parley/protocol"
)

// answerer is a fake server publisher side: one pion PC per connection,
// reporting every received (track, rid) and every publish request.
type answerer struct {
	t       *testing.T
	api     *webrtc.API
	mu      sync.Mutex
	pcs     map[*fakeConn]*webrtc.PeerConnection
	tracks  chan string // "conn#/trackID/rid"
	publish chan protocol.PublishRequest
	conns   map[*fakeConn]int
}

func newAnswerer(t *testing.T) *answerer {
	return &answerer{t: t, api: testPeerAPI(t), pcs: map[*fakeConn]*webrtc.PeerConnection{},
		tracks: make(chan string, 64), publish: make(chan protocol.PublishRequest, 16), conns: map[*fakeConn]int{}}
}

func (a *answerer) handle(fc *fakeConn, env protocol.Envelope) bool {
	t := a.t
	a.mu.Lock()
	pc := a.pcs[fc]
	if _, ok := a.conns[fc]; !ok {
		a.conns[fc] = len(a.conns)
	}
	idx := a.conns[fc]
	a.mu.Unlock()
	switch env.Type {
	case protocol.TypePublish:
		var p protocol.PublishRequest
		_ = protocol.DecodeData(env, &p)
		a.publish <- p
		return false
	case protocol.TypeCandidate:
		var c protocol.Candidate
		_ = protocol.DecodeData(env, &c)
		if pc != nil && c.Target == protocol.TargetPublisher {
			_ = pc.AddICECandidate(webrtc.ICECandidateInit{Candidate: c.Candidate, SDPMid: c.SDPMid, SDPMLineIndex: c.SDPMLineIndex})
		}
		return true
	case protocol.TypeOffer:
	default:
		return false
	}
	if pc == nil {
		var err error
		if pc, err = a.api.NewPeerConnection(webrtc.Configuration{}); err != nil {
			t.Error(err)
			return true
		}
		pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
			a.tracks <- string(rune('0'+idx)) + "/" + tr.ID() + "/" + tr.RID()
			buf := make([]byte, 1500)
			for {
				if _, _, err := tr.Read(buf); err != nil {
					return
				}
			}
		})
		a.mu.Lock()
		a.pcs[fc] = pc
		a.mu.Unlock()
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
}

func (a *answerer) waitTracks(t *testing.T, want ...string) {
	t.Helper()
	need := map[string]bool{}
	for _, w := range want {
		need[w] = true
	}
	deadline := time.After(15 * time.Second)
	for len(need) > 0 {
		select {
		case got := <-a.tracks:
			delete(need, got)
		case <-deadline:
			t.Fatalf("tracks not received: %v", need)
		}
	}
}

// TestSimulcastAndRepublishAfterDrop publishes three simulcast layers plus
// audio, drops the signaling connection, and checks the client re-joins
// and re-publishes everything on fresh PeerConnections.
func TestSimulcastAndRepublishAfterDrop(t *testing.T) {
	a := newAnswerer(t)
	s := newFakeServer(t, a.handle)
	ev := newEvents()
	c := newTestClient(t, s.url(), ev)
	ctx := testCtx(t)
	if _, err := c.EnterRoom(ctx, EnterParams{RoomID: 5}); err != nil {
		t.Fatal(err)
	}
	first := s.next(t)
	video, err := NewSyntheticSource(SyntheticOptions{Width: 1280, Height: 720, FrameBytes: 4000})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.PublishVideo(ctx, video, VideoOptions{Simulcast: true}); err != nil {
		t.Fatal(err)
	}
	if p := <-a.publish; len(p.Layers) != 3 || p.Layers[0] != "q" || p.Layers[2] != "f" {
		t.Errorf("publish layers %v", p.Layers)
	}
	audio, _ := NewSyntheticSource(SyntheticOptions{Kind: protocol.KindAudio})
	if _, err := c.PublishAudio(ctx, audio); err != nil {
		t.Fatal(err)
	}
	<-a.publish
	a.waitTracks(t, "0/video-main/q", "0/video-main/h", "0/video-main/f", "0/audio-main/")

	first.ws.CloseNow()
	ev.wait(t, "lost")
	ev.wait(t, "recovered")
	got := map[string]bool{}
	for range 2 {
		got[(<-a.publish).TrackID] = true
	}
	if !got["video-main"] || !got["audio-main"] {
		t.Errorf("re-published %v", got)
	}
	a.waitTracks(t, "1/video-main/q", "1/video-main/h", "1/video-main/f", "1/audio-main/")
	if err := c.ExitRoom(ctx); err != nil {
		t.Fatal(err)
	}
}
