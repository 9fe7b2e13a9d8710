package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parley-rtc/parley/internal/store"
)

// Ledger entries recorded before migration 0013 name their users and
// devices in clear. The migration cannot compute references (they need
// the KEK), so it moves those rows unchanged to consent_ledger_legacy; the
// first ledger operation of a process converts them here, in batches,
// keeping their ids, then drops the table. The table's absence is the
// marker that the conversion is done; a per-DB flag spares later calls
// the check.

// legacyConsentBatch bounds one conversion transaction.
const legacyConsentBatch = 500

// legacyConsent records whether a DB's pre-0013 ledger is converted.
// Its mutex serialises conversions within the process; BEGIN IMMEDIATE
// serialises them between processes.
type legacyConsent struct {
	mu   sync.Mutex
	done atomic.Bool
}

// consentReady makes sure the ledger can be used: the database has subject
// keys and no entry is left in the legacy table.
func (db *DB) consentReady(ctx context.Context) error {
	if err := db.haveKeys(); err != nil {
		return err
	}
	if db.legacy.done.Load() {
		return nil
	}
	db.legacy.mu.Lock()
	defer db.legacy.mu.Unlock()
	if db.legacy.done.Load() {
		return nil
	}
	if err := db.convertLegacyConsent(ctx); err != nil {
		return fmt.Errorf("convert pre-0013 consent ledger: %w", err)
	}
	db.legacy.done.Store(true)
	return nil
}

// convertLegacyConsent moves every legacy entry into consent_ledger under
// references and sealed values, then drops the legacy table.
func (db *DB) convertLegacyConsent(ctx context.Context) error {
	for {
		exists, err := legacyConsentExists(ctx, db.read)
		if err != nil || !exists {
			return err
		}
		batch, err := readLegacyConsent(ctx, db.read, math.MaxInt64)
		if err != nil {
			return err
		}
		if len(batch) > 0 {
			users := map[uint32][]string{}
			for _, e := range batch {
				users[e.SDKAppID] = append(users[e.SDKAppID], e.UserID)
			}
			for app, us := range users {
				slices.Sort(us)
				if err := db.ensureKeys(ctx, app, slices.Compact(us)...); err != nil {
					return err
				}
			}
		}
		var done bool
		err = db.inTx(ctx, func(tx *sql.Tx) error {
			// Another process may have converted some or all of it.
			exists, err := legacyConsentExists(ctx, tx)
			if err != nil || !exists {
				done = true
				return err
			}
			last := int64(0)
			if len(batch) > 0 {
				last = batch[len(batch)-1].ID
			}
			rs, err := readLegacyConsent(ctx, tx, last)
			if err != nil {
				return err
			}
			for _, e := range rs {
				if err := db.insertConsent(ctx, tx, e); err != nil {
					return fmt.Errorf("entry %d: %w", e.ID, err)
				}
				if _, err := tx.ExecContext(ctx, `DELETE FROM consent_ledger_legacy WHERE id = ?`, e.ID); err != nil {
					return fmt.Errorf("entry %d: %w", e.ID, err)
				}
			}
			var left int
			if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM (SELECT 1 FROM consent_ledger_legacy LIMIT 1)`).Scan(&left); err != nil {
				return err
			}
			if left > 0 {
				return nil
			}
			done = true
			_, err = tx.ExecContext(ctx, `DROP TABLE consent_ledger_legacy`)
			return err
		})
		if err != nil || done {
			return err
		}
	}
}

func legacyConsentExists(ctx context.Context, q queryer) (bool, error) {
	var n int
	err := q.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'consent_ledger_legacy'`).Scan(&n)
	return n > 0, err
}

type rowsQueryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// readLegacyConsent reads the oldest legacy rows with id <= upTo.
func readLegacyConsent(ctx context.Context, q rowsQueryer, upTo int64) ([]store.ConsentEntry, error) {
	rows, err := q.QueryContext(ctx, `SELECT id, sdkappid, user_id, device_id, action, policy_version, purposes,
		method, age_band, guardian_ref, recorded_at, device_granted_at
		FROM consent_ledger_legacy WHERE id <= ? ORDER BY id LIMIT ?`, upTo, legacyConsentBatch)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.ConsentEntry
	for rows.Next() {
		var (
			e                store.ConsentEntry
			app              int64
			action, purposes string
			recorded         int64
			granted          sql.NullInt64
		)
		if err := rows.Scan(&e.ID, &app, &e.UserID, &e.DeviceID, &action, &e.PolicyVersion, &purposes,
			&e.Method, &e.AgeBand, &e.GuardianRef, &recorded, &granted); err != nil {
			return nil, err
		}
		if app <= 0 || app > math.MaxUint32 {
			return nil, fmt.Errorf("entry %d: sdkappid %d out of range", e.ID, app)
		}
		e.SDKAppID = uint32(app)
		e.Action = store.ConsentAction(action)
		if purposes != "" {
			e.Purposes = strings.Split(purposes, ",")
		}
		e.RecordedAt = time.UnixMicro(recorded).UTC()
		if granted.Valid {
			e.DeviceGrantedAt = time.UnixMicro(granted.Int64).UTC()
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}
