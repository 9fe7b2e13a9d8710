package sfu

import (
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parley-rtc/parley/protocol"
	"github.com/pion/webrtc/v4"
)

const (
	// pliThrottle is the minimum spacing of PLIs towards one publisher layer
	// (RFC 4585 §3.5.4 leaves the rate to the application; ion-sfu and
	// LiveKit use 500 ms).
	pliThrottle = 500 * time.Millisecond
	// minFanoutChunk is the fewest DownTracks worth handing to another
	// goroutine. Waking a pool worker costs several microseconds of
	// scheduler work per packet (measured: park/unpark was 31 % of server
	// CPU with 17-wide chunks at 1×50), more than writing ~30 packets
	// serially saves, so a packet is split only into chunks this large.
	minFanoutChunk = 32
)

// layer is one simulcast encoding (or the only encoding) of a track.
type layer struct {
	rid     string
	buf     atomic.Pointer[buffer]
	ssrc    atomic.Uint32
	lastPLI atomic.Int64 // ns, wall clock
}

// PublishedTrack is a declared track of a publisher and its subscribers.
type PublishedTrack struct {
	info   protocol.TrackInfo
	owner  *Peer
	codec  webrtc.RTPCodecCapability
	video  bool
	layers []*layer

	downTracks atomic.Pointer[[]*DownTrack] // copy-on-write
	sendPLI    func(ssrc uint32)            // owner.sendPLI; replaced in tests

	mu     sync.Mutex // guards writes to downTracks and closed
	closed bool
}

// Info returns the track as declared by the publisher.
func (t *PublishedTrack) Info() protocol.TrackInfo {
	info := t.info
	info.Layers = slices.Clone(t.info.Layers)
	return info
}

// Owner returns the publisher's peer id.
func (t *PublishedTrack) Owner() string { return t.owner.id }

func newPublishedTrack(owner *Peer, info protocol.TrackInfo, codec webrtc.RTPCodecCapability) *PublishedTrack {
	t := &PublishedTrack{info: info, owner: owner, codec: codec, video: info.Kind == protocol.KindVideo}
	t.sendPLI = owner.sendPLI
	n := max(len(info.Layers), 1)
	for i := range n {
		l := &layer{}
		if len(info.Layers) > 0 {
			l.rid = info.Layers[i]
		}
		t.layers = append(t.layers, l)
	}
	empty := []*DownTrack{}
	t.downTracks.Store(&empty)
	return t
}

// layerIndex maps a RID to a layer index; "" is the single layer.
func (t *PublishedTrack) layerIndex(rid string) (int, bool) {
	if rid == "" && len(t.info.Layers) == 0 {
		return 0, true
	}
	for i, l := range t.layers {
		if l.rid == rid {
			return i, true
		}
	}
	return 0, false
}

// defaultLayer is the layer a new subscriber wants: the highest the
// publisher declared. Until it arrives the DownTrack starts on a lower one
// (see DownTrack.writeRTP).
func (t *PublishedTrack) defaultLayer() int { return len(t.layers) - 1 }

func (t *PublishedTrack) addDownTrack(dt *DownTrack) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return false
	}
	old := *t.downTracks.Load()
	next := make([]*DownTrack, 0, len(old)+1)
	next = append(append(next, old...), dt)
	t.downTracks.Store(&next)
	return true
}

func (t *PublishedTrack) removeDownTrack(dt *DownTrack) {
	t.mu.Lock()
	defer t.mu.Unlock()
	old := *t.downTracks.Load()
	next := make([]*DownTrack, 0, len(old))
	for _, d := range old {
		if d != dt {
			next = append(next, d)
		}
	}
	t.downTracks.Store(&next)
}

// forward fans a packet out to every DownTrack. It runs on the buffer's
// Write goroutine and returns after every DownTrack has consumed the packet,
// because the packet lives in the ring slot the next Write may reuse.
func (t *PublishedTrack) forward(ep *extPacket, wg *sync.WaitGroup) {
	dts := *t.downTracks.Load()
	if len(dts) < 2*minFanoutChunk {
		for _, dt := range dts {
			dt.writeRTP(ep)
		}
		return
	}
	pool := t.owner.e.pool
	pool.run(dts, ep, wg, min(pool.workers+1, len(dts)/minFanoutChunk))
}

// requestKeyframe asks the publisher for a keyframe on one layer, at most
// once per pliThrottle (collapsing all subscribers' requests).
func (t *PublishedTrack) requestKeyframe(layerIdx int) {
	if !t.video || layerIdx < 0 || layerIdx >= len(t.layers) {
		return
	}
	l := t.layers[layerIdx]
	ssrc := l.ssrc.Load()
	if ssrc == 0 {
		return
	}
	now := time.Now().UnixNano()
	last := l.lastPLI.Load()
	if now-last < int64(pliThrottle) || !l.lastPLI.CompareAndSwap(last, now) {
		return
	}
	t.sendPLI(ssrc)
}

// close detaches every subscriber; the subscribers renegotiate.
func (t *PublishedTrack) close() {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return
	}
	t.closed = true
	dts := *t.downTracks.Load()
	t.mu.Unlock()
	for _, dt := range dts {
		dt.sub.Unsubscribe(t)
	}
}

// fanoutPool runs DownTrack writes on a fixed set of goroutines.
type fanoutPool struct {
	jobs    chan fanoutJob
	workers int
	wg      sync.WaitGroup
}

type fanoutJob struct {
	dts  []*DownTrack
	ep   *extPacket
	done *sync.WaitGroup
}

func newFanoutPool(workers int) *fanoutPool {
	p := &fanoutPool{jobs: make(chan fanoutJob, workers*4), workers: workers}
	p.wg.Add(workers)
	for range workers {
		go func() {
			defer p.wg.Done()
			for j := range p.jobs {
				for _, dt := range j.dts {
					dt.writeRTP(j.ep)
				}
				j.done.Done()
			}
		}()
	}
	return p
}

// run splits dts into chunks (at most one per worker plus one for the
// caller). done is owned by the calling buffer (reused, so the fan-out
// allocates nothing).
func (p *fanoutPool) run(dts []*DownTrack, ep *extPacket, done *sync.WaitGroup, chunks int) {
	size := (len(dts) + chunks - 1) / chunks
	first := dts[:size]
	for rest := dts[size:]; len(rest) > 0; {
		n := min(size, len(rest))
		done.Add(1)
		p.jobs <- fanoutJob{dts: rest[:n], ep: ep, done: done}
		rest = rest[n:]
	}
	for _, dt := range first {
		dt.writeRTP(ep)
	}
	done.Wait()
}

func (p *fanoutPool) close() {
	close(p.jobs)
	p.wg.Wait()
}
