package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/parley-rtc/parley/internal/auth"
	"github.com/parley-rtc/parley/internal/dsr"
	"github.com/parley-rtc/parley/internal/privacy/inventory"
	"github.com/parley-rtc/parley/internal/server"
)

// DSR answers data-subject requests (issue 5, item 3; RIGHTS-1…7):
//
//	parley dsr access|export|delete|delete-device|withdraw|cancel|correct
//	    (--data DIR | --url URL) --sdkappid N --user U [--device D]
//	    [--set field=value …] [--out FILE] [--json]
//	parley dsr list|show (--data DIR | --url URL) --sdkappid N [--id ID] [--json]
//
// With --data the command works on a stopped server's data directory
// (stop the server first: the audit log has one writer). With --url it
// calls a running server's REST API with an admin UserSig taken from
// --usersig or $PARLEY_ADMIN_USERSIG, or minted from $PARLEY_SECRET_KEY.
func DSR(ctx context.Context, args []string, env Env) int {
	subs := map[string]subcommand{}
	for _, t := range dsr.Types {
		name := strings.ReplaceAll(string(t), "_", "-")
		subs[name] = func(ctx context.Context, args []string, env Env) int { return dsrSubmit(ctx, t, args, env) }
	}
	subs["list"] = func(ctx context.Context, args []string, env Env) int { return dsrQuery(ctx, "list", args, env) }
	subs["show"] = func(ctx context.Context, args []string, env Env) int { return dsrQuery(ctx, "show", args, env) }
	return runSubcommand(ctx, "dsr", args, env, dsrUsage, subs)
}

func dsrUsage(w io.Writer) {
	io.WriteString(w, `Usage: parley dsr <subcommand> (--data DIR | --url URL) --sdkappid N [flags]

Subcommands (each completes the request's lifecycle and prints it):
  access         what is stored about --user, per store
  export         a portable JSON bundle of everything stored about --user (--out FILE)
  correct        correct user-declared fields: --set age_band=minor --set guardian_ref=REF
  delete         erase --user's personal information (crypto-shred, delete, verify, signed receipt)
  delete-device  erase what the SDK reported for --device of --user
  withdraw       withdraw --user's consent on every device and erase what it covered
  cancel         cancel --user's account: erase everything, irreversibly
  list           the app's requests, newest first
  show --id ID   one request with its receipt

--data works on a stopped server's data directory; --url calls a running
server with an admin UserSig (--usersig, $PARLEY_ADMIN_USERSIG, or minted
from $PARLEY_SECRET_KEY).
`)
}

type dsrFlags struct {
	appFlags
	url, usersig, user, device, out, id string
	sets                                multiFlag
	limit                               int
}

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

func newDSRFlagSet(sub string, env Env, f *dsrFlags) (*flag.FlagSet, func(Env) (uint32, bool)) {
	fs := newDataFlagSet("dsr "+sub, env, &f.appFlags)
	fs.StringVar(&f.url, "url", "", "base `URL` of a running server (instead of --data)")
	fs.StringVar(&f.usersig, "usersig", "", "admin UserSig for --url (default $PARLEY_ADMIN_USERSIG, or minted from $PARLEY_SECRET_KEY)")
	fs.StringVar(&f.user, "user", "", "the end user's `id`")
	fs.StringVar(&f.device, "device", "", "the device `id` (delete-device)")
	fs.StringVar(&f.out, "out", "", "write the export bundle to `file` (export)")
	fs.StringVar(&f.id, "id", "", "request `id` (show)")
	fs.IntVar(&f.limit, "limit", 100, "at most `n` requests (list)")
	fs.Var(&f.sets, "set", "`field=value` to correct (correct; repeatable)")
	return fs, sdkAppIDFlag(fs)
}

func dsrSubmit(ctx context.Context, t dsr.Type, args []string, env Env) int {
	var f dsrFlags
	fs, getID := newDSRFlagSet(strings.ReplaceAll(string(t), "_", "-"), env, &f)
	if code, done := parseFlags(fs, args, env); done {
		return code
	}
	id, ok := getID(env)
	if !ok {
		return ExitUsage
	}
	if f.user == "" {
		fmt.Fprintf(env.Stderr, "parley dsr %s: --user is required\n", t)
		return ExitUsage
	}
	var corrections []dsr.Correction
	for _, s := range f.sets {
		k, v, ok := strings.Cut(s, "=")
		if !ok {
			fmt.Fprintf(env.Stderr, "parley dsr %s: --set %q: want field=value\n", t, s)
			return ExitUsage
		}
		corrections = append(corrections, dsr.Correction{Field: k, Value: v})
	}
	body := map[string]any{"Type": string(t), "UserId": f.user, "DeviceId": f.device, "Corrections": corrections}
	var res dsrResult
	if f.url != "" {
		if err := dsrCall(ctx, env, f, id, "SubmitDataSubjectRequest", body, &res); err != nil {
			return fail(env, "dsr %s: %v", t, err)
		}
	} else {
		err := withRights(ctx, f.appFlags, env, func(r *server.Rights) error {
			out, err := r.Engine.Submit(ctx, t, dsr.Subject{SDKAppID: id, UserID: f.user, DeviceID: f.device}, dsr.SourceCLI, corrections)
			res = dsrResult{Request: out.Request, Stores: out.Stores, Export: out.Export, ShredMs: out.ShredMS, RowDeletionMs: out.RowsMS}
			return err
		})
		if err != nil {
			return fail(env, "dsr %s: %v", t, err)
		}
	}
	if f.out != "" && res.Export != nil {
		b, err := json.MarshalIndent(res.Export, "", "  ")
		if err == nil {
			err = os.WriteFile(f.out, append(b, '\n'), 0o600)
		}
		if err != nil {
			return fail(env, "dsr export: --out: %v", err)
		}
		if !f.json {
			res.Export = nil // written to the file; the summary follows
		}
	}
	if f.json {
		return writeJSON(env, res)
	}
	printDSR(env, res)
	if res.Request.State == dsr.StateRefused {
		return ExitFailure
	}
	return ExitOK
}

// dsrResult is the JSON output: the REST response's shape.
type dsrResult = server.DSRResponse

func printDSR(env Env, res dsrResult) {
	r := res.Request
	fmt.Fprintf(env.Stdout, "Request %s: %s %s (received %s, due %s)\n", r.ID, r.Type, r.State,
		r.ReceivedAt.Format(time.RFC3339), r.DueAt.Format("2006-01-02"))
	if r.State == dsr.StateRefused {
		fmt.Fprintf(env.Stdout, "Refused: %s — %s\n", r.Ground, r.Message)
	}
	if len(res.Stores) > 0 {
		tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "STORE\tROWS\tREADABLE AFTER\tLABEL")
		for _, s := range res.Stores {
			fmt.Fprintf(tw, "%s\t%d\t%d\t%s\n", s.Store, s.Rows, s.Readable, s.Label)
		}
		tw.Flush()
	}
	if res.Export != nil {
		b, _ := json.MarshalIndent(res.Export, "", "  ")
		fmt.Fprintln(env.Stdout, string(b))
	}
	if len(r.Receipt) > 0 {
		fmt.Fprintf(env.Stdout, "Signed receipt (audit record %d):\n%s\n", r.AuditSeq, r.Receipt)
	}
}

func dsrQuery(ctx context.Context, sub string, args []string, env Env) int {
	var f dsrFlags
	fs, getID := newDSRFlagSet(sub, env, &f)
	if code, done := parseFlags(fs, args, env); done {
		return code
	}
	id, ok := getID(env)
	if !ok {
		return ExitUsage
	}
	if sub == "show" && f.id == "" {
		fmt.Fprintln(env.Stderr, "parley dsr show: --id is required")
		return ExitUsage
	}
	var reqs []dsr.Request
	if f.url != "" {
		var err error
		if sub == "show" {
			var out struct{ Request dsr.Request }
			err = dsrCall(ctx, env, f, id, "DescribeDataSubjectRequest", map[string]any{"RequestId": f.id}, &out)
			reqs = []dsr.Request{out.Request}
		} else {
			var out struct{ Requests []dsr.Request }
			err = dsrCall(ctx, env, f, id, "DescribeDataSubjectRequests", map[string]any{"Limit": f.limit}, &out)
			reqs = out.Requests
		}
		if err != nil {
			return fail(env, "dsr %s: %v", sub, err)
		}
	} else {
		err := withRights(ctx, f.appFlags, env, func(r *server.Rights) error {
			if sub == "show" {
				one, err := r.Engine.Get(ctx, f.id)
				if err == nil && one.SDKAppID != id {
					err = fmt.Errorf("%w: %s in app %d", dsr.ErrNotFound, f.id, id)
				}
				reqs = []dsr.Request{one}
				return err
			}
			var err error
			reqs, err = r.Engine.List(ctx, id, f.limit)
			return err
		})
		if err != nil {
			return fail(env, "dsr %s: %v", sub, err)
		}
	}
	if f.json {
		if sub == "show" {
			return writeJSON(env, reqs[0])
		}
		return writeJSON(env, reqs)
	}
	for _, r := range reqs {
		printDSR(env, dsrResult{Request: r})
	}
	return ExitOK
}

// withRights opens a stopped server's data directory and its rights
// engine.
func withRights(ctx context.Context, f appFlags, env Env, fn func(*server.Rights) error) error {
	l, err := openLocal(ctx, f, env, false)
	if err != nil {
		return err
	}
	inv, err := inventory.Default()
	if err != nil {
		return errors.Join(err, l.Close())
	}
	r, err := server.NewRights(l, inv, server.RightsOptions{Logger: cliLogger(env), Now: cliClock(env)})
	if err != nil {
		return errors.Join(err, l.Close())
	}
	return errors.Join(fn(r), l.Close())
}

// dsrCall calls a REST action of a running server.
func dsrCall(ctx context.Context, env Env, f dsrFlags, sdkAppID uint32, action string, body, out any) error {
	sig := f.usersig
	if sig == "" {
		sig = env.Getenv("PARLEY_ADMIN_USERSIG")
	}
	if sig == "" {
		secret := env.Getenv("PARLEY_SECRET_KEY")
		if secret == "" {
			return errors.New("--url needs an admin UserSig: --usersig, $PARLEY_ADMIN_USERSIG or $PARLEY_SECRET_KEY")
		}
		var err error
		if sig, err = auth.GenerateUserSig(sdkAppID, secret, server.AdminUser, 5*time.Minute, cliClock(env)()); err != nil {
			return err
		}
	}
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	q := url.Values{"sdkappid": {fmt.Sprint(sdkAppID)}, "identifier": {server.AdminUser}, "usersig": {sig}}
	u := strings.TrimRight(f.url, "/") + "/v1/rest/" + action + "?" + q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var env3 struct {
		Response json.RawMessage
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<20)).Decode(&env3); err != nil {
		return fmt.Errorf("%s: HTTP %d: %w", action, resp.StatusCode, err)
	}
	var e struct {
		Error *struct{ Code, Message string }
	}
	if err := json.Unmarshal(env3.Response, &e); err == nil && e.Error != nil {
		return fmt.Errorf("%s: %s: %s", action, e.Error.Code, e.Error.Message)
	}
	return json.Unmarshal(env3.Response, out)
}
