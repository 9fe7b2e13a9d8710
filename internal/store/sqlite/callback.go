package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/parley-rtc/parley/internal/store"
)

var _ store.AppCallbackStore = (*DB)(nil)

// PutAppCallback sets or replaces an app's callback target.
func (db *DB) PutAppCallback(ctx context.Context, cb store.AppCallback) error {
	_, err := db.write.ExecContext(ctx, `INSERT INTO app_callbacks (sdkappid, url, sealed_key, key_id, updated_at)
		VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (sdkappid) DO UPDATE SET url = excluded.url, sealed_key = excluded.sealed_key,
			key_id = excluded.key_id, updated_at = excluded.updated_at`,
		int64(cb.SDKAppID), cb.URL, cb.SealedKey, cb.KeyID, cb.UpdatedAt.UnixMilli())
	if err != nil {
		if isForeignKeyViolation(err) {
			return fmt.Errorf("app %d: %w", cb.SDKAppID, store.ErrNotFound)
		}
		return fmt.Errorf("sqlite: put callback of app %d: %w", cb.SDKAppID, err)
	}
	return nil
}

// GetAppCallback returns an app's callback target.
func (db *DB) GetAppCallback(ctx context.Context, sdkAppID uint32) (store.AppCallback, error) {
	cb := store.AppCallback{SDKAppID: sdkAppID}
	var updated int64
	err := db.read.QueryRowContext(ctx, `SELECT url, sealed_key, key_id, updated_at FROM app_callbacks WHERE sdkappid = ?`,
		int64(sdkAppID)).Scan(&cb.URL, &cb.SealedKey, &cb.KeyID, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return store.AppCallback{}, fmt.Errorf("callback of app %d: %w", sdkAppID, store.ErrNotFound)
	}
	if err != nil {
		return store.AppCallback{}, fmt.Errorf("sqlite: get callback of app %d: %w", sdkAppID, err)
	}
	cb.UpdatedAt = time.UnixMilli(updated).UTC()
	return cb, nil
}

// DeleteAppCallback removes an app's callback target.
func (db *DB) DeleteAppCallback(ctx context.Context, sdkAppID uint32) error {
	if _, err := db.write.ExecContext(ctx, `DELETE FROM app_callbacks WHERE sdkappid = ?`, int64(sdkAppID)); err != nil {
		return fmt.Errorf("sqlite: delete callback of app %d: %w", sdkAppID, err)
	}
	return nil
}

// isForeignKeyViolation reports a row that names a missing parent (an
// unknown app).
func isForeignKeyViolation(err error) bool {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return false
	}
	return se.Code() == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
}
