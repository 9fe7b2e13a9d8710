package parley

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/parley-rtc/parley/protocol"
)

// remoteQueue bounds the packets held for ReadRTP; past it the oldest are
// dropped, as a live receiver would rather than grow without limit.
const remoteQueue = 512

// RemoteTrack is a track received from another user. Packets go to the
// handler set with OnPacket, or else are queued (bounded) for ReadRTP.
type RemoteTrack struct {
	userID, trackID string
	kind            protocol.Kind
	track           *webrtc.TrackRemote
	stats           remoteStats

	mu      sync.Mutex
	handler func(*rtp.Packet)
	queue   chan *rtp.Packet
	done    chan struct{}
	dropped atomic.Uint64
}

// UserID is the publishing user.
func (t *RemoteTrack) UserID() string { return t.userID }

// TrackID is the publisher's track id.
func (t *RemoteTrack) TrackID() string { return t.trackID }

// Kind is audio or video.
func (t *RemoteTrack) Kind() protocol.Kind { return t.kind }

// Codec is the negotiated codec, e.g. "video/VP8".
func (t *RemoteTrack) Codec() string { return t.track.Codec().MimeType }

// OnPacket sets a handler called for every received packet on the track's
// reader goroutine; it must not block. Set it from OnRemoteTrack to see
// every packet.
func (t *RemoteTrack) OnPacket(f func(*rtp.Packet)) {
	t.mu.Lock()
	t.handler = f
	t.mu.Unlock()
}

// ReadRTP returns the next queued packet. It fails once the track ended
// (unsubscribed, left, or session closed) and the queue is drained.
func (t *RemoteTrack) ReadRTP(ctx context.Context) (*rtp.Packet, error) {
	select {
	case p := <-t.queue:
		return p, nil
	default:
	}
	select {
	case p := <-t.queue:
		return p, nil
	case <-t.done:
		return nil, ErrTrackClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Dropped counts packets discarded because the ReadRTP queue was full.
func (t *RemoteTrack) Dropped() uint64 { return t.dropped.Load() }

// Done is closed when the track ends.
func (t *RemoteTrack) Done() <-chan struct{} { return t.done }

// onTrack is the subscriber PeerConnection's OnTrack handler. Per the
// protocol the msid stream id is the publisher's user id and the track id
// the publisher's track id.
func (s *session) onTrack(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
	kind := protocol.KindVideo
	if tr.Kind() == webrtc.RTPCodecTypeAudio {
		kind = protocol.KindAudio
	}
	rt := &RemoteTrack{
		userID: tr.StreamID(), trackID: tr.ID(), kind: kind, track: tr,
		queue: make(chan *rtp.Packet, remoteQueue), done: make(chan struct{}),
	}
	rt.stats.vp8 = tr.Codec().MimeType == webrtc.MimeTypeVP8
	rt.stats.clock = float64(tr.Codec().ClockRate)
	key := rt.userID + "/" + rt.trackID
	if !s.spawn(func() { s.readRemote(rt, key) }) {
		return
	}
	s.mu.Lock()
	s.remotes[key] = rt
	s.mu.Unlock()
	s.c.emit(func(l *Listener) {
		if l.OnRemoteTrack != nil {
			l.OnRemoteTrack(rt)
		}
	})
}

// readRemote reads the track until it ends. Reading also drives the
// receive interceptors (NACK generation, receiver reports).
func (s *session) readRemote(rt *RemoteTrack, key string) {
	defer func() {
		close(rt.done)
		s.mu.Lock()
		if s.remotes[key] == rt {
			delete(s.remotes, key)
		}
		s.mu.Unlock()
	}()
	for {
		p, _, err := rt.track.ReadRTP()
		if err != nil {
			return
		}
		rt.stats.record(p, time.Now())
		rt.mu.Lock()
		h := rt.handler
		rt.mu.Unlock()
		if h != nil {
			h(p)
			continue
		}
		select {
		case rt.queue <- p:
		default:
			// Drop the oldest so a slow reader sees recent media.
			select {
			case <-rt.queue:
			default:
			}
			rt.dropped.Add(1)
			select {
			case rt.queue <- p:
			default:
			}
		}
	}
}
