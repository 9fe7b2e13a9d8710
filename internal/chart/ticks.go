package chart

import (
	"math"
	"strconv"
	"time"
)

// niceStep is the 1-2-5 step (1, 2, 5, 10, 20, 50, …) closest above
// span/n, with its power of ten (for the label's decimals).
func niceStep(span float64, n int) (step float64, exp int) {
	raw := span / float64(max(n, 1))
	exp = int(math.Floor(math.Log10(raw)))
	f := raw / math.Pow10(exp)
	var m float64
	switch {
	case f <= 1:
		m = 1
	case f <= 2:
		m = 2
	case f <= 5:
		m = 5
	default:
		m, exp = 1, exp+1
	}
	return m * math.Pow10(exp), exp
}

// valueScale picks the value axis for data in [lo, hi]: it always
// includes 0 (every quality metric is a non-negative amount, and a
// baseline at 0 keeps a 2 ms wobble from looking like a cliff), and runs
// from a multiple of a 1-2-5 step to the next one above hi, with about n
// intervals.
func valueScale(lo, hi float64, n int) (ticks []float64, step float64, exp int) {
	lo, hi = min(lo, 0), max(hi, 0)
	if hi == lo {
		hi = 1
	}
	step, exp = niceStep(hi-lo, n)
	start := math.Floor(lo/step) * step
	k := int(math.Ceil(hi/step - start/step - 1e-9))
	ticks = make([]float64, 0, k+1)
	for i := 0; i <= k; i++ {
		ticks = append(ticks, start+float64(i)*step)
	}
	return ticks, step, exp
}

// appendValue formats a tick value: decimals as the step needs, and k or
// M for large values so labels stay narrow (2000000 kbps is "2M"); zero
// is always "0".
func appendValue(dst []byte, v, step float64, exp int, top float64) []byte {
	if math.Abs(v) < step/2 { // 0, or 5.5e-17 from -0.3 + 3×0.1
		return append(dst, '0')
	}
	suffix := ""
	switch {
	case math.Abs(top) >= 1e6:
		v, exp, suffix = v/1e6, exp-6, "M"
	case math.Abs(top) >= 1e4:
		v, exp, suffix = v/1e3, exp-3, "k"
	}
	dec := max(0, -exp)
	dst = strconv.AppendFloat(dst, v, 'f', dec, 64)
	return append(dst, suffix...)
}

const (
	second = int64(time.Second / time.Millisecond)
	minute = 60 * second
	hour   = 60 * minute
	day    = 24 * hour
)

// timeSteps are the tick intervals a time axis may use, in ms.
var timeSteps = []int64{
	100, 200, 500,
	second, 2 * second, 5 * second, 10 * second, 15 * second, 30 * second,
	minute, 2 * minute, 5 * minute, 10 * minute, 15 * minute, 30 * minute,
	hour, 2 * hour, 3 * hour, 6 * hour, 12 * hour,
	day, 2 * day, 7 * day, 14 * day, 28 * day,
}

// timeStep is the smallest step from timeSteps giving at most maxTicks
// intervals over span ms (multiples of 28 days beyond them).
func timeStep(span int64, maxTicks int) int64 {
	maxTicks = max(maxTicks, 1)
	for _, s := range timeSteps {
		if span/s <= int64(maxTicks) {
			return s
		}
	}
	s := 28 * day
	return s * ((span/s)/int64(maxTicks) + 1)
}

// timeTicks returns the tick instants in [from, to] for step, aligned to
// whole steps of local time (at from's offset): 10:00, 10:10, … or
// midnights.
func timeTicks(from, to, step int64, loc *time.Location) []int64 {
	_, offs := time.UnixMilli(from).In(loc).Zone()
	off := int64(offs) * second
	first := ceilDiv(from+off, step)*step - off
	var out []int64
	for t := first; t <= to; t += step {
		out = append(out, t)
	}
	return out
}

func ceilDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a > 0) == (b > 0) {
		q++
	}
	return q
}

// appendTimeLabel formats a tick: the finest unit the step needs, and the
// date at local midnight so a multi-day axis shows where days start.
func appendTimeLabel(dst []byte, t, step int64, loc *time.Location) []byte {
	tm := time.UnixMilli(t).In(loc)
	switch {
	case step < second:
		return tm.AppendFormat(dst, "15:04:05.000")
	case step < minute:
		return tm.AppendFormat(dst, "15:04:05")
	case step < day && (tm.Hour() != 0 || tm.Minute() != 0):
		return tm.AppendFormat(dst, "15:04")
	}
	return tm.AppendFormat(dst, "Jan 2")
}
