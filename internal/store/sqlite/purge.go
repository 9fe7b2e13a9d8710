package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/parley-rtc/parley/internal/store"
)

// notPurged are the tables with an sdkappid column that the purge of a
// terminated app leaves alone: the termination record itself, the holds
// (deleted by the purge only once they end), and bookkeeping that holds
// no app data. The Merkle audit log (audit_log_*) has no sdkappid column
// and is append-only by design: its records are commitments, never
// personal information.
var notPurged = map[string]bool{
	"app_terminations":     true,
	"legal_holds":          true,
	"app_id_seq":           true,
	"schema_migrations":    true,
	"telemetry_partitions": true,
}

// purgeTable is one table the purge deletes an app's rows from.
type purgeTable struct {
	name string // quoted
	key  string // the row key: rowid or a primary-key row value
	tkey string // the key's columns over alias t, as a select list
	held string // hold condition over alias t (one parameter: now)
}

// purgeTables finds, in the live schema, every table with an sdkappid
// column, so a store added later (subject_keys …) is purged without a
// change here. Tables that reference others come first, so a foreign key
// without ON DELETE CASCADE never blocks the purge.
func (db *DB) purgeTables(ctx context.Context) ([]purgeTable, error) {
	names, err := db.textColumn(ctx, `SELECT m.name FROM sqlite_master m
		WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite!_%' ESCAPE '!'
		AND EXISTS (SELECT 1 FROM pragma_table_info(m.name) c WHERE c.name = 'sdkappid')
		ORDER BY m.name`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: purge: list tables: %w", err)
	}
	kept, err := db.appendOnlyTables(ctx)
	if err != nil {
		return nil, err
	}
	names = slices.DeleteFunc(names, func(n string) bool {
		return notPurged[n] || kept[n] || strings.HasPrefix(n, "audit_log_")
	})
	parents := make(map[string][]string, len(names))
	for _, n := range names {
		if parents[n], err = db.textColumn(ctx, `SELECT DISTINCT "table" FROM pragma_foreign_key_list(?)`, n); err != nil {
			return nil, fmt.Errorf("sqlite: purge: foreign keys of %s: %w", n, err)
		}
	}
	out := make([]purgeTable, 0, len(names))
	for _, n := range childrenFirst(names, parents) {
		pk, err := db.textColumn(ctx, `SELECT name FROM pragma_table_info(?) WHERE pk > 0 ORDER BY pk`, n)
		if err != nil {
			return nil, fmt.Errorf("sqlite: purge: primary key of %s: %w", n, err)
		}
		out = append(out, purgeTable{name: quoteIdent(n), key: rowKey("", pk), tkey: rowKey("t.", pk), held: purgeHeld(n)})
	}
	return out, nil
}

// appendOnlyTables are the tables whose rows must outlive their app: a
// BEFORE DELETE trigger that raises an error declares a table
// append-only (incident notices, say), and the purge leaves it alone
// rather than fail on it. A table whose rows go with a terminated app
// conditions its trigger on app_terminations, as policy_versions does.
func (db *DB) appendOnlyTables(ctx context.Context) (map[string]bool, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT tbl_name, coalesce(sql, '') FROM sqlite_master WHERE type = 'trigger'`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: purge: list triggers: %w", err)
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var table, def string
		if err := rows.Scan(&table, &def); err != nil {
			return nil, fmt.Errorf("sqlite: purge: list triggers: %w", err)
		}
		def = strings.ToUpper(strings.Join(strings.Fields(def), " "))
		if strings.Contains(def, "BEFORE DELETE ON") && strings.Contains(def, "RAISE") && !strings.Contains(def, "APP_TERMINATIONS") {
			out[table] = true
		}
	}
	return out, rows.Err()
}

// purgeHeld is the hold condition of a table's rows: app-wide holds keep
// every table; subject holds keep the subject's messages (with their
// extensions) and telemetry.
func purgeHeld(table string) string {
	switch {
	case table == "im_messages":
		return heldMessage
	case table == "im_extensions":
		return `EXISTS (SELECT 1 FROM im_messages m WHERE m.sdkappid = t.sdkappid AND m.conv_id = t.conv_id
			AND m.seq = t.seq AND ` + holdCovers("m.sdkappid", "h.subject = m.sender") + `)`
	case strings.HasPrefix(table, "telemetry_d"):
		return heldTelemetry
	default:
		return heldApp
	}
}

// rowKey names a row by its primary key, or its rowid when it declares
// none: as a row value to compare, or, with an alias, as the select list
// of the subquery it is compared with.
func rowKey(alias string, pk []string) string {
	if len(pk) == 0 {
		return alias + "rowid"
	}
	cols := make([]string, len(pk))
	for i, c := range pk {
		cols[i] = alias + quoteIdent(c)
	}
	if len(cols) == 1 || alias != "" {
		return strings.Join(cols, ", ") // a select list
	}
	return "(" + strings.Join(cols, ", ") + ")" // a row value
}

// childrenFirst orders tables so that each comes before every table it
// references; a cycle (none exists today) falls back to name order.
func childrenFirst(names []string, parents map[string][]string) []string {
	left := slices.Clone(names)
	out := make([]string, 0, len(names))
	for len(left) > 0 {
		i := slices.IndexFunc(left, func(n string) bool {
			return !slices.ContainsFunc(left, func(o string) bool { return o != n && slices.Contains(parents[o], n) })
		})
		if i < 0 {
			i = 0
		}
		out = append(out, left[i])
		left = slices.Delete(left, i, i+1)
	}
	return out
}

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// textColumn runs a query returning one text column.
func (db *DB) textColumn(ctx context.Context, query string, args ...any) ([]string, error) {
	rows, err := db.read.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// AppTerminations implements store.RetentionStore.
func (db *DB) AppTerminations(ctx context.Context, all bool) ([]store.AppTermination, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT sdkappid, terminated_at, coalesce(purged_at, 0) FROM app_terminations
		WHERE ? OR purged_at IS NULL ORDER BY terminated_at, sdkappid`, all)
	if err != nil {
		return nil, fmt.Errorf("sqlite: app terminations: %w", err)
	}
	defer rows.Close()
	var out []store.AppTermination
	for rows.Next() {
		var app, at, purged int64
		if err := rows.Scan(&app, &at, &purged); err != nil {
			return nil, fmt.Errorf("sqlite: app terminations: %w", err)
		}
		t := store.AppTermination{SDKAppID: uint32(app), TerminatedAt: fromMilli(at)}
		if purged != 0 {
			t.PurgedAt = fromMilli(purged)
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// OldestPendingTermination implements store.RetentionStore.
func (db *DB) OldestPendingTermination(ctx context.Context, now time.Time) (time.Time, bool, error) {
	return db.firstTime(ctx, "termination", `SELECT min(a.terminated_at) FROM app_terminations a
		WHERE a.purged_at IS NULL AND NOT EXISTS (SELECT 1 FROM legal_holds h
			WHERE h.sdkappid = a.sdkappid AND h.released_at IS NULL AND h.expires_at > ?)`,
		fromMilli, now.UnixMilli())
}

// PurgeTerminatedApps implements store.RetentionStore (RETAIN-2): every
// pending termination is purged at once, whatever its age.
func (db *DB) PurgeTerminatedApps(ctx context.Context, now time.Time) (store.SweepCount, error) {
	return db.purgeTerminatedApps(ctx, now, sweepBatch)
}

func (db *DB) purgeTerminatedApps(ctx context.Context, now time.Time, batch int) (store.SweepCount, error) {
	pending, err := db.AppTerminations(ctx, false)
	if err != nil || len(pending) == 0 {
		return store.SweepCount{}, err
	}
	tables, err := db.purgeTables(ctx)
	if err != nil {
		return store.SweepCount{}, err
	}
	var (
		total store.SweepCount
		errs  []error
	)
	for _, t := range pending {
		c, err := db.purgeApp(ctx, t.SDKAppID, tables, now, batch)
		total = total.Add(c)
		if err != nil {
			errs = append(errs, err)
		}
		if ctx.Err() != nil {
			break
		}
	}
	return total, errors.Join(errs...)
}

// purgeApp deletes one terminated app's rows from every table in
// batches, then its ended holds, and marks it purged when nothing is
// left and no hold is in force. A table that fails is reported and the
// others are still purged; the app then stays pending.
func (db *DB) purgeApp(ctx context.Context, app uint32, tables []purgeTable, now time.Time, batch int) (store.SweepCount, error) {
	var (
		c    store.SweepCount
		errs []error
	)
	for _, t := range tables {
		tc, err := db.purgeAppTable(ctx, app, t, now, batch)
		c = c.Add(tc)
		if err != nil {
			errs = append(errs, fmt.Errorf("sqlite: purge app %d from %s: %w", app, t.name, err))
		}
		if ctx.Err() != nil {
			return c, errors.Join(errs...)
		}
	}
	n, err := db.finishPurge(ctx, app, c.Held == 0 && len(errs) == 0, now)
	c.Deleted += n
	return c, errors.Join(append(errs, err)...)
}

// purgeAppTable deletes an app's unheld rows from one table and counts
// the held rows left.
func (db *DB) purgeAppTable(ctx context.Context, app uint32, t purgeTable, now time.Time, batch int) (store.SweepCount, error) {
	n, err := db.deleteBatches(ctx, batch, `DELETE FROM `+t.name+` WHERE `+t.key+` IN
		(SELECT `+t.tkey+` FROM `+t.name+` t WHERE t.sdkappid = ? AND NOT `+t.held+` LIMIT ?)`, int64(app), now.UnixMilli())
	if err != nil {
		return store.SweepCount{Deleted: n}, err
	}
	left, err := db.count(ctx, `SELECT count(*) FROM `+t.name+` WHERE sdkappid = ?`, int64(app))
	return store.SweepCount{Deleted: n, Held: left}, err
}

// finishPurge deletes the app's ended holds and, when empty and no hold
// remains in force, records the purge.
func (db *DB) finishPurge(ctx context.Context, app uint32, empty bool, now time.Time) (int64, error) {
	var n int64
	err := db.imTx(ctx, "finish purge", func(tx *sql.Tx) error {
		var err error
		n, err = affectedRows(tx.ExecContext(ctx, `DELETE FROM legal_holds
			WHERE sdkappid = ? AND NOT (released_at IS NULL AND expires_at > ?)`, int64(app), now.UnixMilli()))
		if err != nil {
			return fmt.Errorf("sqlite: purge holds of app %d: %w", app, err)
		}
		if !empty {
			return nil
		}
		_, err = tx.ExecContext(ctx, `UPDATE app_terminations SET purged_at = ?
			WHERE sdkappid = ? AND NOT EXISTS (SELECT 1 FROM legal_holds WHERE sdkappid = ?)`,
			now.UnixMilli(), int64(app), int64(app))
		if err != nil {
			return fmt.Errorf("sqlite: mark app %d purged: %w", app, err)
		}
		return nil
	})
	return n, err
}
