package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/parley-rtc/parley/internal/store"
)

var _ store.RetentionStore = (*DB)(nil)

// oldest runs a MIN() query; a NULL result means an empty table.
func (db *DB) oldest(ctx context.Context, what, query string, toTime func(int64) time.Time) (time.Time, bool, error) {
	var v sql.NullInt64
	if err := db.read.QueryRowContext(ctx, query).Scan(&v); err != nil {
		return time.Time{}, false, fmt.Errorf("sqlite: oldest %s: %w", what, err)
	}
	if !v.Valid {
		return time.Time{}, false, nil
	}
	return toTime(v.Int64), true, nil
}

func fromMilli(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

// OldestIMMessage implements store.RetentionStore (the im_messages_day
// index answers it).
func (db *DB) OldestIMMessage(ctx context.Context) (time.Time, bool, error) {
	return db.oldest(ctx, "message", `SELECT min(at) FROM im_messages`, imTime)
}

// OldestFinishedWebhook implements store.RetentionStore: pending rows are
// not subject to retention until they are delivered or fail.
func (db *DB) OldestFinishedWebhook(ctx context.Context) (time.Time, bool, error) {
	return db.oldest(ctx, "webhook", `SELECT min(created_at) FROM webhook_outbox WHERE state <> 'pending'`, fromMilli)
}

// OldestIMPushToken implements store.RetentionStore.
func (db *DB) OldestIMPushToken(ctx context.Context) (time.Time, bool, error) {
	return db.oldest(ctx, "push token", `SELECT min(registered_at) FROM im_push_tokens`, fromMilli)
}
