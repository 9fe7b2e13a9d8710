package chart

import (
	"cmp"
	"math"
	"slices"
	"sort"
)

// vertex is a point to draw, still in data space.
type vertex struct {
	t   int64
	v   float64
	brk bool // starts a new line: the first point, or after a gap
}

// gapSamples bounds the deltas examined to estimate a sampling interval,
// so the estimate costs the same for 100 points or 600,000.
const gapSamples = 255

// typicalGap is the median positive spacing of pts, estimated from at
// most gapSamples deltas spread evenly over them; 0 if there is none.
func typicalGap(pts []Point) int64 {
	n := len(pts) - 1 // deltas
	if n < 1 {
		return 0
	}
	var buf [gapSamples]int64
	d := buf[:0]
	stride := max(1, n/gapSamples)
	for i := 0; i < n && len(d) < gapSamples; i += stride {
		if dt := pts[i+1].T - pts[i].T; dt > 0 {
			d = append(d, dt)
		}
	}
	if len(d) == 0 {
		return 0
	}
	slices.Sort(d)
	return d[len(d)/2]
}

// maxJoin is the longest spacing still drawn as a line: gap when the
// caller set one, else three typical intervals. math.MaxInt64 means
// "always join" (a single point, or all points at one instant).
func maxJoin(pts []Point, gap int64) int64 {
	if gap > 0 {
		return gap
	}
	if g := typicalGap(pts); g > 0 {
		return 3 * g
	}
	return math.MaxInt64
}

// window returns the part of pts to draw for [from, to]: the points in
// range plus the neighbour on each side when it is joined to them, so a
// line runs to the plot's edge (the plot viewport clips it) instead of
// stopping at the first sample inside.
func window(pts []Point, from, to, join int64) []Point {
	lo := sort.Search(len(pts), func(i int) bool { return pts[i].T >= from })
	hi := sort.Search(len(pts), func(i int) bool { return pts[i].T > to })
	a, b := lo, hi
	if lo > 0 && lo < len(pts) && pts[lo].T-pts[lo-1].T <= join {
		a = lo - 1
	}
	if hi < len(pts) && hi > 0 && pts[hi].T-pts[hi-1].T <= join {
		b = hi + 1
	}
	return pts[a:b]
}

// reduce turns pts (ascending T) into the vertices to draw into cols
// pixel columns over [from, to]. Points further apart than join start a
// new line. When there are more points than 2×cols it keeps, per column,
// the minimum and the maximum in time order: a 1-pixel spike or dip
// survives at any zoom, and the path holds at most 2 vertices per column.
func reduce(dst []vertex, pts []Point, from, to, join int64, cols int) []vertex {
	if len(pts) == 0 {
		return dst
	}
	brk := true
	prevT := pts[0].T
	if len(pts) <= 2*cols {
		for _, p := range pts {
			if !finite(p.V) {
				brk = true
				continue
			}
			if p.T-prevT > join {
				brk = true
			}
			dst = append(dst, vertex{t: p.T, v: p.V, brk: brk})
			brk, prevT = false, p.T
		}
		return dst
	}
	// A point's column is floor((t-from)·cols/span), in float64 (an
	// int64 product could overflow for wide ranges); points just outside
	// the range land in columns -1 and cols. It is computed only when a
	// point passes the current column's end, not for each point: this
	// loop runs for every sample of a 14-day range.
	span := float64(to - from)
	scale := float64(cols) / span
	var (
		open   bool  // a column is being collected
		end    int64 // first instant after the current column
		lo, hi vertex
	)
	flush := func() {
		if !open {
			return
		}
		first, second := lo, hi
		if second.t < first.t {
			first, second = second, first
		}
		first.brk, second.brk = brk, false
		brk = false
		dst = append(dst, first)
		if second.t != first.t || second.v != first.v {
			dst = append(dst, second)
		}
		open = false
	}
	for _, p := range pts {
		if p.V-p.V != 0 { // NaN or ±Inf: missing
			flush()
			brk = true
			continue
		}
		if p.T-prevT > join {
			flush()
			brk = true
		}
		prevT = p.T
		if !open || p.T >= end {
			flush()
			col := min(max(int(math.Floor(float64(p.T-from)*scale)), -1), cols)
			end = math.MaxInt64
			if col < cols {
				end = from + int64(math.Ceil(float64(col+1)/scale))
			}
			lo = vertex{t: p.T, v: p.V}
			hi, open = lo, true
			continue
		}
		if p.V < lo.v {
			lo = vertex{t: p.T, v: p.V}
		} else if p.V > hi.v {
			hi = vertex{t: p.T, v: p.V}
		}
	}
	flush()
	return dst
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

// sortedPoints returns pts, or a sorted copy when they are out of order
// (the caller's slice is never modified).
func sortedPoints(pts []Point) []Point {
	for i := 1; i < len(pts); i++ {
		if pts[i].T < pts[i-1].T {
			c := slices.Clone(pts)
			slices.SortStableFunc(c, func(a, b Point) int { return cmp.Compare(a.T, b.T) })
			return c
		}
	}
	return pts
}
