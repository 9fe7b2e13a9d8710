// Package room keeps Parley's rooms: membership, roles, published tracks and
// the events participants see (REFERENCE.md §1.2, §1.3).
//
// A room is created by its first Join and destroyed when its last
// participant leaves. Numeric and string room IDs are distinct namespaces
// (protocol.RoomRef.Key). A second Join with the same UserID replaces the
// first, which exits with protocol.ExitReasonReplaced.
//
// The room talks to each participant's connection through the Endpoint
// interface; the signaling session implements it and owns the media peer.
//
// Lock order: Manager.mu → Room.mu. Endpoint methods are called with Room.mu
// held and must not call back into the room; Notify and Exit only enqueue.
package room
