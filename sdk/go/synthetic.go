package parley

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/pion/webrtc/v4/pkg/media"

	"github.com/parley-rtc/parley/protocol"
)

// Synthetic payload layout, right after the codec header:
//
//	magic (4 bytes) | send time, unix ns (8, big endian) | frame counter (8, big endian) | filler
//
// The magic lets ParseSyntheticStamp find the stamp without knowing the
// codec or how the packetizer framed it (VP8 payload descriptors vary in
// length, H.264 may arrive as a single NAL or as FU-A). H.264 uses its own
// magic because its stamp is escaped with emulation-prevention bytes, so a
// counter such as 00…01 never forms an Annex-B start code.
var (
	stampMagic     = [4]byte{'P', 'R', 'L', 'Y'}
	stampMagicH264 = [4]byte{'P', 'R', 'L', 'H'}
)

const stampLen = 16

// Codec names accepted by SyntheticOptions and VideoOptions.
const (
	CodecVP8  = "vp8"
	CodecH264 = "h264"
	CodecOpus = "opus"
)

// SyntheticOptions configures NewSyntheticSource. Zero values pick
// defaults: VP8 at 30 fps, 1000-byte frames, a keyframe every second and a
// 320x240 keyframe header; Opus at 50 packets/s (20 ms) of 80 bytes.
type SyntheticOptions struct {
	Kind             protocol.Kind
	Codec            string
	FrameRate        int
	FrameBytes       int
	KeyframeInterval int // frames between keyframes (video)
	Width, Height    int // written into VP8 keyframe headers
}

// SyntheticSource emits frames stamped with their send time and a counter,
// so receivers measure end-to-end latency and loss without a real encoder.
type SyntheticSource struct {
	opts     SyntheticOptions
	pacer    pacer
	counter  uint64
	forceKey atomic.Bool
}

// NewSyntheticSource validates o, fills defaults and returns the source.
func NewSyntheticSource(o SyntheticOptions) (*SyntheticSource, error) {
	if o.Kind == "" {
		o.Kind = protocol.KindVideo
	}
	switch {
	case o.Kind == protocol.KindVideo && o.Codec == "":
		o.Codec = CodecVP8
	case o.Kind == protocol.KindAudio && o.Codec == "":
		o.Codec = CodecOpus
	}
	switch {
	case o.Kind == protocol.KindVideo && (o.Codec == CodecVP8 || o.Codec == CodecH264):
	case o.Kind == protocol.KindAudio && o.Codec == CodecOpus:
	default:
		return nil, fmt.Errorf("%w: synthetic %s/%s", ErrUnsupportedCodec, o.Kind, o.Codec)
	}
	if o.FrameRate <= 0 {
		o.FrameRate = 30
		if o.Kind == protocol.KindAudio {
			o.FrameRate = 50
		}
	}
	if o.FrameBytes <= 0 {
		o.FrameBytes = 1000
		if o.Kind == protocol.KindAudio {
			o.FrameBytes = 80
		}
	}
	if o.KeyframeInterval <= 0 {
		o.KeyframeInterval = o.FrameRate
	}
	if o.Width <= 0 || o.Height <= 0 {
		o.Width, o.Height = 320, 240
	}
	if o.Width > 0x3fff || o.Height > 0x3fff {
		return nil, fmt.Errorf("%w: VP8 size %dx%d exceeds 16383", ErrInvalidConfig, o.Width, o.Height)
	}
	return &SyntheticSource{opts: o}, nil
}

// Options returns the effective options (defaults filled).
func (s *SyntheticSource) Options() SyntheticOptions { return s.opts }

// RequestKeyframe makes the next video frame a keyframe.
func (s *SyntheticSource) RequestKeyframe() { s.forceKey.Store(true) }

// NextSample implements SampleSource. It is not safe for concurrent use;
// one publisher goroutine drives a source.
func (s *SyntheticSource) NextSample(ctx context.Context) (media.Sample, error) {
	d := time.Second / time.Duration(s.opts.FrameRate)
	if err := s.pacer.wait(ctx, d); err != nil {
		return media.Sample{}, err
	}
	key := s.counter%uint64(s.opts.KeyframeInterval) == 0
	if s.forceKey.Swap(false) {
		key = true
	}
	frame := s.frame(time.Now(), s.counter, key)
	s.counter++
	return media.Sample{Data: frame, Duration: d}, nil
}

func (s *SyntheticSource) frame(now time.Time, n uint64, key bool) []byte {
	var stamp [stampLen]byte
	binary.BigEndian.PutUint64(stamp[:8], uint64(now.UnixNano()))
	binary.BigEndian.PutUint64(stamp[8:], n)
	b := make([]byte, 0, s.opts.FrameBytes+8)
	switch s.opts.Codec {
	case CodecVP8:
		b = appendVP8Header(b, key, s.opts.FrameBytes, s.opts.Width, s.opts.Height)
		b = append(b, stampMagic[:]...)
		b = append(b, stamp[:]...)
	case CodecH264:
		// Annex-B start code, then an IDR (5) or non-IDR (1) slice header
		// byte with nal_ref_idc 3, which SFUs use to spot keyframes.
		b = append(b, 0, 0, 0, 1)
		if key {
			b = append(b, 0x65)
		} else {
			b = append(b, 0x41)
		}
		b = append(b, stampMagicH264[:]...)
		b = appendEscaped(b, stamp[:])
	default: // Opus
		// TOC: config 31 (CELT fullband 20 ms), mono, one frame.
		b = append(b, 0xf8)
		b = append(b, stampMagic[:]...)
		b = append(b, stamp[:]...)
	}
	// Non-zero filler so H.264 never sees a start code in it.
	for len(b) < s.opts.FrameBytes {
		b = append(b, 0xaa)
	}
	return b
}

// appendVP8Header writes an RFC 6386 §9.1 frame tag; keyframes add the
// start code and dimensions that SFUs and ParseVP8KeyframeSize read.
func appendVP8Header(b []byte, key bool, frameBytes, w, h int) []byte {
	// first_part_size is 19 bits; any plausible value will do because no
	// decoder runs on synthetic frames.
	size := uint32(min(max(frameBytes-10, 0), 1<<19-1))
	tag := size<<5 | 1<<4 // show_frame = 1, version 0
	if !key {
		tag |= 1 // frame type 1 = interframe
	}
	b = append(b, byte(tag), byte(tag>>8), byte(tag>>16))
	if key {
		b = append(b, 0x9d, 0x01, 0x2a, byte(w), byte(w>>8)&0x3f, byte(h), byte(h>>8)&0x3f)
	}
	return b
}

// appendEscaped appends src with H.264 emulation-prevention bytes
// (ITU-T H.264 §7.4.1): 00 00 0x with x ≤ 3 becomes 00 00 03 0x.
func appendEscaped(b, src []byte) []byte {
	zeros := 0
	for _, c := range src {
		if zeros >= 2 && c <= 3 {
			b = append(b, 3)
			zeros = 0
		}
		b = append(b, c)
		if c == 0 {
			zeros++
		} else {
			zeros = 0
		}
	}
	return b
}

// ParseSyntheticStamp extracts the send time and frame counter from a
// synthetic frame or from the RTP payload of its first packet (any
// codec). ok is false when payload carries no stamp, e.g. a continuation
// packet of a large frame.
func ParseSyntheticStamp(payload []byte) (sent time.Time, counter uint64, ok bool) {
	// The stamp sits within the first few bytes: codec header (≤10) plus
	// payload descriptor (≤6) plus Annex-B start code (4).
	head := payload[:min(len(payload), 40)]
	var stamp []byte
	if i := bytes.Index(head, stampMagic[:]); i >= 0 {
		rest := payload[i+len(stampMagic):]
		if len(rest) < stampLen {
			return time.Time{}, 0, false
		}
		stamp = rest[:stampLen]
	} else if i := bytes.Index(head, stampMagicH264[:]); i >= 0 {
		stamp = unescape(payload[i+len(stampMagicH264):], stampLen)
		if len(stamp) < stampLen {
			return time.Time{}, 0, false
		}
	} else {
		return time.Time{}, 0, false
	}
	ns := int64(binary.BigEndian.Uint64(stamp[:8]))
	return time.Unix(0, ns), binary.BigEndian.Uint64(stamp[8:]), true
}

// unescape removes emulation-prevention bytes until n bytes are collected.
func unescape(src []byte, n int) []byte {
	out := make([]byte, 0, n)
	zeros := 0
	for _, c := range src {
		if len(out) == n {
			break
		}
		if zeros >= 2 && c == 3 {
			zeros = 0
			continue
		}
		out = append(out, c)
		if c == 0 {
			zeros++
		} else {
			zeros = 0
		}
	}
	return out
}

// scaled returns a copy for a lower simulcast layer: 1/div of the
// dimensions and frame size, same rate and keyframe cadence.
func (s *SyntheticSource) scaled(div int) *SyntheticSource {
	o := s.opts
	o.Width, o.Height = max(o.Width/div, 16), max(o.Height/div, 16)
	o.FrameBytes = max(o.FrameBytes/div, 64)
	return &SyntheticSource{opts: o}
}
