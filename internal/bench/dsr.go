package bench

import (
	"context"
	"fmt"
	"time"

	"github.com/parley-rtc/parley/internal/app"
	"github.com/parley-rtc/parley/internal/config"
	"github.com/parley-rtc/parley/internal/dsr"
	"github.com/parley-rtc/parley/internal/privacy/inventory"
	"github.com/parley-rtc/parley/internal/server"
)

// DSROptions configures RunDSR.
type DSROptions struct {
	// Rows is the number of rows stored about the erased user, half
	// messages and half telemetry (issue 5 target: 1,000,000).
	Rows int
	// SweepRows is the number of expired telemetry rows the retention
	// sweep removes, in ten day partitions (target: 10,000,000).
	SweepRows int
	DataDir   string
	// Progress, if set, reports each phase.
	Progress func(phase string)
}

// DSRResult is what `parley bench dsr` prints. Keys are the issue's.
type DSRResult struct {
	Rows int `json:"rows"`
	// EraseRequestMS is the request's processing without the row
	// deletion: lifecycle records and audit entries, the crypto-shred
	// (after which nothing of the user is readable), verification and
	// the signed receipt.
	EraseRequestMS float64 `json:"erase_request_ms"`
	// ShredMS is the crypto-shred alone.
	ShredMS float64 `json:"shred_ms"`
	// RowDeletionMS is deleting the user's rows from every store.
	RowDeletionMS float64 `json:"row_deletion_ms"`
	SweepRows     int64   `json:"sweep_rows"`
	SweepSeconds  float64 `json:"sweep_seconds"`
	FillSeconds   float64 `json:"fill_seconds"`
}

const benchApp = 1400000001

// RunDSR measures erasing one user with o.Rows stored rows and sweeping
// o.SweepRows expired telemetry rows, on a fresh data directory.
func RunDSR(ctx context.Context, o DSROptions) (DSRResult, error) {
	if o.Rows <= 0 || o.SweepRows < 0 || o.DataDir == "" {
		return DSRResult{}, fmt.Errorf("%w: rows must be positive, sweep rows not negative, data dir set", ErrInvalidOptions)
	}
	progress := o.Progress
	if progress == nil {
		progress = func(string) {}
	}
	now := time.Now().UTC()
	local, err := app.OpenLocalStores(ctx, app.LocalOptions{DataDir: o.DataDir})
	if err != nil {
		return DSRResult{}, err
	}
	defer local.Close()
	inv, err := inventory.Default()
	if err != nil {
		return DSRResult{}, err
	}
	rights, err := server.NewRights(local, inv, server.RightsOptions{})
	if err != nil {
		return DSRResult{}, err
	}
	res := DSRResult{Rows: o.Rows}

	progress(fmt.Sprintf("storing %d rows for the user", o.Rows))
	fillStart := time.Now()
	if err := local.DB.FillSubjectRows(ctx, benchApp, "bench-user", o.Rows/2, o.Rows-o.Rows/2, now); err != nil {
		return res, err
	}
	res.FillSeconds = time.Since(fillStart).Seconds()

	progress("erasing the user")
	start := time.Now()
	out, err := rights.Engine.Submit(ctx, dsr.TypeDelete, dsr.Subject{SDKAppID: benchApp, UserID: "bench-user"}, dsr.SourceCLI, nil)
	total := time.Since(start)
	if err != nil {
		return res, err
	}
	if out.Request.State != dsr.StateCompleted {
		return res, fmt.Errorf("bench dsr: erasure %s: %s", out.Request.State, out.Request.Message)
	}
	res.ShredMS, res.RowDeletionMS = out.ShredMS, out.RowsMS
	res.EraseRequestMS = float64(total.Microseconds())/1000 - out.RowsMS

	if o.SweepRows > 0 {
		progress(fmt.Sprintf("storing %d expired telemetry rows", o.SweepRows))
		fillStart = time.Now()
		for d := range 10 {
			day := now.AddDate(0, 0, -20-d)
			n := o.SweepRows / 10
			if d == 9 {
				n = o.SweepRows - 9*(o.SweepRows/10)
			}
			if err := local.DB.FillTelemetryDay(ctx, benchApp, day, n); err != nil {
				return res, err
			}
		}
		res.FillSeconds += time.Since(fillStart).Seconds()
		progress("sweeping")
		eng, err := server.NewRetention(local.DB, inv, config.Default(), nil, func() time.Time { return now }, rights.Audit)
		if err != nil {
			return res, err
		}
		start = time.Now()
		results, err := eng.Run(ctx, nil)
		res.SweepSeconds = time.Since(start).Seconds()
		if err != nil {
			return res, err
		}
		for _, r := range results {
			if r.Store == "quality_logs" {
				res.SweepRows += r.Deleted
			}
		}
	}
	return res, nil
}
