package dsr

import "errors"

// Sentinel errors; the engine wraps them with the detail.
var (
	// ErrInvalid means a request is malformed (unknown type, missing
	// user, a device id where none belongs).
	ErrInvalid = errors.New("dsr: invalid request")
	// ErrNotFound means no request has the id.
	ErrNotFound = errors.New("dsr: no such request")
	// ErrUncovered means an inventory store has no handler.
	ErrUncovered = errors.New("dsr: inventory store without a rights handler")
	// ErrNotErased means verification found readable data after an
	// erasure: the request is not completed.
	ErrNotErased = errors.New("dsr: data still readable after erasure")
)
