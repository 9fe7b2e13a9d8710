// Package sqlite is the embedded store: one SQLite file (modernc.org/sqlite,
// pure Go) in WAL mode. All writes go through a single connection, because
// SQLite allows one writer at a time and queuing in database/sql is cheaper
// and fairer than spinning on SQLITE_BUSY; reads use a separate pool and,
// in WAL mode, never wait for the writer.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/parley-rtc/parley/internal/keyring"
	"github.com/parley-rtc/parley/internal/store"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// busyTimeoutMS bounds how long a connection waits for another process
// (the CLI while the server runs) holding the write lock.
const busyTimeoutMS = 5000

// DB is the SQLite implementation of store.Store.
type DB struct {
	write  *sql.DB // exactly one connection
	read   *sql.DB // query_only connections
	logger *slog.Logger
	// appendStmts are the IM append statements, prepared on write.
	appendStmts map[string]*sql.Stmt
	// keys seals personal fields with per-subject data keys.
	keys *subjectKeys
	// legacy tracks the one-time conversion of a pre-0013 consent ledger.
	legacy legacyConsent
}

// Options configure Open.
type Options struct {
	Logger *slog.Logger
	// KEK is the 32-byte key-encryption key. It seals the keystore's
	// epoch keys and derives the blind-index key. Without it the database
	// opens for its non-personal tables only (audit verification): every
	// read or write of a personal field fails with ErrNoKEK.
	KEK []byte
	// KeystorePath is the keystore file (epoch keys); default
	// "keystore/epochs.json" beside the database. It must not be backed
	// up with the database for longer than the keystore window: that is
	// what makes erasure reach backups (docs/privacy.md).
	KeystorePath string
	// Keystore sets the clock, rotation interval and window.
	Keystore keyring.KeystoreOptions
}

// KeystoreFile is the default keystore path relative to the database's
// directory.
const KeystoreFile = "keystore/epochs.json"

var _ store.Store = (*DB)(nil)

// Open opens (creating if needed) the database file at path and applies any
// pending migrations, and the keystore. The parent directory must exist.
func Open(ctx context.Context, path string, o Options) (*DB, error) {
	logger := o.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if path == "" || path == ":memory:" || strings.HasPrefix(path, "file:") {
		return nil, fmt.Errorf("%w: %q: want a file system path", ErrBadPath, path)
	}
	base, err := fileURI(path)
	if err != nil {
		return nil, err
	}
	// The keystore goes beside the database: its directory must exist,
	// as the database's must.
	if st, err := os.Stat(filepath.Dir(path)); err != nil || !st.IsDir() {
		return nil, fmt.Errorf("%w: %q: parent directory missing", ErrBadPath, path)
	}
	common := "_pragma=busy_timeout(" + fmt.Sprint(busyTimeoutMS) + ")" +
		"&_pragma=foreign_keys(1)" +
		"&_pragma=synchronous(NORMAL)" +
		// Deleted content is overwritten, not left in free pages: an
		// erased subject's rows must not survive in the file (RIGHTS-3).
		"&_pragma=secure_delete(1)"

	// _txlock=immediate takes the write lock at BEGIN, so a transaction
	// never fails half-way trying to upgrade a read lock (SQLITE_BUSY
	// that busy_timeout cannot resolve).
	w, err := sql.Open("sqlite", base+"?"+common+"&_pragma=journal_mode(WAL)&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	if err := w.PingContext(ctx); err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	if err := migrate(ctx, w, logger); err != nil {
		w.Close()
		return nil, err
	}
	keys, err := openSubjectKeys(ctx, w, path, o)
	if err != nil {
		w.Close()
		return nil, err
	}

	// The read pool opens after migration so the file is already in WAL
	// mode (journal_mode is persistent) and readers need no write access.
	r, err := sql.Open("sqlite", base+"?"+common+"&_pragma=query_only(1)")
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	n := max(4, runtime.GOMAXPROCS(0))
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	if err := r.PingContext(ctx); err != nil {
		r.Close()
		w.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	stmts, err := prepareAppend(ctx, w)
	if err != nil {
		r.Close()
		w.Close()
		return nil, err
	}
	return &DB{write: w, read: r, logger: logger, appendStmts: stmts, keys: keys}, nil
}

func openSubjectKeys(ctx context.Context, w *sql.DB, path string, o Options) (*subjectKeys, error) {
	if o.KEK == nil {
		return nil, nil
	}
	ksPath := o.KeystorePath
	if ksPath == "" {
		ksPath = filepath.Join(filepath.Dir(path), KeystoreFile)
	}
	// A database that holds audit records or telemetry from before the
	// keystore existed derived their keys from the KEK: a new keystore
	// for it keeps that root (keyring.KeystoreOptions.LegacyRoot).
	var legacy bool
	if err := w.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM audit_log_records) OR EXISTS (SELECT 1 FROM telemetry_partitions)`).Scan(&legacy); err != nil {
		return nil, fmt.Errorf("sqlite: keystore: %w", err)
	}
	ko := o.Keystore
	ko.LegacyRoot = legacy
	ks, err := keyring.OpenKeystore(ksPath, o.KEK, ko)
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	idxKey, err := keyring.Derive(ks.Root(), keyring.IndexLabel)
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	idx, err := keyring.NewBlindIndexKey(idxKey)
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	now := o.Keystore.Now
	if now == nil {
		now = time.Now
	}
	return newSubjectKeys(idx, ks, now), nil
}

// DeriveKey derives a purpose key from the keystore's root key (which a
// KEK rotation leaves unchanged): pseudonyms, audit and receipt signers.
func (db *DB) DeriveKey(label string) ([]byte, error) {
	if err := db.haveKeys(); err != nil {
		return nil, err
	}
	return keyring.Derive(db.keys.ks.Root(), label)
}

// RootKey is the keystore's root key (nil without a KEK), for purpose
// keys derived in other packages (the audit signer).
func (db *DB) RootKey() []byte {
	if db.keys == nil {
		return nil
	}
	return db.keys.ks.Root()
}

// RotateKEK reseals the keystore (its epoch keys and root key) under a new
// key-encryption key. Values sealed by the KEK itself (app secrets,
// callback keys) are resealed by their owners.
func (db *DB) RotateKEK(newKEK []byte) error {
	if err := db.haveKeys(); err != nil {
		return err
	}
	return db.keys.ks.RotateKEK(newKEK)
}

// Close closes both pools. Closing the last connection checkpoints the WAL
// into the main file.
func (db *DB) Close() error {
	for _, st := range db.appendStmts {
		_ = st.Close()
	}
	return errors.Join(db.read.Close(), db.write.Close())
}

// fileURI turns a path into a SQLite URI ("file:/abs/path"), escaping
// characters such as '?' and '#' that would otherwise end the path.
func fileURI(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", fmt.Errorf("%w: %q: %w", ErrBadPath, path, err)
	}
	p := filepath.ToSlash(abs)
	if !strings.HasPrefix(p, "/") {
		p = "/" + p // Windows drive letter: file:/C:/...
	}
	return "file:" + (&url.URL{Path: p}).EscapedPath(), nil
}
