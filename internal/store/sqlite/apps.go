package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/parley-rtc/parley/internal/store"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

const appColumns = `sdkappid, name, sealed_secret, secret_key_id, recording, relay,
	billing_mode, enforce_private_map_key, created_at, minor_audience`

// AllocateSDKAppID implements store.AppStore. The single UPDATE … RETURNING
// statement is atomic, so concurrent callers never receive the same id.
func (db *DB) AllocateSDKAppID(ctx context.Context) (uint32, error) {
	var id int64
	err := db.write.QueryRowContext(ctx,
		`UPDATE app_id_seq SET next_id = next_id + 1 WHERE id = 1 RETURNING next_id - 1`).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("sqlite: allocate sdkappid: %w", err)
	}
	if id <= 0 || id > math.MaxUint32 {
		return 0, fmt.Errorf("sqlite: allocate sdkappid: sequence out of range (%d)", id)
	}
	return uint32(id), nil
}

// CreateApp implements store.AppStore.
func (db *DB) CreateApp(ctx context.Context, a store.App) error {
	if a.SDKAppID == 0 {
		return errors.New("sqlite: create app: sdkappid is zero")
	}
	_, err := db.write.ExecContext(ctx, `INSERT INTO apps (`+appColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		int64(a.SDKAppID), a.Name, a.SealedSecret, a.SecretKeyID,
		a.Settings.Recording, a.Settings.Relay, string(a.Settings.BillingMode),
		a.Settings.EnforcePrivateMapKey, a.CreatedAt.UnixMicro(), a.Settings.MinorAudience)
	if err != nil {
		if isUniqueViolation(err) {
			return fmt.Errorf("app %d: %w", a.SDKAppID, store.ErrConflict)
		}
		return fmt.Errorf("sqlite: create app %d: %w", a.SDKAppID, err)
	}
	return nil
}

// GetApp implements store.AppStore.
func (db *DB) GetApp(ctx context.Context, sdkAppID uint32) (store.App, error) {
	row := db.read.QueryRowContext(ctx, `SELECT `+appColumns+` FROM apps WHERE sdkappid = ?`, int64(sdkAppID))
	a, err := scanApp(row)
	if errors.Is(err, sql.ErrNoRows) {
		return store.App{}, fmt.Errorf("app %d: %w", sdkAppID, store.ErrNotFound)
	}
	if err != nil {
		return store.App{}, fmt.Errorf("sqlite: get app %d: %w", sdkAppID, err)
	}
	return a, nil
}

// ListApps implements store.AppStore.
func (db *DB) ListApps(ctx context.Context) ([]store.App, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT `+appColumns+` FROM apps ORDER BY sdkappid`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list apps: %w", err)
	}
	defer rows.Close()
	var apps []store.App
	for rows.Next() {
		a, err := scanApp(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list apps: %w", err)
		}
		apps = append(apps, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list apps: %w", err)
	}
	return apps, nil
}

// DeleteApp implements store.AppStore: TerminateApp at the current time.
func (db *DB) DeleteApp(ctx context.Context, sdkAppID uint32) error {
	return db.TerminateApp(ctx, sdkAppID, time.Now())
}

// TerminateApp implements store.AppTerminator (RETAIN-2): the app row,
// with its secret key and (by cascade) its callback key, goes at once;
// the termination record, in the same transaction, makes the retention
// engine purge the app's other data at its next sweep.
func (db *DB) TerminateApp(ctx context.Context, sdkAppID uint32, at time.Time) error {
	return db.imTx(ctx, "delete app", func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM apps WHERE sdkappid = ?`, int64(sdkAppID))
		if err := oneRow(res, err, "delete", sdkAppID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO app_terminations (sdkappid, terminated_at) VALUES (?, ?)`,
			int64(sdkAppID), at.UnixMilli()); err != nil {
			return fmt.Errorf("sqlite: record termination of app %d: %w", sdkAppID, err)
		}
		return nil
	})
}

// UpdateAppSettings implements store.AppStore.
func (db *DB) UpdateAppSettings(ctx context.Context, sdkAppID uint32, s store.AppSettings) error {
	res, err := db.write.ExecContext(ctx, `UPDATE apps
		SET recording = ?, relay = ?, billing_mode = ?, enforce_private_map_key = ?, minor_audience = ?
		WHERE sdkappid = ?`,
		s.Recording, s.Relay, string(s.BillingMode), s.EnforcePrivateMapKey, s.MinorAudience, int64(sdkAppID))
	return oneRow(res, err, "update settings of", sdkAppID)
}

// UpdateAppSecret implements store.AppStore.
func (db *DB) UpdateAppSecret(ctx context.Context, sdkAppID uint32, sealed []byte, keyID string) error {
	res, err := db.write.ExecContext(ctx,
		`UPDATE apps SET sealed_secret = ?, secret_key_id = ? WHERE sdkappid = ?`,
		sealed, keyID, int64(sdkAppID))
	return oneRow(res, err, "update secret of", sdkAppID)
}

// oneRow turns a statement result that must touch exactly one app into an
// error, ErrNotFound when it touched none.
func oneRow(res sql.Result, err error, verb string, sdkAppID uint32) error {
	if err != nil {
		return fmt.Errorf("sqlite: %s app %d: %w", verb, sdkAppID, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("sqlite: %s app %d: %w", verb, sdkAppID, err)
	}
	if n == 0 {
		return fmt.Errorf("app %d: %w", sdkAppID, store.ErrNotFound)
	}
	return nil
}

type scanner interface{ Scan(dest ...any) error }

func scanApp(s scanner) (store.App, error) {
	var (
		a       store.App
		id      int64
		billing string
		created int64
	)
	err := s.Scan(&id, &a.Name, &a.SealedSecret, &a.SecretKeyID,
		&a.Settings.Recording, &a.Settings.Relay, &billing,
		&a.Settings.EnforcePrivateMapKey, &created, &a.Settings.MinorAudience)
	if err != nil {
		return store.App{}, err
	}
	if id <= 0 || id > math.MaxUint32 {
		return store.App{}, fmt.Errorf("sdkappid %d out of range", id)
	}
	a.SDKAppID = uint32(id)
	a.Settings.BillingMode = store.BillingMode(billing)
	a.CreatedAt = time.UnixMicro(created).UTC()
	return a, nil
}

func isUniqueViolation(err error) bool {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return false
	}
	return se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY || se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE
}
