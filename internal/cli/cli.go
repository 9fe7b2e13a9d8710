// Package cli implements the parley subcommands. Each subcommand is a
// function of (context, args, Env) returning an exit code, so tests run them
// in-process with captured output and an injected clock and environment.
package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"
)

// Env is the process environment a subcommand may touch.
type Env struct {
	Stdout io.Writer
	Stderr io.Writer
	Getenv func(string) string
	Now    func() time.Time
}

// OSEnv returns the real process environment.
func OSEnv() Env {
	return Env{Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv, Now: time.Now}
}

// Exit codes shared by all subcommands.
const (
	ExitOK      = 0
	ExitFailure = 1 // the command ran and failed (invalid token, server error)
	ExitUsage   = 2 // bad flags or arguments
)

// command is one subcommand.
type command struct {
	summary string
	run     func(ctx context.Context, args []string, env Env) int
}

func commands() map[string]command {
	return map[string]command{
		"serve":      {"run the Parley server", Serve},
		"app":        {"create, list, show and delete apps (SDKAppIDs)", App},
		"usersig":    {"generate and verify TRTC-compatible UserSigs", UserSig},
		"disclosure": {"generate privacy disclosures from the inventory", Disclosure},
		"policy":     {"publish and list privacy policy versions; show the consent ledger", Policy},
		"keys":       {"show the key hierarchy; rotate the key-encryption key", Keys},
		"backup":     {"write a consistent copy of the database (without the keystore) for backups", Backup},
		"dsr":        {"answer a data-subject request: access, export, correct, delete, delete-device, withdraw, cancel", DSR},
		"audit":      {"verify the Merkle audit log; print its checkpoint key", Audit},
		"retention":  {"run the retention sweep now, or show each store's oldest record against its limit", Retention},
		"incident":   {"declare a security incident and notify the affected apps; list and show incidents", Incident},
		"operator":   {"create, list, disable console operators and set their passwords", Operator},
		"bench":      {"run benchmarks against a server (sfu)", Bench},
		"device":     {"run a field-device agent from an init config", Device},
		"version":    {"print the version", Version},
	}
}

// Main dispatches to a subcommand and returns the process exit code.
func Main(ctx context.Context, args []string, env Env) int {
	cmds := commands()
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(env.Stderr, cmds)
		if len(args) == 0 {
			return ExitUsage
		}
		return ExitOK
	}
	c, ok := cmds[args[0]]
	if !ok {
		fmt.Fprintf(env.Stderr, "parley: unknown command %q\n\n", args[0])
		usage(env.Stderr, cmds)
		return ExitUsage
	}
	return c.run(ctx, args[1:], env)
}

func usage(w io.Writer, cmds map[string]command) {
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString("Usage: parley <command> [flags]\n\nCommands:\n")
	for _, n := range names {
		fmt.Fprintf(&b, "  %-9s %s\n", n, cmds[n].summary)
	}
	b.WriteString("\nRun 'parley <command> --help' for a command's flags.\n")
	io.WriteString(w, b.String())
}

// Version is the build's version string, set with -ldflags at release time.
const versionString = "0.1.0-dev"

// Version prints the version.
func Version(_ context.Context, args []string, env Env) int {
	if len(args) > 0 && args[0] == "--json" {
		return writeJSON(env, map[string]string{"version": versionString})
	}
	fmt.Fprintln(env.Stdout, "parley", versionString)
	return ExitOK
}

// writeJSON prints v as one indented JSON object for scripts.
func writeJSON(env Env, v any) int {
	enc := json.NewEncoder(env.Stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		fmt.Fprintln(env.Stderr, "parley: encode json:", err)
		return ExitFailure
	}
	return ExitOK
}

// subcommand is one subcommand of a command such as `parley app`.
type subcommand func(ctx context.Context, args []string, env Env) int

// runSubcommand dispatches `parley <cmd> <sub> …`: no argument or a help
// flag prints usage; an unknown subcommand is a usage error.
func runSubcommand(ctx context.Context, cmd string, args []string, env Env, usage func(io.Writer), subs map[string]subcommand) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(env.Stderr)
		if len(args) == 0 {
			return ExitUsage
		}
		return ExitOK
	}
	run, ok := subs[args[0]]
	if !ok {
		fmt.Fprintf(env.Stderr, "parley %s: unknown subcommand %q\n\n", cmd, args[0])
		usage(env.Stderr)
		return ExitUsage
	}
	return run(ctx, args[1:], env)
}

// fail prints a one-line error and returns ExitFailure.
func fail(env Env, format string, a ...any) int {
	fmt.Fprintf(env.Stderr, "parley: "+format+"\n", a...)
	return ExitFailure
}
