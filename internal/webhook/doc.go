// Package webhook delivers signed event callbacks to app backends
// (REFERENCE.md §1.4 and §2): TRTC room events 101–105 and 201–206, and IM
// callbacks.
//
// Durable callbacks (room events, IM after-send) go through a Dispatcher:
// Enqueue commits a row to the store's outbox before returning, so an
// accepted event survives a crash; the dispatcher then POSTs it with the
// TRTC retry schedule — each attempt times out after 5 s, one immediate
// retry, then retries on a 10 s grid anchored at the first attempt, none
// starting later than 60 s after it — and marks it delivered or failed.
// Delivery is at least once: receivers deduplicate on X-Parley-Event-Id.
//
// IM before-send callbacks are synchronous and not durable: CallBefore
// waits at most 2 s, then applies the app's configured allow/deny default.
//
// Every request carries, over the raw body bytes:
//
//	Content-Type: application/json
//	SdkAppId: <decimal SDKAppID>
//	Sign: base64(HMAC-SHA256(key, body))                       (TRTC)
//	X-Parley-Event-Id: <UUIDv7>                                (dedupe)
//	X-Parley-Timestamp: <Unix seconds>
//	X-Parley-Signature: base64(HMAC-SHA256(key, ts + "." + body)) (replay)
//
// Receivers check them with Verify, VerifyWithTimestamp or VerifyRequest.
//
// Nothing here logs personal information: logs name the SDKAppID, the
// event id and fixed error phrases, never user ids, bodies, URLs or
// addresses.
package webhook
