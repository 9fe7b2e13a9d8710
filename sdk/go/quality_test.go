package parley

import (
	"testing"
	"time"
)

func TestQualityFor(t *testing.T) {
	ms := time.Millisecond
	cases := []struct {
		connected bool
		rtt       time.Duration
		loss      float64
		want      Quality
	}{
		{false, 10 * ms, 0, QualityDown},
		{true, -1, -1, QualityUnknown},
		{true, 20 * ms, 0, QualityExcellent},
		{true, 49 * ms, 0.9, QualityExcellent},
		{true, 50 * ms, 0, QualityGood},
		{true, 20 * ms, 1, QualityGood},
		{true, 99 * ms, 2.9, QualityGood},
		{true, 150 * ms, 0, QualityPoor},
		{true, 20 * ms, 5, QualityPoor},
		{true, 300 * ms, 0, QualityBad},
		{true, 20 * ms, 10, QualityBad},
		{true, 400 * ms, 0, QualityVeryBad},
		{true, 20 * ms, 30, QualityVeryBad},
		{true, -1, 0.5, QualityExcellent}, // loss only
		{true, 120 * ms, -1, QualityPoor}, // rtt only
	}
	for _, c := range cases {
		if got := QualityFor(c.connected, c.rtt, c.loss); got != c.want {
			t.Errorf("QualityFor(%v, %v, %v) = %d, want %d", c.connected, c.rtt, c.loss, got, c.want)
		}
	}
}
