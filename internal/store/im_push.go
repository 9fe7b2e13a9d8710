package store

import (
	"context"
	"time"
)

// IMPushToken is one device's offline-push registration (issue 4, item 6).
type IMPushToken struct {
	SDKAppID uint32
	UserID   string
	DeviceID string
	// Vendor is the push channel: apns, fcm, huawei, honor, xiaomi,
	// oppo, vivo or meizu.
	Vendor       string
	Token        string
	RegisteredAt time.Time // millisecond precision
}

// IMPushStore keeps push tokens. Tokens are personal information kept only
// while the device is logged in (deleted at logout) and at most the token
// TTL after the last registration.
type IMPushStore interface {
	// PutIMPushToken registers or replaces the device's token.
	PutIMPushToken(ctx context.Context, t IMPushToken) error
	// DeleteIMPushTokens removes the device's token, or every token of
	// the user when deviceID is "". It returns the number removed.
	DeleteIMPushTokens(ctx context.Context, sdkAppID uint32, userID, deviceID string) (int64, error)
	// IMPushTokens lists the user's tokens, ordered by device id.
	IMPushTokens(ctx context.Context, sdkAppID uint32, userID string) ([]IMPushToken, error)
	// DeleteIMPushTokensBefore removes tokens registered before t
	// (retention); it returns the number removed.
	DeleteIMPushTokensBefore(ctx context.Context, t time.Time) (int64, error)
}
