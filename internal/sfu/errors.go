package sfu

import "errors"

// Sentinel errors. Callers test them with errors.Is; the SFU wraps them with %w.
var (
	// ErrClosed is returned by operations on a closed Engine, Peer or track.
	ErrClosed = errors.New("sfu: closed")
	// ErrBadConfig reports an invalid Config.
	ErrBadConfig = errors.New("sfu: invalid config")
	// ErrNegotiation wraps SDP offer/answer failures.
	ErrNegotiation = errors.New("sfu: negotiation failed")
	// ErrNotSubscribed is returned when a subscription does not exist.
	ErrNotSubscribed = errors.New("sfu: not subscribed")
	// ErrAlreadySubscribed is returned when subscribing twice to one track.
	ErrAlreadySubscribed = errors.New("sfu: already subscribed")
	// ErrUnknownLayer is returned by SetLayer for a RID the track lacks.
	ErrUnknownLayer = errors.New("sfu: unknown simulcast layer")
	// ErrSelfSubscribe is returned when a peer subscribes to its own track.
	ErrSelfSubscribe = errors.New("sfu: cannot subscribe to own track")
	// ErrCodecNotNegotiated is returned when a subscriber lacks the track's codec.
	ErrCodecNotNegotiated = errors.New("sfu: codec not negotiated")
	// ErrBufferClosed is returned by a closed receive buffer.
	ErrBufferClosed = errors.New("sfu: buffer closed")
)
