package server

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parley-rtc/parley/internal/keyring"
	"github.com/parley-rtc/parley/internal/operator"
	"github.com/parley-rtc/parley/internal/telemetry"
	"github.com/parley-rtc/parley/protocol"
)

// User ids of the fixture: distinctive, so that finding one anywhere in
// an answer is a leak and never a coincidence.
const (
	qAlice = "alice_uid_42"
	qBob   = "bob_uid_77"
	qCarol = "carol_uid_5"
	qDave  = "dave_uid_9"
)

var (
	qRoom    = protocol.RoomRef{ID: 1234}
	qStrRoom = protocol.RoomRef{Str: "<b>&lobby"} // markup is allowed in string room ids
	qOther   = protocol.RoomRef{ID: 99}
)

type qualityFixture struct {
	*consoleFixture
	tel   *telemetry.Service
	clock *atomic.Int64 // Unix ms the telemetry service stamps records with
}

// newQualityFixture serves the console API with a telemetry service over
// the fixture's data directory. It is a second API over the same stores
// (the operators and their sessions are in the database), built with its
// telemetry rather than patched in while a server runs.
func newQualityFixture(t *testing.T, opts ...func(*consoleDeps)) *qualityFixture {
	t.Helper()
	f := newConsoleFixture(t)
	clock := new(atomic.Int64)
	tel, err := telemetry.New(telemetry.Config{Inventory: f.api.inv, Store: f.local.DB,
		PseudonymKey: bytes.Repeat([]byte{7}, 32), FlushInterval: 10 * time.Millisecond,
		Now: func() time.Time { return time.UnixMilli(clock.Load()) }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tel.Close() })
	deps := consoleDeps{Local: f.local, Consent: f.api.consent, Inventory: f.api.inv,
		Notifier: f.api.deps.Notifier, Telemetry: tel, Iterations: 1000}
	for _, o := range opts {
		o(&deps)
	}
	api, err := newConsoleAPI(deps)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	api.register(mux)
	qf := *f
	qf.api, qf.srv = api, httptest.NewServer(mux)
	t.Cleanup(qf.srv.Close)
	return &qualityFixture{consoleFixture: &qf, tel: tel, clock: clock}
}

// qualityReport is one report as an SDK sends it, at a server instant.
type qualityReport struct {
	at   time.Time
	room protocol.RoomRef
	user string
	js   string
}

// ingest feeds reports through the real ingest path (inventory
// validation, pseudonymisation, storage) in time order, as the server
// clock would stamp them.
func (qf *qualityFixture) ingest(t *testing.T, reps []qualityReport) {
	t.Helper()
	ctx := consoleCtx(t)
	slices.SortStableFunc(reps, func(a, b qualityReport) int { return a.at.Compare(b.at) })
	scope := telemetry.Scope{Platform: "go", Purposes: map[string]bool{protocol.PurposeRTC: true, protocol.PurposeQuality: true},
		Switches: map[string]bool{"ext.apm": true}}
	for _, r := range reps {
		var rep protocol.TelemetryReport
		if err := json.Unmarshal([]byte(r.js), &rep); err != nil {
			t.Fatalf("fixture report %s: %v", r.js, err)
		}
		qf.clock.Store(r.at.UnixMilli())
		sess := telemetry.Session{SDKAppID: qf.app, Room: r.room, UserID: r.user, DeviceID: r.user + "-dev", Scope: scope}
		for {
			err := qf.tel.Ingest(ctx, sess, &rep)
			if err == nil {
				break
			}
			if !strings.Contains(err.Error(), "queue full") {
				t.Fatalf("ingest: %v", err)
			}
			if err := qf.tel.Flush(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := qf.tel.Flush(ctx); err != nil {
		t.Fatal(err)
	}
}

func (qf *qualityFixture) ref(user string) string {
	return keyring.RefText(qf.tel.Pseudonym(qf.app, "user", user))
}

// get returns the status, headers and body of a GET.
func (qf *qualityFixture) get(t *testing.T, path, token string) (int, http.Header, []byte) {
	t.Helper()
	resp, raw := qf.send(t, http.MethodGet, path, token, "")
	return resp.StatusCode, resp.Header, raw
}

func (qf *qualityFixture) path(svg bool, q url.Values) string {
	p := fmt.Sprintf("/v1/console/apps/%d/quality", qf.app)
	if svg {
		p += ".svg"
	}
	return p + "?" + q.Encode()
}

// qualityAnswer mirrors the series JSON of docs/console.md.
type qualityAnswer struct {
	From, To     time.Time
	Room, User   string
	Participants []struct{ Ref, Label string }
	Metrics      map[string]struct {
		Unit   string
		Series []struct {
			Participant, Name string
			Points            [][2]float64
		}
	}
	Events []struct {
		At          int64
		Participant string
		Type        string
	}
	Truncated  bool
	CompleteTo *time.Time `json:"complete_to"`
}

func decodeQuality(t *testing.T, raw []byte) qualityAnswer {
	t.Helper()
	var a qualityAnswer
	if err := json.Unmarshal(raw, &a); err != nil {
		t.Fatalf("answer is not the series JSON: %v\n%s", err, raw)
	}
	return a
}

// points returns one series' points, failing if it is missing.
func (a qualityAnswer) points(t *testing.T, metric, participant, name string) [][2]float64 {
	t.Helper()
	m, ok := a.Metrics[metric]
	if !ok {
		t.Fatalf("no metric %q", metric)
	}
	for _, s := range m.Series {
		if s.Participant == participant && s.Name == name {
			return s.Points
		}
	}
	var have []string
	for _, s := range m.Series {
		have = append(have, s.Participant+" "+s.Name)
	}
	t.Fatalf("%s: no series %s %q; have %q", metric, participant, name, have)
	return nil
}

// callFixture is a room of two: alice for 10 minutes (audio and video
// out, two video streams in), bob from the second minute for 8 minutes
// with a minute of silence; carol in a string room, dave elsewhere.
func callFixture(t *testing.T, qf *qualityFixture, base time.Time) {
	t.Helper()
	var reps []qualityReport
	for i := range 300 {
		at := base.Add(time.Duration(i) * 2 * time.Second)
		js := fmt.Sprintf(`{"seq":%d,"at":%d,
			"quality":{"quality.rtt_ms":%d,"quality.up_loss_pct":1,"quality.down_loss_pct":2,"quality.cpu_app_pct":10,"quality.cpu_system_pct":30},
			"streams":[{"stream.direction":"send","stream.kind":"video","stream.type":"main","stream.width":640,"stream.height":360,"stream.fps":15,"stream.bitrate_kbps":500},
			           {"stream.direction":"send","stream.kind":"audio","stream.type":"main","stream.bitrate_kbps":32},
			           {"stream.direction":"recv","stream.kind":"video","stream.type":"main","stream.height":360,"stream.fps":15,"stream.bitrate_kbps":400},
			           {"stream.direction":"recv","stream.kind":"video","stream.type":"main","stream.height":720,"stream.fps":24,"stream.bitrate_kbps":300}]`,
			i, at.UnixMilli(), 20+i%5)
		switch i {
		case 0: // the device clock agrees with the server: event.at is used
			js += fmt.Sprintf(`,"events":[{"event.type":"enter_room","event.at":%d}]`, at.Add(-1500*time.Millisecond).UnixMilli())
		case 150: // a device clock at 1970: the receipt time is used
			js += `,"events":[{"event.type":"mute_audio","event.at":1}]`
		}
		reps = append(reps, qualityReport{at: at, room: qRoom, user: qAlice, js: js + "}"})
	}
	for i := range 240 {
		if i >= 60 && i < 90 {
			continue // a minute without reports
		}
		at := base.Add(time.Minute + time.Duration(i)*2*time.Second)
		js := `{"quality":{"quality.rtt_ms":80},"streams":[{"stream.direction":"send","stream.kind":"video","stream.height":180,"stream.fps":12,"stream.bitrate_kbps":150}]`
		switch i {
		case 0:
			js += fmt.Sprintf(`,"events":[{"event.type":"enter_room","event.at":%d}]`, at.UnixMilli())
		case 239:
			js += fmt.Sprintf(`,"events":[{"event.type":"exit_room","event.at":%d}]`, at.UnixMilli())
		}
		reps = append(reps, qualityReport{at: at, room: qRoom, user: qBob, js: js + "}"})
	}
	reps = append(reps,
		qualityReport{at: base.Add(3 * time.Minute), room: qStrRoom, user: qCarol,
			js: fmt.Sprintf(`{"quality":{"quality.rtt_ms":55},"events":[{"event.type":"enter_room","event.at":%d}]}`, base.Add(3*time.Minute).UnixMilli())},
		qualityReport{at: base.Add(5 * time.Minute), room: qOther, user: qDave, js: `{"quality":{"quality.rtt_ms":999}}`})
	qf.ingest(t, reps)
}

// TestQualityRoomSeries: a room's series hold what the SDKs reported,
// per participant under P1, P2 in order of first appearance, with no
// user id anywhere in the answer, and only that room's data.
func TestQualityRoomSeries(t *testing.T) {
	qf := newQualityFixture(t)
	base := time.Now().Add(-40 * time.Minute).Truncate(time.Second)
	callFixture(t, qf, base)

	// A developer may read a room: apps.read, nothing audited.
	readsBefore := len(qf.operatorReads(t))
	status, hdr, raw := qf.get(t, qf.path(false, url.Values{"room": {"1234"}}), qf.tokens[operator.RoleDeveloper])
	if status != http.StatusOK || !strings.HasPrefix(hdr.Get("Content-Type"), "application/json") {
		t.Fatalf("room query: %d %s", status, raw)
	}
	for _, id := range []string{qAlice, qBob, qCarol, qDave} {
		if bytes.Contains(raw, []byte(id)) {
			t.Fatalf("the room answer holds user id %s", id)
		}
	}
	a := decodeQuality(t, raw)
	if a.Room != "1234" || a.User != "" || a.Truncated || a.CompleteTo != nil {
		t.Errorf("room %q user %q truncated %v", a.Room, a.User, a.Truncated)
	}
	if d := a.To.Sub(a.From); d != time.Hour || time.Since(a.To) > time.Minute {
		t.Errorf("default range %s – %s, want the last hour", a.From, a.To)
	}
	wantParts := []struct{ Ref, Label string }{{qf.ref(qAlice), "P1"}, {qf.ref(qBob), "P2"}}
	if !slices.Equal(a.Participants, wantParts) {
		t.Fatalf("participants %+v, want %+v", a.Participants, wantParts)
	}
	for _, p := range a.Participants {
		if _, ok := keyring.RefBytes(p.Ref); !ok {
			t.Errorf("ref %q is not a pseudonym reference", p.Ref)
		}
	}

	rtt := a.points(t, "rtt", "P1", "rtt")
	if len(rtt) != 300 {
		t.Fatalf("P1 rtt: %d points, want 300", len(rtt))
	}
	for i, p := range rtt {
		if want := base.Add(time.Duration(i) * 2 * time.Second).UnixMilli(); int64(p[0]) != want || p[1] != float64(20+i%5) {
			t.Fatalf("P1 rtt point %d = %v, want [%d %d]", i, p, want, 20+i%5)
		}
	}
	if bob := a.points(t, "rtt", "P2", "rtt"); len(bob) != 210 || bob[0][1] != 80 {
		t.Errorf("P2 rtt: %d points (want 210: 240 less a silent minute), first %v", len(bob), bob[0])
	}
	one := func(metric, participant, name string, want float64) {
		t.Helper()
		pts := a.points(t, metric, participant, name)
		for _, p := range pts {
			if p[1] != want {
				t.Fatalf("%s %s %s = %v, want %v", metric, participant, name, p[1], want)
			}
		}
	}
	one("loss", "P1", "up loss", 1)
	one("loss", "P1", "down loss", 2)
	one("cpu", "P1", "app", 10)
	one("cpu", "P1", "system", 30)
	one("bitrate", "P1", "send video", 500)
	one("bitrate", "P1", "send audio", 32)
	one("bitrate", "P1", "recv video", 700) // two remote streams add up
	one("fps", "P1", "recv video", 24)      // the best stream's
	one("resolution", "P1", "recv video", 720)
	one("resolution", "P1", "send video", 360)
	one("bitrate", "P2", "send video", 150) // stream.type omitted: the main stream
	if n := len(a.points(t, "bitrate", "P1", "recv video")); n != 300 {
		t.Errorf("recv video: %d points, want one per report (300)", n)
	}
	for metric, unit := range map[string]string{"rtt": "ms", "loss": "%", "bitrate": "kbps", "fps": "fps", "resolution": "px (height)", "cpu": "%"} {
		if a.Metrics[metric].Unit != unit {
			t.Errorf("%s unit %q, want %q", metric, a.Metrics[metric].Unit, unit)
		}
	}
	var names []string
	for _, s := range a.Metrics["bitrate"].Series {
		names = append(names, s.Participant+" "+s.Name)
	}
	if got := strings.Join(names, ", "); got != "P1 send video, P1 recv video, P1 send audio, P2 send video" {
		t.Errorf("bitrate series order: %s", got)
	}
	for _, m := range []string{"fps", "resolution"} {
		for _, s := range a.Metrics[m].Series {
			if strings.HasSuffix(s.Name, "audio") {
				t.Errorf("%s has an audio series %q", m, s.Name)
			}
		}
	}

	type ev struct {
		at         int64
		who, etype string
	}
	var evs []ev
	for _, e := range a.Events {
		evs = append(evs, ev{e.At, e.Participant, e.Type})
	}
	wantEvs := []ev{
		{base.Add(-1500 * time.Millisecond).UnixMilli(), "P1", "enter_room"},
		{base.Add(time.Minute).UnixMilli(), "P2", "enter_room"},
		{base.Add(300 * time.Second).UnixMilli(), "P1", "mute_audio"},
		{base.Add(time.Minute + 478*time.Second).UnixMilli(), "P2", "exit_room"},
	}
	if !slices.Equal(evs, wantEvs) {
		t.Errorf("events %+v, want %+v", evs, wantEvs)
	}
	if n := len(qf.operatorReads(t)); n != readsBefore {
		t.Errorf("a room query left %d audit records", n-readsBefore)
	}

	// A string room is its own namespace; its markup is data.
	status, _, raw = qf.get(t, qf.path(false, url.Values{"room": {"s:" + qStrRoom.Str}}), qf.tokens[operator.RoleDeveloper])
	a = decodeQuality(t, raw)
	if status != http.StatusOK || a.Room != "s:<b>&lobby" || len(a.Participants) != 1 || a.Participants[0].Ref != qf.ref(qCarol) ||
		a.points(t, "rtt", "P1", "rtt")[0][1] != 55 {
		t.Errorf("string room: %d %s", status, raw)
	}

	// Unix seconds work as well as RFC 3339, and the range narrows.
	from, to := base.Add(2*time.Minute), base.Add(4*time.Minute)
	status, _, raw = qf.get(t, qf.path(false, url.Values{"room": {"1234"}, "from": {strconv.FormatInt(from.Unix(), 10)},
		"to": {to.Format(time.RFC3339)}}), qf.tokens[operator.RoleDeveloper])
	a = decodeQuality(t, raw)
	if status != http.StatusOK || !a.From.Equal(from) || !a.To.Equal(to) || len(a.points(t, "rtt", "P1", "rtt")) != 60 {
		t.Errorf("narrow range: %d, %s – %s, %d points", status, a.From, a.To, len(a.points(t, "rtt", "P1", "rtt")))
	}
	if len(a.Events) != 0 {
		t.Errorf("events outside the range: %+v", a.Events)
	}
}

// proves SEC-2: a query by user is a read of that person's data. It
// needs personal_data.read, goes through the audited wrapper — one
// operator.read record naming the operator, the endpoint and the filters,
// never the user id — and returns only that user's series.
func TestQualityUserQueryAudited(t *testing.T) {
	qf := newQualityFixture(t)
	base := time.Now().Add(-40 * time.Minute).Truncate(time.Second)
	callFixture(t, qf, base)
	q := url.Values{"user": {qAlice}}

	before := len(qf.operatorReads(t))
	for _, svg := range []bool{false, true} {
		qq := url.Values{"user": {qAlice}}
		if svg {
			qq.Set("metric", "rtt")
		}
		status, _, raw := qf.get(t, qf.path(svg, qq), qf.tokens[operator.RoleDeveloper])
		if status != http.StatusForbidden || !bytes.Contains(raw, []byte("personal_data.read")) {
			t.Errorf("developer, user query (svg %v): %d %s", svg, status, raw)
		}
		if status, _, _ := qf.get(t, qf.path(svg, qq), ""); status != http.StatusUnauthorized {
			t.Errorf("anonymous: %d", status)
		}
	}
	if n := len(qf.operatorReads(t)); n != before {
		t.Fatalf("refused reads left %d audit records", n-before)
	}

	status, _, raw := qf.get(t, qf.path(false, q), qf.tokens[operator.RoleSupport])
	if status != http.StatusOK {
		t.Fatalf("support, user query: %d %s", status, raw)
	}
	a := decodeQuality(t, raw)
	if a.User != qAlice || a.Room != "" || len(a.Participants) != 1 || a.Participants[0] != (struct{ Ref, Label string }{qf.ref(qAlice), "P1"}) {
		t.Fatalf("user answer: user %q participants %+v", a.User, a.Participants)
	}
	if bytes.Contains(raw, []byte(qf.ref(qBob))) || len(a.points(t, "rtt", "P1", "rtt")) != 300 {
		t.Error("the user answer is not just alice's data")
	}
	reads := qf.operatorReads(t)
	if len(reads) != before+1 {
		t.Fatalf("%d audit records for one user query", len(reads)-before)
	}
	rec := reads[len(reads)-1]
	// 300 reports × (1 quality + 4 streams) + 2 events.
	if rec.SDKAppID != qf.app || rec.Detail["endpoint"] != qualityPath || rec.Detail["filters"] != "user" ||
		rec.Detail["records"] != "1502" || rec.Detail["role"] != string(operator.RoleSupport) {
		t.Errorf("audit record %+v", rec)
	}
	if data, _ := rec.Marshal(); bytes.Contains(data, []byte(qAlice)) || bytes.Contains(data, []byte(qf.ref(qAlice))) {
		t.Fatalf("the audit record holds the user: %s", data)
	}

	// The chart of one user is audited the same way, and still a chart.
	svgQ := url.Values{"user": {qAlice}, "room": {"1234"}, "metric": {"bitrate"}, "width": {"600"}}
	status, hdr, doc := qf.get(t, qf.path(true, svgQ), qf.tokens[operator.RoleAuditor])
	if status != http.StatusOK || hdr.Get("Content-Type") != "image/svg+xml; charset=utf-8" {
		t.Fatalf("user chart: %d %s %.200s", status, hdr.Get("Content-Type"), doc)
	}
	texts := qualitySVGTexts(t, doc)
	if !slices.Contains(texts, "P1 recv video") || slices.Contains(texts, "P2 send video") {
		t.Errorf("user chart legend: %q", texts)
	}
	reads = qf.operatorReads(t)
	rec = reads[len(reads)-1]
	if len(reads) != before+2 || rec.Detail["endpoint"] != qualitySVGPath || rec.Detail["filters"] != "metric,room,user,width" ||
		rec.Detail["role"] != string(operator.RoleAuditor) {
		t.Errorf("chart audit record %+v (%d records)", rec, len(reads)-before)
	}

	// A bad parameter on the audited path returns nothing and records
	// nothing.
	status, _, raw = qf.get(t, qf.path(false, url.Values{"user": {"alice@example"}}), qf.tokens[operator.RoleSupport])
	if status != http.StatusBadRequest || !bytes.Contains(raw, []byte("user: invalid user id")) {
		t.Errorf("bad user id: %d %s", status, raw)
	}
	if n := len(qf.operatorReads(t)); n != before+2 {
		t.Errorf("a refused read left an audit record")
	}
}

// qualitySVGTexts parses a chart as XML and returns its text nodes.
func qualitySVGTexts(t *testing.T, doc []byte) []string {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(doc))
	var texts []string
	var inText int
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return texts
		}
		if err != nil {
			t.Fatalf("chart is not XML: %v", err)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			if tok.Name.Local == "script" || tok.Name.Local == "foreignObject" {
				t.Fatalf("chart holds <%s>", tok.Name.Local)
			}
			if tok.Name.Local == "text" || tok.Name.Local == "title" {
				inText++
			}
		case xml.EndElement:
			if tok.Name.Local == "text" || tok.Name.Local == "title" {
				inText--
			}
		case xml.CharData:
			if inText > 0 {
				texts = append(texts, string(tok))
			}
		}
	}
}

// TestQualitySVG: the chart of a room's metric is an SVG document with
// each participant's series and the enter/leave/mute markers, and no user
// id.
func TestQualitySVG(t *testing.T) {
	qf := newQualityFixture(t)
	base := time.Now().Add(-40 * time.Minute).Truncate(time.Second)
	callFixture(t, qf, base)
	status, hdr, doc := qf.get(t, qf.path(true, url.Values{"room": {"1234"}, "metric": {"rtt"}}), qf.tokens[operator.RoleDeveloper])
	if status != http.StatusOK || hdr.Get("Content-Type") != "image/svg+xml; charset=utf-8" ||
		hdr.Get("X-Content-Type-Options") != "nosniff" || hdr.Get("Content-Security-Policy") != "default-src 'none'" {
		t.Fatalf("chart: %d %v %.300s", status, hdr, doc)
	}
	if !bytes.HasPrefix(doc, []byte(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 800 300" width="100%"`)) {
		t.Errorf("not a responsive SVG: %.120s", doc)
	}
	texts := qualitySVGTexts(t, doc)
	for _, want := range []string{"Round-trip time · room 1234", "ms", "P1 rtt", "P2 rtt",
		"P1 enter_room", "P2 enter_room", "P1 mute_audio", "P2 exit_room"} {
		if !slices.Contains(texts, want) {
			t.Errorf("chart lacks %q: %q", want, texts)
		}
	}
	if n := bytes.Count(doc, []byte(`<path fill="none"`)); n != 2 {
		t.Errorf("%d series drawn, want 2", n)
	}
	// Bob's silent minute is a gap: his line has two pieces.
	bob := regexp.MustCompile(`<title>P2 rtt</title><path[^>]* d="([^"]*)"`).FindSubmatch(doc)
	if bob == nil || bytes.Count(bob[1], []byte("M")) != 2 {
		t.Errorf("P2's line is not in two pieces (a gap): %.200q", bob)
	}
	for _, id := range []string{qAlice, qBob} {
		if bytes.Contains(doc, []byte(id)) {
			t.Fatalf("the chart holds user id %s", id)
		}
	}

	// Each metric draws; a string room's markup stays text in the title.
	for _, m := range []string{"loss", "bitrate", "fps", "resolution", "cpu"} {
		if status, _, doc := qf.get(t, qf.path(true, url.Values{"room": {"1234"}, "metric": {m}, "height": {"200"}}), qf.tokens[operator.RoleDeveloper]); status != http.StatusOK || !bytes.Contains(doc, []byte(`viewBox="0 0 800 200"`)) {
			t.Errorf("metric %s: %d %.200s", m, status, doc)
		}
	}
	status, _, doc = qf.get(t, qf.path(true, url.Values{"room": {"s:" + qStrRoom.Str}, "metric": {"rtt"}}), qf.tokens[operator.RoleDeveloper])
	if texts := qualitySVGTexts(t, doc); status != http.StatusOK || !slices.Contains(texts, "Round-trip time · room s:<b>&lobby") {
		t.Errorf("string room chart: %d %q", status, texts)
	}
	// An empty room says so.
	status, _, doc = qf.get(t, qf.path(true, url.Values{"room": {"4321"}, "metric": {"rtt"}}), qf.tokens[operator.RoleDeveloper])
	if status != http.StatusOK || !slices.Contains(qualitySVGTexts(t, doc), "No data in this range") {
		t.Errorf("empty room chart: %d", status)
	}
}

// TestQualityTruncated: more rows than the row limit are cut at one
// instant for every section, and the answer says so.
func TestQualityTruncated(t *testing.T) {
	const limit = 1000
	qf := newQualityFixture(t, func(d *consoleDeps) { d.QualityRowLimit = limit })
	start := time.Now().Add(-3 * time.Hour).Truncate(time.Second)
	const n = limit + 50
	reps := make([]qualityReport, 0, n+1)
	for i := range n {
		reps = append(reps, qualityReport{at: start.Add(time.Duration(i) * time.Second), room: qRoom, user: qAlice,
			js: fmt.Sprintf(`{"quality":{"quality.rtt_ms":%d}}`, i%100)})
	}
	// An event after the cut must not show.
	reps = append(reps, qualityReport{at: start.Add(n * time.Second), room: qRoom, user: qAlice,
		js: `{"events":[{"event.type":"exit_room"}]}`})
	qf.ingest(t, reps)

	q := url.Values{"room": {"1234"}, "from": {start.Add(-time.Minute).Format(time.RFC3339)}}
	status, _, raw := qf.get(t, qf.path(false, q), qf.tokens[operator.RoleDeveloper])
	a := decodeQuality(t, raw)
	cut := start.Add((limit - 1) * time.Second)
	if status != http.StatusOK || !a.Truncated || a.CompleteTo == nil || !a.CompleteTo.Equal(cut) {
		t.Fatalf("truncated %v complete_to %v, want %s", a.Truncated, a.CompleteTo, cut)
	}
	pts := a.points(t, "rtt", "P1", "rtt")
	if len(pts) != limit-1 || int64(pts[len(pts)-1][0]) >= cut.UnixMilli() {
		t.Errorf("%d points up to %v", len(pts), pts[len(pts)-1])
	}
	if len(a.Events) != 0 {
		t.Errorf("events after the cut: %+v", a.Events)
	}
	q.Set("metric", "rtt")
	_, _, doc := qf.get(t, qf.path(true, q), qf.tokens[operator.RoleDeveloper])
	if !bytes.Contains(doc, []byte("More than 1000 rows in this range")) {
		t.Errorf("the chart does not say it is cut: %.600s", doc)
	}
}

// TestQualityParameterErrors: each bad parameter is a 400 that names it.
func TestQualityParameterErrors(t *testing.T) {
	qf := newQualityFixture(t)
	now := time.Now()
	dev, support := qf.tokens[operator.RoleDeveloper], qf.tokens[operator.RoleSupport]
	cases := []struct {
		name  string
		svg   bool
		q     url.Values
		token string
		want  string // in the message
	}{
		{"neither room nor user", false, url.Values{}, dev, "room or user is required"},
		{"room not a number", false, url.Values{"room": {"abc"}}, dev, "want a numeric room id 1-4294967295"},
		{"room zero", false, url.Values{"room": {"0"}}, dev, "want a numeric room id 1-4294967295"},
		{"room too big", false, url.Values{"room": {"4294967296"}}, dev, "want a numeric room id 1-4294967295"},
		{"string room char", false, url.Values{"room": {"s:a/b"}}, dev, "room: invalid room id"},
		{"empty string room", false, url.Values{"room": {"s:"}}, dev, "room: invalid room id"},
		{"room twice", false, url.Values{"room": {"1", "2"}}, dev, "room: given 2 times"},
		{"from not a time", false, url.Values{"room": {"1"}, "from": {"yesterday"}}, dev, "from: want RFC 3339"},
		{"to not a time", false, url.Values{"room": {"1"}, "to": {"2026-11-23 10:00"}}, dev, "to: want RFC 3339"},
		{"from after to", false, url.Values{"room": {"1"}, "from": {now.Add(-time.Hour).Format(time.RFC3339)},
			"to": {now.Add(-2 * time.Hour).Format(time.RFC3339)}}, dev, "must be after from"},
		{"from in the future", false, url.Values{"room": {"1"}, "from": {now.Add(time.Hour).Format(time.RFC3339)}}, dev, "from: " + now.Add(time.Hour).UTC().Format(time.RFC3339) + " is in the future"},
		{"15 days back", false, url.Values{"room": {"1"}, "from": {strconv.FormatInt(now.Add(-15*24*time.Hour).Unix(), 10)}}, dev, "from: at most 14 days back"},
		{"to 15 days back", false, url.Values{"room": {"1"}, "to": {now.Add(-15 * 24 * time.Hour).Format(time.RFC3339)}}, dev, "to: at most 14 days back"},
		{"no metric", true, url.Values{"room": {"1"}}, dev, "metric: want one of rtt, loss, bitrate, fps, resolution, cpu"},
		{"unknown metric", true, url.Values{"room": {"1"}, "metric": {"jitter"}}, dev, "metric: want one of"},
		{"narrow", true, url.Values{"room": {"1"}, "metric": {"rtt"}, "width": {"10"}}, dev, "width: want an integer 240-4096"},
		{"tall", true, url.Values{"room": {"1"}, "metric": {"rtt"}, "height": {"1e3"}}, dev, "height: want an integer 160-4096"},
		{"empty user", false, url.Values{"user": {""}}, support, "user: invalid user id: empty"},
		{"user too long", true, url.Values{"user": {strings.Repeat("u", 33)}, "metric": {"rtt"}}, support, "user: invalid user id: 33 bytes"},
	}
	before := len(qf.operatorReads(t))
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, hdr, raw := qf.get(t, qf.path(c.svg, c.q), c.token)
			var body struct {
				Error struct{ Code, Message string }
			}
			_ = json.Unmarshal(raw, &body)
			if status != http.StatusBadRequest || body.Error.Code != "invalid_parameter" || !strings.Contains(body.Error.Message, c.want) ||
				!strings.HasPrefix(hdr.Get("Content-Type"), "application/json") {
				t.Errorf("%d %s, want 400 invalid_parameter containing %q", status, raw, c.want)
			}
		})
	}
	if n := len(qf.operatorReads(t)); n != before {
		t.Errorf("refused queries left %d audit records", n-before)
	}
	// Just inside the limits is fine: 14 days back (as a browser computes
	// it a moment earlier), a to in the future read as now.
	q := url.Values{"room": {"1"}, "from": {now.Add(-14*24*time.Hour - time.Minute).Format(time.RFC3339)}, "to": {now.Add(time.Hour).Format(time.RFC3339)}}
	status, _, raw := qf.get(t, qf.path(false, q), dev)
	if a := decodeQuality(t, raw); status != http.StatusOK || a.To.After(time.Now()) || len(a.Participants) != 0 {
		t.Errorf("14 days: %d %s", status, raw)
	}
	status, _, raw = qf.get(t, "/v1/console/apps/1/quality?room=1", dev)
	if status != http.StatusNotFound || !bytes.Contains(raw, []byte("app_not_found")) {
		t.Errorf("unknown app: %d %s", status, raw)
	}
}

// TestQualityWithoutTelemetry: a console built without telemetry says
// so instead of failing.
func TestQualityWithoutTelemetry(t *testing.T) {
	f := newConsoleFixture(t)
	_, body := f.call(t, "GET", fmt.Sprintf("/v1/console/apps/%d/quality?room=1", f.app), f.tokens[operator.RoleDeveloper], "")
	if eb, _ := body["error"].(map[string]any); eb["code"] != "unavailable" {
		t.Errorf("without telemetry: %v", body)
	}
}

// A short call in a long range fills the chart; data that covers the
// range, or no data, keeps the range.
func TestQualityDataSpan(t *testing.T) {
	from := time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)
	to := from.Add(24 * time.Hour)
	call := from.Add(10 * time.Hour)
	res := &qualityResult{}
	res.body.Metrics = map[string]qualityMetricJSON{"rtt": {Series: []qualitySeriesJSON{{Points: [][2]float64{
		{float64(call.UnixMilli()), 10}, {float64(call.Add(10 * time.Minute).UnixMilli()), 12}}}}}}
	res.body.Events = []qualityEventJSON{{At: call.Add(-time.Minute).UnixMilli()}}
	f, tt := res.dataSpan(from, to)
	// 11 minutes of data (the event first) with a 5 % margin each side.
	pad := 33 * time.Second
	if !f.Equal(call.Add(-time.Minute-pad)) || !tt.Equal(call.Add(10*time.Minute+pad)) {
		t.Fatalf("span %s – %s, want the call with a margin", f, tt)
	}
	if f, tt := res.dataSpan(call.Add(-2*time.Minute), call.Add(20*time.Minute)); !f.Equal(call.Add(-2*time.Minute)) || !tt.Equal(call.Add(20*time.Minute)) {
		t.Fatalf("data covering half the range changed it: %s – %s", f, tt)
	}
	empty := &qualityResult{}
	if f, tt := empty.dataSpan(from, to); !f.Equal(from) || !tt.Equal(to) {
		t.Fatalf("no data changed the range: %s – %s", f, tt)
	}
}

// TestQualityLongCallIsWholeAndBucketed: a six-hour call (10,800 reports,
// more than one page of the store) in a 14-day view comes back whole,
// not truncated, in at most qualityMaxPoints buckets of one width, with
// its rtt spike and its enter event.
func TestQualityLongCallIsWholeAndBucketed(t *testing.T) {
	qf := newQualityFixture(t)
	start := time.Now().Add(-10 * 24 * time.Hour).Truncate(time.Second)
	const n = 6 * 3600 / 2
	reps := make([]qualityReport, 0, n)
	for i := range n {
		rtt := 20
		if i == n/2 {
			rtt = 1500
		}
		js := fmt.Sprintf(`{"quality":{"quality.rtt_ms":%d}}`, rtt)
		if i == 0 {
			js = `{"quality":{"quality.rtt_ms":20},"events":[{"event.type":"enter_room"}]}`
		}
		reps = append(reps, qualityReport{at: start.Add(time.Duration(i) * 2 * time.Second), room: qRoom, user: qAlice, js: js})
	}
	qf.ingest(t, reps)
	from := time.Now().Add(-14*24*time.Hour + time.Minute)
	q := url.Values{"room": {"1234"}, "from": {from.Format(time.RFC3339)}}
	status, _, raw := qf.get(t, qf.path(false, q), qf.tokens[operator.RoleDeveloper])
	a := decodeQuality(t, raw)
	if status != http.StatusOK || a.Truncated {
		t.Fatalf("status %d truncated %v", status, a.Truncated)
	}
	pts := a.points(t, "rtt", "P1", "rtt")
	if len(pts) > qualityMaxPoints || len(pts) < n/16 {
		t.Fatalf("%d points for %d reports", len(pts), n)
	}
	width := pts[1][0] - pts[0][0]
	var top float64
	for i, p := range pts {
		if i > 0 && p[0]-pts[i-1][0] != width {
			t.Fatalf("points %d and %d are %v ms apart, want one width %v", i-1, i, p[0]-pts[i-1][0], width)
		}
		top = max(top, p[1])
	}
	if width < 4000 || top != 1500 {
		t.Fatalf("bucket width %v ms, highest rtt %v (the spike is 1500)", width, top)
	}
	if len(a.Events) != 1 || a.Events[0].Type != "enter_room" {
		t.Fatalf("events %+v", a.Events)
	}
}
