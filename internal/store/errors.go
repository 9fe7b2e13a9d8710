package store

import "errors"

// Sentinel errors returned by every Store implementation, wrapped with the
// key that was looked up. Callers map them to API codes at their boundary.
var (
	// ErrNotFound means no row has the given key.
	ErrNotFound = errors.New("store: not found")
	// ErrConflict means a row with the same unique key already exists.
	ErrConflict = errors.New("store: conflict")
	// ErrErased means a value was sealed under a subject key that has been
	// destroyed (crypto-shredded, RIGHTS-3): it can never be read again.
	ErrErased = errors.New("store: subject erased")
)
