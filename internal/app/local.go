package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/parley-rtc/parley/internal/keyring"
	"github.com/parley-rtc/parley/internal/store/sqlite"
)

// DBFile is the SQLite database's file name inside the data directory.
const DBFile = "parley.db"

// KEKFile is the default key-encryption-key file name inside the data
// directory.
const KEKFile = "kek"

// LocalOptions configures OpenLocalWith.
type LocalOptions struct {
	DataDir string
	// KEKFile is the key file; empty means <DataDir>/kek. Ignored when
	// KEKEnv is set.
	KEKFile string
	// KEKEnv is the value of PARLEY_KEK (base64 of 32 bytes), or "".
	KEKEnv string
	Logger *slog.Logger
	Now    func() time.Time
	// CacheTTL: see Options.CacheTTL.
	CacheTTL time.Duration
}

// OpenLocal opens the embedded app service: the SQLite database at
// <dataDir>/parley.db and the key-encryption key from kekEnv (PARLEY_KEK) or
// <dataDir>/kek, creating the directory, database and key on first use. The
// returned function closes the database.
func OpenLocal(ctx context.Context, dataDir, kekEnv string, logger *slog.Logger) (*Service, func() error, error) {
	return OpenLocalWith(ctx, LocalOptions{DataDir: dataDir, KEKEnv: kekEnv, Logger: logger})
}

// OpenLocalWith is OpenLocal with every option, for the server, which takes
// the key file path from its configuration.
func OpenLocalWith(ctx context.Context, o LocalOptions) (*Service, func() error, error) {
	if o.DataDir == "" {
		return nil, nil, errors.New("app: open: empty data directory")
	}
	// 0700: the directory holds the database and, by default, the key.
	if err := os.MkdirAll(o.DataDir, 0o700); err != nil {
		return nil, nil, fmt.Errorf("app: open: data directory: %w", err)
	}
	kekPath := o.KEKFile
	if kekPath == "" {
		kekPath = filepath.Join(o.DataDir, KEKFile)
	}
	kek, err := keyring.LoadOrCreateKEK(kekPath, o.KEKEnv)
	if err != nil {
		return nil, nil, fmt.Errorf("app: open: %w", err)
	}
	sealer, err := keyring.NewAESGCM(kek)
	if err != nil {
		return nil, nil, fmt.Errorf("app: open: %w", err)
	}
	db, err := sqlite.Open(ctx, filepath.Join(o.DataDir, DBFile), o.Logger)
	if err != nil {
		return nil, nil, fmt.Errorf("app: open: %w", err)
	}
	svc := New(db, sealer, Options{Logger: o.Logger, Now: o.Now, CacheTTL: o.CacheTTL})
	return svc, db.Close, nil
}
