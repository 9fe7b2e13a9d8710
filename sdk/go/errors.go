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
