package bench

import (
	"math"
	"slices"
	"sync/atomic"
	"time"
)

// Latency histogram: fixed 0.1 ms buckets up to one second plus an
// overflow bucket. Memory is bounded (80 KB per receiving client) however
// many packets arrive, and 0.1 ms is finer than anything the SFU's
// per-packet cost (~10 µs, REFERENCE §9.1) could move on its own — what
// the buckets resolve is queueing and scheduling delay.
const (
	histResolution = 100 * time.Microsecond
	histBuckets    = int(time.Second / histResolution)
)

// histogram counts durations. record is safe for concurrent use, so one
// client's reader goroutines (one per remote track) share it.
type histogram struct {
	counts [histBuckets + 1]atomic.Uint64 // last bucket: ≥ 1 s
	max    atomic.Int64                   // ns
}

func (h *histogram) record(d time.Duration) {
	if d < 0 {
		// The stamp and the arrival come from the same wall clock on one
		// host; a negative value can only be a clock step, counted as 0.
		d = 0
	}
	i := min(int(d/histResolution), histBuckets)
	h.counts[i].Add(1)
	for {
		cur := h.max.Load()
		if int64(d) <= cur || h.max.CompareAndSwap(cur, int64(d)) {
			return
		}
	}
}

// merge adds o's counts into h. Call it once recording has stopped.
func (h *histogram) merge(o *histogram) {
	for i := range o.counts {
		if n := o.counts[i].Load(); n > 0 {
			h.counts[i].Add(n)
		}
	}
	if m := o.max.Load(); m > h.max.Load() {
		h.max.Store(m)
	}
}

func (h *histogram) total() uint64 {
	var n uint64
	for i := range h.counts {
		n += h.counts[i].Load()
	}
	return n
}

// quantile returns the q-quantile (0 < q ≤ 1) by nearest rank, reported as
// the upper edge of its bucket, as HDR histograms report the highest
// value equivalent to the sample; in the overflow bucket it is the
// maximum seen. An empty histogram yields 0.
func (h *histogram) quantile(q float64) time.Duration {
	n := h.total()
	if n == 0 {
		return 0
	}
	rank := nearestRank(q, int(n))
	var seen uint64
	for i := range h.counts {
		seen += h.counts[i].Load()
		if seen > uint64(rank) {
			if i == histBuckets {
				return time.Duration(h.max.Load())
			}
			return min(time.Duration(i+1)*histResolution, time.Duration(h.max.Load()))
		}
	}
	return time.Duration(h.max.Load())
}

// nearestRank is the 0-based index of the q-quantile among n sorted
// samples (the nearest-rank method: ceil(q·n) − 1).
func nearestRank(q float64, n int) int {
	r := int(math.Ceil(q*float64(n))) - 1
	return min(max(r, 0), n-1)
}

// sampleQuantiles sorts samples and returns the given quantiles; it is
// used for join times, of which there is one per client.
func sampleQuantiles(samples []time.Duration, qs ...float64) []time.Duration {
	out := make([]time.Duration, len(qs))
	if len(samples) == 0 {
		return out
	}
	s := slices.Clone(samples)
	slices.Sort(s)
	for i, q := range qs {
		out[i] = s[nearestRank(q, len(s))]
	}
	return out
}

// ms converts a duration to milliseconds, rounded to 0.01 ms for output.
func ms(d time.Duration) float64 {
	return math.Round(float64(d)/float64(time.Millisecond)*100) / 100
}
