package app

import "errors"

// Sentinel errors. Store errors (store.ErrNotFound, store.ErrConflict) pass
// through wrapped, so callers test for those directly.
var (
	// ErrInvalidName means an app name is empty, too long or contains
	// control characters.
	ErrInvalidName = errors.New("app: invalid name")
	// ErrInvalidSettings means a settings value is not allowed (an
	// unknown billing mode).
	ErrInvalidSettings = errors.New("app: invalid settings")
	// ErrWrongKEK means an app's secret was sealed under a different
	// key-encryption key than the one loaded: PARLEY_KEK or the kek file
	// does not belong to this database.
	ErrWrongKEK = errors.New("app: secret sealed with another key-encryption key")
	// ErrCorruptSecret means a sealed secret failed authentication under
	// the right key: the row was altered or moved between apps.
	ErrCorruptSecret = errors.New("app: sealed secret failed authentication")
)
