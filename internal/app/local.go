package app

import (
	"context"
	"log/slog"
	"time"
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
	l, err := OpenLocalStores(ctx, o)
	if err != nil {
		return nil, nil, err
	}
	return l.Apps, l.Close, nil
}
