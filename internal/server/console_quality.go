package server

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/parley-rtc/parley/internal/chart"
	"github.com/parley-rtc/parley/internal/operator"
	"github.com/parley-rtc/parley/internal/telemetry"
	"github.com/parley-rtc/parley/protocol"
)

// The quality dashboard (docs/console.md, "Quality dashboard"; seed 002):
// time series of the telemetry the SDKs report every 2 s, for one room
// or one user, as JSON or as one chart drawn here as SVG, so the page
// needs no charting script and no CDN.

const (
	qualityPath    = "GET /v1/console/apps/{sdkappid}/quality"
	qualitySVGPath = "GET /v1/console/apps/{sdkappid}/quality.svg"

	// qualityMaxBack is how far back a query may start: telemetry is
	// kept 14 days (docs/inventory.md), older rows are gone.
	qualityMaxBack     = 14 * 24 * time.Hour
	qualityDefaultSpan = time.Hour
	// qualityClockSlack forgives a from computed as "now − 14 days" on
	// the browser's clock and sent a moment later.
	qualityClockSlack = 5 * time.Minute
	// qualityRowLimit is how many telemetry rows (all sections) one
	// query reads (consoleDeps.QualityRowLimit overrides it in tests).
	// The series are bucketed while read, so memory is bounded by the
	// points, not the rows; the limit bounds time: rows are read at
	// about 300k/s (docs/benchmarks.md), so at most about 5 s.
	qualityRowLimit = 1_500_000
	// qualityEventSkew: an event's own event.at (the device clock) is
	// used when it is this close to the server's receipt time (events
	// wait at most one 2 s report interval on the device), else the
	// receipt time is: the series are on the server's clock, and a
	// device clock that is off would put markers in the wrong place.
	qualityEventEarly = 30 * time.Second
	qualityEventLate  = 5 * time.Second
)

// errNoTelemetry: the process runs without the telemetry service.
var errNoTelemetry = operator.Errorf(http.StatusServiceUnavailable, "unavailable",
	"telemetry is not running in this process")

// qualityMetric is one chart: its query name, unit and title.
type qualityMetric struct {
	name, unit, title string
}

var qualityMetrics = []qualityMetric{
	{"rtt", "ms", "Round-trip time"},
	{"loss", "%", "Packet loss"},
	{"bitrate", "kbps", "Bitrate"},
	{"fps", "fps", "Frame rate"},
	{"resolution", "px (height)", "Resolution"},
	{"cpu", "%", "CPU"},
}

func qualityMetricNames() string {
	names := make([]string, len(qualityMetrics))
	for i, m := range qualityMetrics {
		names[i] = m.name
	}
	return strings.Join(names, ", ")
}

// qualitySeriesOrder ranks series names within a chart: the quality
// section's fields in a fixed order, then streams video before audio,
// send before recv, main before small before sub.
var qualitySeriesOrder = func() map[string]int {
	m := map[string]int{}
	for _, n := range []string{"rtt", "up loss", "down loss", "app", "system"} {
		m[n] = len(m)
	}
	for _, kind := range []string{"video", "audio"} {
		for _, dir := range []string{"send", "recv"} {
			for _, typ := range []string{"main", "small", "sub"} {
				m[streamSeriesName(dir, kind, typ)] = len(m)
			}
		}
	}
	return m
}()

// streamSeriesName names a stream's series: "send video", "recv audio",
// "send video sub" (the main stream is the default, so unnamed).
func streamSeriesName(dir, kind, typ string) string {
	if typ == "" || typ == "main" {
		return dir + " " + kind
	}
	return dir + " " + kind + " " + typ
}

func (a *consoleAPI) registerQuality(mux *http.ServeMux) {
	need := a.con.RequireRole(operator.PermAppsRead)
	mux.Handle(qualityPath, need(qualityRoute(http.HandlerFunc(a.roomQualityJSON),
		a.con.Audited(qualityPath, a.userQualityJSON))))
	mux.Handle(qualitySVGPath, need(qualityRoute(http.HandlerFunc(a.roomQualitySVG),
		a.con.Audited(qualitySVGPath, a.userQualitySVG))))
}

// qualityRoute sends a query that names a user through the audited
// handler: one person's data is personal data (SEC-2), a room's
// pseudonymous series are not identified.
func qualityRoute(room, user http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Has("user") {
			user.ServeHTTP(w, r)
			return
		}
		room.ServeHTTP(w, r)
	})
}

// qualityRequest is a validated query.
type qualityRequest struct {
	app      uint32
	room     *protocol.RoomRef
	roomText string // as the query wrote it: "1234" or "s:lobby"
	user     string
	from, to time.Time
	// SVG only.
	metric        qualityMetric
	width, height int
	// filters names the parameters given (for the audit record: names,
	// never values).
	filters []string
}

func badQuality(format string, args ...any) *operator.Error {
	return operator.Errorf(http.StatusBadRequest, "invalid_parameter", format, args...)
}

// parseQuality validates the app and the query. forUser is the audited
// path; svg adds metric, width and height.
func (a *consoleAPI) parseQuality(r *http.Request, forUser, svg bool) (qualityRequest, error) {
	app, err := a.pathApp(r)
	if err != nil {
		return qualityRequest{}, err
	}
	if a.deps.Telemetry == nil {
		return qualityRequest{}, errNoTelemetry
	}
	q := r.URL.Query()
	req := qualityRequest{app: app}
	known := []string{"room", "user", "from", "to"}
	if svg {
		known = append(known, "metric", "width", "height")
	}
	for _, k := range known {
		if n := len(q[k]); n > 1 {
			return req, badQuality("%s: given %d times, want once", k, n)
		} else if n == 1 {
			req.filters = append(req.filters, k)
		}
	}
	if q.Has("room") {
		ref, err := parseConsoleRoom(q.Get("room"))
		if err != nil {
			return req, err
		}
		req.room, req.roomText = &ref, q.Get("room")
	}
	if forUser {
		req.user = q.Get("user")
		if err := protocol.ValidateUserID(req.user); err != nil {
			return req, badQuality("user: %v", err)
		}
	}
	if req.room == nil && req.user == "" {
		return req, badQuality("room or user is required: room is a numeric room id or s: and a string room id, user a user id")
	}
	if req.from, req.to, err = a.qualityRange(q.Get("from"), q.Get("to")); err != nil {
		return req, err
	}
	if !svg {
		return req, nil
	}
	name := q.Get("metric")
	i := slices.IndexFunc(qualityMetrics, func(m qualityMetric) bool { return m.name == name })
	if i < 0 {
		return req, badQuality("metric: want one of %s", qualityMetricNames())
	}
	req.metric = qualityMetrics[i]
	if req.width, err = qualitySize(q.Get("width"), "width", chart.DefaultWidth, chart.MinWidth, chart.MaxWidth); err != nil {
		return req, err
	}
	if req.height, err = qualitySize(q.Get("height"), "height", chart.DefaultHeight, chart.MinHeight, chart.MaxHeight); err != nil {
		return req, err
	}
	return req, nil
}

// qualityRange validates from and to: RFC 3339 or Unix seconds; to
// defaults to now and is read as now when later; from defaults to an
// hour before to and may be at most 14 days back.
func (a *consoleAPI) qualityRange(fromText, toText string) (from, to time.Time, err error) {
	now := a.deps.Now()
	to = now
	if toText != "" {
		if to, err = parseQualityTime("to", toText); err != nil {
			return from, to, err
		}
		if to.After(now) {
			to = now // nothing is stored later; the answer says which to was used
		}
	}
	from = to.Add(-qualityDefaultSpan)
	if fromText != "" {
		if from, err = parseQualityTime("from", fromText); err != nil {
			return from, to, err
		}
	}
	earliest := now.Add(-qualityMaxBack)
	switch {
	case from.Before(earliest.Add(-qualityClockSlack)) && fromText == "":
		return from, to, badQuality("to: at most 14 days back, not before %s (from defaults to an hour before to; telemetry is kept 14 days)",
			earliest.Add(qualityDefaultSpan).UTC().Format(time.RFC3339))
	case from.Before(earliest.Add(-qualityClockSlack)):
		return from, to, badQuality("from: at most 14 days back, not before %s (telemetry is kept 14 days)", earliest.UTC().Format(time.RFC3339))
	case !to.After(from) && fromText != "" && from.After(now):
		return from, to, badQuality("from: %s is in the future", from.UTC().Format(time.RFC3339))
	case !to.After(from):
		return from, to, badQuality("to (%s) must be after from (%s)", to.UTC().Format(time.RFC3339), from.UTC().Format(time.RFC3339))
	}
	return from.UTC(), to.UTC(), nil
}

func parseQualityTime(name, s string) (time.Time, error) {
	if s != "" && strings.Trim(s, "0123456789") == "" {
		if n, err := strconv.ParseInt(s, 10, 64); err == nil && n <= 1<<40 {
			return time.Unix(n, 0), nil
		}
	} else if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	return time.Time{}, badQuality("%s: want RFC 3339 (e.g. 2026-11-23T10:00:00Z) or Unix seconds", name)
}

func qualitySize(s, name string, def, lo, hi int) (int, error) {
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < lo || n > hi {
		return 0, badQuality("%s: want an integer %d-%d", name, lo, hi)
	}
	return n, nil
}

// Series JSON (docs/console.md).
type (
	qualityJSON struct {
		From         time.Time                    `json:"from"`
		To           time.Time                    `json:"to"`
		Room         string                       `json:"room"`
		User         string                       `json:"user"`
		Participants []qualityParticipantJSON     `json:"participants"`
		Metrics      map[string]qualityMetricJSON `json:"metrics"`
		Events       []qualityEventJSON           `json:"events"`
		// Truncated: the range holds more than the row limit; everything
		// shown is complete before CompleteTo, and nothing at or after it
		// is shown (ask again from there).
		Truncated  bool       `json:"truncated"`
		CompleteTo *time.Time `json:"complete_to,omitempty"`
	}
	qualityParticipantJSON struct {
		Ref   string `json:"ref"`
		Label string `json:"label"`
	}
	qualityMetricJSON struct {
		Unit   string              `json:"unit"`
		Series []qualitySeriesJSON `json:"series"`
	}
	qualitySeriesJSON struct {
		Participant string       `json:"participant"`
		Name        string       `json:"name"`
		Points      [][2]float64 `json:"points"` // [Unix ms, value]
	}
	qualityEventJSON struct {
		At          int64  `json:"at"` // Unix ms
		Participant string `json:"participant"`
		Type        string `json:"type"`
	}
)

// qualityResult is one query's data, shared by the JSON and the SVG
// answers so that both label participants alike.
type qualityResult struct {
	body     qualityJSON
	rows     int // telemetry rows read (the audit record's count)
	rowLimit int // the row limit in force, for the chart's note
}

// qualitySections are read whatever is drawn, in one pass in time
// order: participants are labelled by first appearance in all of them,
// and one cut applies to all when the row limit is reached, so a chart
// and the JSON always agree.
var qualitySections = []string{protocol.SectionQuality, protocol.SectionStreams, protocol.SectionEvents}

// qualityScanLimit is the row limit in force.
func (a *consoleAPI) qualityScanLimit() int {
	if a.deps.QualityRowLimit > 0 {
		return a.deps.QualityRowLimit
	}
	return qualityRowLimit
}

// errQualityScanFull ends the scan at the row limit.
var errQualityScanFull = errors.New("quality: row limit reached")

// qualityEventRow is an event read, placed once the cut is known.
type qualityEventRow struct {
	receipt, at int64 // Unix ms: the server's receipt, where it is drawn
	ref, typ    string
}

// loadQuality scans the three sections up to the row limit into
// bucketed series (quality_series.go).
func (a *consoleAPI) loadQuality(ctx context.Context, req qualityRequest) (*qualityResult, error) {
	limit := a.qualityScanLimit()
	b := newSeriesBuilder(req.from.UnixMilli())
	first := map[string]int64{} // participant → first appearance, Unix ms
	var events []qualityEventRow
	var cut int64 // when truncated: the first instant not complete
	rows, last := 0, int64(0)
	err := a.deps.Telemetry.Scan(ctx, req.app, telemetry.Query{Room: req.room, UserID: req.user,
		Sections: qualitySections, From: req.from, To: req.to, Limit: limit + 1}, func(p telemetry.Point) error {
		at := p.At.UnixMilli()
		if rows == limit {
			// One row more than the limit: the rows read are all there
			// is before the last one's instant (others may share it).
			cut = last
			return errQualityScanFull
		}
		rows, last = rows+1, at
		if t, ok := first[p.User]; !ok || at < t {
			first[p.User] = at
		}
		switch p.Section {
		case protocol.SectionQuality:
			addQualityRow(b, p.User, at, p.Fields)
		case protocol.SectionStreams:
			addStreamRow(b, p.User, at, p.Fields)
		case protocol.SectionEvents:
			if typ, _ := p.Fields["event.type"].(string); typ != "" {
				events = append(events, qualityEventRow{receipt: at, at: qualityEventTime(p), ref: p.User, typ: typ})
			}
		}
		return nil
	})
	if err != nil && !errors.Is(err, errQualityScanFull) {
		return nil, fmt.Errorf("quality: %w", err)
	}
	res := &qualityResult{rows: rows, rowLimit: limit, body: qualityJSON{From: req.from, To: req.to, Room: req.roomText, User: req.user,
		Participants: []qualityParticipantJSON{}, Metrics: map[string]qualityMetricJSON{}, Events: []qualityEventJSON{}}}
	if cut = b.finish(cut); cut != 0 {
		c := time.UnixMilli(cut).UTC()
		res.body.Truncated, res.body.CompleteTo = true, &c
	}
	shown := func(t int64) bool { return cut == 0 || t < cut }

	// Participants: P1, P2, … in order of first appearance.
	refs := make([]string, 0, len(first))
	for ref, t := range first {
		if shown(t) {
			refs = append(refs, ref)
		}
	}
	slices.SortFunc(refs, func(x, y string) int {
		return cmp.Or(cmp.Compare(first[x], first[y]), strings.Compare(x, y))
	})
	order := make(map[string]int, len(refs))
	for i, ref := range refs {
		order[ref] = i
		res.body.Participants = append(res.body.Participants, qualityParticipantJSON{Ref: ref, Label: qualityLabel(i)})
	}
	for _, m := range qualityMetrics {
		res.body.Metrics[m.name] = qualityMetricJSON{Unit: m.unit, Series: b.series(m.name, order)}
	}
	for _, e := range events {
		if shown(e.receipt) {
			res.body.Events = append(res.body.Events, qualityEventJSON{At: e.at, Participant: qualityLabel(order[e.ref]), Type: e.typ})
		}
	}
	slices.SortStableFunc(res.body.Events, func(x, y qualityEventJSON) int { return cmp.Compare(x.At, y.At) })
	return res, nil
}

// addQualityRow feeds a quality-section row: the worse value of an
// instant, and of a bucket.
func addQualityRow(b *seriesBuilder, ref string, at int64, f map[string]any) {
	b.add("rtt", ref, "rtt", at, f, "quality.rtt_ms", maxOf, bucketWorst)
	b.add("loss", ref, "up loss", at, f, "quality.up_loss_pct", maxOf, bucketWorst)
	b.add("loss", ref, "down loss", at, f, "quality.down_loss_pct", maxOf, bucketWorst)
	b.add("cpu", ref, "app", at, f, "quality.cpu_app_pct", maxOf, bucketWorst)
	b.add("cpu", ref, "system", at, f, "quality.cpu_system_pct", maxOf, bucketWorst)
}

// addStreamRow feeds a streams-section row. One report carries a stream
// per remote peer: the rates of an instant add up to what the device
// receives; frame rate and height are the best stream's. Buckets average.
func addStreamRow(b *seriesBuilder, ref string, at int64, f map[string]any) {
	dir, _ := f["stream.direction"].(string)
	kind, _ := f["stream.kind"].(string)
	if dir == "" || kind == "" {
		return // cannot be named
	}
	typ, _ := f["stream.type"].(string)
	name := streamSeriesName(dir, kind, typ)
	b.add("bitrate", ref, name, at, f, "stream.bitrate_kbps", func(x, y float64) float64 { return x + y }, bucketMean)
	if kind == "video" {
		b.add("fps", ref, name, at, f, "stream.fps", maxOf, bucketMean)
		b.add("resolution", ref, name, at, f, "stream.height", maxOf, bucketMean)
	}
}

// maxOf combines two values of one instant: the worse rtt or loss, the
// best stream's frame rate or height.
func maxOf(x, y float64) float64 { return max(x, y) }

func qualityLabel(i int) string { return "P" + strconv.Itoa(i+1) }

// qualityEventTime places an event: see qualityEventEarly.
func qualityEventTime(p telemetry.Point) int64 {
	rx := p.At.UnixMilli()
	if at, ok := p.Fields["event.at"].(float64); ok &&
		at >= float64(rx-qualityEventEarly.Milliseconds()) && at <= float64(rx+qualityEventLate.Milliseconds()) {
		return int64(at)
	}
	return rx
}

// dataSpan is the time axis of the charts: the requested range, or, when
// the data covers less than a quarter of it (a 10-minute call in a
// "last 24 hours" view), the span of the data with a margin, so the call
// fills the chart. Every metric of one result gets the same span (all
// series and events count), so the charts stay aligned.
func (res *qualityResult) dataSpan(from, to time.Time) (time.Time, time.Time) {
	lo, hi := int64(math.MaxInt64), int64(math.MinInt64)
	see := func(t int64) { lo, hi = min(lo, t), max(hi, t) }
	for _, m := range res.body.Metrics {
		for _, s := range m.Series {
			for _, p := range s.Points {
				see(int64(p[0]))
			}
		}
	}
	for _, e := range res.body.Events {
		see(e.At)
	}
	if lo > hi || (hi-lo)*4 >= to.Sub(from).Milliseconds() {
		return from, to
	}
	pad := max((hi-lo)/20, (10 * time.Second).Milliseconds())
	f, t := time.UnixMilli(lo-pad).UTC(), time.UnixMilli(hi+pad).UTC()
	if f.Before(from) {
		f = from
	}
	if t.After(to) {
		t = to
	}
	return f, t
}

// svg draws one metric of the result.
func (res *qualityResult) svg(req qualityRequest) ([]byte, error) {
	m := res.body.Metrics[req.metric.name]
	title := req.metric.title
	if req.roomText != "" {
		title += " · room " + req.roomText
	}
	from, to := res.dataSpan(req.from, req.to)
	c := chart.Chart{Title: title, Unit: m.Unit, From: from, To: to, Width: req.width, Height: req.height}
	if res.body.Truncated {
		c.Note = fmt.Sprintf("More than %d rows in this range: data shown up to %s; narrow the range or start from there",
			res.rowLimit, res.body.CompleteTo.Format("Jan 2 15:04:05 UTC"))
	}
	for _, s := range m.Series {
		pts := make([]chart.Point, len(s.Points))
		for i, p := range s.Points {
			pts[i] = chart.Point{T: int64(p[0]), V: p[1]}
		}
		c.Series = append(c.Series, chart.Series{Name: s.Participant + " " + s.Name, Points: pts})
	}
	for _, e := range res.body.Events {
		c.Events = append(c.Events, chart.Event{T: e.At, Label: e.Participant + " " + e.Type})
	}
	return chart.Render(c)
}

// The four handlers: room queries directly, user queries through the
// audited wrapper.

// quality parses the request and reads its telemetry.
func (a *consoleAPI) quality(r *http.Request, forUser, svg bool) (qualityRequest, *qualityResult, error) {
	req, err := a.parseQuality(r, forUser, svg)
	if err != nil {
		return req, nil, err
	}
	res, err := a.loadQuality(r.Context(), req)
	return req, res, err
}

func (a *consoleAPI) roomQualityJSON(w http.ResponseWriter, r *http.Request) {
	_, res, err := a.quality(r, false, false)
	if err != nil {
		a.qualityError(w, err)
		return
	}
	operator.WriteJSON(w, http.StatusOK, res.body)
}

func (a *consoleAPI) roomQualitySVG(w http.ResponseWriter, r *http.Request) {
	req, res, err := a.quality(r, false, true)
	if err != nil {
		a.qualityError(w, err)
		return
	}
	doc, err := res.svg(req)
	if err != nil {
		a.qualityError(w, err)
		return
	}
	writeSVG(w, doc)
}

func (a *consoleAPI) userQualityJSON(r *http.Request, _ operator.Operator) (operator.Read, error) {
	req, res, err := a.quality(r, true, false)
	if err != nil {
		return operator.Read{}, err
	}
	return operator.Read{SDKAppID: req.app, Records: res.rows, Filters: req.filters, Body: res.body}, nil
}

func (a *consoleAPI) userQualitySVG(r *http.Request, _ operator.Operator) (operator.Read, error) {
	req, res, err := a.quality(r, true, true)
	if err != nil {
		return operator.Read{}, err
	}
	doc, err := res.svg(req)
	if err != nil {
		return operator.Read{}, err
	}
	return operator.Read{SDKAppID: req.app, Records: res.rows, Filters: req.filters, Body: svgBody(doc)}, nil
}

func (a *consoleAPI) qualityError(w http.ResponseWriter, err error) {
	var e *operator.Error
	if errors.As(err, &e) {
		operator.WriteError(w, e)
		return
	}
	internalError(w, a.log, "quality query", err)
}

// writeSVG answers with a chart. The document has no script (package
// chart); the policy also stops one from running if the URL is opened
// directly, and nosniff keeps it an image.
func writeSVG(w http.ResponseWriter, doc []byte) {
	h := w.Header()
	h.Set("Content-Type", "image/svg+xml; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(doc)
}

// svgBody is a chart as the answer of an audited read.
type svgBody []byte

func (b svgBody) WriteBody(w http.ResponseWriter) { writeSVG(w, b) }
