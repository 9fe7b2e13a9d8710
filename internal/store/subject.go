package store

import "context"

// KeyRotation is the outcome of one keystore schedule run.
type KeyRotation struct {
	NewEpoch        bool     `json:"new_epoch"`
	Rewrapped       int64    `json:"rewrapped_keys"`
	DestroyedEpochs []string `json:"destroyed_epochs,omitempty"`
}

// SubjectKeyStore holds the per-subject data keys every personal field is
// sealed with (issue 5, item 2).
type SubjectKeyStore interface {
	// UserRef is the blind-index reference stored in place of a user id.
	UserRef(sdkAppID uint32, userID string) string
	// ShredSubject destroys the user's data key and returns its id(s).
	ShredSubject(ctx context.Context, sdkAppID uint32, userID string) ([]string, error)
	// SubjectCommitKey is the user's audit commitment key, derived from
	// the data key and destroyed with it; nil if the user has no key.
	SubjectCommitKey(ctx context.Context, sdkAppID uint32, userID string) ([]byte, error)
	// SubjectKeyID is the user's current key id, "" if none.
	SubjectKeyID(ctx context.Context, sdkAppID uint32, userID string) (string, error)
	// RotateKeys runs the keystore's rotation and destruction schedule.
	RotateKeys(ctx context.Context) (KeyRotation, error)
}
