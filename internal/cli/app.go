package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/parley-rtc/parley/internal/app"
	"github.com/parley-rtc/parley/internal/config"
	"github.com/parley-rtc/parley/internal/store"
)

// App manages apps (SDKAppIDs) in the local data directory:
//
//	parley app create --name NAME [--json]
//	parley app list [--json]
//	parley app show --sdkappid N [--json]
//	parley app rotate --sdkappid N [--json]
//	parley app delete --sdkappid N [--json]
//
// Every subcommand also takes --data DIR, --kek-file FILE and --config FILE,
// resolved like `parley serve` (flags win over the environment, which wins
// over the file, which wins over the defaults), so the CLI opens the same
// database and key as the server it administers.
func App(ctx context.Context, args []string, env Env) int {
	return runSubcommand(ctx, "app", args, env, appUsage, map[string]subcommand{
		"create": appCreate,
		"list":   appList,
		"show": func(ctx context.Context, args []string, env Env) int {
			return appByID(ctx, "show", args, env, func(ctx context.Context, s *app.Service, id uint32) (app.App, error) {
				return s.Get(ctx, id)
			})
		},
		"rotate": func(ctx context.Context, args []string, env Env) int {
			return appByID(ctx, "rotate", args, env, func(ctx context.Context, s *app.Service, id uint32) (app.App, error) {
				return s.RotateSecret(ctx, id)
			})
		},
		"delete":   appDelete,
		"settings": appSettings,
		"callback": appCallback,
	})
}

func appUsage(w io.Writer) {
	io.WriteString(w, `Usage: parley app <subcommand> [flags]

Subcommands:
  create --name NAME        create an app; prints its SDKAppID and secret key
  list                      list apps (no secrets)
  show --sdkappid N         show one app with its secret key
  rotate --sdkappid N       replace an app's secret key
  delete --sdkappid N       delete an app (its SDKAppID is never reused)
  callback --sdkappid N     set (--url URL --key KEY), show or --clear the event callback
  settings --sdkappid N     show or change settings: --recording on|off,
                            --relay on|off, --billing MODE, --private-map-key on|off

Common flags: --data DIR, --kek-file FILE, --config FILE, --json.
The key-encryption key is PARLEY_KEK if set, else the kek file.
`)
}

// appFlags are the flags every app subcommand takes.
type appFlags struct {
	data, kekFile, config string
	json                  bool
}

func newAppFlagSet(sub string, env Env, f *appFlags) *flag.FlagSet {
	return newDataFlagSet("app "+sub, env, f)
}

// newDataFlagSet is the flag set of a command that works on a data
// directory (cmd is its name after "parley", e.g. "dsr delete"): --data,
// --kek-file, --config and --json.
func newDataFlagSet(cmd string, env Env, f *appFlags) *flag.FlagSet {
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	fs.StringVar(&f.data, "data", "", "data `dir`ectory (default $"+config.EnvData+", else the config file's, else "+config.DefaultDataDir+")")
	fs.StringVar(&f.kekFile, "kek-file", "", "key-encryption-key `file` (default <data>/kek)")
	fs.StringVar(&f.config, "config", "", "server YAML configuration `file` to take data_dir and kek_file from (env "+config.EnvConfig+")")
	fs.BoolVar(&f.json, "json", false, "print JSON")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: parley %s [flags]\n\nFlags:\n", cmd)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args and reports an exit code when the command must
// stop (help printed, bad flags, stray arguments).
func parseFlags(fs *flag.FlagSet, args []string, env Env) (int, bool) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return ExitOK, true
		}
		return ExitUsage, true
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(env.Stderr, "parley %s: unexpected argument %q\n", fs.Name(), fs.Arg(0))
		fs.Usage()
		return ExitUsage, true
	}
	return 0, false
}

// sdkAppIDFlag registers --sdkappid and returns a function that checks it
// was given and fits in 32 bits.
func sdkAppIDFlag(fs *flag.FlagSet) func(env Env) (uint32, bool) {
	v := fs.Uint64("sdkappid", 0, "the app's `SDKAppID`")
	return func(env Env) (uint32, bool) {
		if *v == 0 || *v > math.MaxUint32 {
			fmt.Fprintf(env.Stderr, "parley %s: --sdkappid is required and must be 1-%d\n", fs.Name(), uint64(math.MaxUint32))
			return 0, false
		}
		return uint32(*v), true
	}
}

func getenv(env Env, name string) string {
	if env.Getenv == nil {
		return ""
	}
	return env.Getenv(name)
}

// resolvePaths finds the data directory and key file the way the server
// does, so both sides of a deployment agree on them.
func resolvePaths(f appFlags, env Env) (dataDir, kekFile string, err error) {
	c, err := configFile(f, env)
	if err != nil {
		return "", "", err
	}
	dataDir, kekFile = c.DataDir, c.KEKFile
	if v := strings.TrimSpace(getenv(env, config.EnvData)); v != "" {
		dataDir = v
	}
	if f.data != "" {
		dataDir = f.data
	}
	if f.kekFile != "" {
		kekFile = f.kekFile
	}
	return dataDir, kekFile, nil
}

// configFile is the server configuration a command was pointed at
// (--config, else $PARLEY_CONFIG), over the defaults; the defaults alone
// when there is none.
func configFile(f appFlags, env Env) (config.Config, error) {
	cfgPath := f.config
	if cfgPath == "" {
		cfgPath = getenv(env, config.EnvConfig)
	}
	if cfgPath == "" {
		return config.Default(), nil
	}
	b, err := os.ReadFile(cfgPath)
	if err != nil {
		return config.Config{}, fmt.Errorf("%w: %w", config.ErrFile, err)
	}
	c, err := config.ParseYAML(b)
	if err != nil {
		return config.Config{}, fmt.Errorf("%s: %w", cfgPath, err)
	}
	return c, nil
}

// localPaths resolves the data directory, key file and database path.
// Only create may start a new data directory: a read on a mistyped --data
// must not leave an empty database and a fresh key behind.
func localPaths(f appFlags, env Env, mayCreate bool) (dataDir, kekFile, dbPath string, err error) {
	dataDir, kekFile, err = resolvePaths(f, env)
	if err != nil {
		return "", "", "", err
	}
	dbPath = filepath.Join(dataDir, app.DBFile)
	if !mayCreate {
		if _, err := os.Stat(dbPath); errors.Is(err, fs.ErrNotExist) {
			return "", "", "", fmt.Errorf("no database at %s (wrong --data? 'parley app create' or 'parley serve' makes one)", dbPath)
		}
	}
	return dataDir, kekFile, dbPath, nil
}

// cliClock is the command's clock.
func cliClock(env Env) func() time.Time {
	if env.Now == nil {
		return time.Now
	}
	return env.Now
}

// cliLogger logs warnings only: migration notices would clutter command
// output.
func cliLogger(env Env) *slog.Logger {
	return slog.New(slog.NewTextHandler(env.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// openLocal opens the app service and the stores beside it.
func openLocal(ctx context.Context, f appFlags, env Env, mayCreate bool) (*app.Local, error) {
	dataDir, kekFile, _, err := localPaths(f, env, mayCreate)
	if err != nil {
		return nil, err
	}
	return app.OpenLocalStores(ctx, app.LocalOptions{
		DataDir: dataDir,
		KEKFile: kekFile,
		KEKEnv:  getenv(env, config.EnvKEK),
		Logger:  cliLogger(env),
		Now:     cliClock(env),
	})
}

// openApps opens the app service.
func openApps(ctx context.Context, f appFlags, env Env, mayCreate bool) (*app.Service, func() error, error) {
	l, err := openLocal(ctx, f, env, mayCreate)
	if err != nil {
		return nil, nil, err
	}
	return l.Apps, l.Close, nil
}

// withApps opens the service, runs fn and closes the service, reporting a
// close failure (an unflushed database) as a failure of the command.
func withApps(ctx context.Context, sub string, f appFlags, env Env, mayCreate bool, fn func(*app.Service) int) int {
	svc, closeFn, err := openApps(ctx, f, env, mayCreate)
	if err != nil {
		return fail(env, "app %s: %v", sub, err)
	}
	code := fn(svc)
	if err := closeFn(); err != nil {
		return fail(env, "app %s: close database: %v", sub, err)
	}
	return code
}

func appCreate(ctx context.Context, args []string, env Env) int {
	var f appFlags
	fs := newAppFlagSet("create", env, &f)
	name := fs.String("name", "", "app `name` (1-64 characters)")
	if code, done := parseFlags(fs, args, env); done {
		return code
	}
	if err := app.ValidateName(*name); err != nil {
		fmt.Fprintf(env.Stderr, "parley app create: --name: %v\n", err)
		return ExitUsage
	}
	return withApps(ctx, "create", f, env, true, func(svc *app.Service) int {
		a, err := svc.Create(ctx, *name)
		if err != nil {
			return fail(env, "app create: %v", err)
		}
		if f.json {
			return writeJSON(env, toAppJSON(a))
		}
		fmt.Fprintf(env.Stdout, "Created app %q.\n", a.Name)
		if err := printApp(env.Stdout, a); err != nil {
			return fail(env, "app create: %v", err)
		}
		fmt.Fprintln(env.Stdout, "Keep the secret key private: anyone holding it can sign UserSigs for this app.")
		return ExitOK
	})
}

func appList(ctx context.Context, args []string, env Env) int {
	var f appFlags
	fs := newAppFlagSet("list", env, &f)
	if code, done := parseFlags(fs, args, env); done {
		return code
	}
	return withApps(ctx, "list", f, env, false, func(svc *app.Service) int {
		apps, err := svc.List(ctx)
		if err != nil {
			return fail(env, "app list: %v", err)
		}
		if f.json {
			out := struct {
				Apps []appJSON `json:"apps"`
			}{Apps: make([]appJSON, 0, len(apps))}
			for _, a := range apps {
				out.Apps = append(out.Apps, toAppJSON(a))
			}
			return writeJSON(env, out)
		}
		if len(apps) == 0 {
			fmt.Fprintln(env.Stdout, "No apps. Create one with: parley app create --name NAME")
			return ExitOK
		}
		tw := tabwriter.NewWriter(env.Stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "SDKAPPID\tNAME\tCREATED\tBILLING\tRECORDING\tRELAY\tPRIVATEMAPKEY\tMESSAGES KEPT")
		for _, a := range apps {
			kept := "default"
			if d := a.Settings.MessageRetentionDays; d > 0 {
				kept = strconv.Itoa(d) + "d"
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", a.SDKAppID, a.Name,
				a.CreatedAt.UTC().Format(time.RFC3339), a.Settings.BillingMode,
				onOff(a.Settings.Recording), onOff(a.Settings.Relay), onOff(a.Settings.EnforcePrivateMapKey), kept)
		}
		if err := tw.Flush(); err != nil {
			return fail(env, "app list: %v", err)
		}
		return ExitOK
	})
}

// appByID runs a subcommand that takes --sdkappid and prints one app with
// its secret (show, rotate).
func appByID(ctx context.Context, sub string, args []string, env Env,
	op func(context.Context, *app.Service, uint32) (app.App, error)) int {
	var f appFlags
	fs := newAppFlagSet(sub, env, &f)
	getID := sdkAppIDFlag(fs)
	if code, done := parseFlags(fs, args, env); done {
		return code
	}
	id, ok := getID(env)
	if !ok {
		return ExitUsage
	}
	return withApps(ctx, sub, f, env, false, func(svc *app.Service) int {
		a, err := op(ctx, svc, id)
		if err != nil {
			return appError(env, sub, id, err)
		}
		if f.json {
			return writeJSON(env, toAppJSON(a))
		}
		if err := printApp(env.Stdout, a); err != nil {
			return fail(env, "app %s: %v", sub, err)
		}
		return ExitOK
	})
}

func appDelete(ctx context.Context, args []string, env Env) int {
	var f appFlags
	fs := newAppFlagSet("delete", env, &f)
	getID := sdkAppIDFlag(fs)
	if code, done := parseFlags(fs, args, env); done {
		return code
	}
	id, ok := getID(env)
	if !ok {
		return ExitUsage
	}
	return withApps(ctx, "delete", f, env, false, func(svc *app.Service) int {
		if err := svc.Delete(ctx, id); err != nil {
			return appError(env, "delete", id, err)
		}
		if f.json {
			return writeJSON(env, struct {
				SDKAppID uint32 `json:"sdkappid"`
				Deleted  bool   `json:"deleted"`
			}{id, true})
		}
		fmt.Fprintf(env.Stdout, "Deleted app %d.\n", id)
		return ExitOK
	})
}

func appError(env Env, sub string, id uint32, err error) int {
	if errors.Is(err, store.ErrNotFound) {
		return fail(env, "app %s: no app with SDKAppID %d", sub, id)
	}
	return fail(env, "app %s: %v", sub, err)
}

// printApp prints one app as aligned "Key: value" lines.
func printApp(w io.Writer, a app.App) error {
	tw := tabwriter.NewWriter(w, 0, 0, 1, ' ', 0)
	fmt.Fprintf(tw, "SDKAppID:\t%d\n", a.SDKAppID)
	fmt.Fprintf(tw, "Name:\t%s\n", a.Name)
	if a.SecretKey != "" {
		fmt.Fprintf(tw, "SecretKey:\t%s\n", a.SecretKey)
	}
	fmt.Fprintf(tw, "Created:\t%s\n", a.CreatedAt.UTC().Format(time.RFC3339))
	fmt.Fprintf(tw, "Billing:\t%s\n", a.Settings.BillingMode)
	fmt.Fprintf(tw, "Recording:\t%s\n", onOff(a.Settings.Recording))
	fmt.Fprintf(tw, "Relay:\t%s\n", onOff(a.Settings.Relay))
	pmk := "optional"
	if a.Settings.EnforcePrivateMapKey {
		pmk = "required"
	}
	fmt.Fprintf(tw, "PrivateMapKey:\t%s\n", pmk)
	audience := "any age (each user declares)"
	if a.Settings.MinorAudience {
		audience = "under 14 (guardian consent for everyone)"
	}
	fmt.Fprintf(tw, "Audience:\t%s\n", audience)
	fmt.Fprintf(tw, "Messages kept:\t%s\n", retentionText(a.Settings.MessageRetentionDays))
	return tw.Flush()
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

// appJSON is the stable JSON shape of an app for scripts.
type appJSON struct {
	SDKAppID  uint32       `json:"sdkappid"`
	Name      string       `json:"name"`
	SecretKey string       `json:"secret_key,omitempty"`
	CreatedAt time.Time    `json:"created_at"`
	Settings  settingsJSON `json:"settings"`
}

type settingsJSON struct {
	Recording            bool   `json:"recording"`
	Relay                bool   `json:"relay"`
	BillingMode          string `json:"billing_mode"`
	EnforcePrivateMapKey bool   `json:"enforce_private_map_key"`
	MinorAudience        bool   `json:"minor_audience"`
	// MessageRetentionDays appears only when the app set its own (0,
	// the server's im.retention, is left out).
	MessageRetentionDays int `json:"message_retention_days,omitempty"`
}

func toAppJSON(a app.App) appJSON {
	return appJSON{
		SDKAppID:  a.SDKAppID,
		Name:      a.Name,
		SecretKey: a.SecretKey,
		CreatedAt: a.CreatedAt.UTC(),
		Settings: settingsJSON{
			Recording:            a.Settings.Recording,
			Relay:                a.Settings.Relay,
			BillingMode:          string(a.Settings.BillingMode),
			EnforcePrivateMapKey: a.Settings.EnforcePrivateMapKey,
			MinorAudience:        a.Settings.MinorAudience,
			MessageRetentionDays: a.Settings.MessageRetentionDays,
		},
	}
}
