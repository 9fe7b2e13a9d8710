package bench

import (
	"testing"
	"time"
)

func TestHistogramQuantiles(t *testing.T) {
	var h histogram
	if h.quantile(0.5) != 0 {
		t.Fatal("empty histogram: want 0")
	}
	// 1..100 × 0.1 ms: p50 is the 50th sample (5.0 ms), p99 the 99th.
	for i := 1; i <= 100; i++ {
		h.record(time.Duration(i)*histResolution - time.Microsecond)
	}
	if got := h.quantile(0.5); got != 5*time.Millisecond {
		t.Errorf("p50 = %v, want 5ms", got)
	}
	if got := h.quantile(0.99); got != 9900*time.Microsecond {
		t.Errorf("p99 = %v, want 9.9ms", got)
	}
	if got := h.quantile(1); got != 10*time.Millisecond-time.Microsecond {
		t.Errorf("p100 = %v, want the max 9.999ms", got)
	}
}

func TestHistogramOverflowAndNegative(t *testing.T) {
	var h histogram
	h.record(-time.Millisecond) // clock step: counted as 0
	h.record(3 * time.Second)   // beyond the last bucket
	if h.total() != 2 {
		t.Fatalf("total %d", h.total())
	}
	// The 0 sample is reported as its bucket's upper edge, like HDR.
	if got := h.quantile(0.5); got != histResolution {
		t.Errorf("p50 = %v, want %v", got, histResolution)
	}
	if got := h.quantile(0.99); got != 3*time.Second {
		t.Errorf("p99 = %v, want the overflow's max 3s", got)
	}
	var m histogram
	m.merge(&h)
	m.merge(&h)
	if m.total() != 4 || m.max.Load() != int64(3*time.Second) {
		t.Errorf("merged total %d max %d", m.total(), m.max.Load())
	}
}

func TestSampleQuantiles(t *testing.T) {
	if got := sampleQuantiles(nil, 0.5); got[0] != 0 {
		t.Fatalf("empty: %v", got)
	}
	s := []time.Duration{5, 1, 4, 2, 3}
	got := sampleQuantiles(s, 0.5, 0.99, 0.01)
	if got[0] != 3 || got[1] != 5 || got[2] != 1 {
		t.Fatalf("quantiles %v", got)
	}
	if s[0] != 5 {
		t.Fatal("input was sorted in place")
	}
}
