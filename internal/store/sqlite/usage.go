package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/parley-rtc/parley/internal/store"
)

// UsageDay is one app's usage on one UTC day, for billing
// (docs/console.md, "Usage for billing"): counts only, never a user id.
type UsageDay struct {
	SDKAppID uint32
	// Day is the UTC day, at 00:00 UTC.
	Day time.Time
	// ParticipantMS is participant time, entry to exit, summed over
	// every participant of every room of the app.
	ParticipantMS int64
	// PeakRooms is the most rooms with a participant open at once.
	PeakRooms int
}

// UsageRetention is how long usage rows are kept (the usage_daily
// retention target): 400 days, a year of invoices and a month to dispute
// the last one. Usage holds no personal information, but everything
// stored has a limit.
const UsageRetention = 400 * 24 * time.Hour

// ErrInvalidUsage means a usage delta cannot be stored: no app, a
// negative count or a day that is not 00:00 UTC.
var ErrInvalidUsage = errors.New("sqlite: invalid usage")

func usageDay(t time.Time) string { return t.UTC().Format(time.DateOnly) }

// AddUsage adds deltas to the usage rows in one transaction: participant
// time adds up, the peak keeps the larger of the stored and the new one.
// Either every delta is added or none is, so the caller can retry a
// failed batch without counting twice.
func (db *DB) AddUsage(ctx context.Context, deltas []UsageDay) error {
	for _, d := range deltas {
		switch {
		case d.SDKAppID == 0:
			return fmt.Errorf("%w: sdkappid 0", ErrInvalidUsage)
		case d.ParticipantMS < 0 || d.PeakRooms < 0:
			return fmt.Errorf("%w: app %d, %s: negative count", ErrInvalidUsage, d.SDKAppID, usageDay(d.Day))
		case !d.Day.Equal(dayOf(d.Day)):
			return fmt.Errorf("%w: app %d: day %s is not 00:00 UTC", ErrInvalidUsage, d.SDKAppID, d.Day.Format(time.RFC3339))
		}
	}
	if len(deltas) == 0 {
		return nil
	}
	return db.imTx(ctx, "add usage", func(tx *sql.Tx) error {
		for _, d := range deltas {
			if _, err := tx.ExecContext(ctx, `INSERT INTO usage_daily (sdkappid, day, participant_ms, peak_rooms)
				VALUES (?, ?, ?, ?)
				ON CONFLICT (sdkappid, day) DO UPDATE SET
					participant_ms = participant_ms + excluded.participant_ms,
					peak_rooms = max(peak_rooms, excluded.peak_rooms)`,
				int64(d.SDKAppID), usageDay(d.Day), d.ParticipantMS, d.PeakRooms); err != nil {
				return fmt.Errorf("sqlite: add usage of app %d: %w", d.SDKAppID, err)
			}
		}
		return nil
	})
}

// Usage returns the app's stored usage from the day of from to the day
// of to, both included, oldest first; days without a row are left out.
func (db *DB) Usage(ctx context.Context, sdkAppID uint32, from, to time.Time) ([]UsageDay, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT day, participant_ms, peak_rooms FROM usage_daily
		WHERE sdkappid = ? AND day BETWEEN ? AND ? ORDER BY day`, int64(sdkAppID), usageDay(from), usageDay(to))
	if err != nil {
		return nil, fmt.Errorf("sqlite: usage of app %d: %w", sdkAppID, err)
	}
	defer rows.Close()
	var out []UsageDay
	for rows.Next() {
		u := UsageDay{SDKAppID: sdkAppID}
		var day string
		if err := rows.Scan(&day, &u.ParticipantMS, &u.PeakRooms); err != nil {
			return nil, fmt.Errorf("sqlite: usage of app %d: %w", sdkAppID, err)
		}
		if u.Day, err = time.Parse(time.DateOnly, day); err != nil {
			return nil, fmt.Errorf("sqlite: usage of app %d: bad day %q: %w", sdkAppID, day, err)
		}
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: usage of app %d: %w", sdkAppID, err)
	}
	return out, nil
}

// OldestUsage is the retention target's Oldest: the start of the oldest
// day of a row no app-wide legal hold in force at now keeps.
func (db *DB) OldestUsage(ctx context.Context, now time.Time) (time.Time, bool, error) {
	var day sql.NullString
	err := db.read.QueryRowContext(ctx, `SELECT min(t.day) FROM usage_daily t WHERE NOT `+heldApp, now.UnixMilli()).Scan(&day)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("sqlite: oldest usage: %w", err)
	}
	if !day.Valid {
		return time.Time{}, false, nil
	}
	t, err := time.Parse(time.DateOnly, day.String)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("sqlite: oldest usage: bad day %q: %w", day.String, err)
	}
	return t, true, nil
}

// SweepUsage is the retention target's Sweep: it deletes the days that
// ended before before, except those of apps an app-wide legal hold in
// force at now keeps (a hold on an app keeps every row of it in every
// store, docs/retention.md), and counts what holds kept.
func (db *DB) SweepUsage(ctx context.Context, before, now time.Time) (store.SweepCount, error) {
	return db.sweepUsage(ctx, before, now, sweepBatch)
}

func (db *DB) sweepUsage(ctx context.Context, before, now time.Time, batch int) (store.SweepCount, error) {
	cut := usageDay(dayOf(before)) // days < cut ended at or before before
	var c store.SweepCount
	n, err := db.deleteBatches(ctx, batch, `DELETE FROM usage_daily WHERE (sdkappid, day) IN
		(SELECT t.sdkappid, t.day FROM usage_daily t WHERE t.day < ? AND NOT `+heldApp+` LIMIT ?)`, cut, now.UnixMilli())
	c.Deleted = n
	if err != nil {
		return c, fmt.Errorf("sqlite: sweep usage: %w", err)
	}
	if c.Held, err = db.count(ctx, `SELECT count(*) FROM usage_daily WHERE day < ?`, cut); err != nil {
		return c, fmt.Errorf("sqlite: sweep usage: %w", err)
	}
	return c, nil
}
