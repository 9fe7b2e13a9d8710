package room

import "errors"

// Sentinel errors returned by room operations.
var (
	ErrRoomFull         = errors.New("room is full")
	ErrNotInRoom        = errors.New("participant is not in the room")
	ErrPublishForbidden = errors.New("role may not publish")
	ErrTrackExists      = errors.New("track id already published")
	ErrUnknownTrack     = errors.New("unknown track")
	ErrRoomNotFound     = errors.New("room not found")
	ErrLiveRoleRequired = errors.New("role switching needs a live scene")
)
