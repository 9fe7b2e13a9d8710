package protocol

import (
	"errors"
	"fmt"
	"strconv"
)

// Identifier limits (REFERENCE.md §1.1, §1.2).
const (
	MaxUserIDBytes    = 32
	MaxStrRoomIDBytes = 64
)

// Sentinel validation errors; wrapped with the offending detail.
var (
	ErrInvalidUserID = errors.New("invalid user id")
	ErrInvalidRoomID = errors.New("invalid room id")
)

// ValidateUserID checks a UserID: 1–32 bytes of [a-zA-Z0-9_-].
func ValidateUserID(id string) error {
	if id == "" {
		return fmt.Errorf("%w: empty", ErrInvalidUserID)
	}
	if len(id) > MaxUserIDBytes {
		return fmt.Errorf("%w: %d bytes, at most %d", ErrInvalidUserID, len(id), MaxUserIDBytes)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return fmt.Errorf("%w: byte %d (%q) not in [a-zA-Z0-9_-]", ErrInvalidUserID, i, c)
		}
	}
	return nil
}

// strRoomIDChars marks the 89 characters TRTC allows in a strRoomId.
var strRoomIDChars = func() (t [256]bool) {
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
	}
	for c := 'A'; c <= 'Z'; c++ {
		t[c] = true
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for _, c := range " !#$%&()+-:;<=.>?@[]^_{}|~," {
		t[c] = true
	}
	return t
}()

// RoomRef names a room. Numeric and string room IDs are distinct namespaces:
// room 123 and room "123" are different rooms (REFERENCE.md §1.2).
type RoomRef struct {
	ID  uint32 `json:"room_id,omitempty"`
	Str string `json:"str_room_id,omitempty"`
}

// Validate checks the reference. When both are set the numeric ID wins, as
// in TRTCParams, so Str is then ignored.
func (r RoomRef) Validate() error {
	if r.ID != 0 {
		return nil
	}
	if r.Str == "" {
		return fmt.Errorf("%w: neither room_id (1-4294967295) nor str_room_id set", ErrInvalidRoomID)
	}
	if len(r.Str) > MaxStrRoomIDBytes {
		return fmt.Errorf("%w: str_room_id is %d bytes, at most %d", ErrInvalidRoomID, len(r.Str), MaxStrRoomIDBytes)
	}
	for i := 0; i < len(r.Str); i++ {
		if !strRoomIDChars[r.Str[i]] {
			return fmt.Errorf("%w: str_room_id byte %d (%q) not allowed", ErrInvalidRoomID, i, r.Str[i])
		}
	}
	return nil
}

// Normalized returns the reference with Str cleared when ID is set.
func (r RoomRef) Normalized() RoomRef {
	if r.ID != 0 {
		return RoomRef{ID: r.ID}
	}
	return r
}

// Key is a map key unique across both namespaces: "n:123" or "s:123".
func (r RoomRef) Key() string {
	if r.ID != 0 {
		return "n:" + strconv.FormatUint(uint64(r.ID), 10)
	}
	return "s:" + r.Str
}

// String renders the room for humans and logs (room IDs are not personal
// information; user IDs are, and are never logged).
func (r RoomRef) String() string {
	if r.ID != 0 {
		return strconv.FormatUint(uint64(r.ID), 10)
	}
	return strconv.Quote(r.Str)
}
