package sqlite

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/parley-rtc/parley/internal/store"
)

var _ store.IMPushStore = (*DB)(nil)

// Push tokens keep no identifier in clear (issue 5, item 2): user_id and
// device_id hold blind-index references, the device id and the token are
// sealed with the user's data key, bound to the row's app and references
// (pushAAD). A token whose key was destroyed is erased: listings skip it.

// Limits the table enforced as CHECKs on clear columns.
const (
	maxPushUserID   = 32
	maxPushDeviceID = 64
	maxPushToken    = 512
)

// pushAAD binds a sealed push-token value to its column and row.
func pushAAD(column string, sdkAppID uint32, userRef, deviceRef string) []byte {
	return fmt.Appendf(nil, "im_push.%s/%d/%s/%s", column, sdkAppID, userRef, deviceRef)
}

// PutIMPushToken implements store.IMPushStore.
func (db *DB) PutIMPushToken(ctx context.Context, t store.IMPushToken) error {
	switch {
	case t.SDKAppID == 0:
		return errors.New("sqlite: put push token: sdkappid is zero")
	case len(t.UserID) < 1 || len(t.UserID) > maxPushUserID:
		return fmt.Errorf("sqlite: put push token: user id must be 1-%d bytes", maxPushUserID)
	case len(t.DeviceID) < 1 || len(t.DeviceID) > maxPushDeviceID:
		return fmt.Errorf("sqlite: put push token: device id must be 1-%d bytes", maxPushDeviceID)
	case len(t.Token) < 1 || len(t.Token) > maxPushToken:
		return fmt.Errorf("sqlite: put push token: token must be 1-%d bytes", maxPushToken)
	}
	if err := db.ensureKeys(ctx, t.SDKAppID, t.UserID); err != nil {
		return fmt.Errorf("sqlite: put push token: %w", err)
	}
	uref, dref := db.UserRef(t.SDKAppID, t.UserID), db.DeviceRef(t.SDKAppID, t.DeviceID)
	device, err := db.sealFor(ctx, db.read, t.SDKAppID, t.UserID, []byte(t.DeviceID), pushAAD("device", t.SDKAppID, uref, dref))
	if err != nil {
		return fmt.Errorf("sqlite: put push token: seal device id: %w", err)
	}
	token, err := db.sealFor(ctx, db.read, t.SDKAppID, t.UserID, []byte(t.Token), pushAAD("token", t.SDKAppID, uref, dref))
	if err != nil {
		return fmt.Errorf("sqlite: put push token: seal token: %w", err)
	}
	_, err = db.write.ExecContext(ctx, `INSERT INTO im_push_tokens (sdkappid, user_id, device_id, device_sealed, vendor, token, registered_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT DO UPDATE SET device_sealed = excluded.device_sealed, vendor = excluded.vendor,
			token = excluded.token, registered_at = excluded.registered_at`,
		int64(t.SDKAppID), uref, dref, device, t.Vendor, token, t.RegisteredAt.UnixMilli())
	if err != nil {
		return fmt.Errorf("sqlite: put push token: %w", err)
	}
	return nil
}

// DeleteIMPushTokens implements store.IMPushStore.
func (db *DB) DeleteIMPushTokens(ctx context.Context, sdkAppID uint32, userID, deviceID string) (int64, error) {
	if err := db.haveKeys(); err != nil {
		return 0, fmt.Errorf("sqlite: delete push tokens: %w", err)
	}
	q, args := `DELETE FROM im_push_tokens WHERE sdkappid = ? AND user_id = ?`, []any{int64(sdkAppID), db.UserRef(sdkAppID, userID)}
	if deviceID != "" {
		q, args = q+` AND device_id = ?`, append(args, db.DeviceRef(sdkAppID, deviceID))
	}
	res, err := db.write.ExecContext(ctx, q, args...)
	if err != nil {
		return 0, fmt.Errorf("sqlite: delete push tokens: %w", err)
	}
	return res.RowsAffected()
}

// IMPushTokens implements store.IMPushStore. Erased tokens are skipped.
func (db *DB) IMPushTokens(ctx context.Context, sdkAppID uint32, userID string) ([]store.IMPushToken, error) {
	if err := db.haveKeys(); err != nil {
		return nil, fmt.Errorf("sqlite: push tokens: %w", err)
	}
	uref := db.UserRef(sdkAppID, userID)
	type row struct {
		deviceRef     string
		device, token []byte
		vendor        string
		at            int64
	}
	rows, err := db.read.QueryContext(ctx, `SELECT device_id, device_sealed, vendor, token, registered_at FROM im_push_tokens
		WHERE sdkappid = ? AND user_id = ?`, int64(sdkAppID), uref)
	if err != nil {
		return nil, fmt.Errorf("sqlite: push tokens: %w", err)
	}
	var rs []row
	for rows.Next() {
		var r row
		if err := rows.Scan(&r.deviceRef, &r.device, &r.vendor, &r.token, &r.at); err != nil {
			rows.Close()
			return nil, fmt.Errorf("sqlite: push tokens: %w", err)
		}
		rs = append(rs, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: push tokens: %w", err)
	}
	var out []store.IMPushToken
	for _, r := range rs {
		device, err := db.open(ctx, db.read, r.device, pushAAD("device", sdkAppID, uref, r.deviceRef))
		if errors.Is(err, store.ErrErased) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("sqlite: push tokens: device id: %w", err)
		}
		token, err := db.open(ctx, db.read, r.token, pushAAD("token", sdkAppID, uref, r.deviceRef))
		if errors.Is(err, store.ErrErased) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("sqlite: push tokens: token: %w", err)
		}
		out = append(out, store.IMPushToken{SDKAppID: sdkAppID, UserID: userID, DeviceID: string(device),
			Vendor: r.vendor, Token: string(token), RegisteredAt: time.UnixMilli(r.at).UTC()})
	}
	slices.SortFunc(out, func(a, b store.IMPushToken) int { return cmp.Compare(a.DeviceID, b.DeviceID) })
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
