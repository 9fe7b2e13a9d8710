package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/parley-rtc/parley/internal/keyring"
	"github.com/parley-rtc/parley/internal/store"
)

var _ store.WebhookOutbox = (*DB)(nil)

const webhookColumns = `id, sdkappid, event_id, url, body, created_at, first_attempt_at, next_attempt_at, attempts, state, last_error, body_epoch`

// webhookAAD binds a sealed body to its app and event.
func webhookAAD(sdkAppID uint32, eventID string) []byte {
	return fmt.Appendf(nil, "webhook/%d/%s", sdkAppID, eventID)
}

// EnqueueWebhook inserts a pending delivery. The write connection commits
// before returning (WAL, synchronous=NORMAL: durable across a process
// crash such as SIGKILL, not across power loss).
func (db *DB) EnqueueWebhook(ctx context.Context, w store.Webhook) (int64, error) {
	if w.State != "" && w.State != store.WebhookPending {
		return 0, fmt.Errorf("sqlite: enqueue webhook: state %q, want pending", w.State)
	}
	var first any
	if !w.FirstAttemptAt.IsZero() {
		first = w.FirstAttemptAt.UnixMilli()
	}
	if err := db.haveKeys(); err != nil {
		return 0, err
	}
	epoch, sealed, err := db.keys.ks.Wrap(w.Body, webhookAAD(w.SDKAppID, w.EventID))
	if err != nil {
		return 0, fmt.Errorf("sqlite: enqueue webhook: seal body: %w", err)
	}
	res, err := db.write.ExecContext(ctx, `INSERT INTO webhook_outbox
		(sdkappid, event_id, url, body, created_at, first_attempt_at, next_attempt_at, attempts, state, last_error, body_epoch)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?)`,
		int64(w.SDKAppID), w.EventID, w.URL, sealed, w.CreatedAt.UnixMilli(), first, w.NextAttemptAt.UnixMilli(),
		w.Attempts, w.LastError, epoch)
	if err != nil {
		if isUniqueViolation(err) {
			return 0, fmt.Errorf("webhook event %q of app %d: %w", w.EventID, w.SDKAppID, store.ErrConflict)
		}
		return 0, fmt.Errorf("sqlite: enqueue webhook: %w", err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return 0, fmt.Errorf("sqlite: enqueue webhook: %w", err)
	}
	return id, nil
}

// ClaimWebhooks leases due rows in one statement on the write connection,
// so two claimers never get the same row.
func (db *DB) ClaimWebhooks(ctx context.Context, now, leaseUntil time.Time, limit int) ([]store.Webhook, error) {
	if limit <= 0 {
		return nil, nil
	}
	nowMS := now.UnixMilli()
	rows, err := db.write.QueryContext(ctx, `UPDATE webhook_outbox
		SET next_attempt_at = ?, first_attempt_at = coalesce(first_attempt_at, ?)
		WHERE id IN (SELECT id FROM webhook_outbox
			WHERE state = 'pending' AND next_attempt_at <= ?
			ORDER BY next_attempt_at, id LIMIT ?)
		RETURNING `+webhookColumns, leaseUntil.UnixMilli(), nowMS, nowMS, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: claim webhooks: %w", err)
	}
	defer rows.Close()
	var out []store.Webhook
	var lost []int64
	for rows.Next() {
		w, err := db.scanWebhook(rows)
		if errors.Is(err, store.ErrErased) {
			lost = append(lost, w.ID)
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("sqlite: claim webhooks: %w", err)
		}
		out = append(out, w)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: claim webhooks: %w", err)
	}
	rows.Close()
	// A body sealed under a destroyed epoch cannot be sent any more.
	for _, id := range lost {
		if err := db.FinishWebhookAttempt(ctx, id, store.WebhookResult{State: store.WebhookFailed,
			NextAttemptAt: now, LastError: "body unreadable: sealed under a destroyed keystore epoch"}); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// NextWebhookAt returns the earliest due time of pending rows.
func (db *DB) NextWebhookAt(ctx context.Context) (time.Time, bool, error) {
	var at sql.NullInt64
	err := db.read.QueryRowContext(ctx, `SELECT min(next_attempt_at) FROM webhook_outbox WHERE state = 'pending'`).Scan(&at)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("sqlite: next webhook: %w", err)
	}
	if !at.Valid {
		return time.Time{}, false, nil
	}
	return time.UnixMilli(at.Int64).UTC(), true, nil
}

// FinishWebhookAttempt records an attempt's outcome on a pending row.
func (db *DB) FinishWebhookAttempt(ctx context.Context, id int64, r store.WebhookResult) error {
	if !r.State.Valid() {
		return fmt.Errorf("sqlite: finish webhook %d: state %q", id, r.State)
	}
	n := 0
	if r.Attempted {
		n = 1
	}
	// A finished row keeps its delivery record, not the body.
	res, err := db.write.ExecContext(ctx, `UPDATE webhook_outbox
		SET attempts = attempts + ?, state = ?, next_attempt_at = ?, last_error = ?,
		    body = CASE WHEN ?2 = 'pending' THEN body ELSE X'' END
		WHERE id = ? AND state = 'pending'`,
		n, string(r.State), r.NextAttemptAt.UnixMilli(), r.LastError, id)
	if err != nil {
		return fmt.Errorf("sqlite: finish webhook %d: %w", id, err)
	}
	if k, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("sqlite: finish webhook %d: %w", id, err)
	} else if k == 0 {
		return fmt.Errorf("pending webhook %d: %w", id, store.ErrNotFound)
	}
	return nil
}

// GetWebhook reads one row.
func (db *DB) GetWebhook(ctx context.Context, id int64) (store.Webhook, error) {
	w, err := db.scanWebhook(db.read.QueryRowContext(ctx, `SELECT `+webhookColumns+` FROM webhook_outbox WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return store.Webhook{}, fmt.Errorf("webhook %d: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return store.Webhook{}, fmt.Errorf("sqlite: get webhook %d: %w", id, err)
	}
	return w, nil
}

// DeleteWebhooksBefore removes finished rows created before t.
func (db *DB) DeleteWebhooksBefore(ctx context.Context, t time.Time) (int64, error) {
	res, err := db.write.ExecContext(ctx, `DELETE FROM webhook_outbox WHERE state <> 'pending' AND created_at < ?`, t.UnixMilli())
	if err != nil {
		return 0, fmt.Errorf("sqlite: delete webhooks: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("sqlite: delete webhooks: %w", err)
	}
	return n, nil
}

// scanWebhook reads a row and opens its body: a body sealed under a
// destroyed epoch returns the row's id with an error wrapping
// store.ErrErased; a finished row has an empty body.
func (db *DB) scanWebhook(r scanner) (store.Webhook, error) {
	var (
		w                  store.Webhook
		app, created, next int64
		first              sql.NullInt64
		state, epoch       string
	)
	if err := r.Scan(&w.ID, &app, &w.EventID, &w.URL, &w.Body, &created, &first, &next, &w.Attempts, &state, &w.LastError, &epoch); err != nil {
		return store.Webhook{}, err
	}
	w.SDKAppID, w.State = uint32(app), store.WebhookState(state)
	w.CreatedAt, w.NextAttemptAt = time.UnixMilli(created).UTC(), time.UnixMilli(next).UTC()
	if first.Valid {
		w.FirstAttemptAt = time.UnixMilli(first.Int64).UTC()
	}
	if epoch != "" && len(w.Body) > 0 {
		if err := db.haveKeys(); err != nil {
			return store.Webhook{}, err
		}
		body, err := db.keys.ks.Unwrap(epoch, w.Body, webhookAAD(w.SDKAppID, w.EventID))
		if errors.Is(err, keyring.ErrEpochDestroyed) {
			return store.Webhook{ID: w.ID}, fmt.Errorf("webhook %d: %w", w.ID, store.ErrErased)
		}
		if err != nil {
			return store.Webhook{}, fmt.Errorf("webhook %d body: %w", w.ID, err)
		}
		w.Body = body
	}
	if w.Body == nil {
		w.Body = []byte{}
	}
	return w, nil
}
