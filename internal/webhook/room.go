package webhook

import (
	"bytes"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"time"

	"github.com/parley-rtc/parley/internal/room"
)

// TRTC webhook event groups (REFERENCE.md §1.4).
const (
	EventGroupRoom  = 1 // 101–105
	EventGroupMedia = 2 // 201–206
)

// roomBody is the TRTC room/media callback body. Field order is the wire
// order. EventId is Parley's addition (TRTC: "fields may be added").
type roomBody struct {
	EventGroupID int           `json:"EventGroupId"`
	EventType    int           `json:"EventType"`
	CallbackTs   int64         `json:"CallbackTs"`
	EventInfo    roomEventInfo `json:"EventInfo"`
	EventID      string        `json:"EventId"`
}

// roomEventInfo: RoomId is a JSON number for numeric rooms and a string
// for string rooms (distinct namespaces, REFERENCE.md §1.2). User fields
// are absent for room-level events (101, 102). TerminalType and UserType
// are not known to the room and are omitted. Reason is the room's reason
// code (for 104: 0 left, 1 timeout, 2 kicked).
type roomEventInfo struct {
	RoomID       any    `json:"RoomId"`
	EventTs      int64  `json:"EventTs"`
	EventMsTs    int64  `json:"EventMsTs"`
	UserID       string `json:"UserId,omitempty"`
	UniqueID     uint64 `json:"UniqueId,omitempty"`
	Role         int    `json:"Role,omitempty"`
	TerminalType int    `json:"TerminalType,omitempty"`
	UserType     int    `json:"UserType,omitempty"`
	Reason       int    `json:"Reason"`
}

// eventGroup maps a TRTC code to its EventGroupId.
func eventGroup(t room.EventType) (int, bool) {
	switch {
	case t >= room.EventCreateRoom && t <= room.EventChangeRole:
		return EventGroupRoom, true
	case t >= room.EventStartVideo && t <= room.EventStopAssist:
		return EventGroupMedia, true
	}
	return 0, false
}

// uniqueID is TRTC's numeric UniqueId, derived from the event id: FNV-1a
// truncated to 53 bits so JavaScript receivers read it exactly.
func uniqueID(eventID string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(eventID))
	return h.Sum64() & (1<<53 - 1)
}

// RoomBody renders ev as a TRTC callback body for an event that happened
// at now. It returns ErrUnknownEvent for codes outside 101–105, 201–206.
func RoomBody(ev room.Event, eventID string, now time.Time) ([]byte, error) {
	group, ok := eventGroup(ev.Type)
	if !ok {
		return nil, fmt.Errorf("%w: %d", ErrUnknownEvent, int(ev.Type))
	}
	info := roomEventInfo{EventTs: now.Unix(), EventMsTs: now.UnixMilli(), Reason: ev.Reason}
	if ev.Room.ID != 0 {
		info.RoomID = ev.Room.ID
	} else {
		info.RoomID = ev.Room.Str
	}
	if ev.UserID != "" {
		info.UserID, info.UniqueID, info.Role = ev.UserID, uniqueID(eventID), int(ev.Role)
	}
	// String room ids may hold '<', '>' and '&': keep them literal
	// rather than \u-escaped (both are valid JSON; literal is what TRTC
	// receivers compare against).
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(roomBody{
		EventGroupID: group, EventType: int(ev.Type), CallbackTs: now.UnixMilli(),
		EventInfo: info, EventID: eventID,
	}); err != nil {
		return nil, fmt.Errorf("webhook: encode room event: %w", err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
