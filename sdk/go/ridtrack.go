package parley

import (
	"sync/atomic"

	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// ridTrack is one simulcast layer. pion's sender does not put the MID and
// RID header extensions (RFC 8852) on outgoing packets, yet a receiver
// needs them to map the undeclared SSRCs of simulcast layers to their
// m-line and RID — pion's own receiver drops such streams otherwise
// ("incoming SSRC failed Simulcast probing"). ridTrack wraps the sample
// track and stamps both extensions on every packet it writes.
type ridTrack struct {
	*webrtc.TrackLocalStaticSample
	// mid returns the m-line id of the transceiver on the current
	// session's publisher PC; replaced on each (re)publish.
	mid atomic.Pointer[func() string]
}

func (r *ridTrack) setMid(f func() string) { r.mid.Store(&f) }

// Bind implements webrtc.TrackLocal.
func (r *ridTrack) Bind(ctx webrtc.TrackLocalContext) (webrtc.RTPCodecParameters, error) {
	return r.TrackLocalStaticSample.Bind(ridContext{ctx, r})
}

// Unbind implements webrtc.TrackLocal.
func (r *ridTrack) Unbind(ctx webrtc.TrackLocalContext) error {
	return r.TrackLocalStaticSample.Unbind(ridContext{ctx, r})
}

type ridContext struct {
	webrtc.TrackLocalContext
	t *ridTrack
}

func (c ridContext) WriteStream() webrtc.TrackLocalWriter {
	w := &ridWriter{TrackLocalWriter: c.TrackLocalContext.WriteStream(), t: c.t, rid: []byte(c.t.RID())}
	for _, e := range c.HeaderExtensions() {
		switch e.URI {
		case sdp.SDESMidURI:
			w.midID = uint8(e.ID) //nolint:gosec // extension ids are 1–255
		case sdp.SDESRTPStreamIDURI:
			w.ridID = uint8(e.ID) //nolint:gosec // extension ids are 1–255
		}
	}
	return w
}

type ridWriter struct {
	webrtc.TrackLocalWriter
	t            *ridTrack
	rid          []byte
	midID, ridID uint8
}

func (w *ridWriter) WriteRTP(h *rtp.Header, payload []byte) (int, error) {
	if w.midID != 0 {
		if f := w.t.mid.Load(); f != nil {
			if mid := (*f)(); mid != "" {
				_ = h.SetExtension(w.midID, []byte(mid)) // fails only for id 0 or > 14 with one-byte headers
			}
		}
	}
	if w.ridID != 0 {
		_ = h.SetExtension(w.ridID, w.rid)
	}
	return w.TrackLocalWriter.WriteRTP(h, payload)
}
