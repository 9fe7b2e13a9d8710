// Package workdays computes deadlines in working days on the official
// calendar of mainland China, as published each year by the State Council
// General Office (国务院办公厅关于…部分节假日安排的通知).
//
// Data-subject requests under the PIPL are answered within a number of
// working days. A working day is Monday to Friday unless the notice makes it
// a public holiday, or a Saturday/Sunday that the notice makes a make-up
// workday (调休上班). The data for the covered years is embedded from
// calendar.json; see README.md in this directory for the sources and for how
// to add a year.
package workdays

import (
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"
)

// CST is China Standard Time (UTC+08:00). It is a fixed zone so the package
// does not depend on the tzdata database; mainland China has not observed
// daylight saving time since 1991.
var CST = time.FixedZone("CST", 8*3600)

// ErrYearMissing is returned (wrapped, with the year) when a computation needs
// a year for which the calendar holds no official notice.
var ErrYearMissing = errors.New("workdays: no official holiday arrangement for year")

// ErrNegative is returned by AddWorkdays for a negative number of days.
var ErrNegative = errors.New("workdays: negative number of working days")

//go:embed calendar.json
var calendarJSON []byte

// Kind says how an official notice changes a day.
type Kind string

const (
	// Holiday is a day off (放假), even when it falls on a weekday.
	Holiday Kind = "holiday"
	// Makeup is a Saturday or Sunday that is a working day (调休上班).
	Makeup Kind = "makeup"
)

// Source identifies the official notice for one year.
type Source struct {
	Year           int    `json:"year"`
	Title          string `json:"title"`
	DocumentNumber string `json:"document_number"`
	Published      string `json:"published"`
	URL            string `json:"url"`
}

// Day is one entry of an official notice.
type Day struct {
	Date string `json:"date"` // YYYY-MM-DD, civil date in CST
	Kind Kind   `json:"kind"`
	Name string `json:"name"` // the holiday the entry belongs to, e.g. 春节
}

type civil struct {
	y int
	m time.Month
	d int
}

func civilOf(t time.Time) civil {
	y, m, d := t.In(CST).Date()
	return civil{y, m, d}
}

// Calendar is an immutable official working-day calendar. It is safe for
// concurrent use.
type Calendar struct {
	sources map[int]Source
	days    map[civil]Day
}

// Default parses and validates the embedded calendar data. It returns an
// error if the data is malformed: an unparsable or duplicate date, an unknown
// kind, a make-up workday that is not a Saturday or Sunday, or an entry whose
// year has no source notice.
func Default() (*Calendar, error) {
	return parse(calendarJSON)
}

func parse(data []byte) (*Calendar, error) {
	var raw struct {
		Sources []Source `json:"sources"`
		Days    []Day    `json:"days"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("workdays: parse calendar: %w", err)
	}
	c := &Calendar{sources: make(map[int]Source), days: make(map[civil]Day)}
	for _, s := range raw.Sources {
		if _, dup := c.sources[s.Year]; dup {
			return nil, fmt.Errorf("workdays: duplicate source for year %d", s.Year)
		}
		if s.Title == "" || s.URL == "" {
			return nil, fmt.Errorf("workdays: source for year %d lacks title or URL", s.Year)
		}
		c.sources[s.Year] = s
	}
	for _, d := range raw.Days {
		t, err := time.ParseInLocation(time.DateOnly, d.Date, CST)
		if err != nil {
			return nil, fmt.Errorf("workdays: entry %q: %w", d.Date, err)
		}
		k := civilOf(t)
		if _, dup := c.days[k]; dup {
			return nil, fmt.Errorf("workdays: duplicate entry for %s", d.Date)
		}
		if _, ok := c.sources[k.y]; !ok {
			return nil, fmt.Errorf("workdays: entry %s: no source notice for year %d", d.Date, k.y)
		}
		switch d.Kind {
		case Holiday:
		case Makeup:
			if !weekend(t.Weekday()) {
				return nil, fmt.Errorf("workdays: make-up workday %s is a %s, not a weekend day", d.Date, t.Weekday())
			}
		default:
			return nil, fmt.Errorf("workdays: entry %s: unknown kind %q", d.Date, d.Kind)
		}
		if d.Name == "" {
			return nil, fmt.Errorf("workdays: entry %s has no holiday name", d.Date)
		}
		c.days[k] = d
	}
	return c, nil
}

func weekend(w time.Weekday) bool { return w == time.Saturday || w == time.Sunday }

// Covers reports whether the calendar holds the official notice for year.
func (c *Calendar) Covers(year int) bool {
	_, ok := c.sources[year]
	return ok
}

// Years returns the covered years in ascending order.
func (c *Calendar) Years() []int {
	ys := make([]int, 0, len(c.sources))
	for y := range c.sources {
		ys = append(ys, y)
	}
	sort.Ints(ys)
	return ys
}

// Source returns the notice for year, if covered.
func (c *Calendar) Source(year int) (Source, bool) {
	s, ok := c.sources[year]
	return s, ok
}

// IsWorkday reports whether the civil day containing day, in CST, is a
// working day: Monday–Friday unless listed as a holiday, Saturday/Sunday only
// if listed as a make-up workday. For a year the calendar does not cover the
// plain weekday rule applies; use Covers, or AddWorkdays which refuses
// uncovered years, when that matters.
func (c *Calendar) IsWorkday(day time.Time) bool {
	k := civilOf(day)
	if d, ok := c.days[k]; ok {
		return d.Kind == Makeup
	}
	return !weekend(day.In(CST).Weekday())
}

// AddWorkdays returns the deadline n working days after from: the civil day
// of from (in CST) is the day of receipt and is not counted, counting starts
// with the next working day, and the result is the last instant
// (23:59:59.999999999 CST) of the n-th working day. A request received on a
// Saturday, a holiday or a working day alike is counted from the next working
// day. For n == 0 the result is the end of the day of receipt.
//
// If a day that has to be examined lies in a year the calendar does not cover,
// AddWorkdays returns an error wrapping ErrYearMissing that names the year.
// A negative n returns ErrNegative.
func (c *Calendar) AddWorkdays(from time.Time, n int) (time.Time, error) {
	if n < 0 {
		return time.Time{}, fmt.Errorf("%w: %d", ErrNegative, n)
	}
	y, m, d := from.In(CST).Date()
	for n > 0 {
		d++
		day := time.Date(y, m, d, 12, 0, 0, 0, CST)
		y, m, d = day.Date()
		if !c.Covers(y) {
			return time.Time{}, fmt.Errorf("%w %d", ErrYearMissing, y)
		}
		if c.IsWorkday(day) {
			n--
		}
	}
	return time.Date(y, m, d, 23, 59, 59, 999999999, CST), nil
}

// Warnings returns operator warnings for the calendar data at now (in CST):
// one if now's year is not covered, and one if now is in December and the next
// year is not covered yet (the State Council normally publishes the next
// year's notice in October or November, and deadlines computed in December
// already reach into the next year). It returns nil when nothing is missing.
func (c *Calendar) Warnings(now time.Time) []string {
	t := now.In(CST)
	var ws []string
	if !c.Covers(t.Year()) {
		ws = append(ws, fmt.Sprintf("workdays: no official holiday arrangement for the current year %d; add the State Council notice (国务院办公厅关于%d年部分节假日安排的通知) to calendar.json", t.Year(), t.Year()))
	}
	if t.Month() == time.December && !c.Covers(t.Year()+1) {
		ws = append(ws, fmt.Sprintf("workdays: no official holiday arrangement for next year %d; deadlines reaching into %d fail until the State Council notice (国务院办公厅关于%d年部分节假日安排的通知) is added to calendar.json", t.Year()+1, t.Year()+1, t.Year()+1))
	}
	return ws
}
