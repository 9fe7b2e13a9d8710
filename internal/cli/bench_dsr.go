package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/parley-rtc/parley/internal/bench"
)

// benchDSR runs `parley bench dsr [--rows N] [--sweep-rows N] [--json]`
// on a temporary data directory (issue 5 targets: erase a user with
// 1,000,000 rows in ≤ 1 s of request processing; sweep 10,000,000 expired
// telemetry rows in ≤ 60 s).
func benchDSR(ctx context.Context, args []string, env Env) int {
	fs := flag.NewFlagSet("bench dsr", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	rows := fs.Int("rows", 1_000_000, "rows stored about the erased user (half messages, half telemetry)")
	sweep := fs.Int("sweep-rows", 10_000_000, "expired telemetry rows for the retention sweep (0: skip)")
	asJSON := fs.Bool("json", false, "print one JSON object")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return ExitOK
		}
		return ExitUsage
	}
	dir, err := os.MkdirTemp("", "parley-bench-dsr-")
	if err != nil {
		return fail(env, "bench dsr: %v", err)
	}
	defer os.RemoveAll(dir)
	res, err := bench.RunDSR(ctx, bench.DSROptions{Rows: *rows, SweepRows: *sweep, DataDir: dir,
		Progress: func(phase string) { fmt.Fprintf(env.Stderr, "bench dsr: %s…\n", phase) }})
	return benchReport(env, "dsr", res, err, *asJSON, printBenchDSR)
}

func printBenchDSR(w io.Writer, r bench.DSRResult) {
	fmt.Fprintf(w, "Erase a user with %d rows:\n", r.Rows)
	fmt.Fprintf(w, "  request processing   %8.1f ms (target ≤ 1000; crypto-shred alone %.1f ms)\n", r.EraseRequestMS, r.ShredMS)
	fmt.Fprintf(w, "  row deletion         %8.1f ms\n", r.RowDeletionMS)
	if r.SweepRows > 0 {
		fmt.Fprintf(w, "Retention sweep of %d expired telemetry rows: %.2f s (target ≤ 60)\n", r.SweepRows, r.SweepSeconds)
	}
	fmt.Fprintf(w, "(filling the stores took %.1f s, not counted)\n", r.FillSeconds)
}
