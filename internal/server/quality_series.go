package server

import (
	"cmp"
	"slices"
	"strings"
)

// The quality dashboard's series are built while the telemetry is
// scanned, a page at a time, so that a 14-day range costs memory for its
// points, not for its rows. Each series keeps at most qualityMaxPoints
// points: past that the builder doubles its bucket width and merges
// neighbours, so a range of 2 s reports ends at buckets of 2^k × 2 s that
// fit (14 days: 512 s buckets, about 2,360 points), while a short call in
// a long range keeps one point per report (the chart zooms to it,
// qualityResult.dataSpan).

// qualityMaxPoints bounds each series; about two points per pixel column
// of the widest default chart.
const qualityMaxPoints = 2400

// qualityFirstBucket is the first bucket width used once a series
// outgrows qualityMaxPoints: two report intervals.
const qualityFirstBucket = 4000 // ms

// bucketing says how a series' values of one bucket make its point.
type bucketing int

const (
	// bucketWorst keeps the bucket's highest value: rtt, loss and CPU,
	// where a spike is what the dashboard is for.
	bucketWorst bucketing = iota
	// bucketMean averages the bucket's values: bitrate, frame rate and
	// height, where a level matters more than its peaks.
	bucketMean
)

// bucketPoint is one bucket of one series: t is its start (Unix ms), or
// the report instant while the width is 0.
type bucketPoint struct {
	t        int64
	sum, top float64
	n        int
}

func (p bucketPoint) value(b bucketing) float64 {
	if b == bucketMean {
		return p.sum / float64(p.n)
	}
	return p.top
}

// bucketSeries is one (metric, participant, name) series.
type bucketSeries struct {
	ref, name string
	bucketing bucketing
	// The instant being read: rows of one report share the server's
	// receipt instant, and their values are combined first (the
	// streams of several peers add up, the best frame rate wins).
	instAt   int64
	instV    float64
	haveInst bool
	pts      []bucketPoint // ascending t
}

type seriesKey struct {
	ref, name string
}

// seriesBuilder collects the series of one quality query. Rows must
// arrive oldest first within a series (each series comes from one
// telemetry section, which is scanned in order).
type seriesBuilder struct {
	origin int64 // the range's start, Unix ms: buckets start at origin + k·width
	width  int64 // ms; 0 while every report instant is its own point
	m      map[string]map[seriesKey]*bucketSeries
}

func newSeriesBuilder(origin int64) *seriesBuilder {
	return &seriesBuilder{origin: origin, m: map[string]map[seriesKey]*bucketSeries{}}
}

// add feeds one field of one row: fields[field] at instant at, combined
// with the same instant's earlier values by combine, then bucketed.
func (b *seriesBuilder) add(metric, ref, name string, at int64, fields map[string]any, field string,
	combine func(x, y float64) float64, bk bucketing) {
	v, ok := fields[field].(float64)
	if !ok {
		return // not sent (a switch off, or an older SDK)
	}
	byKey := b.m[metric]
	if byKey == nil {
		byKey = map[seriesKey]*bucketSeries{}
		b.m[metric] = byKey
	}
	k := seriesKey{ref, name}
	s := byKey[k]
	if s == nil {
		s = &bucketSeries{ref: ref, name: name, bucketing: bk}
		byKey[k] = s
	}
	if s.haveInst && s.instAt == at {
		s.instV = combine(s.instV, v)
		return
	}
	if s.haveInst {
		b.flushInstant(s)
	}
	s.instAt, s.instV, s.haveInst = at, v, true
}

// bucketOf is the start of the bucket holding t.
func (b *seriesBuilder) bucketOf(t int64) int64 {
	if b.width == 0 || t < b.origin {
		return t
	}
	return b.origin + (t-b.origin)/b.width*b.width
}

// flushInstant moves a series' finished instant into its bucket.
func (b *seriesBuilder) flushInstant(s *bucketSeries) {
	s.haveInst = false
	s.pts = mergeInto(s.pts, bucketPoint{t: b.bucketOf(s.instAt), sum: s.instV, top: s.instV, n: 1})
	for len(s.pts) > qualityMaxPoints {
		b.coarsen()
	}
}

// mergeInto appends p, or merges it into the last point of the same
// bucket.
func mergeInto(pts []bucketPoint, p bucketPoint) []bucketPoint {
	if n := len(pts); n > 0 && pts[n-1].t == p.t {
		last := &pts[n-1]
		last.sum += p.sum
		last.top = max(last.top, p.top)
		last.n += p.n
		return pts
	}
	return append(pts, p)
}

// coarsen doubles the bucket width and re-buckets every series, so that
// all series of a query share one width.
func (b *seriesBuilder) coarsen() {
	b.width = max(2*b.width, qualityFirstBucket)
	for _, byKey := range b.m {
		for _, s := range byKey {
			merged := s.pts[:0]
			for _, p := range s.pts {
				p.t = b.bucketOf(p.t)
				merged = mergeInto(merged, p)
			}
			s.pts = merged
		}
	}
}

// finish flushes the pending instants and, when cut is not 0, drops
// everything from the bucket holding cut on (data before cut is
// complete; a bucket reaching past it would not be). It returns the
// instant the shown data is complete up to: cut's bucket start.
func (b *seriesBuilder) finish(cut int64) int64 {
	for _, byKey := range b.m {
		for _, s := range byKey {
			if s.haveInst {
				b.flushInstant(s)
			}
		}
	}
	if cut == 0 {
		return 0
	}
	cut = b.bucketOf(cut)
	for _, byKey := range b.m {
		for _, s := range byKey {
			s.pts = slices.DeleteFunc(s.pts, func(p bucketPoint) bool { return p.t >= cut })
		}
	}
	return cut
}

// series returns a metric's series, by participant (order[ref] is the
// participant's index, which also makes its label), then by name; series
// of participants not in order are left out.
func (b *seriesBuilder) series(metric string, order map[string]int) []qualitySeriesJSON {
	list := make([]*bucketSeries, 0, len(b.m[metric]))
	for _, s := range b.m[metric] {
		if _, ok := order[s.ref]; ok && len(s.pts) > 0 {
			list = append(list, s)
		}
	}
	rank := func(name string) int {
		if r, ok := qualitySeriesOrder[name]; ok {
			return r
		}
		return len(qualitySeriesOrder)
	}
	slices.SortFunc(list, func(x, y *bucketSeries) int {
		return cmp.Or(cmp.Compare(order[x.ref], order[y.ref]), cmp.Compare(rank(x.name), rank(y.name)), strings.Compare(x.name, y.name))
	})
	out := make([]qualitySeriesJSON, len(list))
	for i, s := range list {
		pts := make([][2]float64, len(s.pts))
		for j, p := range s.pts {
			pts[j] = [2]float64{float64(p.t), p.value(s.bucketing)}
		}
		out[i] = qualitySeriesJSON{Participant: qualityLabel(order[s.ref]), Name: s.name, Points: pts}
	}
	return out
}
