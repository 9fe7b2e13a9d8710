package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/parley-rtc/parley/internal/store"
)

var _ store.AuditLogStore = (*DB)(nil)

// AppendAuditLogRecord implements store.AuditLogStore.
func (db *DB) AppendAuditLogRecord(ctx context.Context, rec store.AuditLogRecord, hashes []store.AuditLogHash, cp *store.AuditLogCheckpoint) (err error) {
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: audit log append: %w", err)
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, rollback(tx))
		}
	}()
	if _, err := tx.ExecContext(ctx, `INSERT INTO audit_log_records (seq, data) VALUES (?, ?)`, rec.Seq, rec.Data); err != nil {
		if isUniqueViolation(err) {
			return fmt.Errorf("audit log record %d: %w", rec.Seq, store.ErrConflict)
		}
		return fmt.Errorf("sqlite: audit log record %d: %w", rec.Seq, err)
	}
	for _, h := range hashes {
		if _, err := tx.ExecContext(ctx, `INSERT INTO audit_log_hashes (idx, hash) VALUES (?, ?)`, h.Index, h.Hash[:]); err != nil {
			if isUniqueViolation(err) {
				return fmt.Errorf("audit log hash %d: %w", h.Index, store.ErrConflict)
			}
			return fmt.Errorf("sqlite: audit log hash %d: %w", h.Index, err)
		}
	}
	if cp != nil {
		if err := putCheckpoint(ctx, tx, *cp); err != nil {
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: audit log append: commit: %w", err)
	}
	return nil
}

type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

func putCheckpoint(ctx context.Context, x execer, cp store.AuditLogCheckpoint) error {
	if _, err := x.ExecContext(ctx, `INSERT INTO audit_log_checkpoints (size, note, at_ms) VALUES (?, ?, ?)`,
		cp.Size, string(cp.Note), cp.At.UnixMilli()); err != nil {
		if isUniqueViolation(err) {
			return fmt.Errorf("audit log checkpoint %d: %w", cp.Size, store.ErrConflict)
		}
		return fmt.Errorf("sqlite: audit log checkpoint %d: %w", cp.Size, err)
	}
	return nil
}

// PutAuditLogCheckpoint implements store.AuditLogStore.
func (db *DB) PutAuditLogCheckpoint(ctx context.Context, cp store.AuditLogCheckpoint) error {
	return putCheckpoint(ctx, db.write, cp)
}

// AuditLogSize implements store.AuditLogStore.
func (db *DB) AuditLogSize(ctx context.Context) (int64, error) {
	var n int64
	if err := db.read.QueryRowContext(ctx, `SELECT COALESCE(MAX(seq) + 1, 0) FROM audit_log_records`).Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlite: audit log size: %w", err)
	}
	return n, nil
}

// AuditLogRecords implements store.AuditLogStore.
func (db *DB) AuditLogRecords(ctx context.Context, from int64, limit int) ([]store.AuditLogRecord, error) {
	if limit <= 0 {
		limit = 1000
	}
	rows, err := db.read.QueryContext(ctx, `SELECT seq, data FROM audit_log_records WHERE seq >= ? ORDER BY seq LIMIT ?`, from, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: audit log records: %w", err)
	}
	defer rows.Close()
	var out []store.AuditLogRecord
	for rows.Next() {
		var r store.AuditLogRecord
		if err := rows.Scan(&r.Seq, &r.Data); err != nil {
			return nil, fmt.Errorf("sqlite: audit log records: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: audit log records: %w", err)
	}
	return out, nil
}

// AuditLogHashes implements store.AuditLogStore.
func (db *DB) AuditLogHashes(ctx context.Context, indexes []int64) ([][32]byte, error) {
	if len(indexes) == 0 {
		return nil, nil
	}
	args := make([]any, len(indexes))
	for i, x := range indexes {
		args[i] = x
	}
	q := `SELECT idx, hash FROM audit_log_hashes WHERE idx IN (?` + strings.Repeat(",?", len(indexes)-1) + `)`
	rows, err := db.read.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: audit log hashes: %w", err)
	}
	defer rows.Close()
	found := make(map[int64][32]byte, len(indexes))
	for rows.Next() {
		var idx int64
		var b []byte
		if err := rows.Scan(&idx, &b); err != nil {
			return nil, fmt.Errorf("sqlite: audit log hashes: %w", err)
		}
		var h [32]byte
		if len(b) != len(h) {
			return nil, fmt.Errorf("sqlite: audit log hash %d: %d bytes, want 32", idx, len(b))
		}
		copy(h[:], b)
		found[idx] = h
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: audit log hashes: %w", err)
	}
	out := make([][32]byte, len(indexes))
	for i, x := range indexes {
		h, ok := found[x]
		if !ok {
			return nil, fmt.Errorf("audit log hash %d: %w", x, store.ErrNotFound)
		}
		out[i] = h
	}
	return out, nil
}

// AuditLogHashRange implements store.AuditLogStore.
func (db *DB) AuditLogHashRange(ctx context.Context, lo, hi int64) ([]store.AuditLogHash, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT idx, hash FROM audit_log_hashes WHERE idx >= ? AND idx < ? ORDER BY idx`, lo, hi)
	if err != nil {
		return nil, fmt.Errorf("sqlite: audit log hash range: %w", err)
	}
	defer rows.Close()
	var out []store.AuditLogHash
	for rows.Next() {
		var h store.AuditLogHash
		var b []byte
		if err := rows.Scan(&h.Index, &b); err != nil {
			return nil, fmt.Errorf("sqlite: audit log hash range: %w", err)
		}
		if len(b) != len(h.Hash) {
			return nil, fmt.Errorf("sqlite: audit log hash %d: %d bytes, want 32", h.Index, len(b))
		}
		copy(h.Hash[:], b)
		out = append(out, h)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: audit log hash range: %w", err)
	}
	return out, nil
}

// LatestAuditLogCheckpoint implements store.AuditLogStore.
func (db *DB) LatestAuditLogCheckpoint(ctx context.Context) (store.AuditLogCheckpoint, error) {
	var cp store.AuditLogCheckpoint
	var note string
	var at int64
	err := db.read.QueryRowContext(ctx, `SELECT size, note, at_ms FROM audit_log_checkpoints ORDER BY size DESC LIMIT 1`).Scan(&cp.Size, &note, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return store.AuditLogCheckpoint{}, fmt.Errorf("audit log checkpoint: %w", store.ErrNotFound)
	}
	if err != nil {
		return store.AuditLogCheckpoint{}, fmt.Errorf("sqlite: audit log checkpoint: %w", err)
	}
	cp.Note, cp.At = []byte(note), time.UnixMilli(at).UTC()
	return cp, nil
}

// AuditLogCheckpoints implements store.AuditLogStore.
func (db *DB) AuditLogCheckpoints(ctx context.Context, afterSize int64, limit int) ([]store.AuditLogCheckpoint, error) {
	if limit <= 0 {
		limit = 1000
	}
	rows, err := db.read.QueryContext(ctx, `SELECT size, note, at_ms FROM audit_log_checkpoints WHERE size > ? ORDER BY size LIMIT ?`, afterSize, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: audit log checkpoints: %w", err)
	}
	defer rows.Close()
	var out []store.AuditLogCheckpoint
	for rows.Next() {
		var cp store.AuditLogCheckpoint
		var note string
		var at int64
		if err := rows.Scan(&cp.Size, &note, &at); err != nil {
			return nil, fmt.Errorf("sqlite: audit log checkpoints: %w", err)
		}
		cp.Note, cp.At = []byte(note), time.UnixMilli(at).UTC()
		out = append(out, cp)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: audit log checkpoints: %w", err)
	}
	return out, nil
}

// AuditLogCheckpointCount implements store.AuditLogStore.
func (db *DB) AuditLogCheckpointCount(ctx context.Context) (int64, error) {
	var n int64
	if err := db.read.QueryRowContext(ctx, `SELECT COUNT(*) FROM audit_log_checkpoints`).Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlite: audit log checkpoint count: %w", err)
	}
	return n, nil
}
