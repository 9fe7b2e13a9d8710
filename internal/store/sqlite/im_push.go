package sqlite

import (
	"context"
	"fmt"
	"time"

	"github.com/parley-rtc/parley/internal/store"
)

var _ store.IMPushStore = (*DB)(nil)

// PutIMPushToken implements store.IMPushStore.
func (db *DB) PutIMPushToken(ctx context.Context, t store.IMPushToken) error {
	_, err := db.write.ExecContext(ctx, `INSERT INTO im_push_tokens (sdkappid, user_id, device_id, vendor, token, registered_at)
		VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT DO UPDATE SET vendor = excluded.vendor, token = excluded.token, registered_at = excluded.registered_at`,
		int64(t.SDKAppID), t.UserID, t.DeviceID, t.Vendor, t.Token, t.RegisteredAt.UnixMilli())
	if err != nil {
		return fmt.Errorf("sqlite: put push token: %w", err)
	}
	return nil
}

// DeleteIMPushTokens implements store.IMPushStore.
func (db *DB) DeleteIMPushTokens(ctx context.Context, sdkAppID uint32, userID, deviceID string) (int64, error) {
	q, args := `DELETE FROM im_push_tokens WHERE sdkappid = ? AND user_id = ?`, []any{int64(sdkAppID), userID}
	if deviceID != "" {
		q, args = q+` AND device_id = ?`, append(args, deviceID)
	}
	res, err := db.write.ExecContext(ctx, q, args...)
	if err != nil {
		return 0, fmt.Errorf("sqlite: delete push tokens: %w", err)
	}
	return res.RowsAffected()
}

// IMPushTokens implements store.IMPushStore.
func (db *DB) IMPushTokens(ctx context.Context, sdkAppID uint32, userID string) ([]store.IMPushToken, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT device_id, vendor, token, registered_at FROM im_push_tokens
		WHERE sdkappid = ? AND user_id = ? ORDER BY device_id`, int64(sdkAppID), userID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: push tokens: %w", err)
	}
	defer rows.Close()
	var out []store.IMPushToken
	for rows.Next() {
		t := store.IMPushToken{SDKAppID: sdkAppID, UserID: userID}
		var at int64
		if err := rows.Scan(&t.DeviceID, &t.Vendor, &t.Token, &at); err != nil {
			return nil, fmt.Errorf("sqlite: push tokens: %w", err)
		}
		t.RegisteredAt = time.UnixMilli(at).UTC()
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: push tokens: %w", err)
	}
	return out, nil
}

// DeleteIMPushTokensBefore implements store.IMPushStore.
func (db *DB) DeleteIMPushTokensBefore(ctx context.Context, t time.Time) (int64, error) {
	res, err := db.write.ExecContext(ctx, `DELETE FROM im_push_tokens WHERE registered_at < ?`, t.UnixMilli())
	if err != nil {
		return 0, fmt.Errorf("sqlite: expire push tokens: %w", err)
	}
	return res.RowsAffected()
}
