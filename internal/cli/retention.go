package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"text/tabwriter"
	"time"

	"github.com/parley-rtc/parley/internal/app"
	"github.com/parley-rtc/parley/internal/privacy/inventory"
	"github.com/parley-rtc/parley/internal/retention"
	"github.com/parley-rtc/parley/internal/server"
	"github.com/parley-rtc/parley/internal/store"
	"github.com/parley-rtc/parley/internal/store/sqlite"
)

// Retention runs the retention engine on demand and manages legal holds:
//
//	parley retention run [--data DIR] [--config FILE] [--json]
//	parley retention status [--data DIR] [--config FILE] [--json]
//	parley retention hold add --sdkappid N [--user U] --reason R (--until DATE | --for 90d) [--note TEXT] [--json]
//	parley retention hold list [--sdkappid N] [--all] [--json]
//	parley retention hold release --id N [--json]
//
// `parley serve` sweeps every hour by itself; `run` sweeps now (a running
// server's data directory too: SQLite serialises the writers), `status`
// prints each store's oldest unheld record against its limit. Limits come
// from the inventory and the configuration file's im section. A hold on a
// user stores the user's blind-index reference, computed with the data
// directory's key-encryption key, never the user id.
func Retention(ctx context.Context, args []string, env Env) int {
	return runSubcommand(ctx, "retention", args, env, retentionUsage, map[string]subcommand{
		"run":    func(ctx context.Context, args []string, env Env) int { return retentionCmd(ctx, "run", args, env) },
		"status": func(ctx context.Context, args []string, env Env) int { return retentionCmd(ctx, "status", args, env) },
		"hold": func(ctx context.Context, args []string, env Env) int {
			return runSubcommand(ctx, "retention hold", args, env, retentionUsage, map[string]subcommand{
				"add": holdAdd, "list": holdList, "release": holdRelease,
			})
		},
	})
}

func retentionUsage(w io.Writer) {
	io.WriteString(w, `Usage: parley retention <subcommand> [flags]

Subcommands:
  run                     delete everything older than its store's limit now
  status                  each store's oldest record against its limit, and the active holds
  hold add --sdkappid N --reason law|court|authority|dispute (--until 2027-01-31 | --for 90d)
           [--user USERID] [--note TEXT]
                          keep an app's (or one user's) data past its limits
  hold list [--sdkappid N] [--all]
                          holds in force (--all: released and expired ones too)
  hold release --id N     end a hold now

Limits: telemetry 14 days (the inventory), message history im.retention
(default 7 days), push tokens im.push_token_ttl, finished callbacks 14 days,
deleted apps purged at the next sweep (at the latest 7 days), records of
ended holds 14 days. A hold must end within 3 years; its note must not
contain personal information. 'parley serve' runs the sweep every hour.

Flags: --data DIR, --config FILE (for the im limits), --kek-file FILE, --json.
`)
}

// retentionFlags is the flag set of a retention subcommand; withKEK adds
// --kek-file for the commands that open the key.
func retentionFlags(sub string, env Env, f *appFlags, withKEK bool) *flag.FlagSet {
	fs := flag.NewFlagSet("retention "+sub, flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	fs.StringVar(&f.data, "data", "", "data `dir`ectory (resolved like 'parley app')")
	fs.StringVar(&f.config, "config", "", "server YAML configuration `file` (data_dir, kek_file and the im limits)")
	if withKEK {
		fs.StringVar(&f.kekFile, "kek-file", "", "key-encryption-key `file` (default <data>/kek)")
	}
	fs.BoolVar(&f.json, "json", false, "print JSON")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: parley retention %s [flags]\n\nFlags:\n", sub)
		fs.PrintDefaults()
	}
	return fs
}

func retentionCmd(ctx context.Context, sub string, args []string, env Env) int {
	var f appFlags
	fs := retentionFlags(sub, env, &f, true)
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
	return withLocal(ctx, "retention "+sub, f, env, func(l *app.Local) int {
		eng, err := server.NewRetention(l.DB, inv, cfg, cliLogger(env), cliClock(env), l.Audit)
		if err != nil {
			return fail(env, "retention %s: %v", sub, err)
		}
		if sub == "status" {
			return retentionStatus(ctx, l.DB, eng, f, env)
		}
		return runSweep(ctx, eng, f, env)
	})
}

func retentionStatus(ctx context.Context, db *sqlite.DB, eng *retention.Engine, f appFlags, env Env) int {
	st, err := eng.Status(ctx)
	holds, herr := db.ListLegalHolds(ctx, 0, false, cliClock(env)())
	err = errors.Join(err, herr)
	if f.json {
		if code := writeJSON(env, struct {
			Stores      []retention.Status `json:"stores"`
			ActiveHolds int                `json:"active_holds"`
		}{st, len(holds)}); code != ExitOK || err != nil {
			return ExitFailure
		}
		return ExitOK
	}
	tw := tabwriter.NewWriter(env.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "STORE\tLIMIT (DAYS)\tOLDEST (DAYS)\tWITHIN\tWHAT")
	for _, s := range st {
		oldest := fmt.Sprintf("%.1f", s.OldestDays)
		if s.Empty {
			oldest = "empty"
		}
		fmt.Fprintf(tw, "%s\t%g\t%s\t%s\t%s\n", s.Store, s.LimitDays, oldest, yesNo(s.Within), s.What)
	}
	_ = tw.Flush()
	fmt.Fprintf(env.Stdout, "Active legal holds: %d (parley retention hold list)\n", len(holds))
	if err != nil {
		return fail(env, "retention status: %v", err)
	}
	return ExitOK
}

func runSweep(ctx context.Context, eng *retention.Engine, f appFlags, env Env) int {
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
		older := "older than " + r.Before
		if r.Before == "" {
			older = "due"
		}
		fmt.Fprintf(env.Stdout, "%-16s deleted %d rows %s (limit %s); %d kept by legal holds\n", r.Store, r.Deleted, older, r.Limit, r.Held)
	}
	if err != nil {
		return fail(env, "retention run: %v", err)
	}
	return ExitOK
}

// holdJSON is the stable JSON shape of a legal hold. It has no user id:
// subject_ref is the user's blind-index reference.
type holdJSON struct {
	ID         int64  `json:"id"`
	SDKAppID   uint32 `json:"sdkappid"`
	Scope      string `json:"scope"` // "app" or "user"
	SubjectRef string `json:"subject_ref,omitempty"`
	Reason     string `json:"reason"`
	Note       string `json:"note,omitempty"`
	CreatedAt  string `json:"created_at"`
	ExpiresAt  string `json:"expires_at"`
	ReleasedAt string `json:"released_at,omitempty"`
	Active     bool   `json:"active"`
}

func toHoldJSON(h store.LegalHold, now time.Time) holdJSON {
	j := holdJSON{ID: h.ID, SDKAppID: h.SDKAppID, Scope: "app", SubjectRef: h.Subject, Reason: string(h.Reason),
		Note: h.Note, CreatedAt: h.CreatedAt.Format(time.RFC3339), ExpiresAt: h.ExpiresAt.Format(time.RFC3339),
		Active: h.Active(now)}
	if h.Subject != "" {
		j.Scope = "user"
	}
	if !h.ReleasedAt.IsZero() {
		j.ReleasedAt = h.ReleasedAt.Format(time.RFC3339)
	}
	return j
}

// withLocal opens the data directory (database and key) like 'parley
// app', runs fn and closes it.
func withLocal(ctx context.Context, what string, f appFlags, env Env, fn func(*app.Local) int) int {
	l, err := openLocal(ctx, f, env, false)
	if err != nil {
		return fail(env, "%s: %v", what, err)
	}
	code := fn(l)
	if err := l.Close(); err != nil {
		return fail(env, "%s: close database: %v", what, err)
	}
	return code
}

// holdSubject is the blind-index reference of --user, or "" for a hold
// on the whole app. The key must be the one the data directory's apps
// were sealed with: under another key the reference would match nobody.
func holdSubject(ctx context.Context, l *app.Local, sdkAppID uint32, user string) (string, error) {
	if user == "" {
		return "", nil
	}
	apps, err := l.Apps.List(ctx)
	if err != nil {
		return "", err
	}
	if len(apps) > 0 {
		if _, err := l.Apps.Get(ctx, apps[0].SDKAppID); err != nil {
			return "", fmt.Errorf("the key-encryption key does not open this data directory: %w", err)
		}
	}
	return l.DB.UserRef(sdkAppID, user), nil
}

func holdAdd(ctx context.Context, args []string, env Env) int {
	var f appFlags
	fs := retentionFlags("hold add", env, &f, true)
	getID := sdkAppIDFlag(fs)
	user := fs.String("user", "", "hold only this user's data (stored as its blind-index reference, never the id)")
	reason := fs.String("reason", "", "legal ground: law, court, authority or dispute")
	until := fs.String("until", "", "hold through this UTC `date` (2027-01-31) or RFC 3339 time")
	forDur := fs.String("for", "", "hold for this long: days (90d) or a Go duration")
	note := fs.String("note", "", "short remark such as a case number (at most 200 bytes, no personal information)")
	if code, done := parseFlags(fs, args, env); done {
		return code
	}
	id, ok := getID(env)
	if !ok {
		return ExitUsage
	}
	now := cliClock(env)()
	expiry, err := retention.HoldExpiry(now, *until, *forDur)
	if err != nil {
		fmt.Fprintf(env.Stderr, "parley retention hold add: %v\n", err)
		return ExitUsage
	}
	if r := store.HoldReason(*reason); !r.Valid() {
		fmt.Fprintf(env.Stderr, "parley retention hold add: --reason %q: want law, court, authority or dispute\n", *reason)
		return ExitUsage
	}
	return withLocal(ctx, "retention hold add", f, env, func(l *app.Local) int {
		subject, err := holdSubject(ctx, l, id, *user)
		if err != nil {
			return fail(env, "retention hold add: %v", err)
		}
		h, err := l.DB.AddLegalHold(ctx, store.LegalHold{SDKAppID: id, Subject: subject, Reason: store.HoldReason(*reason),
			Note: *note, CreatedAt: now, ExpiresAt: expiry})
		if err != nil {
			return fail(env, "retention hold add: %v", err)
		}
		if f.json {
			return writeJSON(env, toHoldJSON(h, now))
		}
		fmt.Fprintf(env.Stdout, "Recorded legal hold %d on %s until %s (%s).\n", h.ID, holdScope(h),
			h.ExpiresAt.Format(time.RFC3339), h.Reason)
		return ExitOK
	})
}

func holdScope(h store.LegalHold) string {
	if h.Subject == "" {
		return fmt.Sprintf("app %d", h.SDKAppID)
	}
	return fmt.Sprintf("user %s of app %d", h.Subject, h.SDKAppID)
}

func holdList(ctx context.Context, args []string, env Env) int {
	var f appFlags
	fs := retentionFlags("hold list", env, &f, true)
	appID := fs.Uint64("sdkappid", 0, "only this app's holds")
	all := fs.Bool("all", false, "include released and expired holds")
	if code, done := parseFlags(fs, args, env); done {
		return code
	}
	if *appID > math.MaxUint32 {
		fmt.Fprintf(env.Stderr, "parley retention hold list: --sdkappid must be 1-%d\n", uint64(math.MaxUint32))
		return ExitUsage
	}
	now := cliClock(env)()
	return withLocal(ctx, "retention hold list", f, env, func(l *app.Local) int {
		holds, err := l.DB.ListLegalHolds(ctx, uint32(*appID), *all, now)
		if err != nil {
			return fail(env, "retention hold list: %v", err)
		}
		if f.json {
			out := struct {
				Holds []holdJSON `json:"holds"`
			}{make([]holdJSON, 0, len(holds))}
			for _, h := range holds {
				out.Holds = append(out.Holds, toHoldJSON(h, now))
			}
			return writeJSON(env, out)
		}
		return printHolds(env, holds, now)
	})
}

func printHolds(env Env, holds []store.LegalHold, now time.Time) int {
	if len(holds) == 0 {
		fmt.Fprintln(env.Stdout, "No legal holds.")
		return ExitOK
	}
	tw := tabwriter.NewWriter(env.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSDKAPPID\tSUBJECT\tREASON\tEXPIRES\tSTATE\tNOTE")
	for _, h := range holds {
		j := toHoldJSON(h, now)
		subject, state := "(whole app)", "active"
		if h.Subject != "" {
			subject = h.Subject
		}
		switch {
		case j.ReleasedAt != "":
			state = "released " + j.ReleasedAt
		case !j.Active:
			state = "expired"
		}
		fmt.Fprintf(tw, "%d\t%d\t%s\t%s\t%s\t%s\t%s\n", h.ID, h.SDKAppID, subject, h.Reason, j.ExpiresAt, state, h.Note)
	}
	if err := tw.Flush(); err != nil {
		return fail(env, "retention hold list: %v", err)
	}
	return ExitOK
}

func holdRelease(ctx context.Context, args []string, env Env) int {
	var f appFlags
	fs := retentionFlags("hold release", env, &f, true)
	id := fs.Int64("id", 0, "the hold's `id` (parley retention hold list)")
	if code, done := parseFlags(fs, args, env); done {
		return code
	}
	if *id <= 0 {
		fmt.Fprintln(env.Stderr, "parley retention hold release: --id is required")
		return ExitUsage
	}
	now := cliClock(env)()
	return withLocal(ctx, "retention hold release", f, env, func(l *app.Local) int {
		h, err := l.DB.ReleaseLegalHold(ctx, *id, now)
		if errors.Is(err, store.ErrNotFound) {
			return fail(env, "retention hold release: no legal hold with id %d", *id)
		}
		if err != nil {
			return fail(env, "retention hold release: %v", err)
		}
		if f.json {
			return writeJSON(env, toHoldJSON(h, now))
		}
		fmt.Fprintf(env.Stdout, "Released legal hold %d on %s; its data goes at the next sweep if past its limits.\n", h.ID, holdScope(h))
		return ExitOK
	})
}
