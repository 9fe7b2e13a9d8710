package chart

import (
	"math"
	"testing"
	"time"
)

// BenchmarkRender14Days2s renders what the quality dashboard asks for at
// its widest: 14 days of samples every 2 s (604,800 points less three
// one-hour gaps, with spikes) into a 1200-pixel-wide chart with 50 events.
func BenchmarkRender14Days2s(b *testing.B) {
	const step = 2 * time.Second
	from := t0
	to := from.Add(14 * 24 * time.Hour)
	n := int(to.Sub(from) / step)
	pts := make([]Point, 0, n)
	for i := range n {
		at := from.Add(time.Duration(i) * step)
		if d := at.Sub(from); d%(4*24*time.Hour) < time.Hour && d > time.Hour { // three gaps
			continue
		}
		v := 40 + 15*math.Sin(float64(i)/900) + float64(i%13)
		if i%100_003 == 0 {
			v = 900
		}
		pts = append(pts, Point{T: at.UnixMilli(), V: v})
	}
	var evs []Event
	for i := range 50 {
		evs = append(evs, Event{T: from.Add(time.Duration(i) * 6 * time.Hour).UnixMilli(), Label: "P1 enter_room"})
	}
	c := Chart{Title: "RTT", Unit: "ms", From: from, To: to, Width: 1200, Height: 320,
		Series: []Series{{Name: "P1 rtt", Points: pts}}, Events: evs}
	var size int
	for b.Loop() {
		out, err := Render(c)
		if err != nil {
			b.Fatal(err)
		}
		size = len(out)
	}
	b.ReportMetric(float64(len(pts)), "points")
	b.ReportMetric(float64(size), "svg_bytes")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(pts)), "ns/point")
}

// BenchmarkRenderRoomHour: the common case, one hour of a 4-person room
// (4 series of 1,800 points), no downsampling needed.
func BenchmarkRenderRoomHour(b *testing.B) {
	var ss []Series
	for p := range 4 {
		ss = append(ss, Series{Name: "P" + itoa(p+1) + " rtt", Points: regular(t0, 2*time.Second, 1800, func(i int) float64 {
			return float64(20+10*p) + float64(i%9)
		})})
	}
	c := Chart{Title: "RTT", Unit: "ms", From: t0, To: t0.Add(time.Hour), Series: ss}
	for b.Loop() {
		if _, err := Render(c); err != nil {
			b.Fatal(err)
		}
	}
}
