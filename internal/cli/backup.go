package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// Backup writes a consistent copy of the database (`parley backup --data
// DIR --out FILE [--json]`), safe while the server runs. The copy holds
// per-user data keys only wrapped under the keystore's epoch keys, and
// neither the keystore nor the key-encryption key: restored within the
// keystore window (7 days) it opens with the live keystore; after it, the
// personal data of everyone erased since the copy was taken — and of
// everyone else in it — is unrecoverable (RIGHTS-5, docs/privacy.md).
func Backup(ctx context.Context, args []string, env Env) int {
	var f appFlags
	flags := newDataFlagSet("backup", env, &f)
	out := flags.String("out", "", "the backup `file` to create (must not exist)")
	if code, done := parseFlags(flags, args, env); done {
		return code
	}
	if *out == "" {
		fmt.Fprintln(env.Stderr, "parley backup: --out is required")
		return ExitUsage
	}
	if _, err := os.Stat(*out); !errors.Is(err, fs.ErrNotExist) {
		return fail(env, "backup: %s exists; choose a new file", *out)
	}
	l, err := openLocal(ctx, f, env, false)
	if err != nil {
		return fail(env, "backup: %v", err)
	}
	defer l.Close()
	start := time.Now()
	abs, err := filepath.Abs(*out)
	if err != nil {
		return fail(env, "backup: %v", err)
	}
	if err := l.DB.Backup(ctx, abs); err != nil {
		return fail(env, "backup: %v", err)
	}
	st, err := os.Stat(abs)
	if err != nil {
		return fail(env, "backup: %v", err)
	}
	res := struct {
		File    string  `json:"file"`
		Bytes   int64   `json:"bytes"`
		Seconds float64 `json:"seconds"`
	}{abs, st.Size(), time.Since(start).Seconds()}
	if f.json {
		return writeJSON(env, res)
	}
	fmt.Fprintf(env.Stdout, "Backed up the database to %s (%d bytes, %.1f s).\n"+
		"The keystore and the key-encryption key are not in it: keep them apart, and keystore copies no longer than its window.\n",
		res.File, res.Bytes, res.Seconds)
	return ExitOK
}
