package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/parley-rtc/parley/internal/keyring"
	"github.com/parley-rtc/parley/internal/store"
)

var _ store.DSRStore = (*DB)(nil)

const dsrColumns = `id, sdkappid, type, state, source, subject, ground, message,
	received_at, verified_at, processing_at, finished_at, due_at, receipt, audit_seq`

func msOrNull(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixMilli()
}

func timeOrZero(v sql.NullInt64) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return time.UnixMilli(v.Int64).UTC()
}

// InsertDSR implements store.DSRStore.
func (db *DB) InsertDSR(ctx context.Context, r store.DSRRecord) error {
	_, err := db.write.ExecContext(ctx, `INSERT INTO dsr_requests (`+dsrColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		r.ID, r.SDKAppID, r.Type, r.State, r.Source, r.Subject, r.Ground, r.Message,
		r.ReceivedAt.UnixMilli(), msOrNull(r.VerifiedAt), msOrNull(r.ProcessingAt), msOrNull(r.FinishedAt),
		r.DueAt.UnixMilli(), r.Receipt, r.AuditSeq)
	if err != nil {
		if strings.Contains(err.Error(), "UNIQUE") || strings.Contains(err.Error(), "PRIMARY KEY") {
			return fmt.Errorf("%w: dsr request %s", store.ErrConflict, r.ID)
		}
		return fmt.Errorf("sqlite: insert dsr request: %w", err)
	}
	return nil
}

// UpdateDSR implements store.DSRStore.
func (db *DB) UpdateDSR(ctx context.Context, r store.DSRRecord) error {
	res, err := db.write.ExecContext(ctx, `UPDATE dsr_requests SET state = ?, ground = ?, message = ?,
		verified_at = ?, processing_at = ?, finished_at = ?, receipt = ?, audit_seq = ? WHERE id = ?`,
		r.State, r.Ground, r.Message, msOrNull(r.VerifiedAt), msOrNull(r.ProcessingAt), msOrNull(r.FinishedAt),
		r.Receipt, r.AuditSeq, r.ID)
	if err != nil {
		return fmt.Errorf("sqlite: update dsr request: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("%w: dsr request %s", store.ErrNotFound, r.ID)
	}
	return nil
}

func scanDSR(sc interface{ Scan(...any) error }) (store.DSRRecord, error) {
	var r store.DSRRecord
	var received, due int64
	var verified, processing, finished sql.NullInt64
	err := sc.Scan(&r.ID, &r.SDKAppID, &r.Type, &r.State, &r.Source, &r.Subject, &r.Ground, &r.Message,
		&received, &verified, &processing, &finished, &due, &r.Receipt, &r.AuditSeq)
	if err != nil {
		return r, err
	}
	r.ReceivedAt, r.DueAt = time.UnixMilli(received).UTC(), time.UnixMilli(due).UTC()
	r.VerifiedAt, r.ProcessingAt, r.FinishedAt = timeOrZero(verified), timeOrZero(processing), timeOrZero(finished)
	return r, nil
}

// GetDSR implements store.DSRStore.
func (db *DB) GetDSR(ctx context.Context, id string) (store.DSRRecord, error) {
	r, err := scanDSR(db.read.QueryRowContext(ctx, `SELECT `+dsrColumns+` FROM dsr_requests WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return r, fmt.Errorf("%w: dsr request %s", store.ErrNotFound, id)
	}
	if err != nil {
		return r, fmt.Errorf("sqlite: get dsr request: %w", err)
	}
	return r, nil
}

// ListDSR implements store.DSRStore.
func (db *DB) ListDSR(ctx context.Context, sdkAppID uint32, limit int) ([]store.DSRRecord, error) {
	if limit <= 0 || limit > 1000 {
		limit = 1000
	}
	rows, err := db.read.QueryContext(ctx, `SELECT `+dsrColumns+` FROM dsr_requests
		WHERE ? = 0 OR sdkappid = ? ORDER BY received_at DESC, id LIMIT ?`, sdkAppID, sdkAppID, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list dsr requests: %w", err)
	}
	defer rows.Close()
	var out []store.DSRRecord
	for rows.Next() {
		r, err := scanDSR(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list dsr requests: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// CountDSR implements store.DSRStore.
func (db *DB) CountDSR(ctx context.Context, sdkAppID uint32, subject, typ string, since time.Time) (int, error) {
	var n int
	err := db.read.QueryRowContext(ctx, `SELECT count(*) FROM dsr_requests
		WHERE sdkappid = ? AND subject = ? AND type = ? AND received_at >= ?`,
		sdkAppID, subject, typ, since.UnixMilli()).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("sqlite: count dsr requests: %w", err)
	}
	return n, nil
}

// DeleteFinishedDSR implements store.DSRStore.
func (db *DB) DeleteFinishedDSR(ctx context.Context, before time.Time) (int64, error) {
	res, err := db.write.ExecContext(ctx, `DELETE FROM dsr_requests WHERE finished_at IS NOT NULL AND finished_at < ?`, before.UnixMilli())
	if err != nil {
		return 0, fmt.Errorf("sqlite: delete finished dsr requests: %w", err)
	}
	return res.RowsAffected()
}

// OldestFinishedDSR is the finish time of the oldest finished request.
func (db *DB) OldestFinishedDSR(ctx context.Context) (time.Time, bool, error) {
	var at sql.NullInt64
	if err := db.read.QueryRowContext(ctx, `SELECT min(finished_at) FROM dsr_requests WHERE finished_at IS NOT NULL`).Scan(&at); err != nil {
		return time.Time{}, false, fmt.Errorf("sqlite: oldest dsr request: %w", err)
	}
	return timeOrZero(at), at.Valid, nil
}

// KeystoreEpochs lists the keystore's epoch keys, oldest first.
func (db *DB) KeystoreEpochs() []keyring.EpochInfo {
	if db.keys == nil {
		return nil
	}
	return db.keys.ks.Epochs()
}

// KeystoreWindow is the keystore's retention window (0 without a KEK).
func (db *DB) KeystoreWindow() time.Duration {
	if db.keys == nil {
		return 0
	}
	return db.keys.ks.Window()
}
