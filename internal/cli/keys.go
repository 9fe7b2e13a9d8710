package cli

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/parley-rtc/parley/internal/app"
	"github.com/parley-rtc/parley/internal/config"
	"github.com/parley-rtc/parley/internal/keyring"
)

// Keys manages the key hierarchy (issue 5, item 2; docs/privacy.md):
//
//	parley keys status [--data DIR] [--json]
//	parley keys rotate-kek [--data DIR] [--new-kek-file FILE] [--json]
//
// rotate-kek reseals everything the key-encryption key protects — the
// apps' secret keys, the callback signing keys and the keystore (its
// epoch keys and root key) — under a new KEK. Stop the server first.
// Without --new-kek-file a new key is generated and replaces the KEK file
// (first written beside it as FILE.new, so a crash never loses it); with
// PARLEY_KEK set, --new-kek-file is required and PARLEY_KEK must be
// changed afterwards. Every step skips what is already under the new key,
// so an interrupted rotation is finished by running it again.
func Keys(ctx context.Context, args []string, env Env) int {
	return runSubcommand(ctx, "keys", args, env, keysUsage, map[string]subcommand{
		"status":     keysStatus,
		"rotate-kek": keysRotateKEK,
	})
}

func keysUsage(w io.Writer) {
	io.WriteString(w, `Usage: parley keys <subcommand> [flags]

Subcommands:
  status       the key-encryption key's id, the keystore's epochs and window
  rotate-kek   reseal app secrets, callback keys and the keystore under a new
               key-encryption key (stop the server first)
                 --new-kek-file FILE   the new key (created if missing); default:
                                       generate one and replace the KEK file
`)
}

type keysStatusJSON struct {
	KEKID      string              `json:"kek_id"`
	WindowDays float64             `json:"keystore_window_days"`
	Epochs     []keyring.EpochInfo `json:"epochs"`
}

func keysStatus(ctx context.Context, args []string, env Env) int {
	var f appFlags
	fs := newDataFlagSet("keys status", env, &f)
	if code, done := parseFlags(fs, args, env); done {
		return code
	}
	l, err := openLocal(ctx, f, env, false)
	if err != nil {
		return fail(env, "keys status: %v", err)
	}
	defer l.Close()
	out := keysStatusJSON{KEKID: keyring.KeyID(l.KEK), WindowDays: l.DB.KeystoreWindow().Hours() / 24, Epochs: l.DB.KeystoreEpochs()}
	if f.json {
		return writeJSON(env, out)
	}
	fmt.Fprintf(env.Stdout, "Key-encryption key: %s\nKeystore window: %.0f days (each epoch key is destroyed this long after it is made)\nEpochs:\n", out.KEKID, out.WindowDays)
	for _, e := range out.Epochs {
		fmt.Fprintf(env.Stdout, "  %s  made %s\n", e.ID, e.Created.UTC().Format(time.RFC3339))
	}
	return ExitOK
}

type rotateJSON struct {
	OldKEKID          string `json:"old_kek_id"`
	NewKEKID          string `json:"new_kek_id"`
	NewKEKFile        string `json:"new_kek_file"`
	SecretsResealed   int    `json:"app_secrets_resealed"`
	CallbacksResealed int    `json:"callback_keys_resealed"`
	KeystoreResealed  bool   `json:"keystore_resealed"`
	KEKFileReplaced   bool   `json:"kek_file_replaced"`
	ChangeEnvironment bool   `json:"change_parley_kek"`
}

func keysRotateKEK(ctx context.Context, args []string, env Env) int {
	var f appFlags
	flags := newDataFlagSet("keys rotate-kek", env, &f)
	newFile := flags.String("new-kek-file", "", "the new key-encryption key `file` (created if missing)")
	if code, done := parseFlags(flags, args, env); done {
		return code
	}
	dataDir, kekFile, err := resolvePaths(f, env)
	if err != nil {
		return fail(env, "keys rotate-kek: %v", err)
	}
	if kekFile == "" {
		kekFile = filepath.Join(dataDir, app.KEKFile)
	}
	fromEnv := strings.TrimSpace(getenv(env, config.EnvKEK)) != ""
	if fromEnv && *newFile == "" {
		fmt.Fprintf(env.Stderr, "parley keys rotate-kek: the key comes from %s: give --new-kek-file, then set %s to it\n", config.EnvKEK, config.EnvKEK)
		return ExitUsage
	}
	target := *newFile
	replace := target == ""
	if replace {
		target = kekFile + ".new"
	}
	next, err := loadOrWriteKEK(target)
	if err != nil {
		return fail(env, "keys rotate-kek: %v", err)
	}
	l, err := openLocal(ctx, f, env, false)
	if errors.Is(err, keyring.ErrWrongKEK) {
		return fail(env, "keys rotate-kek: %v (if a rotation was interrupted after resealing the keystore, finish it with --kek-file %s)", err, target)
	}
	if err != nil {
		return fail(env, "keys rotate-kek: %v", err)
	}
	out, err := rotateKEK(ctx, l, next)
	if cerr := l.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fail(env, "keys rotate-kek: %v (run it again to finish; the new key is in %s)", err, target)
	}
	out.NewKEKFile = target
	if replace {
		if err := os.Rename(target, kekFile); err != nil {
			return fail(env, "keys rotate-kek: install the new key: %v (it is in %s: move it to %s)", err, target, kekFile)
		}
		out.NewKEKFile, out.KEKFileReplaced = kekFile, true
	}
	out.ChangeEnvironment = fromEnv
	if f.json {
		return writeJSON(env, out)
	}
	fmt.Fprintf(env.Stdout, "Rotated the key-encryption key %s → %s: %d app secrets and %d callback keys resealed, keystore resealed.\n",
		out.OldKEKID, out.NewKEKID, out.SecretsResealed, out.CallbacksResealed)
	if out.KEKFileReplaced {
		fmt.Fprintf(env.Stdout, "The new key replaced %s.\n", kekFile)
	} else {
		fmt.Fprintf(env.Stdout, "The new key is in %s: point the server at it (--kek-file, kek_file or %s).\n", target, config.EnvKEK)
	}
	return ExitOK
}

// rotateKEK reseals in an order that a rerun can finish: app secrets and
// callback keys (each skipped once under the new key), then the keystore.
func rotateKEK(ctx context.Context, l *app.Local, next []byte) (rotateJSON, error) {
	out := rotateJSON{OldKEKID: keyring.KeyID(l.KEK), NewKEKID: keyring.KeyID(next)}
	sealer, err := keyring.NewAESGCM(next)
	if err != nil {
		return out, err
	}
	if out.SecretsResealed, err = l.Apps.ResealSecrets(ctx, sealer); err != nil {
		return out, err
	}
	apps, err := l.Apps.List(ctx)
	if err != nil {
		return out, err
	}
	ids := make([]uint32, len(apps))
	for i, a := range apps {
		ids[i] = a.SDKAppID
	}
	if out.CallbacksResealed, err = l.Callbacks.ResealKeys(ctx, ids, sealer); err != nil {
		return out, err
	}
	if err := l.DB.RotateKEK(next); err != nil {
		return out, err
	}
	out.KeystoreResealed = true
	return out, nil
}

// loadOrWriteKEK reads a key file, or writes a new random key there (0600)
// and syncs it before anything is resealed under it.
func loadOrWriteKEK(path string) ([]byte, error) {
	if b, err := os.ReadFile(path); err == nil {
		return keyring.ParseKEK(string(b))
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	k := make([]byte, keyring.KEKSize)
	if _, err := rand.Read(k); err != nil {
		return nil, err
	}
	fh, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, err
	}
	_, err = fh.WriteString(base64.StdEncoding.EncodeToString(k) + "\n")
	if err == nil {
		err = fh.Sync()
	}
	if cerr := fh.Close(); err == nil {
		err = cerr
	}
	return k, err
}
