package consent

import "errors"

// Sentinel errors, wrapped with the offending detail. Store errors
// (store.ErrConflict for a duplicate version, store.ErrNotFound) pass
// through wrapped, so callers test for those directly. A refused join is
// not an error: it is a Decision with Allowed false.
var (
	// ErrInvalidPolicy means a policy to publish is malformed: a bad
	// version, summary or URL, or an effective date in the past.
	ErrInvalidPolicy = errors.New("consent: invalid policy")
	// ErrInvalidSubject means a user or device id is malformed.
	ErrInvalidSubject = errors.New("consent: invalid user or device id")
)
