package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/parley-rtc/parley/internal/app"
	"github.com/parley-rtc/parley/internal/audit"
	"github.com/parley-rtc/parley/internal/privacy/consent"
	"github.com/parley-rtc/parley/internal/server"
	"github.com/parley-rtc/parley/internal/store"
	"github.com/parley-rtc/parley/internal/store/sqlite"
)

// Policy publishes and lists an app's privacy-policy versions and shows
// its consent ledger:
//
//	parley policy publish --sdkappid N --version V [--material] [--effective RFC3339] [--summary S] [--url U] [--json]
//	parley policy list --sdkappid N [--json]
//	parley policy ledger --sdkappid N [--user U] [--device D] [--since RFC3339] [--limit 100] [--json]
//
// Published versions are archived forever and never change (DISCLOSE-2); a
// material version needs fresh consent from its effective date
// (CONSENT-6). The data directory is resolved like `parley app`; these
// commands never create one and do not read the key-encryption key.
func Policy(ctx context.Context, args []string, env Env) int {
	return runSubcommand(ctx, "policy", args, env, policyUsage, map[string]subcommand{
		"publish": policyPublish,
		"list":    policyList,
		"ledger":  policyLedger,
	})
}

func policyUsage(w io.Writer) {
	io.WriteString(w, `Usage: parley policy <subcommand> [flags]

Subcommands:
  publish --sdkappid N --version V   archive a new privacy-policy version:
            [--material]             it needs fresh consent (older consent is
                                     refused from its effective date)
            [--effective RFC3339]    when it takes effect (default now; never
                                     in the past: announce changes ahead)
            [--summary S] [--url U]  short text and link for the consent popup
  list --sdkappid N                  list published versions, oldest first
  ledger --sdkappid N                show consent decisions, newest first:
            [--user U] [--device D] [--since RFC3339] [--limit 100]

Published versions are never changed or deleted (DISCLOSE-2).
'ledger' shows personal information (user and device ids, guardian
references): use it only to answer a request or an audit. Operator reads
will be recorded in the audit log once it exists (SEC-2).

Common flags: --data DIR, --config FILE, --json (--kek-file is accepted
for symmetry with 'parley app' and not read).
`)
}

func newPolicyFlagSet(sub string, env Env, f *appFlags) *flag.FlagSet {
	fs := flag.NewFlagSet("policy "+sub, flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	fs.StringVar(&f.data, "data", "", "data `dir`ectory (resolved like 'parley app')")
	fs.StringVar(&f.kekFile, "kek-file", "", "accepted for symmetry with 'parley app'; not read")
	fs.StringVar(&f.config, "config", "", "server YAML configuration `file` to take data_dir from")
	fs.BoolVar(&f.json, "json", false, "print JSON")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: parley policy %s [flags]\n\nFlags:\n", sub)
		fs.PrintDefaults()
	}
	return fs
}

// timeFlag is an optional RFC 3339 time flag.
type timeFlag struct{ t time.Time }

func (f *timeFlag) String() string {
	if f.t.IsZero() {
		return ""
	}
	return f.t.Format(time.RFC3339)
}

func (f *timeFlag) Set(s string) error {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return errors.New("want RFC 3339, e.g. 2026-12-01T00:00:00Z")
	}
	f.t = t
	return nil
}

// withConsent opens the database of an existing data directory, checks
// that the app exists, runs fn with the consent service and closes the
// database, reporting a close failure as a failure of the command.
func withConsent(ctx context.Context, sub string, f appFlags, env Env, id uint32, fn func(*consent.Service, *audit.Log) int) int {
	return withLocal(ctx, "policy "+sub, f, env, func(l *app.Local) int {
		if _, err := l.DB.GetApp(ctx, id); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return fail(env, "policy %s: no app with SDKAppID %d", sub, id)
			}
			return fail(env, "policy %s: %v", sub, err)
		}
		return fn(server.AuditedConsent(l, l.Audit, cliLogger(env), cliClock(env)), l.Audit)
	})
}

func policyPublish(ctx context.Context, args []string, env Env) int {
	var f appFlags
	fs := newPolicyFlagSet("publish", env, &f)
	getID := sdkAppIDFlag(fs)
	version := fs.String("version", "", "policy `version` (1-64 printable ASCII bytes, no spaces; never reused)")
	material := fs.Bool("material", false, "a material change: consent to earlier versions stops counting at --effective (CONSENT-6)")
	var effective timeFlag
	fs.Var(&effective, "effective", "when the version takes effect, RFC 3339 (default now)")
	summary := fs.String("summary", "", "short summary shown with the consent prompt")
	link := fs.String("url", "", "absolute http(s) `URL` of the full policy text")
	if code, done := parseFlags(fs, args, env); done {
		return code
	}
	id, ok := getID(env)
	if !ok {
		return ExitUsage
	}
	if err := consent.ValidateVersion(*version); err != nil {
		fmt.Fprintf(env.Stderr, "parley policy publish: --version: %v\n", err)
		return ExitUsage
	}
	return withConsent(ctx, "publish", f, env, id, func(svc *consent.Service, log *audit.Log) int {
		p, err := svc.PublishPolicy(ctx, id, consent.Policy{
			Version: *version, Material: *material, EffectiveAt: effective.t,
			Summary: *summary, URL: *link,
		})
		switch {
		case errors.Is(err, consent.ErrInvalidPolicy):
			fmt.Fprintf(env.Stderr, "parley policy publish: %v\n", err)
			return ExitUsage
		case errors.Is(err, store.ErrConflict):
			return fail(env, "policy publish: app %d already has version %q; published versions never change, publish a new one", id, *version)
		case err != nil:
			return fail(env, "policy publish: %v", err)
		}
		if f.json {
			return writeJSON(env, toPolicyJSON(p))
		}
		kind := "non-material"
		if p.Material {
			kind = "material: consent to earlier versions is refused from its effective date"
		}
		fmt.Fprintf(env.Stdout, "Published policy %s for app %d (%s), effective %s.\n",
			p.Version, id, kind, p.EffectiveAt.UTC().Format(time.RFC3339))
		return ExitOK
	})
}

func policyList(ctx context.Context, args []string, env Env) int {
	var f appFlags
	fs := newPolicyFlagSet("list", env, &f)
	getID := sdkAppIDFlag(fs)
	if code, done := parseFlags(fs, args, env); done {
		return code
	}
	id, ok := getID(env)
	if !ok {
		return ExitUsage
	}
	return withConsent(ctx, "list", f, env, id, func(svc *consent.Service, log *audit.Log) int {
		ps, err := svc.Policies(ctx, id)
		if err != nil {
			return fail(env, "policy list: %v", err)
		}
		if f.json {
			out := struct {
				Policies []policyJSON `json:"policies"`
			}{Policies: make([]policyJSON, 0, len(ps))}
			for _, p := range ps {
				out.Policies = append(out.Policies, toPolicyJSON(p))
			}
			return writeJSON(env, out)
		}
		if len(ps) == 0 {
			fmt.Fprintf(env.Stdout, "App %d has published no policy. Publish one with: parley policy publish --sdkappid %d --version V\n", id, id)
			return ExitOK
		}
		tw := tabwriter.NewWriter(env.Stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "VERSION\tMATERIAL\tEFFECTIVE\tPUBLISHED\tURL\tSUMMARY")
		for _, p := range ps {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", p.Version, yesNo(p.Material),
				p.EffectiveAt.UTC().Format(time.RFC3339), p.PublishedAt.UTC().Format(time.RFC3339),
				p.URL, oneLine(p.Summary, 60))
		}
		if err := tw.Flush(); err != nil {
			return fail(env, "policy list: %v", err)
		}
		return ExitOK
	})
}

func policyLedger(ctx context.Context, args []string, env Env) int {
	var f appFlags
	fs := newPolicyFlagSet("ledger", env, &f)
	getID := sdkAppIDFlag(fs)
	user := fs.String("user", "", "only this `UserID`")
	device := fs.String("device", "", "only this device `id`")
	var since timeFlag
	fs.Var(&since, "since", "only entries recorded at or after this RFC 3339 time")
	limit := fs.Int("limit", sqlite.DefaultConsentListLimit, fmt.Sprintf("at most `N` entries (1-%d)", sqlite.MaxConsentListLimit))
	if code, done := parseFlags(fs, args, env); done {
		return code
	}
	id, ok := getID(env)
	if !ok {
		return ExitUsage
	}
	if *limit < 1 || *limit > sqlite.MaxConsentListLimit {
		fmt.Fprintf(env.Stderr, "parley policy ledger: --limit must be 1-%d\n", sqlite.MaxConsentListLimit)
		return ExitUsage
	}
	return withConsent(ctx, "ledger", f, env, id, func(svc *consent.Service, log *audit.Log) int {
		es, err := svc.Ledger(ctx, id, consent.Filter{UserID: *user, DeviceID: *device, Since: since.t, Limit: *limit})
		if err != nil {
			return fail(env, "policy ledger: %v", err)
		}
		// SEC-2: a read of personal data is logged before it is shown.
		if err := server.OperatorRead(ctx, log, id, "cli", "policy ledger", len(es)); err != nil {
			return fail(env, "policy ledger: %v", err)
		}
		if f.json {
			out := struct {
				Entries []entryJSON `json:"entries"`
			}{Entries: make([]entryJSON, 0, len(es))}
			for _, e := range es {
				out.Entries = append(out.Entries, toEntryJSON(e))
			}
			return writeJSON(env, out)
		}
		if len(es) == 0 {
			fmt.Fprintln(env.Stdout, "No consent entries match.")
			return ExitOK
		}
		tw := tabwriter.NewWriter(env.Stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tRECORDED\tUSER\tDEVICE\tACTION\tVERSION\tPURPOSES\tMETHOD\tAGE\tGUARDIAN")
		for _, e := range es {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.ID,
				e.RecordedAt.UTC().Format(time.RFC3339), e.UserID, e.DeviceID, e.Action,
				dash(e.PolicyVersion), dash(strings.Join(e.Purposes, ",")), dash(e.Method),
				dash(e.AgeBand), dash(e.GuardianRef))
		}
		if err := tw.Flush(); err != nil {
			return fail(env, "policy ledger: %v", err)
		}
		return ExitOK
	})
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// oneLine flattens s to one line of at most n runes for a table cell.
func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

// policyJSON is the stable JSON shape of a policy version for scripts.
type policyJSON struct {
	SDKAppID    uint32    `json:"sdkappid"`
	Version     string    `json:"version"`
	Material    bool      `json:"material"`
	EffectiveAt time.Time `json:"effective_at"`
	Summary     string    `json:"summary"`
	URL         string    `json:"url"`
	PublishedAt time.Time `json:"published_at"`
	Seq         int64     `json:"seq"`
}

func toPolicyJSON(p consent.Policy) policyJSON {
	return policyJSON{
		SDKAppID: p.SDKAppID, Version: p.Version, Material: p.Material,
		EffectiveAt: p.EffectiveAt.UTC(), Summary: p.Summary, URL: p.URL,
		PublishedAt: p.PublishedAt.UTC(), Seq: p.Seq,
	}
}

// entryJSON is the stable JSON shape of a consent-ledger entry.
type entryJSON struct {
	ID              int64      `json:"id"`
	UserID          string     `json:"user_id"`
	DeviceID        string     `json:"device_id"`
	Action          string     `json:"action"`
	PolicyVersion   string     `json:"policy_version"`
	Purposes        []string   `json:"purposes"`
	Method          string     `json:"method"`
	AgeBand         string     `json:"age_band"`
	GuardianRef     string     `json:"guardian_ref"`
	RecordedAt      time.Time  `json:"recorded_at"`
	DeviceGrantedAt *time.Time `json:"device_granted_at"`
}

func toEntryJSON(e consent.Entry) entryJSON {
	out := entryJSON{
		ID: e.ID, UserID: e.UserID, DeviceID: e.DeviceID, Action: string(e.Action),
		PolicyVersion: e.PolicyVersion, Purposes: e.Purposes, Method: e.Method,
		AgeBand: e.AgeBand, GuardianRef: e.GuardianRef, RecordedAt: e.RecordedAt.UTC(),
	}
	if out.Purposes == nil {
		out.Purposes = []string{}
	}
	if !e.DeviceGrantedAt.IsZero() {
		t := e.DeviceGrantedAt.UTC()
		out.DeviceGrantedAt = &t
	}
	return out
}
