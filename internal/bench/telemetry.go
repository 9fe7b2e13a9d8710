package bench

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"time"

	"github.com/parley-rtc/parley/internal/privacy/inventory"
	"github.com/parley-rtc/parley/internal/store/sqlite"
	"github.com/parley-rtc/parley/internal/telemetry"
	"github.com/parley-rtc/parley/protocol"
)

// TelemetryOptions configures RunTelemetry.
type TelemetryOptions struct {
	Reports  int    // telemetry frames to ingest
	Sessions int    // distinct (user, device) sources
	DataDir  string // SQLite directory (a temp dir by default)
	// OneCore pins the run to one P (GOMAXPROCS=1), as the target is
	// stated per core.
	OneCore bool
}

// TelemetryResult is what `parley bench telemetry` prints.
type TelemetryResult struct {
	Reports             int     `json:"reports"`
	Records             int     `json:"records"` // stored rows (sections)
	Seconds             float64 `json:"seconds"`
	RecordsPerSecond    float64 `json:"records_per_second"`
	ServerCPUSeconds    float64 `json:"server_cpu_seconds"`
	RecordsPerCPUSecond float64 `json:"records_per_cpu_second"`
	GOMAXPROCS          int     `json:"gomaxprocs"`
	StoredRows          int64   `json:"stored_rows"`
}

// sampleFrame is a realistic 2-second report: the quality section and a
// sent and a received video stream — three stored records.
func sampleFrame(seq int) []byte {
	return fmt.Appendf(nil, `{"type":"telemetry","id":%d,"data":{"seq":%d,"at":1763850000000,`+
		`"quality":{"quality.rtt_ms":%d,"quality.up_loss_pct":0,"quality.down_loss_pct":1,"quality.jitter_ms":4,`+
		`"quality.cpu_app_pct":12,"quality.cpu_system_pct":30,"quality.mem_app_mb":180,"quality.network_quality":1},`+
		`"streams":[{"stream.direction":"send","stream.kind":"video","stream.type":"main","stream.width":640,"stream.height":360,"stream.fps":15,"stream.bitrate_kbps":480,"stream.loss_pct":0},`+
		`{"stream.direction":"recv","stream.kind":"video","stream.type":"main","stream.width":640,"stream.height":360,"stream.fps":15,"stream.bitrate_kbps":470,"stream.loss_pct":1}]}}`,
		seq, seq, 20+seq%50)
}

// RunTelemetry measures the server's telemetry ingest: decode each frame
// from its wire bytes, validate every field against the inventory and the
// session scope, pseudonymise, and store in SQLite through the batching
// writer, until every record is on disk.
func RunTelemetry(ctx context.Context, o TelemetryOptions) (TelemetryResult, error) {
	if o.Reports <= 0 {
		o.Reports = 100_000
	}
	if o.Sessions <= 0 {
		o.Sessions = 100
	}
	if o.DataDir == "" {
		return TelemetryResult{}, errors.New("bench telemetry: DataDir required")
	}
	if o.OneCore {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	}
	inv, err := inventory.Default()
	if err != nil {
		return TelemetryResult{}, err
	}
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	db, err := sqlite.Open(ctx, filepath.Join(o.DataDir, "telemetry-bench.db"), sqlite.Options{KEK: key})
	if err != nil {
		return TelemetryResult{}, err
	}
	defer db.Close()
	svc, err := telemetry.New(telemetry.Config{Inventory: inv, Store: db, PseudonymKey: key})
	if err != nil {
		return TelemetryResult{}, err
	}
	defer svc.Close()

	frames := make([][]byte, o.Reports)
	for i := range frames {
		frames[i] = sampleFrame(i)
	}
	scope := telemetry.Scope{Platform: "go", Purposes: map[string]bool{protocol.PurposeRTC: true, protocol.PurposeQuality: true},
		Switches: map[string]bool{"ext.apm": true}}
	sessions := make([]telemetry.Session, o.Sessions)
	for i := range sessions {
		sessions[i] = telemetry.Session{SDKAppID: 1400000001, Room: protocol.RoomRef{ID: uint32(1 + i%10)},
			UserID: fmt.Sprintf("user%d", i), DeviceID: fmt.Sprintf("dev%d", i), Scope: scope}
	}

	startCPU, err := selfCPU()
	if err != nil {
		return TelemetryResult{}, err
	}
	start := time.Now()
	records := 0
	for i, b := range frames {
		// The server's path for telemetry frames (internal/signal).
		_, rep, ok := protocol.DecodeTelemetryFrame(b)
		if !ok {
			return TelemetryResult{}, fmt.Errorf("bench telemetry: frame %d does not decode", i)
		}
		var err error
		for {
			err = svc.Ingest(ctx, sessions[i%len(sessions)], &rep)
			if !errors.Is(err, telemetry.ErrOverload) {
				break
			}
			// Back-pressure: let the writer catch up, as a server would
			// slow a client that outruns the store.
			if ferr := svc.Flush(ctx); ferr != nil {
				return TelemetryResult{}, ferr
			}
		}
		if err != nil {
			return TelemetryResult{}, err
		}
		records += 1 + len(rep.Streams) + len(rep.Events)
		if len(rep.Device) > 0 {
			records++
		}
	}
	if err := svc.Flush(ctx); err != nil {
		return TelemetryResult{}, err
	}
	elapsed := time.Since(start)
	endCPU, err := selfCPU()
	if err != nil {
		return TelemetryResult{}, err
	}
	parts, err := db.TelemetryPartitions(ctx)
	if err != nil {
		return TelemetryResult{}, err
	}
	var stored int64
	for _, p := range parts {
		stored += p.Rows
	}
	cpu := endCPU.sub(startCPU).total().Seconds()
	res := TelemetryResult{
		Reports: o.Reports, Records: records, Seconds: elapsed.Seconds(),
		RecordsPerSecond: float64(records) / elapsed.Seconds(), ServerCPUSeconds: cpu,
		GOMAXPROCS: runtime.GOMAXPROCS(0), StoredRows: stored,
	}
	if cpu > 0 {
		res.RecordsPerCPUSecond = float64(records) / cpu
	}
	if stored != int64(records) {
		return res, fmt.Errorf("bench telemetry: %d records ingested but %d stored", records, stored)
	}
	return res, nil
}
