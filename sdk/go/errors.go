package parley

import (
	"errors"
	"fmt"
)

// Sentinel errors. Callers test them with errors.Is; the SDK wraps them with
// detail using %w so the cause stays visible.
var (
	// ErrInvalidConfig reports a Config or parameter the SDK cannot use.
	ErrInvalidConfig = errors.New("parley: invalid configuration")
	// ErrClosed reports a call on a client after Close.
	ErrClosed = errors.New("parley: client closed")
	// ErrNotInRoom reports a call that needs a room before EnterRoom succeeded.
	ErrNotInRoom = errors.New("parley: not in a room")
	// ErrAlreadyInRoom reports EnterRoom while a room is already entered.
	ErrAlreadyInRoom = errors.New("parley: already in a room")
	// ErrConnectionLost reports that the signaling connection dropped while a
	// request waited for its reply.
	ErrConnectionLost = errors.New("parley: signaling connection lost")
	// ErrAlreadyPublished reports a second track of the same kind and stream type.
	ErrAlreadyPublished = errors.New("parley: track already published")
	// ErrTrackClosed reports use of an unpublished track.
	ErrTrackClosed = errors.New("parley: track closed")
	// ErrUnsupportedCodec reports a codec the SDK cannot send.
	ErrUnsupportedCodec = errors.New("parley: unsupported codec")
	// ErrBadMedia reports a media file the readers cannot parse.
	ErrBadMedia = errors.New("parley: malformed media")
	// ErrProtocol reports a frame from the server that breaks docs/protocol.md.
	ErrProtocol = errors.New("parley: protocol violation")
	// ErrConsentRequired reports a call that needs the end user's consent
	// before it (CONSENT-1/2): Init before GrantConsent, any network use
	// while the egress gate is closed, and a server refusal with code
	// -4008 (the consent is missing, withdrawn or for an outdated policy
	// version). Listener.OnConsentRequired reports the server's reason.
	ErrConsentRequired = errors.New("parley: consent required")
	// ErrGuardianRequired reports a minor (SetAgeBand "minor") without a
	// guardian-consent reference, or a server refusal with code -4010
	// (MINOR-1).
	ErrGuardianRequired = errors.New("parley: guardian consent required")
	// ErrNotInitialized reports EnterRoom before Init.
	ErrNotInitialized = errors.New("parley: not initialized")
	// ErrSwitchOff reports a function whose init-config switch is off:
	// audio without "audio_enable": 1 (SWITCH-1), video for a stream
	// "streams_config" does not list (SWITCH-2).
	ErrSwitchOff = errors.New("parley: switched off by the init config")
)

// ServerError is a request the server refused. Code is the negative TRTC
// result code (protocol/codes.go), e.g. -3320 for a bad UserSig or -4004 for
// an audience member that tried to publish.
type ServerError struct {
	Code    int
	Message string
}

func (e *ServerError) Error() string {
	return fmt.Sprintf("parley: server refused (%d): %s", e.Code, e.Message)
}
