package parley

import (
	"context"
	"time"

	"github.com/pion/webrtc/v4/pkg/media"
)

// SampleSource produces encoded media samples in real time: NextSample
// blocks until the sample is due, so a publisher can write each sample as
// soon as it returns. Sample.Duration is the time until the next sample.
type SampleSource interface {
	NextSample(ctx context.Context) (media.Sample, error)
}

// KeyframeRequester is implemented by sources that can produce a keyframe
// on demand (the synthetic source). The publisher calls RequestKeyframe
// when the server relays a PLI or FIR for the track.
type KeyframeRequester interface {
	RequestKeyframe()
}

// maxLag is how far a consumer may fall behind the schedule before the
// pacer restarts it from now instead of bursting to catch up.
const maxLag = time.Second

// pacer releases samples on a fixed schedule: sample n is due at the start
// time plus the durations of samples 0..n-1. It waits on a timer (never a
// sleep loop), so it honours ctx and works under testing/synctest.
type pacer struct {
	next time.Time
}

// wait blocks until the current sample is due and books d for it.
func (p *pacer) wait(ctx context.Context, d time.Duration) error {
	now := time.Now()
	if p.next.IsZero() || now.Sub(p.next) > maxLag {
		p.next = now
	}
	if delay := p.next.Sub(now); delay > 0 {
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
	p.next = p.next.Add(d)
	return nil
}
