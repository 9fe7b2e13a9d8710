package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/parley-rtc/parley/internal/store"
)

var _ store.LegalHoldStore = (*DB)(nil)

// holdCovers is an SQL condition true when a legal hold in force covers
// the row whose app is rowApp: a hold on the whole app, or, when
// subjectMatch is set, a hold on a subject the row belongs to. It takes
// one parameter, the sweep's now in Unix ms. The sweeps evaluate it
// inside their DELETE statements, so a hold recorded while a sweep runs
// protects every row the sweep has not deleted yet.
func holdCovers(rowApp, subjectMatch string) string {
	cond := `h.subject IS NULL`
	if subjectMatch != "" {
		cond = `(h.subject IS NULL OR ` + subjectMatch + `)`
	}
	return `EXISTS (SELECT 1 FROM legal_holds h WHERE h.sdkappid = ` + rowApp +
		` AND h.released_at IS NULL AND h.expires_at > ? AND ` + cond + `)`
}

// The hold conditions of each store, over a row aliased t.
var (
	// heldApp: stores only app-wide holds keep (webhooks, push tokens).
	heldApp = holdCovers("t.sdkappid", "")
	// heldMessage: the app is held, or the sender is a held subject
	// (sender holds the sender's reference where ids are blind-indexed).
	heldMessage = holdCovers("t.sdkappid", "h.subject = t.sender")
	// heldTelemetry: the app is held, or user_ref is a held subject's
	// 16-byte reference.
	heldTelemetry = holdCovers("t.sdkappid", "h.subject_ref = t.user_ref")
)

const holdColumns = `id, sdkappid, subject, reason, note, created_at, expires_at, released_at`

// AddLegalHold implements store.LegalHoldStore.
func (db *DB) AddLegalHold(ctx context.Context, h store.LegalHold) (store.LegalHold, error) {
	h.CreatedAt, h.ExpiresAt, h.ReleasedAt = toMilli(h.CreatedAt), toMilli(h.ExpiresAt), time.Time{}
	if err := h.Validate(); err != nil {
		return store.LegalHold{}, err
	}
	ref, _ := h.SubjectRef() // checked by Validate
	var subject sql.NullString
	if h.Subject != "" {
		subject = sql.NullString{String: h.Subject, Valid: true}
	}
	err := db.imTx(ctx, "add legal hold", func(tx *sql.Tx) error {
		if err := holdableApp(ctx, tx, h.SDKAppID); err != nil {
			return err
		}
		err := tx.QueryRowContext(ctx, `INSERT INTO legal_holds
			(sdkappid, subject, subject_ref, reason, note, created_at, expires_at)
			VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`,
			int64(h.SDKAppID), subject, ref, string(h.Reason), h.Note,
			h.CreatedAt.UnixMilli(), h.ExpiresAt.UnixMilli()).Scan(&h.ID)
		if err != nil {
			return fmt.Errorf("sqlite: add legal hold on app %d: %w", h.SDKAppID, err)
		}
		return nil
	})
	if err != nil {
		return store.LegalHold{}, err
	}
	return h, nil
}

// holdableApp checks that an app exists, or was terminated and still has
// data to hold.
func holdableApp(ctx context.Context, tx *sql.Tx, sdkAppID uint32) error {
	var ok bool
	err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM apps WHERE sdkappid = ?1)
		OR EXISTS (SELECT 1 FROM app_terminations WHERE sdkappid = ?1 AND purged_at IS NULL)`,
		int64(sdkAppID)).Scan(&ok)
	if err != nil {
		return fmt.Errorf("sqlite: add legal hold on app %d: %w", sdkAppID, err)
	}
	if !ok {
		return fmt.Errorf("app %d (no such app, or its data is already purged): %w", sdkAppID, store.ErrNotFound)
	}
	return nil
}

// ListLegalHolds implements store.LegalHoldStore.
func (db *DB) ListLegalHolds(ctx context.Context, sdkAppID uint32, includeEnded bool, at time.Time) ([]store.LegalHold, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT `+holdColumns+` FROM legal_holds
		WHERE (?1 = 0 OR sdkappid = ?1) AND (?2 OR (released_at IS NULL AND expires_at > ?3))
		ORDER BY id`, int64(sdkAppID), includeEnded, at.UnixMilli())
	if err != nil {
		return nil, fmt.Errorf("sqlite: list legal holds: %w", err)
	}
	defer rows.Close()
	var out []store.LegalHold
	for rows.Next() {
		h, err := scanHold(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list legal holds: %w", err)
		}
		out = append(out, h)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list legal holds: %w", err)
	}
	return out, nil
}

// ReleaseLegalHold implements store.LegalHoldStore.
func (db *DB) ReleaseLegalHold(ctx context.Context, id int64, at time.Time) (store.LegalHold, error) {
	var h store.LegalHold
	err := db.imTx(ctx, "release legal hold", func(tx *sql.Tx) error {
		var err error
		h, err = scanHold(tx.QueryRowContext(ctx, `SELECT `+holdColumns+` FROM legal_holds WHERE id = ?`, id))
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("legal hold %d: %w", id, store.ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("sqlite: release legal hold %d: %w", id, err)
		}
		if !h.Active(at) {
			return fmt.Errorf("legal hold %d ended %s: %w", id, h.EndedAt().Format(time.RFC3339), store.ErrHoldEnded)
		}
		h.ReleasedAt = toMilli(at)
		if _, err := tx.ExecContext(ctx, `UPDATE legal_holds SET released_at = ? WHERE id = ?`, h.ReleasedAt.UnixMilli(), id); err != nil {
			return fmt.Errorf("sqlite: release legal hold %d: %w", id, err)
		}
		return nil
	})
	if err != nil {
		return store.LegalHold{}, err
	}
	return h, nil
}

// holdEnd is when a hold row ended (or ends), in Unix ms.
const holdEnd = `CASE WHEN released_at IS NOT NULL AND released_at < expires_at THEN released_at ELSE expires_at END`

// OldestEndedLegalHold implements store.RetentionStore.
func (db *DB) OldestEndedLegalHold(ctx context.Context, now time.Time) (time.Time, bool, error) {
	return db.firstTime(ctx, "ended legal hold", `SELECT min(`+holdEnd+`) FROM legal_holds WHERE `+holdEnd+` <= ?`,
		fromMilli, now.UnixMilli())
}

// DeleteEndedLegalHolds implements store.RetentionStore.
func (db *DB) DeleteEndedLegalHolds(ctx context.Context, before time.Time) (store.SweepCount, error) {
	res, err := db.write.ExecContext(ctx, `DELETE FROM legal_holds WHERE `+holdEnd+` < ?`, before.UnixMilli())
	n, err := affectedRows(res, err)
	if err != nil {
		return store.SweepCount{}, fmt.Errorf("sqlite: delete ended legal holds: %w", err)
	}
	return store.SweepCount{Deleted: n}, nil
}

func scanHold(s scanner) (store.LegalHold, error) {
	var (
		h                 store.LegalHold
		app, created, exp int64
		subject           sql.NullString
		reason            string
		released          sql.NullInt64
	)
	if err := s.Scan(&h.ID, &app, &subject, &reason, &h.Note, &created, &exp, &released); err != nil {
		return store.LegalHold{}, err
	}
	h.SDKAppID, h.Subject, h.Reason = uint32(app), subject.String, store.HoldReason(reason)
	h.CreatedAt, h.ExpiresAt = fromMilli(created), fromMilli(exp)
	if released.Valid {
		h.ReleasedAt = fromMilli(released.Int64)
	}
	return h, nil
}

// toMilli truncates t to what the store keeps; the zero time stays zero.
func toMilli(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return fromMilli(t.UnixMilli())
}

// affectedRows is a statement's row count, or its error.
func affectedRows(res sql.Result, err error) (int64, error) {
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}
