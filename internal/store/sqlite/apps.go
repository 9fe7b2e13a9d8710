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
	billing_mode, enforce_private_map_key, created_at, minor_audience, message_retention_days`

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
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		int64(a.SDKAppID), a.Name, a.SealedSecret, a.SecretKeyID,
		a.Settings.Recording, a.Settings.Relay, string(a.Settings.BillingMode),
		a.Settings.EnforcePrivateMapKey, a.CreatedAt.UnixMicro(), a.Settings.MinorAudience, a.Settings.MessageRetentionDays)
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
		SET recording = ?, relay = ?, billing_mode = ?, enforce_private_map_key = ?, minor_audience = ?,
			message_retention_days = ?
		WHERE sdkappid = ?`,
		s.Recording, s.Relay, string(s.BillingMode), s.EnforcePrivateMapKey, s.MinorAudience,
		s.MessageRetentionDays, int64(sdkAppID))
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
		&a.Settings.EnforcePrivateMapKey, &created, &a.Settings.MinorAudience, &a.Settings.MessageRetentionDays)
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

// --- message retention per app (RETAIN-3) ---

// appMessageLimits returns the apps that chose their own message
// retention (message_retention_days > 0), in days.
func (db *DB) appMessageLimits(ctx context.Context) (map[uint32]int64, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT sdkappid, message_retention_days FROM apps WHERE message_retention_days > 0`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: app message retention: %w", err)
	}
	defer rows.Close()
	out := map[uint32]int64{}
	for rows.Next() {
		var id, days int64
		if err := rows.Scan(&id, &days); err != nil {
			return nil, fmt.Errorf("sqlite: app message retention: %w", err)
		}
		out[uint32(id)] = days
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: app message retention: %w", err)
	}
	return out, nil
}

// nextIMDayApp is the first app after after with messages on day, found
// by one seek in the (day, sdkappid) index, so the sweep visits an app's
// day without reading its rows.
func (db *DB) nextIMDayApp(ctx context.Context, day, after int64) (int64, bool, error) {
	var a sql.NullInt64
	if err := db.read.QueryRowContext(ctx, `SELECT min(sdkappid) FROM im_messages WHERE day = ? AND sdkappid > ?`,
		day, after).Scan(&a); err != nil {
		return 0, false, fmt.Errorf("sqlite: messages of day %d: %w", day, err)
	}
	return a.Int64, a.Valid, nil
}

// SweepIMMessagesPerApp is the message sweep with each app's own limit
// (RETAIN-3): an app whose message_retention_days is N loses the whole
// UTC days that end more than N days before now, whether N is shorter or
// longer than the server's limit; the other apps (and deleted ones) go by
// before, the server's im.retention cut-off. As in SweepIMMessages,
// messages go by whole days, legal holds keep what they cover (checked
// inside each DELETE), extensions go by cascade and seqs are never
// reused. Held counts the rows past their app's limit that holds kept.
func (db *DB) SweepIMMessagesPerApp(ctx context.Context, before, now time.Time) (store.SweepCount, error) {
	return db.sweepIMMessagesPerApp(ctx, before, now, sweepBatch)
}

func (db *DB) sweepIMMessagesPerApp(ctx context.Context, before, now time.Time, batch int) (store.SweepCount, error) {
	limits, err := db.appMessageLimits(ctx)
	if err != nil {
		return store.SweepCount{}, err
	}
	// Days < end(app) are wholly past the app's limit: imDay(now - N
	// days) is today - N, as days are whole multiples of 86400 s.
	today, defEnd := imDay(now), imDay(before)
	end := func(app int64) int64 {
		if n, ok := limits[uint32(app)]; ok {
			return today - n
		}
		return defEnd
	}
	last := defEnd // no app keeps a day past this one
	for _, n := range limits {
		last = max(last, today-n)
	}
	var c store.SweepCount
	for day := int64(math.MinInt64); ; {
		next, ok, err := db.nextIMDay(ctx, day)
		if err != nil {
			return c, err
		}
		if !ok || next >= last {
			break
		}
		day = next
		for app := int64(0); ; {
			if app, ok, err = db.nextIMDayApp(ctx, day, app); err != nil || !ok {
				if err != nil {
					return c, fmt.Errorf("sqlite: sweep messages: %w", err)
				}
				break
			}
			if day >= end(app) {
				continue
			}
			n, err := db.deleteBatches(ctx, batch, `DELETE FROM im_messages WHERE rowid IN
				(SELECT t.rowid FROM im_messages t WHERE t.day = ? AND t.sdkappid = ? AND NOT `+heldMessage+` LIMIT ?)`,
				day, app, now.UnixMilli())
			c.Deleted += n
			if err != nil {
				return c, fmt.Errorf("sqlite: sweep messages: %w", err)
			}
			held, err := db.count(ctx, `SELECT count(*) FROM im_messages WHERE day = ? AND sdkappid = ?`, day, app)
			if err != nil {
				return c, fmt.Errorf("sqlite: sweep messages: %w", err)
			}
			c.Held += held
		}
	}
	return c, nil
}

// IMMessagesOverdue reports, for the retention status, how far the unheld
// message furthest past its own app's limit is past that limit (negative
// when every message is within it): apps with message_retention_days use
// theirs, the others def (im.retention). ok is false when no message is
// unheld. A store whose limit varies by app cannot be judged by its
// oldest message alone: a ten-year app's history is not late under a
// seven-day server default.
func (db *DB) IMMessagesOverdue(ctx context.Context, now time.Time, def time.Duration) (time.Duration, bool, error) {
	limits, err := db.appMessageLimits(ctx)
	if err != nil {
		return 0, false, err
	}
	ms := now.UnixMilli()
	var over time.Duration
	found := false
	consider := func(at time.Time, limit time.Duration) {
		if o := now.Sub(at) - limit; !found || o > over {
			over, found = o, true
		}
	}
	oldestOnDay := func(day, app int64) (time.Time, bool, error) {
		return db.firstTime(ctx, "message", `SELECT min(t.at) FROM im_messages t WHERE t.day = ? AND t.sdkappid = ? AND NOT `+
			heldMessage, imTime, day, app, ms)
	}
	for app, days := range limits {
		var day int64
		err := db.read.QueryRowContext(ctx, `SELECT t.day FROM im_messages t WHERE t.sdkappid = ? AND NOT `+heldMessage+
			` ORDER BY t.day LIMIT 1`, int64(app), ms).Scan(&day)
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil {
			return 0, false, fmt.Errorf("sqlite: oldest message of app %d: %w", app, err)
		}
		at, ok, err := oldestOnDay(day, int64(app))
		if err != nil {
			return 0, false, err
		}
		if ok {
			consider(at, time.Duration(days)*24*time.Hour)
		}
	}
	// The other apps share def: the first day with an unheld message of
	// one of them holds their oldest; the walk seeks past the days and
	// apps that keep their own limit without reading their rows.
	for day := int64(math.MinInt64); ; {
		next, ok, err := db.nextIMDay(ctx, day)
		if err != nil || !ok {
			return over, found, err
		}
		day = next
		var oldest time.Time
		for app := int64(0); ; {
			if app, ok, err = db.nextIMDayApp(ctx, day, app); err != nil {
				return 0, false, err
			} else if !ok {
				break
			}
			if _, own := limits[uint32(app)]; own {
				continue
			}
			at, ok, err := oldestOnDay(day, app)
			if err != nil {
				return 0, false, err
			}
			if ok && (oldest.IsZero() || at.Before(oldest)) {
				oldest = at
			}
		}
		if !oldest.IsZero() {
			consider(oldest, def)
			return over, found, nil
		}
	}
}
