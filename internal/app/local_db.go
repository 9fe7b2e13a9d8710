package app

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/parley-rtc/parley/internal/keyring"
	"github.com/parley-rtc/parley/internal/store/sqlite"
)

// Local is the embedded store opened once for a whole server: the app
// service, the SQLite database every other store shares, and the
// key-encryption key (from which per-purpose keys are derived).
type Local struct {
	Apps      *Service
	Callbacks *Callbacks
	DB        *sqlite.DB
	KEK       []byte
}

// Close closes the database.
func (l *Local) Close() error { return l.DB.Close() }

// OpenLocalStores opens the data directory like OpenLocalWith and also
// returns the database and key the server's other services use.
func OpenLocalStores(ctx context.Context, o LocalOptions) (*Local, error) {
	if o.DataDir == "" {
		return nil, errors.New("app: open: empty data directory")
	}
	// 0700: the directory holds the database and, by default, the key.
	if err := os.MkdirAll(o.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("app: open: data directory: %w", err)
	}
	kekPath := o.KEKFile
	if kekPath == "" {
		kekPath = filepath.Join(o.DataDir, KEKFile)
	}
	kek, err := keyring.LoadOrCreateKEK(kekPath, o.KEKEnv)
	if err != nil {
		return nil, fmt.Errorf("app: open: %w", err)
	}
	sealer, err := keyring.NewAESGCM(kek)
	if err != nil {
		return nil, fmt.Errorf("app: open: %w", err)
	}
	db, err := sqlite.Open(ctx, filepath.Join(o.DataDir, DBFile), sqlite.Options{
		Logger:   o.Logger,
		KEK:      kek,
		Keystore: keyring.KeystoreOptions{Now: o.Now},
	})
	if err != nil {
		return nil, fmt.Errorf("app: open: %w", err)
	}
	svc := New(db, sealer, Options{Logger: o.Logger, Now: o.Now, CacheTTL: o.CacheTTL})
	return &Local{Apps: svc, Callbacks: NewCallbacks(db, sealer, o.Now), DB: db, KEK: kek}, nil
}
