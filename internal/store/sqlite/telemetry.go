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

var (
	_ store.TelemetryStore = (*DB)(nil)
	_ store.AuditStore     = (*DB)(nil)
)

// partitionName is the table of one UTC day. Names come only from this
// function (a formatted date), never from input, so building SQL with them
// is safe.
func partitionName(day time.Time) (name, key string) {
	key = day.UTC().Format("20060102")
	return "telemetry_d" + key, key
}

func dayOf(t time.Time) time.Time {
	u := t.UTC()
	return time.Date(u.Year(), u.Month(), u.Day(), 0, 0, 0, 0, time.UTC)
}

// ensurePartition creates a day's table inside tx if the registry lacks it.
func ensurePartition(ctx context.Context, tx *sql.Tx, day time.Time) (string, error) {
	name, key := partitionName(day)
	var existing string
	err := tx.QueryRowContext(ctx, `SELECT table_name FROM telemetry_partitions WHERE day = ?`, key).Scan(&existing)
	if err == nil {
		return existing, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("sqlite: telemetry partition lookup: %w", err)
	}
	// Rows are keyed by a time-ordered id (see telemetryID), so inserts
	// append at the end of the table's B-tree and time-range queries
	// use the primary key. No secondary index is maintained on the
	// ingest path: each one cost ~20 % of ingest, and scattered
	// (room, user) keys cost more as rooms multiply (docs/benchmarks.md).
	stmts := []string{
		`CREATE TABLE IF NOT EXISTS ` + name + ` (
			id         INTEGER PRIMARY KEY,
			sdkappid   INTEGER NOT NULL,
			room_key   TEXT    NOT NULL,
			user_ref   BLOB    NOT NULL,
			device_ref BLOB    NOT NULL,
			section    TEXT    NOT NULL,
			data       TEXT    NOT NULL
		) STRICT`,
	}
	for _, s := range stmts {
		if _, err := tx.ExecContext(ctx, s); err != nil {
			return "", fmt.Errorf("sqlite: create %s: %w", name, err)
		}
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO telemetry_partitions (day, table_name, created_at) VALUES (?, ?, ?)`,
		key, name, time.Now().UnixMilli()); err != nil {
		return "", fmt.Errorf("sqlite: register %s: %w", name, err)
	}
	return name, nil
}

// idSeqBits is how many low bits of a row id count rows within one
// millisecond: 1,024 rows per ms (1 M/s) before ids borrow from the next
// millisecond, which only shifts a row's position by a fraction of a ms.
const idSeqBits = 10

// telemetryID is the time-ordered row id for a record at t: at least
// t's millisecond shifted left by idSeqBits, and after the last id used.
func telemetryID(t time.Time, last int64) int64 {
	return max(t.UnixMilli()<<idSeqBits, last+1)
}

// idAt is the smallest id a record at t can have.
func idAt(t time.Time) int64 { return t.UnixMilli() << idSeqBits }

// InsertTelemetry writes a batch in one transaction (group commit): one
// fsync-free WAL append for the whole batch instead of one per record.
func (db *DB) InsertTelemetry(ctx context.Context, recs []store.TelemetryRecord) (err error) {
	if len(recs) == 0 {
		return nil
	}
	if err := db.ensureTelemetryKeys(ctx, recs); err != nil {
		return fmt.Errorf("sqlite: insert telemetry: %w", err)
	}
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: insert telemetry: %w", err)
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, rollback(tx))
		}
	}()
	type partition struct {
		st   *sql.Stmt
		last int64
	}
	parts := map[string]*partition{}
	defer func() {
		for _, p := range parts {
			_ = p.st.Close()
		}
	}()
	for i := range recs {
		r := &recs[i]
		day := dayOf(r.At)
		name, _ := partitionName(day)
		p := parts[name]
		if p == nil {
			if _, err = ensurePartition(ctx, tx, day); err != nil {
				return err
			}
			p = &partition{}
			if err = tx.QueryRowContext(ctx, `SELECT coalesce(max(id), 0) FROM `+name).Scan(&p.last); err != nil {
				return fmt.Errorf("sqlite: last telemetry id: %w", err)
			}
			p.st, err = tx.PrepareContext(ctx, `INSERT INTO `+name+` (id, sdkappid, room_key, user_ref, device_ref, section, data) VALUES (?, ?, ?, ?, ?, ?, ?)`)
			if err != nil {
				return fmt.Errorf("sqlite: prepare telemetry insert: %w", err)
			}
			parts[name] = p
		}
		p.last = telemetryID(r.At, p.last)
		var data string
		if data, err = db.telemetryData(ctx, r); err != nil {
			return fmt.Errorf("sqlite: insert telemetry: %w", err)
		}
		if _, err = p.st.ExecContext(ctx, p.last, int64(r.SDKAppID), r.RoomKey, r.UserRef, r.DeviceRef, r.Section, data); err != nil {
			return fmt.Errorf("sqlite: insert telemetry: %w", err)
		}
	}
	if err = tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: commit telemetry: %w", err)
	}
	return nil
}

// partitionsBetween lists the registered tables whose day overlaps [from, to).
func (db *DB) partitionsBetween(ctx context.Context, from, to time.Time) ([]string, error) {
	_, fromKey := partitionName(dayOf(from))
	_, toKey := partitionName(dayOf(to))
	rows, err := db.read.QueryContext(ctx, `SELECT table_name FROM telemetry_partitions WHERE day >= ? AND day <= ? ORDER BY day`, fromKey, toKey)
	if err != nil {
		return nil, fmt.Errorf("sqlite: telemetry partitions: %w", err)
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		names = append(names, n)
	}
	return names, rows.Err()
}

// QueryTelemetry reads one app's records in [From, To), oldest first,
// after the cursor q.After when set.
func (db *DB) QueryTelemetry(ctx context.Context, q store.TelemetryQuery) ([]store.TelemetryRecord, error) {
	if q.Limit <= 0 {
		q.Limit = 10000
	}
	// One lower bound, From or just after the cursor: with two, SQLite
	// range-scans on one and filters on the other, rescanning the day
	// from From on every page. The day tables before it hold nothing
	// wanted.
	lo := idAt(q.From)
	if q.After != 0 {
		lo = max(lo, q.After+1)
	}
	names, err := db.partitionsBetween(ctx, time.UnixMilli(lo>>idSeqBits), q.To)
	if err != nil {
		return nil, err
	}
	var out []store.TelemetryRecord
	for _, name := range names {
		where := []string{"id >= ?", "id < ?", "sdkappid = ?"}
		args := []any{lo, idAt(q.To), int64(q.SDKAppID)}
		if q.RoomKey != "" {
			where, args = append(where, "room_key = ?"), append(args, q.RoomKey)
		}
		if q.UserRef != nil {
			where, args = append(where, "user_ref = ?"), append(args, q.UserRef)
		}
		if q.Section != "" {
			where, args = append(where, "section = ?"), append(args, q.Section)
		}
		if len(q.Sections) > 0 {
			where = append(where, "section IN ("+strings.Repeat("?, ", len(q.Sections)-1)+"?)")
			for _, sec := range q.Sections {
				args = append(args, sec)
			}
		}
		args = append(args, q.Limit-len(out))
		rows, err := db.read.QueryContext(ctx, `SELECT id, room_key, user_ref, device_ref, section, data FROM `+name+
			` WHERE `+strings.Join(where, " AND ")+` ORDER BY id LIMIT ?`, args...)
		if err != nil {
			return nil, fmt.Errorf("sqlite: query %s: %w", name, err)
		}
		for rows.Next() {
			var id int64
			var data string
			r := store.TelemetryRecord{SDKAppID: q.SDKAppID}
			if err := rows.Scan(&id, &r.RoomKey, &r.UserRef, &r.DeviceRef, &r.Section, &data); err != nil {
				rows.Close()
				return nil, err
			}
			r.At, r.ID = time.UnixMilli(id>>idSeqBits).UTC(), id
			var ok bool
			if r.Data, ok, err = db.openTelemetryData(ctx, r, data); err != nil {
				rows.Close()
				return nil, err
			}
			if ok || q.KeepErased {
				out = append(out, r)
			}
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, err
		}
		if len(out) >= q.Limit {
			break
		}
	}
	return out, nil
}

// TelemetryPartitions lists the day tables with their row counts.
func (db *DB) TelemetryPartitions(ctx context.Context) ([]store.TelemetryPartition, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT day, table_name FROM telemetry_partitions ORDER BY day`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: telemetry partitions: %w", err)
	}
	type part struct{ day, name string }
	var parts []part
	for rows.Next() {
		var p part
		if err := rows.Scan(&p.day, &p.name); err != nil {
			rows.Close()
			return nil, err
		}
		parts = append(parts, p)
	}
	rows.Close()
	out := make([]store.TelemetryPartition, 0, len(parts))
	for _, p := range parts {
		day, err := time.Parse("20060102", p.day)
		if err != nil {
			return nil, fmt.Errorf("sqlite: bad partition day %q: %w", p.day, err)
		}
		var n int64
		if err := db.read.QueryRowContext(ctx, `SELECT count(*) FROM `+p.name).Scan(&n); err != nil {
			return nil, fmt.Errorf("sqlite: count %s: %w", p.name, err)
		}
		out = append(out, store.TelemetryPartition{Day: day, Rows: n})
	}
	return out, nil
}

// DropTelemetryPartition drops a whole day: one DROP TABLE instead of
// deleting its rows one by one.
func (db *DB) DropTelemetryPartition(ctx context.Context, day time.Time) (err error) {
	name, key := partitionName(dayOf(day))
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: drop %s: %w", name, err)
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, rollback(tx))
		}
	}()
	if _, err = tx.ExecContext(ctx, `DROP TABLE IF EXISTS `+name); err != nil {
		return fmt.Errorf("sqlite: drop %s: %w", name, err)
	}
	if _, err = tx.ExecContext(ctx, `DELETE FROM telemetry_partitions WHERE day = ?`, key); err != nil {
		return fmt.Errorf("sqlite: unregister %s: %w", name, err)
	}
	return tx.Commit()
}

// AppendAudit appends one audit event.
func (db *DB) AppendAudit(ctx context.Context, ev store.AuditEvent) error {
	_, err := db.write.ExecContext(ctx, `INSERT INTO audit_events (at_ms, sdkappid, kind, detail) VALUES (?, ?, ?, ?)`,
		ev.At.UnixMilli(), int64(ev.SDKAppID), ev.Kind, string(ev.Detail))
	if err != nil {
		return fmt.Errorf("sqlite: append audit: %w", err)
	}
	return nil
}

// ListAudit returns an app's newest audit events of a kind ("" = all).
func (db *DB) ListAudit(ctx context.Context, sdkAppID uint32, kind string, limit int) ([]store.AuditEvent, error) {
	if limit <= 0 {
		limit = 100
	}
	rows, err := db.read.QueryContext(ctx, `SELECT at_ms, kind, detail FROM audit_events
		WHERE sdkappid = ? AND (? = '' OR kind = ?) ORDER BY id DESC LIMIT ?`, int64(sdkAppID), kind, kind, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list audit: %w", err)
	}
	defer rows.Close()
	var out []store.AuditEvent
	for rows.Next() {
		var at int64
		var detail string
		ev := store.AuditEvent{SDKAppID: sdkAppID}
		if err := rows.Scan(&at, &ev.Kind, &detail); err != nil {
			return nil, err
		}
		ev.At, ev.Detail = time.UnixMilli(at).UTC(), []byte(detail)
		out = append(out, ev)
	}
	return out, rows.Err()
}
