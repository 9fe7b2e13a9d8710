package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/parley-rtc/parley/internal/privacy/inventory"
	"github.com/parley-rtc/parley/internal/retention"
	"github.com/parley-rtc/parley/internal/server"
)

// Retention runs the retention engine on demand:
//
//	parley retention run [--data DIR] [--config FILE] [--json]
//	parley retention status [--data DIR] [--config FILE] [--json]
//
// `parley serve` sweeps every hour by itself; `run` sweeps now (a running
// server's data directory too: SQLite serialises the writers), `status`
// prints each store's oldest record against its limit. Limits come from
// the inventory and the configuration file's im section.
func Retention(ctx context.Context, args []string, env Env) int {
	return runSubcommand(ctx, "retention", args, env, retentionUsage, map[string]subcommand{
		"run":    func(ctx context.Context, args []string, env Env) int { return retentionCmd(ctx, "run", args, env) },
		"status": func(ctx context.Context, args []string, env Env) int { return retentionCmd(ctx, "status", args, env) },
	})
}

func retentionUsage(w io.Writer) {
	io.WriteString(w, `Usage: parley retention <subcommand> [flags]

Subcommands:
  run      delete everything older than its store's limit now
  status   each store's oldest record against its limit

Limits: telemetry 14 days (the inventory), message history im.retention
(default 7 days), push tokens im.push_token_ttl, finished callbacks 14 days.
'parley serve' runs the sweep every hour.

Flags: --data DIR, --config FILE (for the im limits), --json.
`)
}

func retentionCmd(ctx context.Context, sub string, args []string, env Env) int {
	var f appFlags
	fs := flag.NewFlagSet("retention "+sub, flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	fs.StringVar(&f.data, "data", "", "data `dir`ectory (resolved like 'parley app')")
	fs.StringVar(&f.config, "config", "", "server YAML configuration `file` (data_dir and the im limits)")
	fs.BoolVar(&f.json, "json", false, "print JSON")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: parley retention %s [flags]\n\nFlags:\n", sub)
		fs.PrintDefaults()
	}
	if code, done := parseFlags(fs, args, env); done {
		return code
	}
	cfg, err := configFile(f, env)
	if err != nil {
		return fail(env, "retention %s: %v", sub, err)
	}
	inv, err := inventory.Default()
	if err != nil {
		return fail(env, "retention %s: %v", sub, err)
	}
	l, err := openLocal(ctx, f, env, false)
	if err != nil {
		return fail(env, "retention %s: %v", sub, err)
	}
	defer l.Close()
	db := l.DB
	eng, err := server.NewRetention(db, inv, cfg, cliLogger(env), cliClock(env))
	if err != nil {
		return fail(env, "retention %s: %v", sub, err)
	}
	if sub == "status" {
		st, err := eng.Status(ctx)
		if f.json {
			if code := writeJSON(env, struct {
				Stores []retention.Status `json:"stores"`
			}{st}); code != ExitOK || err != nil {
				return ExitFailure
			}
			return ExitOK
		}
		tw := tabwriter.NewWriter(env.Stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "STORE\tLIMIT (DAYS)\tOLDEST (DAYS)\tWITHIN\tHOLDS")
		for _, s := range st {
			oldest := fmt.Sprintf("%.1f", s.OldestDays)
			if s.Empty {
				oldest = "empty"
			}
			fmt.Fprintf(tw, "%s\t%g\t%s\t%s\t%s\n", s.Store, s.LimitDays, oldest, yesNo(s.Within), s.What)
		}
		_ = tw.Flush()
		if err != nil {
			return fail(env, "retention status: %v", err)
		}
		return ExitOK
	}
	res, err := eng.Run(ctx, func(done, total int, store string) {
		if !f.json && store != "" {
			fmt.Fprintf(env.Stderr, "[%d/%d] sweeping %s\n", done+1, total, store)
		}
	})
	if f.json {
		if code := writeJSON(env, struct {
			Results []retention.Result `json:"results"`
		}{res}); code != ExitOK || err != nil {
			return ExitFailure
		}
		return ExitOK
	}
	for _, r := range res {
		fmt.Fprintf(env.Stdout, "%-16s deleted %d rows older than %s (limit %s)\n", r.Store, r.Deleted, r.Before, r.Limit)
	}
	if err != nil {
		return fail(env, "retention run: %v", err)
	}
	return ExitOK
}
