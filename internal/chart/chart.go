// Package chart draws time-series line charts as standalone SVG documents
// on the server, so the console needs no charting script and no CDN.
//
// The output is meant to be inlined into a page with innerHTML, so it is
// built to be inert there: fixed element and attribute names only (svg, g,
// title, rect, line, path, text), no script, no event attributes, no
// links, no foreignObject, no <style> element (inline SVG styles apply to
// the whole page) and no id attributes (they would be page-global and
// collide between two charts). Every piece of text from the caller —
// title, unit, series names, event labels — is XML-escaped.
package chart

import (
	"errors"
	"fmt"
	"time"
)

// Sizes, in viewBox units (CSS pixels at 100 % scale).
const (
	DefaultWidth  = 800
	DefaultHeight = 300
	MinWidth      = 240
	MaxWidth      = 4096
	MinHeight     = 160
	MaxHeight     = 4096
)

// Sentinel errors; Render wraps them with the offending values.
var (
	ErrRange = errors.New("chart: empty time range")
	ErrSize  = errors.New("chart: size out of bounds")
)

// Point is one sample.
type Point struct {
	T int64   // Unix milliseconds
	V float64 // NaN or ±Inf count as missing: the line breaks there
}

// Series is one named line. Points should be in ascending T; Render sorts
// a copy when they are not.
type Series struct {
	Name   string
	Points []Point
}

// Event is a marker on the timeline: a vertical line with a short label.
type Event struct {
	T     int64 // Unix milliseconds
	Label string
}

// Chart is what to draw.
type Chart struct {
	Title string
	// Note is an optional second line under the title (e.g. "rows
	// limited; data shown up to …").
	Note     string
	Unit     string // shown above the value axis
	From, To time.Time
	Series   []Series
	Events   []Event
	// Width and Height size the viewBox; 0 means DefaultWidth or
	// DefaultHeight. The document itself is width="100%", so it scales
	// to its container.
	Width, Height int
	// Gap: points further apart than this are not joined. 0 means three
	// times each series' typical sampling interval (its median spacing).
	Gap time.Duration
	// Location for time labels; nil means UTC.
	Location *time.Location
}

// Render draws c as an SVG document.
func Render(c Chart) ([]byte, error) {
	from, to := c.From.UnixMilli(), c.To.UnixMilli()
	if to <= from {
		return nil, fmt.Errorf("%w: to (%s) is not after from (%s)", ErrRange,
			c.To.UTC().Format(time.RFC3339), c.From.UTC().Format(time.RFC3339))
	}
	w, h := c.Width, c.Height
	if w == 0 {
		w = DefaultWidth
	}
	if h == 0 {
		h = DefaultHeight
	}
	if w < MinWidth || w > MaxWidth || h < MinHeight || h > MaxHeight {
		return nil, fmt.Errorf("%w: %d×%d, want width %d-%d and height %d-%d", ErrSize,
			w, h, MinWidth, MaxWidth, MinHeight, MaxHeight)
	}
	loc := c.Location
	if loc == nil {
		loc = time.UTC
	}
	r := renderer{c: &c, w: w, h: h, from: from, to: to, loc: loc}
	return r.render(), nil
}
