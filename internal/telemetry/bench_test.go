package telemetry

import (
	"context"
	"fmt"
	"testing"

	"github.com/parley-rtc/parley/protocol"
)

// BenchmarkIngestAndStore measures the whole server path for one report
// (3 records) from wire bytes to SQLite rows.
func BenchmarkIngestAndStore(b *testing.B) {
	svc, _ := newBenchService(b)
	ctx := context.Background()
	// 100 sessions in 10 rooms, as `parley bench telemetry`.
	sessions := make([]Session, 100)
	for i := range sessions {
		sessions[i] = Session{SDKAppID: 1400000001, Room: protocol.RoomRef{ID: uint32(1 + i%10)},
			UserID: fmt.Sprintf("user%d", i), DeviceID: fmt.Sprintf("dev%d", i), Scope: fullScope()}
	}
	n := 0
	frame := []byte(`{"type":"telemetry","id":1,"data":{"seq":1,"at":1763850000000,"quality":{"quality.rtt_ms":20,"quality.up_loss_pct":0,"quality.down_loss_pct":1,"quality.jitter_ms":4,"quality.cpu_app_pct":12,"quality.cpu_system_pct":30,"quality.mem_app_mb":180,"quality.network_quality":1},"streams":[{"stream.direction":"send","stream.kind":"video","stream.type":"main","stream.width":640,"stream.height":360,"stream.fps":15,"stream.bitrate_kbps":480,"stream.loss_pct":0},{"stream.direction":"recv","stream.kind":"video","stream.type":"main","stream.width":640,"stream.height":360,"stream.fps":15,"stream.bitrate_kbps":470,"stream.loss_pct":1}]}}`)
	b.ResetTimer()
	for b.Loop() {
		n++
		_, rep, ok := protocol.DecodeTelemetryFrame(frame)
		if !ok {
			b.Fatal("frame does not decode")
		}
		var err error
		for {
			err = svc.Ingest(ctx, sessions[n%len(sessions)], &rep)
			if err == nil {
				break
			}
			if ferr := svc.Flush(ctx); ferr != nil {
				b.Fatal(ferr)
			}
		}
	}
	if err := svc.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(3*b.N)/b.Elapsed().Seconds(), "records/s")
}
