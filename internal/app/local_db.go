package app

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/parley-rtc/parley/internal/audit"
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
	// Audit is the data directory's Merkle audit log, opened once per
	// process (issue 5, item 4); AuditKey is its publishable verifier key.
	Audit    *audit.Log
	AuditKey string
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
	log, vkey, err := openAuditLog(db, o.Now)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("app: open: %w", err)
	}
	svc := New(db, sealer, Options{Logger: o.Logger, Now: o.Now, CacheTTL: o.CacheTTL, Changed: appAuditor(log)})
	return &Local{Apps: svc, Callbacks: NewCallbacks(db, sealer, o.Now), DB: db, KEK: kek, Audit: log, AuditKey: vkey}, nil
}

// openAuditLog opens the audit log with the checkpoint key derived from
// the keystore's root key.
func openAuditLog(db *sqlite.DB, now func() time.Time) (*audit.Log, string, error) {
	signer, vkey, err := audit.SignerFromRoot(db.RootKey(), audit.DefaultName)
	if err != nil {
		return nil, "", err
	}
	verifier, err := note.NewVerifier(vkey)
	if err != nil {
		return nil, "", fmt.Errorf("audit log: %w", err)
	}
	if now == nil {
		now = time.Now
	}
	log, err := audit.Open(db, signer, verifier, now)
	if err != nil {
		return nil, "", fmt.Errorf("audit log: %w", err)
	}
	return log, vkey, nil
}

// appAuditor appends app changes to the audit log (app settings, secret
// rotation, deletion): names and values of settings, never a secret.
func appAuditor(log *audit.Log) func(ctx context.Context, sdkAppID uint32, change string, detail map[string]string) error {
	return func(ctx context.Context, sdkAppID uint32, change string, detail map[string]string) error {
		d := map[string]string{"change": change}
		for k, v := range detail {
			d[k] = v
		}
		audit.AddActor(ctx, d) // the console operator, when one asked
		_, err := log.Append(ctx, audit.Entry{Kind: audit.KindAppSettings, SDKAppID: sdkAppID, Detail: d})
		return err
	}
}
