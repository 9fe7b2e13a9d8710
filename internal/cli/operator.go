package cli

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/parley-rtc/parley/internal/app"
	"github.com/parley-rtc/parley/internal/operator"
)

// Operator manages console operator accounts (SEC-2):
//
//	parley operator create --name N --role owner|developer|support|auditor [--password-stdin|--password-file F] [--json]
//	parley operator list [--json]
//	parley operator disable --name N [--json]
//	parley operator passwd --name N [--password-stdin|--password-file F] [--json]
//
// Without a password source, create and passwd generate a random password
// and print it once. The first operator must be an owner.
func Operator(ctx context.Context, args []string, env Env) int {
	return runSubcommand(ctx, "operator", args, env, operatorUsage, map[string]subcommand{
		"create":  operatorCreate,
		"list":    operatorList,
		"disable": operatorDisable,
		"passwd":  operatorPasswd,
	})
}

func operatorUsage(w io.Writer) {
	io.WriteString(w, `Usage: parley operator <subcommand> [flags]

Subcommands:
  create --name N --role R   create a console operator; R is owner, developer,
                             support or auditor (the first one must be owner)
  list                       list operators (never passwords)
  disable --name N           disable an operator and end their sessions
                             (the last active owner cannot be disabled)
  passwd --name N            set a new password and end the operator's sessions

create and passwd print a random password once unless --password-stdin or
--password-file FILE gives one (at least 15 characters).
Roles and permissions: docs/operators.md.

Common flags: --data DIR, --kek-file FILE, --config FILE, --json.
`)
}

func newOperatorFlagSet(sub string, env Env, f *appFlags) *flag.FlagSet {
	fs := flag.NewFlagSet("operator "+sub, flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	fs.StringVar(&f.data, "data", "", "data `dir`ectory (resolved like 'parley app')")
	fs.StringVar(&f.kekFile, "kek-file", "", "key-encryption-key `file` (default <data>/kek)")
	fs.StringVar(&f.config, "config", "", "server YAML configuration `file` to take data_dir and kek_file from")
	fs.BoolVar(&f.json, "json", false, "print JSON")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: parley operator %s [flags]\n\nFlags:\n", sub)
		fs.PrintDefaults()
	}
	return fs
}

// passwordFlags are create's and passwd's password sources.
type passwordFlags struct {
	stdin bool
	file  string
}

func (p *passwordFlags) register(fs *flag.FlagSet) {
	fs.BoolVar(&p.stdin, "password-stdin", false, "read the password from the first line of standard input")
	fs.StringVar(&p.file, "password-file", "", "read the password from the first line of `file`")
}

// password returns the password to set and whether it was generated.
func (p *passwordFlags) password() (string, bool, error) {
	var r io.Reader
	switch {
	case p.stdin && p.file != "":
		return "", false, errors.New("give --password-stdin or --password-file, not both")
	case p.stdin:
		r = os.Stdin
	case p.file != "":
		f, err := os.Open(p.file)
		if err != nil {
			return "", false, fmt.Errorf("--password-file: %w", err)
		}
		defer f.Close()
		r = f
	default:
		return operator.NewPassword(), true, nil
	}
	line, err := bufio.NewReader(io.LimitReader(r, operator.MaxPasswordLen+2)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", false, fmt.Errorf("reading the password: %w", err)
	}
	line = strings.TrimRight(line, "\r\n")
	if err := operator.ValidatePassword(line); err != nil {
		return "", false, err
	}
	return line, false, nil
}

// withOperators opens the data directory's database, runs fn with the
// operator service and closes it.
func withOperators(ctx context.Context, sub string, f appFlags, env Env, fn func(*operator.Service) int) int {
	return withLocal(ctx, "operator "+sub, f, env, func(l *app.Local) int {
		return fn(operator.New(l.DB, operator.Options{Now: cliClock(env), Logger: cliLogger(env)}))
	})
}

// operatorError maps a service error to an exit code.
func operatorError(env Env, sub string, err error) int {
	if errors.Is(err, operator.ErrInvalid) {
		fmt.Fprintf(env.Stderr, "parley operator %s: %v\n", sub, err)
		return ExitUsage
	}
	return fail(env, "operator %s: %v", sub, err)
}

type operatorJSON struct {
	ID         int64      `json:"id"`
	Name       string     `json:"name"`
	Role       string     `json:"role"`
	CreatedAt  time.Time  `json:"created_at"`
	DisabledAt *time.Time `json:"disabled_at,omitempty"`
	// Password is set only when this command generated it.
	Password string `json:"password,omitempty"`
}

func toOperatorJSON(o operator.Operator) operatorJSON {
	out := operatorJSON{ID: o.ID, Name: o.Name, Role: string(o.Role), CreatedAt: o.CreatedAt.UTC()}
	if o.Disabled() {
		t := o.DisabledAt.UTC()
		out.DisabledAt = &t
	}
	return out
}

func requireName(fs *flag.FlagSet, name string, env Env) bool {
	if err := operator.ValidateName(name); err != nil {
		fmt.Fprintf(env.Stderr, "parley %s: --name: %v\n", fs.Name(), err)
		return false
	}
	return true
}

func operatorCreate(ctx context.Context, args []string, env Env) int {
	var f appFlags
	fs := newOperatorFlagSet("create", env, &f)
	name := fs.String("name", "", "operator `name`: 1-64 ASCII letters, digits and . _ - @")
	role := fs.String("role", "", "`role`: owner, developer, support or auditor")
	var pf passwordFlags
	pf.register(fs)
	if code, done := parseFlags(fs, args, env); done {
		return code
	}
	if !requireName(fs, *name, env) {
		return ExitUsage
	}
	r, err := operator.ParseRole(*role)
	if err != nil {
		return operatorError(env, "create", err)
	}
	pw, generated, err := pf.password()
	if err != nil {
		fmt.Fprintf(env.Stderr, "parley operator create: %v\n", err)
		return ExitUsage
	}
	return withOperators(ctx, "create", f, env, func(svc *operator.Service) int {
		o, err := svc.Create(ctx, *name, r, pw)
		if err != nil {
			return operatorError(env, "create", err)
		}
		out := toOperatorJSON(o)
		if generated {
			out.Password = pw
		}
		if f.json {
			return writeJSON(env, out)
		}
		fmt.Fprintf(env.Stdout, "Operator %q (id %d) created with role %s.\n", o.Name, o.ID, o.Role)
		if generated {
			fmt.Fprintf(env.Stdout, "Password (shown once; log in at POST /v1/console/login): %s\n", pw)
		}
		return ExitOK
	})
}

func operatorList(ctx context.Context, args []string, env Env) int {
	var f appFlags
	fs := newOperatorFlagSet("list", env, &f)
	if code, done := parseFlags(fs, args, env); done {
		return code
	}
	return withOperators(ctx, "list", f, env, func(svc *operator.Service) int {
		ops, err := svc.List(ctx)
		if err != nil {
			return fail(env, "operator list: %v", err)
		}
		if f.json {
			out := make([]operatorJSON, len(ops))
			for i, o := range ops {
				out[i] = toOperatorJSON(o)
			}
			return writeJSON(env, map[string]any{"operators": out})
		}
		if len(ops) == 0 {
			fmt.Fprintln(env.Stdout, "No operators. Create the first with: parley operator create --name owner --role owner")
			return ExitOK
		}
		tw := tabwriter.NewWriter(env.Stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tROLE\tCREATED\tSTATUS")
		for _, o := range ops {
			status := "active"
			if o.Disabled() {
				status = "disabled " + o.DisabledAt.UTC().Format(time.RFC3339)
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", o.ID, o.Name, o.Role, o.CreatedAt.UTC().Format(time.RFC3339), status)
		}
		if err := tw.Flush(); err != nil {
			return fail(env, "operator list: %v", err)
		}
		return ExitOK
	})
}

func operatorDisable(ctx context.Context, args []string, env Env) int {
	var f appFlags
	fs := newOperatorFlagSet("disable", env, &f)
	name := fs.String("name", "", "operator `name`")
	if code, done := parseFlags(fs, args, env); done {
		return code
	}
	if !requireName(fs, *name, env) {
		return ExitUsage
	}
	return withOperators(ctx, "disable", f, env, func(svc *operator.Service) int {
		o, err := svc.Disable(ctx, *name)
		if err != nil {
			return operatorError(env, "disable", err)
		}
		if f.json {
			return writeJSON(env, toOperatorJSON(o))
		}
		fmt.Fprintf(env.Stdout, "Operator %q (id %d) disabled; their sessions are ended.\n", o.Name, o.ID)
		return ExitOK
	})
}

func operatorPasswd(ctx context.Context, args []string, env Env) int {
	var f appFlags
	fs := newOperatorFlagSet("passwd", env, &f)
	name := fs.String("name", "", "operator `name`")
	var pf passwordFlags
	pf.register(fs)
	if code, done := parseFlags(fs, args, env); done {
		return code
	}
	if !requireName(fs, *name, env) {
		return ExitUsage
	}
	pw, generated, err := pf.password()
	if err != nil {
		fmt.Fprintf(env.Stderr, "parley operator passwd: %v\n", err)
		return ExitUsage
	}
	return withOperators(ctx, "passwd", f, env, func(svc *operator.Service) int {
		if err := svc.SetPassword(ctx, *name, pw); err != nil {
			return operatorError(env, "passwd", err)
		}
		o, err := svc.Get(ctx, *name)
		if err != nil {
			return fail(env, "operator passwd: %v", err)
		}
		out := toOperatorJSON(o)
		if generated {
			out.Password = pw
		}
		if f.json {
			return writeJSON(env, out)
		}
		fmt.Fprintf(env.Stdout, "Password of %q changed; their sessions are ended.\n", o.Name)
		if generated {
			fmt.Fprintf(env.Stdout, "New password (shown once): %s\n", pw)
		}
		return ExitOK
	})
}
