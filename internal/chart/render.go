package chart

import (
	"math"
	"slices"
	"time"
)

// palette: ten hues that keep at least about 3:1 contrast on white and
// stay apart for the common colour-vision deficiencies as far as ten can
// (Tableau 10, with its light yellow-green darkened). Series beyond ten
// reuse them dashed, then dotted.
var palette = [...]string{"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
	"#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#9a8c00"}

var dashes = [...]string{"", "6 3", "2 3"}

// Layout, in viewBox units.
const (
	pad         = 8.0
	titleLine   = 20.0 // title: 14 px bold
	noteLine    = 15.0 // note: 11 px
	legendLine  = 16.0
	unitLine    = 20.0 // unit and time zone above the plot
	axisBelow   = 22.0 // time labels under the plot
	minPlotH    = 60.0
	legendLabel = 40 // runes
	eventLabel  = 24 // runes
	titleRunes  = 120
	eventTitles = 8 // labels listed in one marker's tooltip
)

type renderer struct {
	c        *Chart
	w, h     int
	from, to int64
	loc      *time.Location
}

// line is a series reduced to what is drawn.
type line struct {
	name string
	vs   []vertex
}

func (r *renderer) render() []byte {
	c := r.c
	w, h := float64(r.w), float64(r.h)

	// Reduce each series to at most two vertices per pixel column (the
	// plot is narrower than the document, so r.w columns is enough),
	// and find the value range over what lies inside [from, to].
	lines := make([]line, len(c.Series))
	ylo, yhi := math.Inf(1), math.Inf(-1)
	for i, s := range c.Series {
		pts := sortedPoints(s.Points)
		join := maxJoin(pts, c.Gap.Milliseconds())
		win := window(pts, r.from, r.to, join)
		vs := reduce(make([]vertex, 0, min(len(win), 2*r.w+4)), win, r.from, r.to, join, r.w)
		for _, v := range vs {
			if v.t >= r.from && v.t <= r.to {
				ylo, yhi = min(ylo, v.v), max(yhi, v.v)
			}
		}
		lines[i] = line{name: s.Name, vs: vs}
	}
	hasData := ylo <= yhi

	// Vertical layout, top down: title, note, legend, unit line, plot,
	// time labels.
	y := pad
	titleY := y + 14
	if c.Title != "" {
		y += titleLine
	}
	noteY := y + 11
	if c.Note != "" {
		y += noteLine
	}
	plotBottom := h - axisBelow
	maxRows := int((plotBottom - y - unitLine - minPlotH) / legendLine)
	legend := layoutLegend(lines, pad, w-pad, min(max(maxRows, 1), 4))
	legendY := y
	y += float64(legend.rows)*legendLine + 2
	unitY := y + 11
	plotTop := y + unitLine
	plotH := plotBottom - plotTop

	// Value axis: its labels' width sets the left margin.
	var yticks []float64
	var ystep float64
	var yexp int
	if hasData {
		yticks, ystep, yexp = valueScale(ylo, yhi, max(2, int(plotH/40)))
	} else {
		yticks, ystep, yexp = valueScale(0, 1, 2)
	}
	ytop := yticks[len(yticks)-1]
	ylabels := make([][]byte, len(yticks))
	labelW := 0.0
	for i, v := range yticks {
		ylabels[i] = appendValue(nil, v, ystep, yexp, ytop)
		labelW = max(labelW, textWidth(string(ylabels[i]), 10))
	}
	plotLeft := pad + max(labelW, 16) + 6
	plotRight := w - pad - 14 // room for half of the last time label
	plotW := plotRight - plotLeft
	span := float64(r.to - r.from)
	px := func(t int64) float64 { return float64(t-r.from) * plotW / span }
	yrange := yticks[len(yticks)-1] - yticks[0]
	py := func(v float64) float64 { return plotH - (v-yticks[0])*plotH/yrange }

	b := make([]byte, 0, 4096+len(lines)*r.w*20)
	b = append(b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 `...)
	b = appendInt(b, r.w)
	b = append(b, ' ')
	b = appendInt(b, r.h)
	b = append(b, `" width="100%" role="img" aria-label="`...)
	b = appendEscaped(b, clip(c.Title, titleRunes))
	b = append(b, `" font-family="system-ui,-apple-system,'Segoe UI',Roboto,sans-serif" font-size="11" fill="#374151">`...)
	b = append(b, "<title>"...)
	b = appendEscaped(b, clip(c.Title, titleRunes))
	b = append(b, "</title>"...)
	b = append(b, `<rect width="100%" height="100%" fill="#fff"/>`...)
	if c.Title != "" {
		b = r.text(b, pad, titleY, `font-size="14" font-weight="600" fill="#111827"`, clip(c.Title, titleRunes))
	}
	if c.Note != "" {
		b = r.text(b, pad, noteY, `fill="#9a3412"`, clip(c.Note, titleRunes))
	}
	b = legend.draw(b, legendY)
	if c.Unit != "" {
		b = r.text(b, pad, unitY, `fill="#6b7280"`, clip(c.Unit, legendLabel))
	}
	b = r.text(b, plotRight, unitY, `fill="#6b7280" text-anchor="end"`, r.zoneCaption())

	// Grid and value labels.
	b = append(b, `<g stroke="#e5e7eb">`...)
	for _, v := range yticks {
		b = r.hline(b, plotLeft, plotRight, plotTop+py(v))
	}
	b = append(b, `</g><g font-size="10" fill="#6b7280" text-anchor="end">`...)
	for i, v := range yticks {
		if !hasData {
			break // no scale to read without data
		}
		b = append(b, `<text x="`...)
		b = appendCoord(b, plotLeft-6)
		b = append(b, `" y="`...)
		b = appendCoord(b, plotTop+py(v)+3.5)
		b = append(b, `">`...)
		b = append(b, ylabels[i]...) // digits, '.', '-', k or M: nothing to escape
		b = append(b, "</text>"...)
	}
	b = append(b, "</g>"...)

	// Time axis.
	tstep := timeStep(r.to-r.from, max(2, int(plotW/90)))
	b = append(b, `<g stroke="#f3f4f6">`...)
	ticks := timeTicks(r.from, r.to, tstep, r.loc)
	for _, t := range ticks {
		x := plotLeft + px(t)
		b = append(b, `<line x1="`...)
		b = appendCoord(b, x)
		b = append(b, `" x2="`...)
		b = appendCoord(b, x)
		b = append(b, `" y1="`...)
		b = appendCoord(b, plotTop)
		b = append(b, `" y2="`...)
		b = appendCoord(b, plotBottom)
		b = append(b, `"/>`...)
	}
	b = append(b, `</g><g font-size="10" fill="#6b7280" text-anchor="middle">`...)
	var label []byte
	for _, t := range ticks {
		label = appendTimeLabel(label[:0], t, tstep, r.loc)
		x := min(plotLeft+px(t), w-pad-textWidth(string(label), 10)/2)
		b = append(b, `<text x="`...)
		b = appendCoord(b, x)
		b = append(b, `" y="`...)
		b = appendCoord(b, plotBottom+14)
		b = append(b, `">`...)
		b = append(b, label...) // digits, ':', '.', month names
		b = append(b, "</text>"...)
	}
	b = append(b, `</g><g stroke="#9ca3af">`...)
	b = r.hline(b, plotLeft, plotRight, plotBottom)
	b = append(b, "</g>"...)

	// The plot is a nested viewport: it clips lines running to the
	// neighbours outside the range, without a clipPath (which would need
	// a page-global id).
	b = append(b, `<svg x="`...)
	b = appendCoord(b, plotLeft)
	b = append(b, `" y="`...)
	b = appendCoord(b, plotTop)
	b = append(b, `" width="`...)
	b = appendCoord(b, plotW)
	b = append(b, `" height="`...)
	b = appendCoord(b, plotH)
	b = append(b, `" overflow="hidden">`...)
	if hasData {
		for i, l := range lines {
			b = drawLine(b, i, l, px, py)
		}
	} else {
		b = r.text(b, plotW/2, plotH/2, `font-size="13" fill="#6b7280" text-anchor="middle"`, "No data in this range")
	}
	b = r.drawEvents(b, px, plotW, plotH)
	b = append(b, "</svg></svg>"...)
	return b
}

// zoneCaption names the labels' time zone, with the date when the whole
// range is within one day (the ticks then show times only).
func (r *renderer) zoneCaption() string {
	f, t := time.UnixMilli(r.from).In(r.loc), time.UnixMilli(r.to).In(r.loc)
	zone, _ := f.Zone()
	if f.YearDay() == t.YearDay() && f.Year() == t.Year() {
		return f.Format("Jan 2, 2006") + " · " + zone
	}
	return f.Format("Jan 2") + " – " + t.Format("Jan 2, 2006") + " · " + zone
}

func (r *renderer) text(b []byte, x, y float64, attrs, s string) []byte {
	b = append(b, `<text x="`...)
	b = appendCoord(b, x)
	b = append(b, `" y="`...)
	b = appendCoord(b, y)
	b = append(b, `" `...)
	b = append(b, attrs...)
	b = append(b, '>')
	b = appendEscaped(b, s)
	return append(b, "</text>"...)
}

func (r *renderer) hline(b []byte, x1, x2, y float64) []byte {
	b = append(b, `<line x1="`...)
	b = appendCoord(b, x1)
	b = append(b, `" x2="`...)
	b = appendCoord(b, x2)
	b = append(b, `" y1="`...)
	b = appendCoord(b, y)
	b = append(b, `" y2="`...)
	b = appendCoord(b, y)
	return append(b, `"/>`...)
}

// stroke returns series i's colour and dash pattern.
func stroke(i int) (colour, dash string) {
	return palette[i%len(palette)], dashes[(i/len(palette))%len(dashes)]
}

func appendStroke(b []byte, i int) []byte {
	colour, dash := stroke(i)
	b = append(b, ` stroke="`...)
	b = append(b, colour...)
	b = append(b, '"')
	if dash != "" {
		b = append(b, ` stroke-dasharray="`...)
		b = append(b, dash...)
		b = append(b, '"')
	}
	return b
}

// drawLine writes one series as a single path: "M x y x y …" (implicit
// line-tos), a new M after each gap, and a dot for an isolated sample.
func drawLine(b []byte, i int, l line, px func(int64) float64, py func(float64) float64) []byte {
	if len(l.vs) == 0 {
		return b
	}
	b = append(b, "<g><title>"...)
	b = appendEscaped(b, clip(l.name, legendLabel))
	b = append(b, `</title><path fill="none" stroke-width="1.5" stroke-linejoin="round" stroke-linecap="round"`...)
	b = appendStroke(b, i)
	b = append(b, ` d="`...)
	for j, v := range l.vs {
		if v.brk {
			if j > 0 {
				b = append(b, ' ')
			}
			b = append(b, 'M')
		} else {
			b = append(b, ' ')
		}
		b = appendCoord(b, px(v.t))
		b = append(b, ' ')
		b = appendCoord(b, py(v.v))
		if v.brk && (j+1 == len(l.vs) || l.vs[j+1].brk) {
			b = append(b, "h0.1"...) // with round caps: a dot
		}
	}
	return append(b, `"/></g>`...)
}

// drawEvents draws the markers inside the plot viewport: a dashed
// vertical line and a small triangle per pixel column holding events,
// labelled when the label does not run into the previous one. Every
// marker's tooltip lists its events' labels.
func (r *renderer) drawEvents(b []byte, px func(int64) float64, plotW, plotH float64) []byte {
	evs := make([]Event, 0, len(r.c.Events))
	for _, e := range r.c.Events {
		if e.T >= r.from && e.T <= r.to {
			evs = append(evs, e)
		}
	}
	if len(evs) == 0 {
		return b
	}
	slices.SortStableFunc(evs, func(a, b Event) int {
		switch {
		case a.T < b.T:
			return -1
		case a.T > b.T:
			return 1
		}
		return 0
	})
	b = append(b, `<g font-size="10" fill="#4b5563">`...)
	labelEnd := math.Inf(-1)
	for i := 0; i < len(evs); {
		col := math.Floor(px(evs[i].T))
		j := i + 1
		for j < len(evs) && math.Floor(px(evs[j].T)) == col {
			j++
		}
		group := evs[i:j]
		i = j
		x := col + 0.5 // centre of the pixel: a crisp 1-unit line
		b = append(b, "<g><title>"...)
		for k, e := range group[:min(len(group), eventTitles)] {
			if k > 0 {
				b = append(b, ", "...)
			}
			b = appendEscaped(b, clip(e.Label, eventLabel))
		}
		if len(group) > eventTitles {
			b = append(b, ", …"...)
		}
		b = append(b, `</title><line stroke="#9ca3af" stroke-dasharray="3 3" x1="`...)
		b = appendCoord(b, x)
		b = append(b, `" x2="`...)
		b = appendCoord(b, x)
		b = append(b, `" y1="0" y2="`...)
		b = appendCoord(b, plotH)
		b = append(b, `"/><path d="M`...)
		b = appendCoord(b, x-4)
		b = append(b, ` 0h8l-4 6z"/>`...)
		text := clip(group[0].Label, eventLabel)
		if len(group) > 1 {
			text += " +" + itoa(len(group)-1)
		}
		if tw := textWidth(text, 10); x+3 > labelEnd+4 && x+3+tw <= plotW {
			b = r.text(b, x+3, 16, `stroke="#fff" stroke-width="3" paint-order="stroke"`, text)
			labelEnd = x + 3 + tw
		}
		b = append(b, "</g>"...)
	}
	return append(b, "</g>"...)
}

func itoa(n int) string { return string(appendInt(nil, n)) }

// legend is the series' names laid out in rows.
type legend struct {
	items []legendItem
	more  int // series not listed for lack of room
	moreX float64
	rows  int
}

type legendItem struct {
	series int
	name   string
	x      float64
	row    int
}

// layoutLegend flows the names of the series that have something to
// draw into at most maxRows rows between left and right.
func layoutLegend(lines []line, left, right float64, maxRows int) legend {
	var lg legend
	x, row := left, 0
	endX := left // right end of the last listed item
	for i, l := range lines {
		if len(l.vs) == 0 {
			continue
		}
		name := clip(l.name, legendLabel)
		iw := 18 + textWidth(name, 11) + 14
		if x+iw > right && x > left {
			x, row = left, row+1
		}
		if row >= maxRows {
			lg.more++
			continue
		}
		lg.items = append(lg.items, legendItem{series: i, name: name, x: x, row: row})
		x += iw
		endX = x
	}
	if lg.more > 0 {
		// Replace the last items on the last row until "+N more" fits.
		for len(lg.items) > 0 {
			last := lg.items[len(lg.items)-1]
			if last.row == maxRows-1 && endX+textWidth("+000 more", 11) > right {
				lg.items = lg.items[:len(lg.items)-1]
				lg.more++
				endX = last.x
				continue
			}
			break
		}
		lg.moreX = endX
	}
	if len(lg.items) > 0 || lg.more > 0 {
		lg.rows = min(row, maxRows-1) + 1
	}
	return lg
}

func (lg legend) draw(b []byte, top float64) []byte {
	if lg.rows == 0 {
		return b
	}
	b = append(b, "<g>"...)
	for _, it := range lg.items {
		y := top + float64(it.row)*legendLine
		b = append(b, `<line stroke-width="2"`...)
		b = appendStroke(b, it.series)
		b = append(b, ` x1="`...)
		b = appendCoord(b, it.x)
		b = append(b, `" x2="`...)
		b = appendCoord(b, it.x+14)
		b = append(b, `" y1="`...)
		b = appendCoord(b, y+8)
		b = append(b, `" y2="`...)
		b = appendCoord(b, y+8)
		b = append(b, `"/><text x="`...)
		b = appendCoord(b, it.x+18)
		b = append(b, `" y="`...)
		b = appendCoord(b, y+12)
		b = append(b, `">`...)
		b = appendEscaped(b, it.name)
		b = append(b, "</text>"...)
	}
	if lg.more > 0 {
		b = append(b, `<text fill="#6b7280" x="`...)
		b = appendCoord(b, lg.moreX)
		b = append(b, `" y="`...)
		b = appendCoord(b, top+float64(lg.rows-1)*legendLine+12)
		b = append(b, `">+`...)
		b = appendInt(b, lg.more)
		b = append(b, " more</text>"...)
	}
	return append(b, "</g>"...)
}
