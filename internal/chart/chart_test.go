package chart

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"math"
	"regexp"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

// regular returns n points every step from start with values f(i).
func regular(start time.Time, step time.Duration, n int, f func(i int) float64) []Point {
	pts := make([]Point, n)
	for i := range pts {
		pts[i] = Point{T: start.Add(time.Duration(i) * step).UnixMilli(), V: f(i)}
	}
	return pts
}

func render(t *testing.T, c Chart) []byte {
	t.Helper()
	out, err := Render(c)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// allowed is every element the renderer may write. Anything else (script,
// foreignObject, a, image, style, use …) would be a hole when the
// document is inlined with innerHTML.
var allowed = map[string]bool{"svg": true, "g": true, "title": true, "rect": true, "line": true, "path": true, "text": true}

// parse decodes the whole document with encoding/xml and returns its
// text nodes per element name, failing on anything not well-formed or
// not inert.
func parse(t *testing.T, doc []byte) (texts map[string][]string, root xml.StartElement) {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(doc))
	d.Strict = true
	texts = map[string][]string{}
	var stack []string
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("not well-formed XML: %v\n%s", err, doc)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			if len(stack) == 0 {
				root = tok.Copy()
			}
			if tok.Name.Space != "http://www.w3.org/2000/svg" || !allowed[tok.Name.Local] {
				t.Errorf("element %s:%s", tok.Name.Space, tok.Name.Local)
			}
			for _, a := range tok.Attr {
				n := strings.ToLower(a.Name.Local)
				if strings.HasPrefix(n, "on") || n == "href" || n == "style" || n == "id" || a.Name.Space != "" && a.Name.Space != "xmlns" {
					t.Errorf("attribute %s:%s=%q on %s", a.Name.Space, a.Name.Local, a.Value, tok.Name.Local)
				}
			}
			stack = append(stack, tok.Name.Local)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 && len(bytes.TrimSpace(tok)) > 0 {
				texts[stack[len(stack)-1]] = append(texts[stack[len(stack)-1]], string(tok))
			}
		case xml.ProcInst, xml.Directive, xml.Comment:
			t.Errorf("unexpected %T in output", tok)
		}
	}
	if len(stack) != 0 {
		t.Fatalf("unclosed elements %v", stack)
	}
	return texts, root
}

func attr(e xml.StartElement, name string) string {
	for _, a := range e.Attr {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

// TestRenderIsValidInertSVG: a full chart parses as XML, its root is a
// responsive SVG (viewBox, width 100%), and it holds only inert elements.
func TestRenderIsValidInertSVG(t *testing.T) {
	c := Chart{Title: "RTT", Unit: "ms", From: t0, To: t0.Add(time.Hour), Width: 640, Height: 240,
		Series: []Series{
			{Name: "P1 rtt", Points: regular(t0, 2*time.Second, 1800, func(i int) float64 { return 20 + float64(i%7) })},
			{Name: "P2 rtt", Points: regular(t0, 2*time.Second, 1800, func(i int) float64 { return 80 })},
		},
		Events: []Event{{T: t0.Add(5 * time.Minute).UnixMilli(), Label: "P1 enter_room"}}}
	doc := render(t, c)
	texts, root := parse(t, doc)
	if root.Name.Local != "svg" || attr(root, "viewBox") != "0 0 640 240" || attr(root, "width") != "100%" {
		t.Fatalf("root %+v", root)
	}
	for _, want := range []string{"P1 rtt", "P2 rtt"} {
		if !contains(texts["text"], want) || !contains(texts["title"], want) {
			t.Errorf("legend or tooltip lacks %q: %v %v", want, texts["text"], texts["title"])
		}
	}
	if !contains(texts["title"], "P1 enter_room") || !contains(texts["text"], "P1 enter_room") {
		t.Errorf("event marker missing: %v", texts)
	}
	if !contains(texts["text"], "ms") || !contains(texts["text"], "10:30") {
		t.Errorf("unit or time labels missing: %v", texts["text"])
	}
	if n := bytes.Count(doc, []byte("<path fill=\"none\"")); n != 2 {
		t.Errorf("%d series paths, want 2", n)
	}
}

func contains(ss []string, want string) bool {
	for _, s := range ss {
		if s == want {
			return true
		}
	}
	return false
}

// TestEscaping: text from data — title, unit, series names, event labels —
// stays text: no element, attribute or entity is injected, and bytes XML
// cannot carry are replaced so the document still parses.
func TestEscaping(t *testing.T) {
	evil := `<script>alert(1)</script>`
	attrBreak := `" onload="alert(2)`
	c := Chart{Title: evil, Note: attrBreak, Unit: "&amp;<b>", From: t0, To: t0.Add(time.Minute),
		Series: []Series{{Name: `x'><img src=x onerror=alert(3)>`, Points: regular(t0, time.Second, 60, func(int) float64 { return 1 })},
			{Name: "bad\x00\x1b\xff\xfe bytes\ufffe", Points: regular(t0, time.Second, 60, func(int) float64 { return 2 })}},
		Events: []Event{{T: t0.Add(time.Second).UnixMilli(), Label: "<foreignObject>"}}}
	doc := render(t, c)
	texts, root := parse(t, doc)
	if attr(root, "aria-label") != evil {
		t.Errorf("aria-label = %q", attr(root, "aria-label"))
	}
	if !contains(texts["title"], evil) || !contains(texts["text"], evil) {
		t.Errorf("the title is not kept as text: %v", texts)
	}
	for _, want := range []string{attrBreak, "&amp;<b>", `x'><img src=x onerror=alert(3)>`, "<foreignObject>",
		"bad\ufffd\ufffd\ufffd\ufffd bytes\ufffd"} {
		if !contains(texts["text"], want) {
			t.Errorf("text %q not found: %q", want, texts["text"])
		}
	}
	// Belt and braces on the raw bytes (the parser above would already
	// have reported an element or an attribute).
	for _, bad := range []string{"<script", "<img", "<foreignObject", `onload="`, "onerror=alert(3)>"} {
		if bytes.Contains(doc, []byte(bad)) {
			t.Errorf("raw %q in the output", bad)
		}
	}
}

// TestNoData: an empty range says so, still parses, and draws no line.
func TestNoData(t *testing.T) {
	for name, series := range map[string][]Series{
		"no series":     nil,
		"empty series":  {{Name: "rtt"}},
		"outside range": {{Name: "rtt", Points: regular(t0.Add(-2*time.Hour), 2*time.Second, 100, func(int) float64 { return 5 })}},
	} {
		t.Run(name, func(t *testing.T) {
			doc := render(t, Chart{Title: "RTT", From: t0, To: t0.Add(time.Hour), Series: series})
			texts, _ := parse(t, doc)
			if !contains(texts["text"], "No data in this range") {
				t.Errorf("no empty state: %v", texts["text"])
			}
			if bytes.Contains(doc, []byte(`<path fill="none"`)) {
				t.Error("a line was drawn")
			}
		})
	}
}

func TestRenderErrors(t *testing.T) {
	if _, err := Render(Chart{From: t0, To: t0}); !errors.Is(err, ErrRange) {
		t.Errorf("empty range: %v", err)
	}
	for _, wh := range [][2]int{{MinWidth - 1, 300}, {800, MaxHeight + 1}, {-5, 300}} {
		if _, err := Render(Chart{From: t0, To: t0.Add(time.Hour), Width: wh[0], Height: wh[1]}); !errors.Is(err, ErrSize) {
			t.Errorf("%v: %v", wh, err)
		}
	}
}

func TestTimeStep(t *testing.T) {
	for _, c := range []struct {
		span     time.Duration
		maxTicks int
		want     time.Duration
	}{
		{3 * time.Second, 8, 500 * time.Millisecond},
		{90 * time.Second, 8, 15 * time.Second},
		{10 * time.Minute, 8, 2 * time.Minute},
		{time.Hour, 8, 10 * time.Minute},
		{6 * time.Hour, 8, time.Hour},
		{24 * time.Hour, 8, 3 * time.Hour},
		{3 * 24 * time.Hour, 8, 12 * time.Hour},
		{14 * 24 * time.Hour, 8, 2 * 24 * time.Hour},
		{14 * 24 * time.Hour, 2, 7 * 24 * time.Hour},
		{time.Hour, 3600, time.Second},
		{time.Hour, 3599, 2 * time.Second},
	} {
		if got := timeStep(c.span.Milliseconds(), c.maxTicks); got != c.want.Milliseconds() {
			t.Errorf("timeStep(%v, %d) = %v, want %v", c.span, c.maxTicks, time.Duration(got)*time.Millisecond, c.want)
		}
	}
}

// TestTimeTicksAligned: ticks fall on whole steps of local time, and the
// labels switch to the date at midnight.
func TestTimeTicksAligned(t *testing.T) {
	from := time.Date(2026, 11, 23, 22, 7, 13, 0, time.UTC)
	ticks := timeTicks(from.UnixMilli(), from.Add(4*time.Hour).UnixMilli(), hour, time.UTC)
	var labels []string
	for _, tk := range ticks {
		labels = append(labels, string(appendTimeLabel(nil, tk, hour, time.UTC)))
	}
	if got := strings.Join(labels, " "); got != "23:00 Nov 24 01:00 02:00" {
		t.Errorf("labels %q", got)
	}
	// A zone at +05:30 aligns hours to its own clock.
	ist := time.FixedZone("IST", 5*3600+1800)
	ticks = timeTicks(from.UnixMilli(), from.Add(2*time.Hour).UnixMilli(), hour, ist)
	if got := time.UnixMilli(ticks[0]).In(ist).Format("15:04"); got != "04:00" {
		t.Errorf("first IST tick %s", got)
	}
	// Day steps land on midnights.
	ticks = timeTicks(from.UnixMilli(), from.Add(14*24*time.Hour).UnixMilli(), 2*day, time.UTC)
	for _, tk := range ticks {
		if tm := time.UnixMilli(tk).UTC(); tm.Hour() != 0 || tm.Minute() != 0 {
			t.Errorf("day tick at %v", tm)
		}
	}
	if len(ticks) != 7 {
		t.Errorf("%d two-day ticks over 14 days", len(ticks))
	}
}

func TestValueScale(t *testing.T) {
	for _, c := range []struct {
		lo, hi float64
		n      int
		want   string
	}{
		{0, 87, 5, "0 20 40 60 80 100"},
		{12, 87, 5, "0 20 40 60 80 100"}, // the baseline is 0
		{0, 0.37, 4, "0 0.1 0.2 0.3 0.4"},
		{0, 1000, 5, "0 200 400 600 800 1000"},
		{0, 0, 5, "0 0.2 0.4 0.6 0.8 1.0"}, // flat zero still has a scale
		{-3, 9, 4, "-5 0 5 10"},
		{-0.3, 0.05, 4, "-0.3 -0.2 -0.1 0 0.1"},
		{0, 2_400_000, 4, "0 1M 2M 3M"},
		{0, 36_000, 4, "0 10k 20k 30k 40k"},
		{0, 720, 3, "0 500 1000"},
	} {
		ticks, step, exp := valueScale(c.lo, c.hi, c.n)
		var got []string
		for _, v := range ticks {
			got = append(got, string(appendValue(nil, v, step, exp, ticks[len(ticks)-1])))
		}
		if g := strings.Join(got, " "); g != c.want {
			t.Errorf("valueScale(%v, %v, %d) = %s, want %s", c.lo, c.hi, c.n, g, c.want)
		}
		if ticks[0] > min(c.lo, 0) || ticks[len(ticks)-1] < c.hi {
			t.Errorf("valueScale(%v, %v): %v does not cover the data", c.lo, c.hi, ticks)
		}
	}
}

// TestGapSplitting: samples every 2 s with a one-minute hole are drawn as
// two lines; a late sample (within three intervals) is still joined.
func TestGapSplitting(t *testing.T) {
	pts := regular(t0, 2*time.Second, 30, func(int) float64 { return 10 })                                   // 10:00:00–10:00:58
	pts = append(pts, Point{T: t0.Add(63 * time.Second).UnixMilli(), V: 11})                                 // 5 s later: joined
	pts = append(pts, regular(t0.Add(2*time.Minute), 2*time.Second, 30, func(int) float64 { return 12 })...) // after 57 s: a gap
	join := maxJoin(pts, 0)
	if join != 6000 {
		t.Fatalf("join distance %d ms, want 6000 (3 × 2 s)", join)
	}
	vs := reduce(nil, pts, t0.UnixMilli(), t0.Add(5*time.Minute).UnixMilli(), join, 800)
	if starts := countBreaks(vs); starts != 2 {
		t.Fatalf("%d lines, want 2", starts)
	}
	if !vs[31].brk || vs[31].v != 12 {
		t.Errorf("second line starts at %+v", vs[31])
	}
	// The same in the document: two subpaths; and again when downsampled
	// into fewer columns than points.
	for _, w := range []int{800, MinWidth} {
		doc := render(t, Chart{From: t0, To: t0.Add(5 * time.Minute), Width: w, Series: []Series{{Name: "rtt", Points: pts}}})
		d := regexp.MustCompile(` d="([^"]*)"`).FindSubmatch(doc)
		if d == nil || bytes.Count(d[1], []byte("M")) != 2 {
			t.Errorf("width %d: path %q, want 2 subpaths", w, d)
		}
	}
	downs := reduce(nil, pts, t0.UnixMilli(), t0.Add(5*time.Minute).UnixMilli(), join, 10)
	if starts := countBreaks(downs); starts != 2 {
		t.Errorf("downsampled: %d lines, want 2", starts)
	}
	// A missing value (NaN) breaks the line too.
	nan := regular(t0, time.Second, 10, func(i int) float64 {
		if i == 5 {
			return math.NaN()
		}
		return 1
	})
	if starts := countBreaks(reduce(nil, nan, t0.UnixMilli(), t0.Add(time.Minute).UnixMilli(), maxJoin(nan, 0), 800)); starts != 2 {
		t.Errorf("NaN: %d lines, want 2", starts)
	}
}

func countBreaks(vs []vertex) int {
	n := 0
	for _, v := range vs {
		if v.brk {
			n++
		}
	}
	return n
}

// TestDownsampleKeepsExtremes: 100,000 points into 500 columns keep one
// spike and one dip that are each a single sample, and at most 2
// vertices per column.
func TestDownsampleKeepsExtremes(t *testing.T) {
	const n, cols = 100_000, 500
	pts := regular(t0, time.Second, n, func(i int) float64 {
		switch i {
		case 54_321:
			return 1000
		case 77_777:
			return -500
		}
		return 50 + 10*math.Sin(float64(i)/500)
	})
	from, to := t0.UnixMilli(), pts[n-1].T
	vs := reduce(nil, pts, from, to, maxJoin(pts, 0), cols)
	if len(vs) > 2*(cols+2) {
		t.Fatalf("%d vertices for %d columns", len(vs), cols)
	}
	var hi, lo vertex
	for _, v := range vs {
		if v.v > hi.v {
			hi = v
		}
		if v.v < lo.v {
			lo = v
		}
	}
	if hi.v != 1000 || hi.t != pts[54_321].T || lo.v != -500 || lo.t != pts[77_777].T {
		t.Fatalf("extremes %+v %+v not kept", hi, lo)
	}
	// The sine's own range survives too: its peaks are not averaged away.
	mx := 0.0
	for _, v := range vs {
		if v.v < 1000 {
			mx = max(mx, v.v)
		}
	}
	if mx < 59.99 {
		t.Errorf("sine peak %v lost", mx)
	}
	// Time order is kept, so the path never runs backwards.
	for i := 1; i < len(vs); i++ {
		if vs[i].t < vs[i-1].t {
			t.Fatalf("vertex %d goes back in time", i)
		}
	}
	// And in the document the spike sets the scale.
	doc := render(t, Chart{From: t0, To: time.UnixMilli(to), Width: cols, Series: []Series{{Name: "v", Points: pts}}})
	texts, _ := parse(t, doc)
	if !contains(texts["text"], "1000") || !contains(texts["text"], "-500") {
		t.Errorf("value axis does not reach the extremes: %v", texts["text"])
	}
}

// TestWindowNeighbours: a line runs to the plot edges through the
// neighbours just outside the range, but not across a gap.
func TestWindowNeighbours(t *testing.T) {
	pts := regular(t0, 2*time.Second, 100, func(int) float64 { return 1 })
	from, to := pts[10].T+1000, pts[20].T+1000
	w := window(pts, from, to, 6000)
	if w[0].T != pts[10].T || w[len(w)-1].T != pts[21].T {
		t.Errorf("window %d..%d", w[0].T, w[len(w)-1].T)
	}
	if w := window(pts, from, to, 500); w[0].T != pts[11].T || w[len(w)-1].T != pts[20].T {
		t.Errorf("window across a gap %d..%d", w[0].T, w[len(w)-1].T)
	}
}

func TestUnsortedInputNotModified(t *testing.T) {
	pts := []Point{{T: t0.Add(2 * time.Second).UnixMilli(), V: 2}, {T: t0.UnixMilli(), V: 1}}
	doc := render(t, Chart{From: t0, To: t0.Add(time.Minute), Series: []Series{{Name: "x", Points: pts}}})
	parse(t, doc)
	if pts[0].V != 2 {
		t.Error("caller's slice was sorted in place")
	}
}

// TestEventMarkers: each event in range is a marker; events in one pixel
// column share one marker whose tooltip lists them; events outside the
// range are not drawn.
func TestEventMarkers(t *testing.T) {
	evs := []Event{
		{T: t0.Add(10 * time.Minute).UnixMilli(), Label: "P1 enter_room"},
		{T: t0.Add(10*time.Minute + time.Millisecond).UnixMilli(), Label: "P2 enter_room"},
		{T: t0.Add(40 * time.Minute).UnixMilli(), Label: "P1 mute_audio"},
		{T: t0.Add(-time.Minute).UnixMilli(), Label: "before"},
	}
	doc := render(t, Chart{From: t0, To: t0.Add(time.Hour), Events: evs,
		Series: []Series{{Name: "rtt", Points: regular(t0, 2*time.Second, 1800, func(int) float64 { return 3 })}}})
	texts, _ := parse(t, doc)
	if !contains(texts["title"], "P1 enter_room, P2 enter_room") || !contains(texts["text"], "P1 enter_room +1") {
		t.Errorf("grouped marker: %v / %v", texts["title"], texts["text"])
	}
	if !contains(texts["title"], "P1 mute_audio") || contains(texts["title"], "before") {
		t.Errorf("markers: %v", texts["title"])
	}
	if n := bytes.Count(doc, []byte(`stroke-dasharray="3 3"`)); n != 2 {
		t.Errorf("%d marker lines, want 2", n)
	}
}

// TestManySeriesLegend: more series than fit get "+N more", and every
// series is still drawn.
func TestManySeriesLegend(t *testing.T) {
	var ss []Series
	for i := range 40 {
		ss = append(ss, Series{Name: "participant " + itoa(i) + " send video", Points: regular(t0, time.Second, 60, func(int) float64 { return float64(i) })})
	}
	doc := render(t, Chart{From: t0, To: t0.Add(time.Minute), Width: 400, Height: 240, Series: ss})
	texts, _ := parse(t, doc)
	more := regexp.MustCompile(`^\+(\d+) more$`)
	listed, hidden := 0, 0
	for _, s := range texts["text"] {
		if m := more.FindStringSubmatch(s); m != nil {
			hidden = atoi(m[1])
		} else if strings.HasPrefix(s, "participant ") {
			listed++
		}
	}
	if hidden == 0 || listed+hidden != 40 {
		t.Errorf("legend lists %d and hides %d of 40", listed, hidden)
	}
	if n := bytes.Count(doc, []byte(`<path fill="none"`)); n != 40 {
		t.Errorf("%d paths drawn", n)
	}
	if !bytes.Contains(doc, []byte(`stroke-dasharray="6 3"`)) {
		t.Error("series beyond the palette are not told apart by dashes")
	}
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}

func TestAppendCoord(t *testing.T) {
	for f, want := range map[float64]string{0: "0", 1.25: "1.3", -0.04: "0", -3.96: "-4", 12.34: "12.3", 100: "100", -7.5: "-7.5"} {
		if got := string(appendCoord(nil, f)); got != want {
			t.Errorf("appendCoord(%v) = %s, want %s", f, got, want)
		}
	}
}
