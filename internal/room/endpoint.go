package room

import "github.com/parley-rtc/parley/protocol"

// Endpoint is a participant's connection as the room sees it.
type Endpoint interface {
	// Notify queues an event frame for the client; it never blocks.
	Notify(t protocol.Type, data any)
	// Exit tells the client it is out of the room and closes the session.
	// The room has already removed the participant when Exit is called.
	Exit(reason int, detail string)
	// Subscribe starts forwarding a remote track to this participant.
	Subscribe(t *Track)
	// Unsubscribe stops forwarding a remote track to this participant.
	Unsubscribe(t *Track)
	// StopPublishing tears down the media of one of this participant's
	// own tracks (unpublish, role switch to audience, exit).
	StopPublishing(t *Track)
}

// Track is a published track. Media is the media engine's handle for it,
// opaque to the room.
type Track struct {
	Info  protocol.TrackInfo
	Media any
}

// Observer receives room lifecycle events, the source of webhooks 101–105
// and of usage accounting. Calls are made with the room lock held; an
// Observer must only enqueue.
type Observer interface {
	RoomEvent(ev Event)
}

// EventType numbers follow TRTC's room webhook codes (REFERENCE.md §1.4).
type EventType int

// Room event codes.
const (
	EventCreateRoom  EventType = 101
	EventDismissRoom EventType = 102
	EventEnterRoom   EventType = 103
	EventExitRoom    EventType = 104
	EventChangeRole  EventType = 105
	EventStartVideo  EventType = 201
	EventStopVideo   EventType = 202
	EventStartAudio  EventType = 203
	EventStopAudio   EventType = 204
	EventStartAssist EventType = 205
	EventStopAssist  EventType = 206
)

// Event is one room lifecycle event.
type Event struct {
	Type     EventType
	SDKAppID uint32
	Room     protocol.RoomRef
	UserID   string
	Role     protocol.Role
	Reason   int
}
