package test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
	"github.com/pion/webrtc/v4/pkg/media/ivfreader"
	"github.com/pion/webrtc/v4/pkg/media/oggreader"

	"github.com/parley-rtc/parley/protocol"
	parley "github.com/parley-rtc/parley/sdk/go"
)

const (
	vp8File  = "../testdata/media/vp8.ivf"
	opusFile = "../testdata/media/opus.ogg"
)

// fileFrames reads every VP8 frame of an IVF file.
func ivfFrames(t *testing.T, path string) [][]byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, _, err := ivfreader.NewWith(f)
	if err != nil {
		t.Fatal(err)
	}
	var frames [][]byte
	for {
		frame, _, err := r.ParseNextFrame()
		if errors.Is(err, io.EOF) {
			return frames
		}
		if err != nil {
			t.Fatal(err)
		}
		frames = append(frames, frame)
	}
}

// oggPackets reads every audio page payload of an Ogg Opus file (one Opus
// packet per page, see testdata/media/README.md), skipping header pages.
func oggPackets(t *testing.T, path string) [][]byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, _, err := oggreader.NewWith(f)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	var granule uint64
	for {
		page, hdr, err := r.ParseNextPage()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		if hdr.GranulePosition <= granule {
			continue
		}
		granule = hdr.GranulePosition
		out = append(out, page)
	}
}

// received collects a remote track's packets.
type received struct {
	mu      sync.Mutex
	packets []*rtp.Packet
	notify  chan struct{}
}

func newReceived() *received { return &received{notify: make(chan struct{}, 1)} }

func (r *received) add(p *rtp.Packet) {
	c := p.Clone()
	r.mu.Lock()
	r.packets = append(r.packets, c)
	r.mu.Unlock()
	select {
	case r.notify <- struct{}{}:
	default:
	}
}

func (r *received) snapshot() []*rtp.Packet {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*rtp.Packet(nil), r.packets...)
}

// vp8Frames reassembles VP8 frames from RTP packets (RFC 7741): payload
// descriptors stripped, partitions concatenated up to the marker bit.
// Packets are ordered by sequence number; a gap drops the frame in
// progress.
func vp8Frames(pkts []*rtp.Packet) [][]byte {
	var frames [][]byte
	var cur []byte
	var last uint16
	started := false
	for i, p := range pkts {
		if i > 0 && p.SequenceNumber != last+1 {
			cur, started = nil, false
		}
		last = p.SequenceNumber
		var d codecs.VP8Packet
		payload, err := d.Unmarshal(p.Payload)
		if err != nil {
			cur, started = nil, false
			continue
		}
		if d.S == 1 && d.PID == 0 {
			cur, started = nil, true
		}
		if !started {
			continue
		}
		cur = append(cur, payload...)
		if p.Marker {
			frames = append(frames, cur)
			cur, started = nil, false
		}
	}
	return frames
}

// indexOf finds needle in haystack (frames compared byte for byte).
func indexOf(haystack [][]byte, needle []byte) int {
	for i, h := range haystack {
		if bytes.Equal(h, needle) {
			return i
		}
	}
	return -1
}

// assertContiguousRun checks that got is a run of consecutive entries of
// want (looping), i.e. every received payload is one the publisher sent,
// in order, with nothing missing in between.
func assertContiguousRun(t *testing.T, what string, want, got [][]byte, min int) {
	t.Helper()
	if len(got) < min {
		t.Fatalf("%s: received %d, want at least %d", what, len(got), min)
	}
	start := indexOf(want, got[0])
	if start < 0 {
		t.Fatalf("%s: first received payload (%d bytes) is not in the source file", what, len(got[0]))
	}
	for i, g := range got {
		w := want[(start+i)%len(want)]
		if !bytes.Equal(g, w) {
			t.Fatalf("%s: payload %d differs from the source's (%d vs %d bytes)", what, i, len(g), len(w))
		}
	}
}

// TestTwoClientsExchangeOpusAndVP8 proves the core media path: two SDK
// clients publish real Opus and VP8 from files through the SFU over
// DTLS-SRTP, and each receives the other's exact payloads in order.
func TestTwoClientsExchangeOpusAndVP8(t *testing.T) {
	env := startServer(t)
	ctx := testCtx(t, 60*time.Second)

	type sink struct {
		audio, video *received
		tracks       chan *parley.RemoteTrack
	}
	newSink := func() *sink {
		return &sink{audio: newReceived(), video: newReceived(), tracks: make(chan *parley.RemoteTrack, 4)}
	}
	sinks := map[string]*sink{"alice": newSink(), "bob": newSink()}
	clients := map[string]*parley.Client{}
	for _, user := range []string{"alice", "bob"} {
		s := sinks[user]
		clients[user] = env.client(t, user, parley.Listener{
			OnRemoteTrack: func(rt *parley.RemoteTrack) {
				dst := s.audio
				if rt.Kind() == protocol.KindVideo {
					dst = s.video
				}
				rt.OnPacket(dst.add)
				s.tracks <- rt
			},
		})
		if _, err := clients[user].EnterRoom(ctx, parley.EnterParams{RoomID: 4242, Scene: protocol.SceneVideoCall}); err != nil {
			t.Fatalf("%s enter: %v", user, err)
		}
		publishClips(t, ctx, clients[user], true, true)
	}
	wantVideo, wantAudio := ivfFrames(t, vp8File), oggPackets(t, opusFile)
	for user, s := range sinks {
		for i := 0; i < 2; i++ {
			rt := waitFor(t, ctx, s.tracks, user+" remote track")
			if rt.UserID() == user {
				t.Fatalf("%s received its own track", user)
			}
		}
	}
	// Collect about two seconds of media.
	deadline := time.After(3 * time.Second)
	select {
	case <-deadline:
	case <-ctx.Done():
		t.Fatal("timed out")
	}
	for user, s := range sinks {
		frames := vp8Frames(s.video.snapshot())
		assertContiguousRun(t, user+" video", wantVideo, frames, 20)
		var audio [][]byte
		for _, p := range s.audio.snapshot() {
			audio = append(audio, p.Payload)
		}
		assertContiguousRun(t, user+" audio", wantAudio, audio, 50)
	}
}
