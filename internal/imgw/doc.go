// Package imgw is the messaging gateway between the IM service and the
// connections of logged-in users (issue 4): it keeps the registry of who
// is online on which connections, fans out each stored message to the
// online recipients — encoded once, the same bytes queued on every
// connection — and routes the message to offline recipients' registered
// push tokens through a Pusher.
//
// The Hub implements the IM service's Publish hook. The service calls it
// in seq order per conversation, and the Hub only queues (each Conn
// batches what it was given into frames; pushes go to a worker), so
// delivery keeps that order and a slow client never stalls a sender.
//
// # Lock order
//
// Hub.mu guards the online registry and the member cache; it is never
// held while calling a Conn, the IM service or the store.
package imgw
