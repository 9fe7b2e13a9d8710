package store

import "context"

// Data-subject requests (RIGHTS-3, RIGHTS-5, RIGHTS-6) reach the consent
// ledger and the push tokens through these small interfaces. Identifiers
// go in and come out in clear; how the store keeps them (blind-index
// references, sealed values) is its own business.

// ConsentEraser exports and erases one subject's consent-ledger entries.
// Deleting ledger entries is reserved to data-subject rights and
// retention (ConsentStore).
type ConsentEraser interface {
	// ExportConsent returns every readable entry of the user, on all
	// devices, oldest first. Entries whose subject key was destroyed
	// are erased and not returned.
	ExportConsent(ctx context.Context, sdkAppID uint32, userID string) ([]ConsentEntry, error)
	// EraseConsentSubject deletes every entry of the user and returns
	// the number deleted.
	EraseConsentSubject(ctx context.Context, sdkAppID uint32, userID string) (int64, error)
	// EraseConsentDevice deletes the user's entries for one device.
	EraseConsentDevice(ctx context.Context, sdkAppID uint32, userID, deviceID string) (int64, error)
	// CountConsentSubject counts the user's stored entries, readable or
	// not: zero after a complete erasure.
	CountConsentSubject(ctx context.Context, sdkAppID uint32, userID string) (int64, error)
}

// PushEraser exports and erases one subject's offline-push tokens.
type PushEraser interface {
	// ExportPushTokens returns the user's readable tokens, ordered by
	// device id (the same as IMPushStore.IMPushTokens).
	ExportPushTokens(ctx context.Context, sdkAppID uint32, userID string) ([]IMPushToken, error)
	// ErasePushTokens deletes every token of the user.
	ErasePushTokens(ctx context.Context, sdkAppID uint32, userID string) (int64, error)
	// ErasePushTokensDevice deletes the user's token for one device.
	ErasePushTokensDevice(ctx context.Context, sdkAppID uint32, userID, deviceID string) (int64, error)
	// CountPushTokens counts the user's stored tokens, readable or not.
	CountPushTokens(ctx context.Context, sdkAppID uint32, userID string) (int64, error)
}
