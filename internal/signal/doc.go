// Package signal serves Parley's WebSocket signaling protocol
// (docs/protocol.md): one session per connection, which authenticates the
// join, enters the room, owns the participant's media peer and relays room
// events to the client.
//
// Robustness: every frame is size-limited and strictly decoded; a bad
// frame gets an error reply and changes nothing else. Each connection is
// rate-limited, has an idle timeout, and a bounded outbound queue: a client
// that cannot keep up is disconnected rather than buffered without bound.
//
// Lock order: room locks (room package) → session.mu is never taken in that
// direction; session methods called by the room (room.Endpoint) only
// enqueue frames or hand work to the media peer, and never call back into
// the room.
package signal
