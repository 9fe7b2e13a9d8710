package parley

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/pion/webrtc/v4/pkg/media"
	"github.com/pion/webrtc/v4/pkg/media/h264reader"
	"github.com/pion/webrtc/v4/pkg/media/ivfreader"
	"github.com/pion/webrtc/v4/pkg/media/oggreader"
)

// File sources read the whole file into memory once (test clips are a few
// hundred kilobytes) and loop it forever, so a publisher never runs dry and
// no file handle outlives the constructor.

// IVFSource plays a VP8 IVF file in real time, looping.
type IVFSource struct {
	data     []byte
	num, den uint64 // IVF timebase: one pts unit is num/den seconds
	r        *ivfreader.IVFReader
	next     []byte // one frame of lookahead gives each frame its duration
	nextTS   uint64
	pacer    pacer
}

// NewIVFSource opens a VP8 IVF file.
func NewIVFSource(path string) (*IVFSource, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("parley: %w", err)
	}
	s := &IVFSource{data: data}
	if err := s.rewind(); err != nil {
		return nil, err
	}
	if s.next == nil {
		return nil, fmt.Errorf("%w: %s has no frames", ErrBadMedia, path)
	}
	return s, nil
}

func (s *IVFSource) rewind() error {
	r, h, err := ivfreader.NewWith(bytesReader(s.data))
	if err != nil {
		return fmt.Errorf("%w: ivf: %w", ErrBadMedia, err)
	}
	if h.FourCC != "VP80" {
		return fmt.Errorf("%w: ivf fourcc %q, want VP80", ErrUnsupportedCodec, h.FourCC)
	}
	s.r, s.num, s.den = r, uint64(h.TimebaseNumerator), uint64(h.TimebaseDenominator)
	s.next, s.nextTS, err = s.read()
	return err
}

func (s *IVFSource) read() ([]byte, uint64, error) {
	frame, hdr, err := s.r.ParseNextFrame()
	if errors.Is(err, io.EOF) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("%w: ivf: %w", ErrBadMedia, err)
	}
	return frame, hdr.Timestamp, nil
}

// NextSample implements SampleSource.
func (s *IVFSource) NextSample(ctx context.Context) (media.Sample, error) {
	cur, curTS := s.next, s.nextTS
	next, nextTS, err := s.read()
	if err != nil {
		return media.Sample{}, err
	}
	// pion's reader reports pts·den/num; convert the step back to pts and
	// then to seconds. The last frame, or a non-increasing step, gets one
	// pts unit.
	step := uint64(s.den / s.num)
	if next != nil && nextTS > curTS {
		step = nextTS - curTS
	}
	d := time.Duration(step * s.num * s.num * uint64(time.Second) / (s.den * s.den))
	if next == nil {
		if err := s.rewind(); err != nil {
			return media.Sample{}, err
		}
	} else {
		s.next, s.nextTS = next, nextTS
	}
	if err := s.pacer.wait(ctx, d); err != nil {
		return media.Sample{}, err
	}
	return media.Sample{Data: cur, Duration: d}, nil
}

// OggSource plays an Ogg Opus file in real time, looping. Each Ogg page
// is sent as one sample, so the file should hold one Opus packet per page
// (ffmpeg -page_duration 20000, see testdata/media/README.md).
type OggSource struct {
	data    []byte
	r       *oggreader.OggReader
	granule uint64
	pacer   pacer
}

// NewOggSource opens an Ogg Opus file.
func NewOggSource(path string) (*OggSource, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("parley: %w", err)
	}
	s := &OggSource{data: data}
	if err := s.rewind(); err != nil {
		return nil, err
	}
	return s, nil
}

// opusPacketDuration decodes an Opus packet's TOC byte (RFC 6716 §3.1).
func opusPacketDuration(p []byte) (time.Duration, bool) {
	if len(p) == 0 {
		return 0, false
	}
	cfg := p[0] >> 3
	var frame time.Duration
	switch {
	case cfg < 12: // SILK: 10, 20, 40, 60 ms
		frame = [4]time.Duration{10, 20, 40, 60}[cfg%4] * time.Millisecond
	case cfg < 16: // hybrid: 10, 20 ms
		frame = [2]time.Duration{10, 20}[cfg%2] * time.Millisecond
	default: // CELT: 2.5, 5, 10, 20 ms
		frame = [4]time.Duration{2500, 5000, 10000, 20000}[cfg%4] * time.Microsecond
	}
	n := 1
	switch p[0] & 3 {
	case 1, 2:
		n = 2
	case 3:
		if len(p) < 2 {
			return 0, false
		}
		n = int(p[1] & 0x3f)
	}
	return frame * time.Duration(n), n > 0
}

func (s *OggSource) rewind() error {
	r, _, err := oggreader.NewWith(bytesReader(s.data))
	if err != nil {
		return fmt.Errorf("%w: ogg: %w", ErrBadMedia, err)
	}
	s.r, s.granule = r, 0
	return nil
}

// NextSample implements SampleSource.
func (s *OggSource) NextSample(ctx context.Context) (media.Sample, error) {
	for rewound := false; ; {
		page, hdr, err := s.r.ParseNextPage()
		if errors.Is(err, io.EOF) && !rewound {
			if err := s.rewind(); err != nil {
				return media.Sample{}, err
			}
			rewound = true
			continue
		}
		if err != nil {
			return media.Sample{}, fmt.Errorf("%w: ogg: %w", ErrBadMedia, err)
		}
		// Header pages (OpusHead, OpusTags) carry granule 0 and no audio.
		if hdr.GranulePosition <= s.granule {
			continue
		}
		s.granule = hdr.GranulePosition
		// The duration comes from the packet's TOC byte, not from granule
		// steps: the first page's granule is offset by the pre-skip.
		d, ok := opusPacketDuration(page)
		if !ok {
			return media.Sample{}, fmt.Errorf("%w: ogg: bad Opus packet", ErrBadMedia)
		}
		if err := s.pacer.wait(ctx, d); err != nil {
			return media.Sample{}, err
		}
		return media.Sample{Data: page, Duration: d}, nil
	}
}

// H264Source plays an Annex-B H.264 file in real time, looping. Raw
// Annex-B carries no timing, so the frame rate is given (default 30).
type H264Source struct {
	data  []byte
	r     *h264reader.H264Reader
	fps   int
	pacer pacer
	au    []byte // access unit being assembled
}

// NewH264Source opens an Annex-B file. frameRate ≤ 0 means 30 fps, the rate
// of testdata/media/h264.h264.
func NewH264Source(path string, frameRate int) (*H264Source, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("parley: %w", err)
	}
	if frameRate <= 0 {
		frameRate = 30
	}
	s := &H264Source{data: data, fps: frameRate}
	if err := s.rewind(); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *H264Source) rewind() error {
	r, err := h264reader.NewReader(bytesReader(s.data))
	if err != nil {
		return fmt.Errorf("%w: h264: %w", ErrBadMedia, err)
	}
	s.r = r
	return nil
}

// NextSample implements SampleSource. A sample is one access unit: the
// parameter sets and SEI before a slice travel with it, so each sample
// advances the RTP clock by exactly one frame.
func (s *H264Source) NextSample(ctx context.Context) (media.Sample, error) {
	for rewound := false; ; {
		nal, err := s.r.NextNAL()
		if errors.Is(err, io.EOF) && !rewound {
			if err := s.rewind(); err != nil {
				return media.Sample{}, err
			}
			rewound = true
			continue
		}
		if err != nil {
			return media.Sample{}, fmt.Errorf("%w: h264: %w", ErrBadMedia, err)
		}
		s.au = append(s.au, 0, 0, 0, 1)
		s.au = append(s.au, nal.Data...)
		if nal.UnitType != h264reader.NalUnitTypeCodedSliceNonIdr && nal.UnitType != h264reader.NalUnitTypeCodedSliceIdr {
			continue
		}
		frame := s.au
		s.au = nil
		d := time.Second / time.Duration(s.fps)
		if err := s.pacer.wait(ctx, d); err != nil {
			return media.Sample{}, err
		}
		return media.Sample{Data: frame, Duration: d}, nil
	}
}
