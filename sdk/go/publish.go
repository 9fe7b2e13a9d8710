package parley

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"

	"github.com/parley-rtc/parley/protocol"
)

// Simulcast RIDs, lowest layer first (quarter, half, full resolution).
var simulcastRIDs = [3]string{"q", "h", "f"}

// VideoOptions configures PublishVideo.
type VideoOptions struct {
	Codec      string              // CodecVP8 (default) or CodecH264
	StreamType protocol.StreamType // main (default) or sub
	// Simulcast sends three encodings with RIDs "q", "h", "f". src is the
	// full layer; LayerSources holds the "q" and "h" sources. When nil and
	// src is a *SyntheticSource, quarter- and half-size copies are derived.
	Simulcast    bool
	LayerSources []SampleSource
}

// LocalTrack is a published track. It survives reconnects: the SDK
// re-publishes it on each new session.
type LocalTrack struct {
	c          *Client
	id         string
	kind       protocol.Kind
	streamType protocol.StreamType
	codec      string
	rids       []string // nil unless simulcast
	tracks     []*webrtc.TrackLocalStaticSample
	locals     []webrtc.TrackLocal // what the sender sends: tracks, or ridTracks for simulcast
	sources    []SampleSource
	layers     []*layerStats
	muted      atomic.Bool
	ctx        context.Context // ends when the track stops
	cancel     context.CancelFunc
	startMu    sync.Mutex // orders start's wg.Add before stop's wg.Wait
	wg         sync.WaitGroup
}

// ID is the track id (the msid track id the server forwards).
func (t *LocalTrack) ID() string { return t.id }

// Kind is audio or video.
func (t *LocalTrack) Kind() protocol.Kind { return t.kind }

// PublishAudio publishes an Opus source as the user's audio track. With
// an init config whose "audio_enable" is not 1 it fails with ErrSwitchOff
// before reading src (SWITCH-1).
func (c *Client) PublishAudio(ctx context.Context, src SampleSource) (*LocalTrack, error) {
	return c.publish(ctx, protocol.KindAudio, protocol.StreamMain, CodecOpus, []SampleSource{src}, nil)
}

// PublishVideo publishes a video source. An audience member gets the
// server's refusal as a *ServerError with code -4004. With an init config
// that lists no stream of o.StreamType in "streams_config" it fails with
// ErrSwitchOff before reading src (SWITCH-2).
func (c *Client) PublishVideo(ctx context.Context, src SampleSource, o VideoOptions) (*LocalTrack, error) {
	if o.Codec == "" {
		o.Codec = CodecVP8
	}
	if o.Codec != CodecVP8 && o.Codec != CodecH264 {
		return nil, fmt.Errorf("%w: video codec %q", ErrUnsupportedCodec, o.Codec)
	}
	if o.StreamType == "" {
		o.StreamType = protocol.StreamMain
	}
	srcs := []SampleSource{src}
	var rids []string
	if o.Simulcast {
		layers := o.LayerSources
		if layers == nil {
			syn, ok := src.(*SyntheticSource)
			if !ok {
				return nil, fmt.Errorf("%w: simulcast needs LayerSources for %q and %q", ErrInvalidConfig, "q", "h")
			}
			layers = []SampleSource{syn.scaled(4), syn.scaled(2)}
		}
		if len(layers) != 2 {
			return nil, fmt.Errorf("%w: simulcast needs 2 LayerSources, got %d", ErrInvalidConfig, len(layers))
		}
		srcs = []SampleSource{layers[0], layers[1], src}
		rids = simulcastRIDs[:]
	}
	return c.publish(ctx, protocol.KindVideo, o.StreamType, o.Codec, srcs, rids)
}

func (c *Client) publish(ctx context.Context, kind protocol.Kind, st protocol.StreamType, codec string,
	srcs []SampleSource, rids []string,
) (*LocalTrack, error) {
	if err := c.checkMedia(kind, st); err != nil {
		return nil, err
	}
	id := string(kind) + "-" + string(st)
	mime := map[string]string{CodecVP8: webrtc.MimeTypeVP8, CodecH264: webrtc.MimeTypeH264, CodecOpus: webrtc.MimeTypeOpus}[codec]
	t := &LocalTrack{c: c, id: id, kind: kind, streamType: st, codec: codec, rids: rids, sources: srcs}
	t.ctx, t.cancel = context.WithCancel(context.Background())
	for i := range srcs {
		var opts []func(*webrtc.TrackLocalStaticRTP)
		if rids != nil {
			opts = append(opts, webrtc.WithRTPStreamID(rids[i]))
		}
		// The msid stream id is the user id, as the server forwards it.
		tr, err := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: mime}, id, c.cfg.UserID, opts...)
		if err != nil {
			return nil, fmt.Errorf("parley: track: %w", err)
		}
		t.tracks = append(t.tracks, tr)
		if rids != nil {
			t.locals = append(t.locals, &ridTrack{TrackLocalStaticSample: tr})
		} else {
			t.locals = append(t.locals, tr)
		}
		t.layers = append(t.layers, &layerStats{})
	}

	s, err := c.session()
	if err != nil {
		t.cancel()
		return nil, err
	}
	c.mu.Lock()
	if _, dup := c.tracks[id]; dup {
		c.mu.Unlock()
		t.cancel()
		return nil, fmt.Errorf("%w: %s", ErrAlreadyPublished, id)
	}
	c.tracks[id] = t // reserve the id; removed again on failure
	c.mu.Unlock()

	err = s.publishTrack(ctx, t)
	if err == nil {
		if err = s.negotiate(ctx); err != nil {
			s.removeSender(id)
		}
	}
	if err != nil {
		c.mu.Lock()
		delete(c.tracks, id)
		c.mu.Unlock()
		t.cancel()
		return nil, err
	}
	t.start()
	c.event(enableEvent(kind, true))
	return t, nil
}

// start runs one pump per layer until the track stops. A track stopped
// before it started (ExitRoom raced PublishVideo) starts nothing.
func (t *LocalTrack) start() {
	t.startMu.Lock()
	defer t.startMu.Unlock()
	if t.ctx.Err() != nil {
		return
	}
	for i := range t.sources {
		t.wg.Add(1)
		go t.pump(t.ctx, i)
	}
}

// pump writes samples from one source to one layer's track. Writing to a
// track with no PeerConnection bound (while reconnecting) drops the sample,
// which is what a live source should do.
func (t *LocalTrack) pump(ctx context.Context, i int) {
	defer t.wg.Done()
	src, tr, st := t.sources[i], t.tracks[i], t.layers[i]
	for {
		sample, err := src.NextSample(ctx)
		if err != nil {
			if ctx.Err() == nil {
				t.c.emitError(fmt.Errorf("parley: source of %s: %w", t.id, err))
			}
			return
		}
		if t.muted.Load() {
			continue
		}
		st.record(sample.Data, t.codec, time.Now())
		if err := tr.WriteSample(sample); err != nil && !errors.Is(err, ctx.Err()) {
			t.c.log.Debug("parley: write sample", "track", t.id, "err", err)
		}
	}
}

// SetMuted stops (or resumes) sending and tells the server, which relays
// the change to the room as availability.
func (t *LocalTrack) SetMuted(ctx context.Context, muted bool) error {
	if t.muted.Swap(muted) != muted {
		t.c.event(muteEvent(t.kind, muted))
	}
	s, err := t.c.session()
	if err != nil {
		return err
	}
	_, err = s.sig.request(ctx, protocol.TypeMute, protocol.Mute{Kind: t.kind, StreamType: t.streamType, Muted: muted})
	return err
}

// Muted reports whether the track is muted.
func (t *LocalTrack) Muted() bool { return t.muted.Load() }

// Unpublish withdraws the track and stops its sources.
func (t *LocalTrack) Unpublish(ctx context.Context) error {
	c := t.c
	c.mu.Lock()
	if c.tracks[t.id] != t {
		c.mu.Unlock()
		return ErrTrackClosed
	}
	delete(c.tracks, t.id)
	c.mu.Unlock()
	t.stop()
	c.event(enableEvent(t.kind, false))
	s, err := c.session()
	if err != nil {
		return nil //nolint:nilerr // no session: the next session simply won't re-publish it
	}
	if _, err := s.sig.request(ctx, protocol.TypeUnpublish, protocol.UnpublishRequest{TrackID: t.id}); err != nil {
		return err
	}
	s.removeSender(t.id)
	return s.negotiate(ctx)
}

func (t *LocalTrack) stop() {
	t.cancel()
	t.startMu.Lock()
	//lint:ignore SA2001 the empty section waits out a concurrent start
	t.startMu.Unlock()
	t.wg.Wait()
}

// keyframeRequested handles a PLI/FIR for layer i.
func (t *LocalTrack) keyframeRequested(i int) {
	if kr, ok := t.sources[i].(KeyframeRequester); ok {
		kr.RequestKeyframe()
	}
	t.c.emit(func(l *Listener) {
		if l.OnKeyframeRequest != nil {
			l.OnKeyframeRequest(t.id)
		}
	})
}

// sender is a local track's RTPSender on one session's publisher PC.
type sender struct {
	rtp   *webrtc.RTPSender
	track *LocalTrack
}

// publishTrack announces t with `publish` and adds it to the publisher PC;
// the caller negotiates.
func (s *session) publishTrack(ctx context.Context, t *LocalTrack) error {
	req := protocol.PublishRequest{TrackID: t.id, Kind: t.kind, StreamType: t.streamType, Layers: t.rids}
	if _, err := s.sig.request(ctx, protocol.TypePublish, req); err != nil {
		return err
	}
	tr, err := s.pub.pc.AddTransceiverFromTrack(t.locals[0],
		webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
	if err != nil {
		return fmt.Errorf("parley: add track: %w", err)
	}
	for _, l := range t.locals {
		if rt, ok := l.(*ridTrack); ok {
			rt.setMid(tr.Mid)
		}
	}
	snd := tr.Sender()
	for _, extra := range t.locals[1:] {
		if err := snd.AddEncoding(extra); err != nil {
			return fmt.Errorf("parley: simulcast encoding: %w", err)
		}
	}
	s.mu.Lock()
	s.senders[t.id] = &sender{rtp: snd, track: t}
	s.mu.Unlock()
	// Reading RTCP drives the interceptors (the NACK responder answers
	// from the send history) and surfaces PLI/FIR.
	for i := range t.tracks {
		s.spawn(func() { s.readRTCP(snd, t, i) })
	}
	return nil
}

func (s *session) readRTCP(snd *webrtc.RTPSender, t *LocalTrack, i int) {
	for {
		var pkts []rtcp.Packet
		var err error
		if t.rids == nil {
			pkts, _, err = snd.ReadRTCP()
		} else {
			pkts, _, err = snd.ReadSimulcastRTCP(t.rids[i])
		}
		if err != nil {
			return
		}
		for _, p := range pkts {
			switch p.(type) {
			case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
				t.keyframeRequested(i)
			}
		}
	}
}

// removeSender stops a local track's sender on this session.
func (s *session) removeSender(id string) {
	s.mu.Lock()
	snd := s.senders[id]
	delete(s.senders, id)
	s.mu.Unlock()
	if snd == nil {
		return
	}
	if err := s.pub.pc.RemoveTrack(snd.rtp); err != nil {
		s.c.log.Debug("parley: remove track", "err", err)
	}
}
