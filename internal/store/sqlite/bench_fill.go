package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// Bulk fills for `parley bench dsr` (issue 5 benchmarks). They write rows
// straight with SQL generators, much faster than the service paths, so a
// benchmark can stand up a million rows for one user in seconds; the
// rows have the shape and indexes of real ones (the subject's reference,
// sealed-size bodies), which is what erasure and sweep costs depend on.

// fillChunk is the rows per INSERT … SELECT statement.
const fillChunk = 50_000

// FillSubjectRows stores messages rows sent by user (in C2C
// conversations of 1,000 messages each) and telemetry rows of the user
// on day, for benchmarks.
func (db *DB) FillSubjectRows(ctx context.Context, sdkAppID uint32, userID string, messages, telemetry int, day time.Time) error {
	if err := db.haveKeys(); err != nil {
		return err
	}
	ref := db.UserRef(sdkAppID, userID)
	dayNum := day.Unix() / 86400
	// C2C conversations of up to 1,000 messages, each with its own peer
	// (stored conversation ids are "c2c:<ref>|<ref>").
	for start, c := 0, 0; start < messages; start, c = start+1000, c+1 {
		n := min(1000, messages-start)
		conv, err := db.storedConv(sdkAppID, "c2c:"+userID+"|"+fmt.Sprintf("%s-peer-%d", userID, c))
		if err != nil {
			return err
		}
		err = db.inTx(ctx, func(tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, `WITH RECURSIVE g(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM g WHERE x < ?)
				INSERT INTO im_messages (sdkappid, conv_id, seq, day, at, sender, body)
				SELECT ?, ?, x, ?, ?, ?, randomblob(80) FROM g`,
				n, sdkAppID, conv, dayNum, day.UnixMicro(), ref)
			return err
		})
		if err != nil {
			return fmt.Errorf("sqlite: fill messages: %w", err)
		}
	}
	uref := db.telemetryRef(sdkAppID, "user", userID)
	dref := db.telemetryRef(sdkAppID, "device", userID+"-device")
	return db.fillTelemetry(ctx, sdkAppID, day, telemetry, uref, dref)
}

// FillTelemetryDay stores rows telemetry rows of other users on day.
func (db *DB) FillTelemetryDay(ctx context.Context, sdkAppID uint32, day time.Time, rows int) error {
	return db.fillTelemetry(ctx, sdkAppID, day, rows, nil, nil)
}

// fillTelemetry adds rows to day's partition: the given user and device
// references, or random ones when nil.
func (db *DB) fillTelemetry(ctx context.Context, sdkAppID uint32, day time.Time, rows int, uref, dref []byte) error {
	for start := 0; start < rows; start += fillChunk {
		n := min(fillChunk, rows-start)
		err := db.inTx(ctx, func(tx *sql.Tx) error {
			name, err := ensurePartition(ctx, tx, day)
			if err != nil {
				return err
			}
			var last int64
			if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(id), 0) FROM `+name).Scan(&last); err != nil {
				return err
			}
			base := max(idAt(dayOf(day)), last+1)
			_, err = tx.ExecContext(ctx, `WITH RECURSIVE g(x) AS (SELECT 0 UNION ALL SELECT x + 1 FROM g WHERE x < ?)
				INSERT INTO `+name+` (id, sdkappid, room_key, user_ref, device_ref, section, data)
				SELECT ? + x, ?, 'n:1', coalesce(?, randomblob(16)), coalesce(?, randomblob(16)), 'quality',
				       '{"quality.rtt_ms":20,"quality.up_loss_pct":0,"quality.down_loss_pct":1,"quality.jitter_ms":4}' FROM g`,
				n-1, base, sdkAppID, uref, dref)
			return err
		})
		if err != nil {
			return fmt.Errorf("sqlite: fill telemetry: %w", err)
		}
	}
	return nil
}
