package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/parley-rtc/parley/internal/store"
)

// Data-subject queries across stores (package dsr). Rows are found by the
// subject's blind-index reference; for telemetry that is the same 16
// bytes as the user_ref pseudonym (keyring.IndexLabel).

// eraseBatch bounds one DELETE statement, so the single write connection
// is never held for long by one erasure.
const eraseBatch = 10_000

// telemetryRef is the user's telemetry pseudonym.
func (db *DB) telemetryRef(sdkAppID uint32, kind, id string) []byte {
	if db.keys == nil {
		return nil
	}
	return db.keys.index.Sum(sdkAppID, kind, id)
}

// subjectFilter is the WHERE clause and arguments selecting a user's (or
// one of their devices') telemetry rows.
func (db *DB) subjectFilter(sdkAppID uint32, userID, deviceID string) (string, []any) {
	where := `sdkappid = ? AND user_ref = ?`
	args := []any{sdkAppID, db.telemetryRef(sdkAppID, "user", userID)}
	if deviceID != "" {
		where += ` AND device_ref = ?`
		args = append(args, db.telemetryRef(sdkAppID, "device", deviceID))
	}
	return where, args
}

// EraseTelemetrySubject deletes the user's telemetry rows in every day
// partition (all devices when deviceID is "").
func (db *DB) EraseTelemetrySubject(ctx context.Context, sdkAppID uint32, userID, deviceID string) (int64, error) {
	if err := db.haveKeys(); err != nil {
		return 0, err
	}
	tables, err := db.telemetryTables(ctx)
	if err != nil {
		return 0, err
	}
	where, args := db.subjectFilter(sdkAppID, userID, deviceID)
	var total int64
	for _, tbl := range tables {
		t := tbl.name
		for {
			res, err := db.write.ExecContext(ctx, `DELETE FROM `+t+` WHERE id IN (SELECT id FROM `+t+` WHERE `+where+` LIMIT `+fmt.Sprint(eraseBatch)+`)`, args...)
			if err != nil {
				return total, fmt.Errorf("sqlite: erase telemetry in %s: %w", t, err)
			}
			n, _ := res.RowsAffected()
			total += n
			if n < eraseBatch {
				break
			}
		}
	}
	return total, nil
}

// CountTelemetrySubject counts the user's telemetry rows.
func (db *DB) CountTelemetrySubject(ctx context.Context, sdkAppID uint32, userID, deviceID string) (int64, error) {
	if err := db.haveKeys(); err != nil {
		return 0, err
	}
	tables, err := db.telemetryTables(ctx)
	if err != nil {
		return 0, err
	}
	where, args := db.subjectFilter(sdkAppID, userID, deviceID)
	var total int64
	for _, tbl := range tables {
		t := tbl.name
		var n int64
		if err := db.read.QueryRowContext(ctx, `SELECT count(*) FROM `+t+` WHERE `+where, args...).Scan(&n); err != nil {
			return 0, fmt.Errorf("sqlite: count telemetry in %s: %w", t, err)
		}
		total += n
	}
	return total, nil
}

// ExportTelemetrySubject returns the user's telemetry rows, oldest first.
func (db *DB) ExportTelemetrySubject(ctx context.Context, sdkAppID uint32, userID string) ([]store.TelemetryRecord, error) {
	if err := db.haveKeys(); err != nil {
		return nil, err
	}
	tables, err := db.telemetryTables(ctx)
	if err != nil {
		return nil, err
	}
	where, args := db.subjectFilter(sdkAppID, userID, "")
	var out []store.TelemetryRecord
	for _, tbl := range tables {
		t := tbl.name
		err := func() error {
			rows, err := db.read.QueryContext(ctx, `SELECT id, room_key, user_ref, device_ref, section, data FROM `+t+` WHERE `+where+` ORDER BY id`, args...)
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				r := store.TelemetryRecord{SDKAppID: sdkAppID}
				var id int64
				var data string
				if err := rows.Scan(&id, &r.RoomKey, &r.UserRef, &r.DeviceRef, &r.Section, &data); err != nil {
					return err
				}
				r.At = time.UnixMilli(id >> idSeqBits).UTC()
				var ok bool
				var err error
				if r.Data, ok, err = db.openTelemetryData(ctx, r, data); err != nil {
					return err
				}
				if ok {
					out = append(out, r)
				}
			}
			return rows.Err()
		}()
		if err != nil {
			return nil, fmt.Errorf("sqlite: export telemetry from %s: %w", t, err)
		}
	}
	return out, nil
}

// prefixScanner scans leading columns into pre, the rest into what its
// caller asks for: a row scanner over extra columns.
type prefixScanner struct {
	s   scanner
	pre []any
}

func (p prefixScanner) Scan(dest ...any) error { return p.s.Scan(append(p.pre, dest...)...) }

// EraseIMMemberships removes the user from every group of the app (and
// their pending applications). Groups the user owns keep existing with
// no owner: their other members' conversation is theirs too.
func (db *DB) EraseIMMemberships(ctx context.Context, sdkAppID uint32, userID string) (int64, error) {
	if err := db.haveKeys(); err != nil {
		return 0, err
	}
	ref := db.UserRef(sdkAppID, userID)
	var total int64
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		for _, q := range []string{
			`DELETE FROM im_group_members WHERE sdkappid = ? AND user_id = ?`,
			`DELETE FROM im_join_requests WHERE sdkappid = ? AND user_id = ?`,
			`UPDATE im_groups SET owner = '' WHERE sdkappid = ? AND owner = ?`,
		} {
			res, err := tx.ExecContext(ctx, q, sdkAppID, ref)
			if err != nil {
				return err
			}
			n, _ := res.RowsAffected()
			total += n
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("sqlite: erase memberships: %w", err)
	}
	return total, nil
}

// CountIMSubject counts what the messages store still holds readable
// about the user: messages they sent that are not tombstones, group
// memberships, read cursors and extensions they wrote.
func (db *DB) CountIMSubject(ctx context.Context, sdkAppID uint32, userID string) (int64, error) {
	if err := db.haveKeys(); err != nil {
		return 0, err
	}
	ref := db.UserRef(sdkAppID, userID)
	var n int64
	err := db.read.QueryRowContext(ctx, `SELECT
		(SELECT count(*) FROM im_messages WHERE sdkappid = ?1 AND sender = ?2 AND erased = 0)
		+ (SELECT count(*) FROM im_group_members WHERE sdkappid = ?1 AND user_id = ?2)
		+ (SELECT count(*) FROM im_join_requests WHERE sdkappid = ?1 AND user_id = ?2)
		+ (SELECT count(*) FROM im_cursors WHERE sdkappid = ?1 AND user_id = ?2)
		+ (SELECT count(*) FROM im_extensions WHERE sdkappid = ?1 AND writer = ?2)
		+ (SELECT count(*) FROM im_groups WHERE sdkappid = ?1 AND owner = ?2)`, sdkAppID, ref).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("sqlite: count messages of subject: %w", err)
	}
	return n, nil
}

// ExportIMSubject returns the messages the user sent in the app that
// still have content (not recalled or erased), oldest first per
// conversation: the "messages" part of a data-subject export.
func (db *DB) ExportIMSubject(ctx context.Context, sdkAppID uint32, userID string) ([]store.IMMessage, error) {
	r, err := db.imRefs()
	if err != nil {
		return nil, err
	}
	rows, err := db.read.QueryContext(ctx, `SELECT conv_id, `+messageColumns+` FROM im_messages
		WHERE sdkappid = ? AND sender = ? AND erased = 0 AND recalled = 0 ORDER BY conv_id, seq`,
		int64(sdkAppID), db.UserRef(sdkAppID, userID))
	if err != nil {
		return nil, fmt.Errorf("sqlite: export messages: %w", err)
	}
	type item struct {
		stored string
		row    imRow
	}
	var items []item
	err = func() error {
		defer rows.Close()
		for rows.Next() {
			var it item
			row, err := scanMessage(prefixScanner{rows, []any{&it.stored}})
			if err != nil {
				return err
			}
			it.row = row
			items = append(items, it)
		}
		return rows.Err()
	}()
	if err != nil {
		return nil, fmt.Errorf("sqlite: export messages: %w", err)
	}
	out := make([]store.IMMessage, 0, len(items))
	for _, it := range items {
		conv, ok, err := r.clearConv(ctx, db.read, sdkAppID, it.stored)
		if err != nil {
			return nil, fmt.Errorf("sqlite: export messages: %w", err)
		}
		if !ok {
			conv = "" // the peer was erased: the conversation has no name any more
		}
		m, err := r.message(ctx, db.read, sdkAppID, conv, it.stored, it.row)
		if err != nil {
			return nil, fmt.Errorf("sqlite: export messages: %w", err)
		}
		if !m.Erased {
			out = append(out, m)
		}
	}
	return out, nil
}

// pendingWebhooksMentioning lists the app's pending callback rows whose
// body names the user (as a JSON string). Finished rows keep no body.
func (db *DB) pendingWebhooksMentioning(ctx context.Context, sdkAppID uint32, userID string) ([]int64, error) {
	needle, err := json.Marshal(userID)
	if err != nil {
		return nil, err
	}
	rows, err := db.read.QueryContext(ctx, `SELECT `+webhookColumns+` FROM webhook_outbox WHERE sdkappid = ? AND state = 'pending'`, int64(sdkAppID))
	if err != nil {
		return nil, fmt.Errorf("sqlite: pending webhooks: %w", err)
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		w, err := db.scanWebhook(rows)
		if errors.Is(err, store.ErrErased) {
			continue // unreadable already
		}
		if err != nil {
			return nil, fmt.Errorf("sqlite: pending webhooks: %w", err)
		}
		if bytes.Contains(w.Body, needle) {
			ids = append(ids, w.ID)
		}
	}
	return ids, rows.Err()
}

// EraseWebhooksMentioning deletes the app's pending callbacks whose body
// names the user (they would carry the user's id or messages out after
// the erasure).
func (db *DB) EraseWebhooksMentioning(ctx context.Context, sdkAppID uint32, userID string) (int64, error) {
	ids, err := db.pendingWebhooksMentioning(ctx, sdkAppID, userID)
	if err != nil {
		return 0, err
	}
	var n int64
	for _, id := range ids {
		res, err := db.write.ExecContext(ctx, `DELETE FROM webhook_outbox WHERE id = ? AND state = 'pending'`, id)
		if err != nil {
			return n, fmt.Errorf("sqlite: erase webhook %d: %w", id, err)
		}
		k, _ := res.RowsAffected()
		n += k
	}
	return n, nil
}

// CountWebhooksMentioning counts the app's pending callbacks naming the
// user.
func (db *DB) CountWebhooksMentioning(ctx context.Context, sdkAppID uint32, userID string) (int64, error) {
	ids, err := db.pendingWebhooksMentioning(ctx, sdkAppID, userID)
	return int64(len(ids)), err
}
