package sqlite

import (
	"context"
	"errors"
	"fmt"

	"github.com/parley-rtc/parley/internal/store"
)

var (
	_ store.ConsentEraser = (*DB)(nil)
	_ store.PushEraser    = (*DB)(nil)
)

// ExportConsent implements store.ConsentEraser: the user's readable
// entries on all devices, oldest first, without the listing limit.
func (db *DB) ExportConsent(ctx context.Context, sdkAppID uint32, userID string) ([]store.ConsentEntry, error) {
	if err := db.consentReady(ctx); err != nil {
		return nil, fmt.Errorf("sqlite: export consent: %w", err)
	}
	var es []store.ConsentEntry
	after := int64(0)
	for {
		rs, err := db.consentRows(ctx, `SELECT `+consentColumns+` FROM consent_ledger
			WHERE sdkappid = ? AND user_id = ? AND id > ? ORDER BY id LIMIT ?`,
			int64(sdkAppID), db.UserRef(sdkAppID, userID), after, MaxConsentListLimit)
		if err != nil {
			return nil, fmt.Errorf("sqlite: export consent: %w", err)
		}
		for _, r := range rs {
			e, err := db.openConsent(ctx, db.read, r, userID)
			if errors.Is(err, store.ErrErased) {
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("sqlite: export consent: %w", err)
			}
			es = append(es, e)
		}
		if len(rs) < MaxConsentListLimit {
			return es, nil
		}
		after = rs[len(rs)-1].e.ID
	}
}

// EraseConsentSubject implements store.ConsentEraser.
func (db *DB) EraseConsentSubject(ctx context.Context, sdkAppID uint32, userID string) (int64, error) {
	return db.eraseConsent(ctx, sdkAppID, userID, "")
}

// EraseConsentDevice implements store.ConsentEraser.
func (db *DB) EraseConsentDevice(ctx context.Context, sdkAppID uint32, userID, deviceID string) (int64, error) {
	if deviceID == "" {
		return 0, errors.New("sqlite: erase consent of device: empty device id")
	}
	return db.eraseConsent(ctx, sdkAppID, userID, deviceID)
}

func (db *DB) eraseConsent(ctx context.Context, sdkAppID uint32, userID, deviceID string) (int64, error) {
	if userID == "" {
		return 0, errors.New("sqlite: erase consent: empty user id")
	}
	// Legacy entries are converted first, so none escapes in clear.
	if err := db.consentReady(ctx); err != nil {
		return 0, fmt.Errorf("sqlite: erase consent: %w", err)
	}
	q, args := `DELETE FROM consent_ledger WHERE sdkappid = ? AND user_id = ?`, []any{int64(sdkAppID), db.UserRef(sdkAppID, userID)}
	if deviceID != "" {
		q, args = q+` AND device_id = ?`, append(args, db.DeviceRef(sdkAppID, deviceID))
	}
	res, err := db.write.ExecContext(ctx, q, args...)
	if err != nil {
		return 0, fmt.Errorf("sqlite: erase consent: %w", err)
	}
	return res.RowsAffected()
}

// CountConsentSubject implements store.ConsentEraser.
func (db *DB) CountConsentSubject(ctx context.Context, sdkAppID uint32, userID string) (int64, error) {
	if err := db.consentReady(ctx); err != nil {
		return 0, fmt.Errorf("sqlite: count consent: %w", err)
	}
	var n int64
	err := db.read.QueryRowContext(ctx, `SELECT count(*) FROM consent_ledger WHERE sdkappid = ? AND user_id = ?`,
		int64(sdkAppID), db.UserRef(sdkAppID, userID)).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("sqlite: count consent: %w", err)
	}
	return n, nil
}

// ExportPushTokens implements store.PushEraser: the user's readable
// tokens, ordered by device id (IMPushTokens).
func (db *DB) ExportPushTokens(ctx context.Context, sdkAppID uint32, userID string) ([]store.IMPushToken, error) {
	return db.IMPushTokens(ctx, sdkAppID, userID)
}

// ErasePushTokens implements store.PushEraser.
func (db *DB) ErasePushTokens(ctx context.Context, sdkAppID uint32, userID string) (int64, error) {
	if userID == "" {
		return 0, errors.New("sqlite: erase push tokens: empty user id")
	}
	return db.DeleteIMPushTokens(ctx, sdkAppID, userID, "")
}

// ErasePushTokensDevice implements store.PushEraser.
func (db *DB) ErasePushTokensDevice(ctx context.Context, sdkAppID uint32, userID, deviceID string) (int64, error) {
	if userID == "" || deviceID == "" {
		return 0, errors.New("sqlite: erase push token of device: empty user or device id")
	}
	return db.DeleteIMPushTokens(ctx, sdkAppID, userID, deviceID)
}

// CountPushTokens implements store.PushEraser.
func (db *DB) CountPushTokens(ctx context.Context, sdkAppID uint32, userID string) (int64, error) {
	if err := db.haveKeys(); err != nil {
		return 0, fmt.Errorf("sqlite: count push tokens: %w", err)
	}
	var n int64
	err := db.read.QueryRowContext(ctx, `SELECT count(*) FROM im_push_tokens WHERE sdkappid = ? AND user_id = ?`,
		int64(sdkAppID), db.UserRef(sdkAppID, userID)).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("sqlite: count push tokens: %w", err)
	}
	return n, nil
}
