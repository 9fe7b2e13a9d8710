package server

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"testing"
	"time"

	"github.com/parley-rtc/parley/internal/privacy/inventory"
	"github.com/parley-rtc/parley/internal/store"
	"github.com/parley-rtc/parley/internal/store/sqlite"
	"github.com/parley-rtc/parley/internal/store/sqlite/sqlitetest"
	"github.com/parley-rtc/parley/internal/telemetry"
	"github.com/parley-rtc/parley/protocol"
)

func rttRow(v float64) map[string]any { return map[string]any{"quality.rtt_ms": v} }

func sum(x, y float64) float64 { return x + y }

// Until a series outgrows qualityMaxPoints every report instant is its
// own point with its own value; rows of one instant are combined.
func TestSeriesBuilderKeepsInstantsWhileSmall(t *testing.T) {
	b := newSeriesBuilder(1_000_000)
	for i := range 100 {
		at := int64(1_000_000 + 2000*i)
		b.add("rtt", "~a", "rtt", at, rttRow(float64(i)), "quality.rtt_ms", maxOf, bucketWorst)
		// Two streams in one report: their bitrates add up.
		b.add("bitrate", "~a", "recv video", at, map[string]any{"stream.bitrate_kbps": 100.0}, "stream.bitrate_kbps", sum, bucketMean)
		b.add("bitrate", "~a", "recv video", at, map[string]any{"stream.bitrate_kbps": 50.0}, "stream.bitrate_kbps", sum, bucketMean)
	}
	if b.finish(0) != 0 || b.width != 0 {
		t.Fatalf("width %d after 100 instants", b.width)
	}
	order := map[string]int{"~a": 0}
	rtt := b.series("rtt", order)[0].Points
	br := b.series("bitrate", order)[0].Points
	if len(rtt) != 100 || len(br) != 100 {
		t.Fatalf("%d rtt and %d bitrate points, want 100", len(rtt), len(br))
	}
	for i := range 100 {
		if rtt[i] != [2]float64{float64(1_000_000 + 2000*i), float64(i)} || br[i][1] != 150 {
			t.Fatalf("point %d: rtt %v bitrate %v", i, rtt[i], br[i])
		}
	}
}

// Fourteen days of 2 s reports end in at most qualityMaxPoints buckets
// of one power-of-two width aligned to the range's start: rtt keeps each
// bucket's worst value (a single spike survives), bitrate its mean.
func TestSeriesBuilderBucketsLongRanges(t *testing.T) {
	const origin = 1_700_000_000_000
	const n = 14 * 24 * 3600 / 2
	spikeAt := int64(origin + 2000*(n/3))
	b := newSeriesBuilder(origin)
	for i := range n {
		at := int64(origin + 2000*i)
		v := 10.0
		if at == spikeAt {
			v = 900
		}
		b.add("rtt", "~a", "rtt", at, rttRow(v), "quality.rtt_ms", maxOf, bucketWorst)
		br := 100.0 + 200*float64(i%2) // 100, 300, 100, … : mean 200
		b.add("bitrate", "~a", "send video", at, map[string]any{"stream.bitrate_kbps": br}, "stream.bitrate_kbps", sum, bucketMean)
	}
	b.finish(0)
	if b.width != 512_000 {
		t.Fatalf("bucket width %d ms, want 512 s for 14 days", b.width)
	}
	order := map[string]int{"~a": 0}
	rtt := b.series("rtt", order)[0].Points
	br := b.series("bitrate", order)[0].Points
	if len(rtt) > qualityMaxPoints || len(rtt) < qualityMaxPoints/2 || len(br) != len(rtt) {
		t.Fatalf("%d rtt and %d bitrate points", len(rtt), len(br))
	}
	spikes := 0
	for i, p := range rtt {
		if (int64(p[0])-origin)%b.width != 0 || (i > 0 && p[0] <= rtt[i-1][0]) {
			t.Fatalf("point %d at %v: not on the bucket grid or not ascending", i, p[0])
		}
		switch {
		case p[1] == 900:
			spikes++
			if int64(p[0]) > spikeAt || spikeAt >= int64(p[0])+b.width {
				t.Errorf("the spike is drawn at %v, outside its bucket", p[0])
			}
		case p[1] != 10:
			t.Errorf("rtt bucket %d = %v", i, p[1])
		}
	}
	if spikes != 1 {
		t.Errorf("%d buckets carry the spike, want 1", spikes)
	}
	for i, p := range br[:len(br)-1] { // the last bucket may be partial
		if math.Abs(p[1]-200) > 1e-9 {
			t.Fatalf("bitrate bucket %d = %v, want the mean 200", i, p[1])
		}
	}
}

// A cut drops its whole bucket and everything after: the shown data is
// complete up to the returned instant, the cut's bucket start.
func TestSeriesBuilderCutAlignsToBucket(t *testing.T) {
	const origin = 0
	b := newSeriesBuilder(origin)
	for i := range qualityMaxPoints + 1 { // one instant too many: 4 s buckets
		b.add("rtt", "~a", "rtt", int64(2000*i), rttRow(1), "quality.rtt_ms", maxOf, bucketWorst)
	}
	if got := b.finish(10_001); got != 8000 || b.width != 4000 {
		t.Fatalf("complete up to %d at width %d, want 8000 at 4000", got, b.width)
	}
	pts := b.series("rtt", map[string]int{"~a": 0})[0].Points
	if len(pts) != 2 || pts[0][0] != 0 || pts[1][0] != 4000 {
		t.Fatalf("points after the cut: %v", pts)
	}
	// A participant without a label (first seen after the cut) has no
	// series.
	if s := b.series("rtt", map[string]int{"~other": 0}); len(s) != 0 {
		t.Fatalf("unlabelled series shown: %v", s)
	}
}

// BenchmarkQualityLoad14Days: the dashboard's read of one participant's
// 14 days of 2 s reports in a room (604,800 quality rows and as many
// stream rows) from SQLite into bucketed series; reports rows/s.
//
//	go test -run XXX -bench QualityLoad -benchtime 3x ./internal/server
func BenchmarkQualityLoad14Days(b *testing.B) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "q.db"), sqlitetest.Options())
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	inv, err := inventory.Default()
	if err != nil {
		b.Fatal(err)
	}
	tel, err := telemetry.New(telemetry.Config{Inventory: inv, Store: db, PseudonymKey: make([]byte, 32)})
	if err != nil {
		b.Fatal(err)
	}
	defer tel.Close()
	to := time.Now().Truncate(time.Second)
	from := to.Add(-14 * 24 * time.Hour)
	const n = 14 * 24 * 3600 / 2
	room := protocol.RoomRef{ID: 1}
	batch := make([]store.TelemetryRecord, 0, 2*4096)
	for i := range n {
		at := from.Add(time.Duration(i) * 2 * time.Second)
		base := store.TelemetryRecord{At: at, SDKAppID: 1, RoomKey: room.Key(), UserRef: []byte("participant-ref-1"), DeviceRef: []byte("d")}
		q, s := base, base
		q.Section, q.Data = protocol.SectionQuality, []byte(fmt.Sprintf(`{"quality.rtt_ms":%d,"quality.up_loss_pct":1,"quality.cpu_app_pct":12}`, 20+i%40))
		s.Section, s.Data = protocol.SectionStreams, []byte(`{"stream.direction":"send","stream.kind":"video","stream.type":"main","stream.bitrate_kbps":900,"stream.fps":30,"stream.height":720}`)
		batch = append(batch, q, s)
		if len(batch) == cap(batch) || i == n-1 {
			if err := db.InsertTelemetry(ctx, batch); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	a := &consoleAPI{deps: consoleDeps{Telemetry: tel, QualityRowLimit: 2 * n}}
	req := qualityRequest{app: 1, room: &room, roomText: "1", from: from, to: to.Add(time.Second)}
	b.ResetTimer()
	var res *qualityResult
	for b.Loop() {
		if res, err = a.loadQuality(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if res.body.Truncated || res.rows != 2*n {
		b.Fatalf("read %d rows (truncated %v), want %d", res.rows, res.body.Truncated, 2*n)
	}
	b.ReportMetric(float64(res.rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(float64(len(res.body.Metrics["rtt"].Series[0].Points)), "points")
}
