package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/parley-rtc/parley/internal/store"
)

var _ store.RetentionStore = (*DB)(nil)

// sweepBatch bounds the rows one retention DELETE removes. Each batch is
// its own statement on the single write connection, so a large sweep
// never keeps other writers waiting for more than one batch.
const sweepBatch = 10_000

// deleteBatches runs query, a DELETE whose last parameter is a LIMIT,
// with args and batch until it deletes fewer than batch rows.
func (db *DB) deleteBatches(ctx context.Context, batch int, query string, args ...any) (int64, error) {
	args = append(slices.Clip(args), batch)
	var total int64
	for {
		n, err := affectedRows(db.write.ExecContext(ctx, query, args...))
		total += n
		if err != nil || n < int64(batch) {
			return total, err
		}
	}
}

// count runs a count(*) query.
func (db *DB) count(ctx context.Context, query string, args ...any) (int64, error) {
	var n int64
	err := db.read.QueryRowContext(ctx, query, args...).Scan(&n)
	return n, err
}

// firstTime runs a query returning one time (a MIN() or the first row);
// NULL or no row means there is none.
func (db *DB) firstTime(ctx context.Context, what, query string, toTime func(int64) time.Time, args ...any) (time.Time, bool, error) {
	var v sql.NullInt64
	err := db.read.QueryRowContext(ctx, query, args...).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, fmt.Errorf("sqlite: oldest %s: %w", what, err)
	}
	if !v.Valid {
		return time.Time{}, false, nil
	}
	return toTime(v.Int64), true, nil
}

func fromMilli(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

// idTime is the time a telemetry row id encodes (telemetryID).
func idTime(id int64) time.Time { return fromMilli(id >> idSeqBits) }

// --- messages (RETAIN-3) ---

// OldestIMMessage implements store.RetentionStore: the day index finds
// the oldest day with an unheld message, then its oldest one.
func (db *DB) OldestIMMessage(ctx context.Context, now time.Time) (time.Time, bool, error) {
	ms := now.UnixMilli()
	var day int64
	err := db.read.QueryRowContext(ctx, `SELECT t.day FROM im_messages t WHERE NOT `+heldMessage+
		` ORDER BY t.day LIMIT 1`, ms).Scan(&day)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, fmt.Errorf("sqlite: oldest message: %w", err)
	}
	return db.firstTime(ctx, "message", `SELECT min(t.at) FROM im_messages t WHERE t.day = ? AND NOT `+heldMessage,
		imTime, day, ms)
}

// SweepIMMessages implements store.RetentionStore. Messages go by whole
// UTC days (the im_messages_day index): a day goes once all of it is
// before before, so a message is kept at most a day past the limit.
// Extensions go with their messages (ON DELETE CASCADE); the seq
// allocator is untouched, so seqs are never reused.
func (db *DB) SweepIMMessages(ctx context.Context, before, now time.Time) (store.SweepCount, error) {
	return db.sweepIMMessages(ctx, before, now, sweepBatch)
}

func (db *DB) sweepIMMessages(ctx context.Context, before, now time.Time, batch int) (store.SweepCount, error) {
	end := imDay(before) // days < end are wholly before before
	var c store.SweepCount
	for day := int64(math.MinInt64); ; {
		next, ok, err := db.nextIMDay(ctx, day)
		if err != nil {
			return c, err
		}
		if !ok || next >= end {
			break
		}
		day = next
		n, err := db.deleteBatches(ctx, batch, `DELETE FROM im_messages WHERE rowid IN
			(SELECT t.rowid FROM im_messages t WHERE t.day = ? AND NOT `+heldMessage+` LIMIT ?)`, day, now.UnixMilli())
		c.Deleted += n
		if err != nil {
			return c, fmt.Errorf("sqlite: sweep messages: %w", err)
		}
	}
	held, err := db.count(ctx, `SELECT count(*) FROM im_messages WHERE day < ?`, end)
	if err != nil {
		return c, fmt.Errorf("sqlite: sweep messages: %w", err)
	}
	c.Held = held
	return c, nil
}

// nextIMDay is the first day after after that has messages.
func (db *DB) nextIMDay(ctx context.Context, after int64) (int64, bool, error) {
	var d sql.NullInt64
	if err := db.read.QueryRowContext(ctx, `SELECT min(day) FROM im_messages WHERE day > ?`, after).Scan(&d); err != nil {
		return 0, false, fmt.Errorf("sqlite: sweep messages: %w", err)
	}
	return d.Int64, d.Valid, nil
}

// --- telemetry (RETAIN-1) ---

// dayTable is one registered telemetry partition.
type dayTable struct {
	day       time.Time
	name, key string
}

// telemetryTables lists the partitions, oldest first. Names are rebuilt
// from the day, never taken from the registry, so SQL built with them is
// safe.
func (db *DB) telemetryTables(ctx context.Context) ([]dayTable, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT day FROM telemetry_partitions ORDER BY day`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: telemetry partitions: %w", err)
	}
	defer rows.Close()
	var out []dayTable
	for rows.Next() {
		var key string
		if err := rows.Scan(&key); err != nil {
			return nil, fmt.Errorf("sqlite: telemetry partitions: %w", err)
		}
		day, err := time.Parse("20060102", key)
		if err != nil {
			return nil, fmt.Errorf("sqlite: bad partition day %q: %w", key, err)
		}
		name, k := partitionName(day)
		out = append(out, dayTable{day: day, name: name, key: k})
	}
	return out, rows.Err()
}

// OldestTelemetry implements store.RetentionStore: the time of the oldest
// unheld row (row ids encode their time).
func (db *DB) OldestTelemetry(ctx context.Context, now time.Time) (time.Time, bool, error) {
	tables, err := db.telemetryTables(ctx)
	if err != nil {
		return time.Time{}, false, err
	}
	for _, p := range tables {
		at, ok, err := db.firstTime(ctx, "telemetry", `SELECT t.id FROM `+p.name+` t WHERE NOT `+heldTelemetry+
			` ORDER BY t.id LIMIT 1`, idTime, now.UnixMilli())
		if err != nil || ok {
			return at, ok, err
		}
	}
	return time.Time{}, false, nil
}

// SweepTelemetry implements store.RetentionStore.
func (db *DB) SweepTelemetry(ctx context.Context, before, now time.Time) (store.SweepCount, error) {
	return db.sweepTelemetry(ctx, before, now, sweepBatch)
}

func (db *DB) sweepTelemetry(ctx context.Context, before, now time.Time, batch int) (store.SweepCount, error) {
	tables, err := db.telemetryTables(ctx)
	if err != nil {
		return store.SweepCount{}, err
	}
	var total store.SweepCount
	for _, p := range tables {
		if !p.day.Before(before) {
			break
		}
		var c store.SweepCount
		if p.day.Add(24 * time.Hour).After(before) {
			c, err = db.sweepTelemetryRows(ctx, p.name, idAt(before), now, batch)
		} else {
			c, err = db.sweepTelemetryDay(ctx, p, now, batch)
		}
		total = total.Add(c)
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// sweepTelemetryDay removes a partition wholly past the limit: one DROP
// TABLE when no hold touches it, else its unheld rows.
func (db *DB) sweepTelemetryDay(ctx context.Context, p dayTable, now time.Time, batch int) (store.SweepCount, error) {
	dropped, n, err := db.dropUnheldPartition(ctx, p, now)
	if err != nil || dropped {
		return store.SweepCount{Deleted: n}, err
	}
	return db.sweepTelemetryRows(ctx, p.name, math.MaxInt64, now, batch)
}

// dropUnheldPartition drops p unless a hold in force covers one of its
// rows. The check and the drop share one write transaction, so no hold
// can be recorded in between.
func (db *DB) dropUnheldPartition(ctx context.Context, p dayTable, now time.Time) (dropped bool, rows int64, err error) {
	err = db.imTx(ctx, "drop "+p.name, func(tx *sql.Tx) error {
		var anyHold, held bool
		if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM legal_holds
			WHERE released_at IS NULL AND expires_at > ?)`, now.UnixMilli()).Scan(&anyHold); err != nil {
			return fmt.Errorf("sqlite: drop %s: %w", p.name, err)
		}
		if anyHold {
			if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM `+p.name+` t WHERE `+heldTelemetry+`)`,
				now.UnixMilli()).Scan(&held); err != nil {
				return fmt.Errorf("sqlite: drop %s: %w", p.name, err)
			}
		}
		if held {
			return nil
		}
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM `+p.name).Scan(&rows); err != nil {
			return fmt.Errorf("sqlite: drop %s: %w", p.name, err)
		}
		if _, err := tx.ExecContext(ctx, `DROP TABLE `+p.name); err != nil {
			return fmt.Errorf("sqlite: drop %s: %w", p.name, err)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM telemetry_partitions WHERE day = ?`, p.key); err != nil {
			return fmt.Errorf("sqlite: unregister %s: %w", p.name, err)
		}
		dropped = true
		return nil
	})
	if err != nil {
		return false, 0, err
	}
	return dropped, rows, nil
}

// sweepTelemetryRows deletes a partition's unheld rows with ids below
// bound (ids are time-ordered: idAt) and counts the held rows left.
func (db *DB) sweepTelemetryRows(ctx context.Context, name string, bound int64, now time.Time, batch int) (store.SweepCount, error) {
	n, err := db.deleteBatches(ctx, batch, `DELETE FROM `+name+` WHERE id IN
		(SELECT t.id FROM `+name+` t WHERE t.id < ? AND NOT `+heldTelemetry+` LIMIT ?)`, bound, now.UnixMilli())
	if err != nil {
		return store.SweepCount{Deleted: n}, fmt.Errorf("sqlite: sweep %s: %w", name, err)
	}
	held, err := db.count(ctx, `SELECT count(*) FROM `+name+` WHERE id < ?`, bound)
	if err != nil {
		return store.SweepCount{Deleted: n}, fmt.Errorf("sqlite: sweep %s: %w", name, err)
	}
	return store.SweepCount{Deleted: n, Held: held}, nil
}

// --- webhooks and push tokens (app-wide holds only) ---

// timedStore is a store whose rows expire by one time column and which
// only app-wide holds keep.
type timedStore struct {
	what   string
	oldest string // one parameter: now (ms)
	sweep  string // parameters: before, now (ms), batch
	left   string // parameter: before
}

var (
	// Pending callbacks are not subject to retention until they are
	// delivered or fail.
	webhookRetention = timedStore{
		what: "finished webhooks",
		oldest: `SELECT t.created_at FROM webhook_outbox t WHERE t.state <> 'pending' AND NOT ` + heldApp +
			` ORDER BY t.created_at LIMIT 1`,
		sweep: `DELETE FROM webhook_outbox WHERE id IN (SELECT t.id FROM webhook_outbox t
			WHERE t.state <> 'pending' AND t.created_at < ? AND NOT ` + heldApp + ` LIMIT ?)`,
		left: `SELECT count(*) FROM webhook_outbox WHERE state <> 'pending' AND created_at < ?`,
	}
	pushTokenRetention = timedStore{
		what:   "push tokens",
		oldest: `SELECT t.registered_at FROM im_push_tokens t WHERE NOT ` + heldApp + ` ORDER BY t.registered_at LIMIT 1`,
		sweep: `DELETE FROM im_push_tokens WHERE (sdkappid, user_id, device_id) IN
			(SELECT t.sdkappid, t.user_id, t.device_id FROM im_push_tokens t
			WHERE t.registered_at < ? AND NOT ` + heldApp + ` LIMIT ?)`,
		left: `SELECT count(*) FROM im_push_tokens WHERE registered_at < ?`,
	}
)

func (db *DB) oldestTimed(ctx context.Context, s timedStore, now time.Time) (time.Time, bool, error) {
	return db.firstTime(ctx, s.what, s.oldest, fromMilli, now.UnixMilli())
}

func (db *DB) sweepTimed(ctx context.Context, s timedStore, before, now time.Time, batch int) (store.SweepCount, error) {
	n, err := db.deleteBatches(ctx, batch, s.sweep, before.UnixMilli(), now.UnixMilli())
	if err != nil {
		return store.SweepCount{Deleted: n}, fmt.Errorf("sqlite: sweep %s: %w", s.what, err)
	}
	held, err := db.count(ctx, s.left, before.UnixMilli())
	if err != nil {
		return store.SweepCount{Deleted: n}, fmt.Errorf("sqlite: sweep %s: %w", s.what, err)
	}
	return store.SweepCount{Deleted: n, Held: held}, nil
}

// OldestFinishedWebhook implements store.RetentionStore.
func (db *DB) OldestFinishedWebhook(ctx context.Context, now time.Time) (time.Time, bool, error) {
	return db.oldestTimed(ctx, webhookRetention, now)
}

// SweepFinishedWebhooks implements store.RetentionStore.
func (db *DB) SweepFinishedWebhooks(ctx context.Context, before, now time.Time) (store.SweepCount, error) {
	return db.sweepTimed(ctx, webhookRetention, before, now, sweepBatch)
}

// OldestIMPushToken implements store.RetentionStore.
func (db *DB) OldestIMPushToken(ctx context.Context, now time.Time) (time.Time, bool, error) {
	return db.oldestTimed(ctx, pushTokenRetention, now)
}

// SweepIMPushTokens implements store.RetentionStore.
func (db *DB) SweepIMPushTokens(ctx context.Context, before, now time.Time) (store.SweepCount, error) {
	return db.sweepTimed(ctx, pushTokenRetention, before, now, sweepBatch)
}
