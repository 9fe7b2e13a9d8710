package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/parley-rtc/parley/internal/app"
	"github.com/parley-rtc/parley/internal/incident"
	"github.com/parley-rtc/parley/internal/privacy/inventory"
	"github.com/parley-rtc/parley/internal/webhook"
)

// Incident declares security incidents and shows their notification
// state (SEC-3):
//
//	parley incident declare --apps IDS|all --categories IDS --what T --impact T
//	    --measures T --advice T --remedies T --contact T [--since RFC3339] [--wait 10s] [--json]
//	parley incident notify --id N [--wait 10s] [--json]
//	parley incident list [--limit 20] [--json]
//	parley incident show --id N [--json]
//
// Common flags: --data DIR, --kek-file FILE, --config FILE, as 'parley app'.
func Incident(ctx context.Context, args []string, env Env) int {
	return runSubcommand(ctx, "incident", args, env, incidentUsage, map[string]subcommand{
		"declare": incidentDeclare,
		"notify":  incidentNotify,
		"list":    incidentList,
		"show":    incidentShow,
	})
}

func incidentUsage(w io.Writer) {
	io.WriteString(w, `Usage: parley incident <subcommand> [flags]

Subcommands:
  declare   declare a security incident: count each affected app's users,
            record it (the console notice), append an audit record per app
            and send each app a signed Parley.SecurityIncident callback
              --apps IDS|all          affected SDKAppIDs, comma-separated, or all
              --categories IDS        inventory element ids, e.g. identity.user_id,im.message
              --what --impact --measures --advice --remedies --contact TEXT
                                      the notification (PIPL art. 57); no personal data
              --since RFC3339         count only data recorded since then (default: all stored)
  notify    --id N: finish an interrupted declaration, or notify apps that
            have configured a callback since
  list      incidents, newest first, with each app's delivery state
  show      --id N: one incident

declare and notify deliver for up to --wait (default 10s) and then leave
what is undelivered in the webhook outbox, which 'parley serve' retries.

Common flags: --data DIR, --kek-file FILE, --config FILE, --json.
`)
}

func newIncidentFlagSet(sub string, env Env, f *appFlags) *flag.FlagSet {
	fs := flag.NewFlagSet("incident "+sub, flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	fs.StringVar(&f.data, "data", "", "data `dir`ectory (resolved like 'parley app')")
	fs.StringVar(&f.kekFile, "kek-file", "", "key-encryption-key `file` (default <data>/kek)")
	fs.StringVar(&f.config, "config", "", "server YAML configuration `file` to take data_dir and kek_file from")
	fs.BoolVar(&f.json, "json", false, "print JSON")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: parley incident %s [flags]\n\nFlags:\n", sub)
		fs.PrintDefaults()
	}
	return fs
}

// callbackTargets resolves an app's webhook target from its callback
// settings, as the server does.
type callbackTargets struct{ cbs *app.Callbacks }

func (t callbackTargets) Target(ctx context.Context, sdkAppID uint32) (webhook.Target, bool, error) {
	cb, ok, err := t.cbs.Get(ctx, sdkAppID)
	if err != nil || !ok {
		return webhook.Target{}, false, err
	}
	return webhook.Target{URL: cb.URL, Key: []byte(cb.Key)}, true, nil
}

// incidentRun is an open data directory with the incident service.
type incidentRun struct {
	l   *app.Local
	svc *incident.Service
	d   *webhook.Dispatcher
	inv *inventory.Inventory
}

// withIncidents opens the data directory, runs fn and closes it.
func withIncidents(ctx context.Context, sub string, f appFlags, env Env, fn func(*incidentRun) int) int {
	inv, err := inventory.Default()
	if err != nil {
		return fail(env, "incident %s: %v", sub, err)
	}
	return withLocal(ctx, "incident "+sub, f, env, func(l *app.Local) int {
		d, err := webhook.New(webhook.Config{Outbox: l.DB, Targets: callbackTargets{l.Callbacks}, Logger: cliLogger(env)})
		if err != nil {
			return fail(env, "incident %s: %v", sub, err)
		}
		defer d.Close()
		svc, err := incident.New(incident.Config{Store: l.DB, Inventory: inv, Notifier: d, Audit: l.Audit, Now: cliClock(env), Logger: cliLogger(env)})
		if err != nil {
			return fail(env, "incident %s: %v", sub, err)
		}
		return fn(&incidentRun{l: l, svc: svc, d: d, inv: inv})
	})
}

// deliver runs the dispatcher until the incident has no pending
// notification or wait is over; what is left stays in the outbox.
func (r *incidentRun) deliver(ctx context.Context, id int64, wait time.Duration) (incident.Report, error) {
	rep, err := r.svc.Get(ctx, id)
	if err != nil || wait <= 0 || !anyPending(rep) {
		return rep, err
	}
	r.d.Start()
	deadline := time.Now().Add(wait)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for anyPending(rep) && time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return rep, ctx.Err()
		case <-tick.C:
		}
		if rep, err = r.svc.Get(ctx, id); err != nil {
			return rep, err
		}
	}
	return rep, nil
}

func anyPending(rep incident.Report) bool {
	for _, a := range rep.Apps {
		if a.Delivery.State == incident.DeliveryPending {
			return true
		}
	}
	return false
}

// incidentError maps a service error to an exit code.
func incidentError(env Env, sub string, err error) int {
	if errors.Is(err, incident.ErrInvalid) || errors.Is(err, incident.ErrUnknownCategory) {
		fmt.Fprintf(env.Stderr, "parley incident %s: %v\n", sub, err)
		return ExitUsage
	}
	return fail(env, "incident %s: %v", sub, err)
}

func incidentDeclare(ctx context.Context, args []string, env Env) int {
	var f appFlags
	fs := newIncidentFlagSet("declare", env, &f)
	apps := fs.String("apps", "", "affected `SDKAppIDs`, comma-separated, or \"all\"")
	cats := fs.String("categories", "", "affected data categories: comma-separated inventory element `ids`")
	var d incident.Declaration
	fs.StringVar(&d.WhatHappened, "what", "", "what happened and why (`text`; no personal data)")
	fs.StringVar(&d.Impact, "impact", "", "the possible impact on users (`text`)")
	fs.StringVar(&d.Measures, "measures", "", "measures taken or to be taken (`text`)")
	fs.StringVar(&d.Advice, "advice", "", "what developers and users can do to reduce the risk (`text`)")
	fs.StringVar(&d.Remedies, "remedies", "", "remedies offered (`text`)")
	fs.StringVar(&d.Contact, "contact", "", "whom to contact (`text`)")
	var since timeFlag
	fs.Var(&since, "since", "count only data recorded at or after this RFC 3339 `time` (default: every stored record)")
	wait := fs.Duration("wait", 10*time.Second, "deliver callbacks for up to this `duration` before exiting (0: only enqueue)")
	if code, done := parseFlags(fs, args, env); done {
		return code
	}
	var err error
	if d.AllApps, d.Apps, err = incident.ParseApps(*apps); err != nil {
		return incidentError(env, "declare", err)
	}
	d.Since = since.t
	return withIncidents(ctx, "declare", f, env, func(r *incidentRun) int {
		if d.Categories, err = incident.ParseCategories(*cats, r.inv); err != nil {
			return incidentError(env, "declare", err)
		}
		rep, derr := r.svc.Declare(ctx, d)
		if rep.ID == 0 {
			return incidentError(env, "declare", derr)
		}
		rep, err := r.deliver(ctx, rep.ID, *wait)
		if err != nil {
			return fail(env, "incident declare: incident %d recorded; %v", rep.ID, err)
		}
		if code := printIncident(env, rep, f.json, "declared"); code != ExitOK {
			return code
		}
		if derr != nil {
			return fail(env, "incident declare: incident %d recorded, but: %v (run 'parley incident notify --id %d')", rep.ID, derr, rep.ID)
		}
		return ExitOK
	})
}

func incidentIDFlag(fs *flag.FlagSet) func(env Env) (int64, bool) {
	v := fs.Int64("id", 0, "incident `id`")
	return func(env Env) (int64, bool) {
		if *v <= 0 {
			fmt.Fprintf(env.Stderr, "parley %s: --id is required and must be positive\n", fs.Name())
			return 0, false
		}
		return *v, true
	}
}

func incidentNotify(ctx context.Context, args []string, env Env) int {
	var f appFlags
	fs := newIncidentFlagSet("notify", env, &f)
	getID := incidentIDFlag(fs)
	wait := fs.Duration("wait", 10*time.Second, "deliver callbacks for up to this `duration` before exiting (0: only enqueue)")
	if code, done := parseFlags(fs, args, env); done {
		return code
	}
	id, ok := getID(env)
	if !ok {
		return ExitUsage
	}
	return withIncidents(ctx, "notify", f, env, func(r *incidentRun) int {
		_, nerr := r.svc.Notify(ctx, id)
		if errors.Is(nerr, incident.ErrNotFound) {
			return fail(env, "incident notify: no incident %d", id)
		}
		rep, err := r.deliver(ctx, id, *wait)
		if err != nil {
			return fail(env, "incident notify: %v", err)
		}
		if code := printIncident(env, rep, f.json, "notified"); code != ExitOK {
			return code
		}
		if nerr != nil {
			return fail(env, "incident notify: %v", nerr)
		}
		return ExitOK
	})
}

func incidentShow(ctx context.Context, args []string, env Env) int {
	var f appFlags
	fs := newIncidentFlagSet("show", env, &f)
	getID := incidentIDFlag(fs)
	if code, done := parseFlags(fs, args, env); done {
		return code
	}
	id, ok := getID(env)
	if !ok {
		return ExitUsage
	}
	return withIncidents(ctx, "show", f, env, func(r *incidentRun) int {
		rep, err := r.svc.Get(ctx, id)
		if errors.Is(err, incident.ErrNotFound) {
			return fail(env, "incident show: no incident %d", id)
		}
		if err != nil {
			return fail(env, "incident show: %v", err)
		}
		return printIncident(env, rep, f.json, "")
	})
}

func incidentList(ctx context.Context, args []string, env Env) int {
	var f appFlags
	fs := newIncidentFlagSet("list", env, &f)
	limit := fs.Int("limit", 20, "at most this many incidents, newest first (1-1000)")
	if code, done := parseFlags(fs, args, env); done {
		return code
	}
	if *limit < 1 || *limit > 1000 {
		fmt.Fprintln(env.Stderr, "parley incident list: --limit must be 1-1000")
		return ExitUsage
	}
	return withIncidents(ctx, "list", f, env, func(r *incidentRun) int {
		reps, err := r.svc.List(ctx, *limit)
		if err != nil {
			return fail(env, "incident list: %v", err)
		}
		if f.json {
			return writeJSON(env, map[string]any{"incidents": reps})
		}
		if len(reps) == 0 {
			fmt.Fprintln(env.Stdout, "No incidents declared.")
			return ExitOK
		}
		for i, rep := range reps {
			if i > 0 {
				fmt.Fprintln(env.Stdout)
			}
			writeIncident(env.Stdout, rep, "")
		}
		return ExitOK
	})
}

// printIncident prints one report; verb ("declared", "notified") heads
// the human form.
func printIncident(env Env, rep incident.Report, asJSON bool, verb string) int {
	if asJSON {
		return writeJSON(env, rep)
	}
	writeIncident(env.Stdout, rep, verb)
	return ExitOK
}

func writeIncident(w io.Writer, rep incident.Report, verb string) {
	head := fmt.Sprintf("Incident %d", rep.ID)
	if verb != "" {
		head += " " + verb
	}
	fmt.Fprintf(w, "%s (declared %s", head, rep.DeclaredAt.Format(time.RFC3339))
	if rep.Since != nil {
		fmt.Fprintf(w, "; data recorded since %s", rep.Since.Format(time.RFC3339))
	}
	fmt.Fprintln(w, ")")
	cats := make([]string, len(rep.Categories))
	for i, c := range rep.Categories {
		cats[i] = c.ID + " (" + c.Label + ")"
	}
	fmt.Fprintf(w, "  Categories:     %s\n", strings.Join(cats, ", "))
	for _, l := range [][2]string{
		{"What happened", rep.WhatHappened}, {"Impact", rep.Impact}, {"Measures taken", rep.Measures},
		{"Advice", rep.Advice}, {"Remedies", rep.Remedies}, {"Contact", rep.Contact},
	} {
		fmt.Fprintf(w, "  %-15s %s\n", l[0]+":", oneLine(l[1], 200))
	}
	fmt.Fprintln(w, "  Apps:")
	for _, a := range rep.Apps {
		fmt.Fprintf(w, "    %d: up to %d affected users (at least %d%s): %s\n",
			a.SDKAppID, a.AffectedUsers, a.AffectedUsersMin, byStore(a.UsersByStore), a.Delivery.Summary)
	}
}

func byStore(m map[string]int64) string {
	if len(m) == 0 {
		return ""
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, m[k])
	}
	return "; " + strings.Join(parts, ", ")
}
