package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/mod/sumdb/note"

	"github.com/parley-rtc/parley/internal/app"
	"github.com/parley-rtc/parley/internal/audit"
	"github.com/parley-rtc/parley/internal/config"
	"github.com/parley-rtc/parley/internal/keyring"
	"github.com/parley-rtc/parley/internal/store/sqlite"
)

// Audit checks the Merkle audit log and prints its public key:
//
//	parley audit verify [--data DIR] [--key VKEY] [--json]
//	parley audit key [--data DIR] [--json]
//
// The checkpoint key is derived from the key-encryption key (see
// audit.SignerFromKEK), so both read it; neither creates a data directory
// or a key. `verify --key` checks against a published verifier key
// instead, without the key-encryption key.
func Audit(ctx context.Context, args []string, env Env) int {
	return runSubcommand(ctx, "audit", args, env, auditUsage, map[string]subcommand{
		"verify": auditVerify,
		"key":    auditKey,
	})
}

func auditUsage(w io.Writer) {
	io.WriteString(w, `Usage: parley audit <subcommand> [flags]

Subcommands:
  verify [--key VKEY]   recompute every record hash, stored hash and
                        checkpoint of the audit log, check each checkpoint's
                        signature and that each is consistent with the next;
                        report the first inconsistency (exit 1)
  key                   print the verifier key of the log's checkpoints
                        (derived from the key-encryption key)

The log holds commitments, codes and counts, never personal information.

Common flags: --data DIR, --kek-file FILE, --config FILE, --json.
`)
}

func newAuditFlagSet(sub string, env Env, f *appFlags) *flag.FlagSet {
	fs := flag.NewFlagSet("audit "+sub, flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	fs.StringVar(&f.data, "data", "", "data `dir`ectory (resolved like 'parley app')")
	fs.StringVar(&f.kekFile, "kek-file", "", "key-encryption-key `file` (default <data>/kek; never created here)")
	fs.StringVar(&f.config, "config", "", "server YAML configuration `file` to take data_dir and kek_file from")
	fs.BoolVar(&f.json, "json", false, "print JSON")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: parley audit %s [flags]\n\nFlags:\n", sub)
		fs.PrintDefaults()
	}
	return fs
}

// auditVerifierKey returns the log's signer and verifier key text from the
// keystore's root key, opened with the key-encryption key; both must
// already exist.
func auditVerifierKey(f appFlags, env Env) (note.Signer, string, error) {
	dataDir, kekFile, err := resolvePaths(f, env)
	if err != nil {
		return nil, "", err
	}
	envKEK := getenv(env, config.EnvKEK)
	if strings.TrimSpace(envKEK) == "" {
		if kekFile == "" {
			kekFile = filepath.Join(dataDir, app.KEKFile)
		}
		if _, err := os.Stat(kekFile); errors.Is(err, fs.ErrNotExist) {
			return nil, "", fmt.Errorf("no key-encryption key at %s and no %s (wrong --data or --kek-file?)", kekFile, config.EnvKEK)
		}
	}
	kek, err := keyring.LoadOrCreateKEK(kekFile, envKEK)
	if err != nil {
		return nil, "", err
	}
	root, err := keyring.ReadRoot(filepath.Join(dataDir, sqlite.KeystoreFile), kek)
	if err != nil {
		return nil, "", fmt.Errorf("the signing key comes from the keystore: %w", err)
	}
	return audit.SignerFromRoot(root, audit.DefaultName)
}

type auditVerifyJSON struct {
	OK          bool   `json:"ok"`
	Records     int64  `json:"records"`
	Checkpoints int64  `json:"checkpoints"`
	Key         string `json:"key"`
	Error       string `json:"error,omitempty"`
	// Where the first inconsistency is (absent when ok or not applicable).
	Seq        *int64 `json:"seq,omitempty"`
	HashIndex  *int64 `json:"hash_index,omitempty"`
	Checkpoint *int64 `json:"checkpoint,omitempty"`
}

func auditVerify(ctx context.Context, args []string, env Env) int {
	var f appFlags
	fs := newAuditFlagSet("verify", env, &f)
	vkey := fs.String("key", "", "verifier `key` (name+hash+base64) to check checkpoints with, instead of deriving it from the key-encryption key")
	if code, done := parseFlags(fs, args, env); done {
		return code
	}
	if *vkey == "" {
		_, k, err := auditVerifierKey(f, env)
		if err != nil {
			return fail(env, "audit verify: %v", err)
		}
		*vkey = k
	}
	verifier, err := note.NewVerifier(*vkey)
	if err != nil {
		fmt.Fprintf(env.Stderr, "parley audit verify: --key: %v\n", err)
		return ExitUsage
	}
	_, _, dbPath, err := localPaths(f, env, false)
	if err != nil {
		return fail(env, "audit verify: %v", err)
	}
	// No key-encryption key: verification reads only the log's tables,
	// and a published verifier key is all an outside auditor has.
	db, err := sqlite.Open(ctx, dbPath, sqlite.Options{Logger: cliLogger(env)})
	if err != nil {
		return fail(env, "audit verify: %v", err)
	}
	code := func() int {
		l, err := audit.Open(db, nil, verifier, cliClock(env))
		if err != nil {
			return fail(env, "audit verify: %v", err)
		}
		out := auditVerifyJSON{Key: *vkey}
		if out.Records, out.Checkpoints, err = l.Stats(ctx); err != nil {
			return fail(env, "audit verify: %v", err)
		}
		lastTenth := int64(-1)
		verr := l.Verify(ctx, func(done, total int64) {
			if total == 0 {
				return
			}
			if tenth := done * 10 / total; tenth != lastTenth {
				fmt.Fprintf(env.Stderr, "parley audit verify: %d/%d checked (%d%%)\n", done, total, done*100/total)
				lastTenth = tenth
			}
		})
		var ve *audit.VerifyError
		switch {
		case verr == nil:
			out.OK = true
		case errors.As(verr, &ve):
			out.Error = verr.Error()
			if ve.Seq >= 0 {
				out.Seq = &ve.Seq
			}
			if ve.HashIndex >= 0 {
				out.HashIndex = &ve.HashIndex
			}
			if ve.Checkpoint >= 0 {
				out.Checkpoint = &ve.Checkpoint
			}
		default:
			return fail(env, "audit verify: %v", verr)
		}
		if f.json {
			if code := writeJSON(env, out); code != ExitOK {
				return code
			}
		} else if out.OK {
			fmt.Fprintf(env.Stdout, "Audit log OK: %d records and %d checkpoints verified (key %s).\n", out.Records, out.Checkpoints, *vkey)
		} else {
			fmt.Fprintf(env.Stdout, "Audit log FAILED: %s\n", out.Error)
		}
		if !out.OK {
			return ExitFailure
		}
		return ExitOK
	}()
	if err := db.Close(); err != nil {
		return fail(env, "audit verify: close database: %v", err)
	}
	return code
}

func auditKey(_ context.Context, args []string, env Env) int {
	var f appFlags
	fs := newAuditFlagSet("key", env, &f)
	if code, done := parseFlags(fs, args, env); done {
		return code
	}
	_, vkey, err := auditVerifierKey(f, env)
	if err != nil {
		return fail(env, "audit key: %v", err)
	}
	if f.json {
		return writeJSON(env, map[string]string{"name": audit.DefaultName, "key": vkey})
	}
	fmt.Fprintln(env.Stdout, vkey)
	return ExitOK
}
