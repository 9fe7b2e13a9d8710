package webhook

import "errors"

// Sentinel errors, wrapped with detail.
var (
	// ErrBadConfig means a Config or ObserverConfig is unusable.
	ErrBadConfig = errors.New("webhook: bad config")
	// ErrBadSignature means a signature header is missing, malformed or
	// does not match the body.
	ErrBadSignature = errors.New("webhook: bad signature")
	// ErrBadTimestamp means X-Parley-Timestamp is missing or not a
	// decimal Unix time.
	ErrBadTimestamp = errors.New("webhook: bad timestamp")
	// ErrStale means the signed timestamp is outside the accepted window
	// (a possible replay).
	ErrStale = errors.New("webhook: stale timestamp")
	// ErrUnknownEvent means a room event type has no TRTC webhook code.
	ErrUnknownEvent = errors.New("webhook: unknown event type")
	// ErrCallbackFailed means a before-send callback got no usable reply
	// (other than a timeout); the returned Decision applies the default.
	ErrCallbackFailed = errors.New("webhook: callback failed")
)
