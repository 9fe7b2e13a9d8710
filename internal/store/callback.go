package store

import (
	"context"
	"time"
)

// AppCallback is an app's event callback target; the signing key is
// sealed (the store never sees it in clear).
type AppCallback struct {
	SDKAppID  uint32
	URL       string
	SealedKey []byte
	KeyID     string
	UpdatedAt time.Time
}

// AppCallbackStore keeps apps' callback targets.
type AppCallbackStore interface {
	PutAppCallback(ctx context.Context, cb AppCallback) error
	GetAppCallback(ctx context.Context, sdkAppID uint32) (AppCallback, error) // ErrNotFound if none
	DeleteAppCallback(ctx context.Context, sdkAppID uint32) error
}
