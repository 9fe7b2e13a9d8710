package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"

	"github.com/parley-rtc/parley/internal/bench"
)

// benchTelemetry runs `parley bench telemetry --spawn [--reports N]
// [--sessions N] [--all-cores] [--json]`. The ingest path runs in-process
// (--spawn) on one core by default, as its target is stated per core.
func benchTelemetry(ctx context.Context, args []string, env Env) int {
	fs := flag.NewFlagSet("bench telemetry", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	spawn := fs.Bool("spawn", false, "run the ingest path in-process on a temporary SQLite store (required)")
	reports := fs.Int("reports", 100_000, "telemetry frames to ingest (each stores 3 records: quality and two streams)")
	sessions := fs.Int("sessions", 100, "distinct users/devices the frames come from")
	allCores := fs.Bool("all-cores", false, "do not pin the run to one core (GOMAXPROCS=1)")
	asJSON := fs.Bool("json", false, "print one JSON object")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return ExitOK
		}
		return ExitUsage
	}
	if !*spawn {
		fmt.Fprintln(env.Stderr, "parley bench telemetry: --spawn is required (the benchmark measures the ingest path in-process)")
		return ExitUsage
	}
	if *reports <= 0 || *sessions <= 0 {
		fmt.Fprintln(env.Stderr, "parley bench telemetry: --reports and --sessions must be positive")
		return ExitUsage
	}
	dir, err := os.MkdirTemp("", "parley-bench-telemetry-")
	if err != nil {
		return fail(env, "bench telemetry: %v", err)
	}
	defer os.RemoveAll(dir)
	fmt.Fprintf(env.Stderr, "ingesting %d telemetry frames from %d sessions…\n", *reports, *sessions)
	res, err := bench.RunTelemetry(ctx, bench.TelemetryOptions{Reports: *reports, Sessions: *sessions, DataDir: dir, OneCore: !*allCores})
	if err != nil {
		return fail(env, "bench telemetry: %v", err)
	}
	if *asJSON {
		return writeJSON(env, res)
	}
	fmt.Fprintf(env.Stdout, "reports            %d\nrecords            %d (stored %d)\nseconds            %.2f\nrecords/s          %.0f\nserver CPU-s       %.2f\nrecords/CPU-s      %.0f\nGOMAXPROCS         %d\n",
		res.Reports, res.Records, res.StoredRows, res.Seconds, res.RecordsPerSecond, res.ServerCPUSeconds, res.RecordsPerCPUSecond, res.GOMAXPROCS)
	return ExitOK
}
