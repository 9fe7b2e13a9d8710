// Package im is Parley's instant-messaging core (issue 4): groups of the
// REFERENCE §2 types, C2C and group messages with a per-conversation
// sequence, exactly-once sends, history paging and sequence-based sync,
// read receipts and unread counts, recall, KV extensions, and the erasure
// hooks the rights and retention engines call (RETAIN-3, RIGHTS-1/3/6).
//
// The Service is transport-free: the signaling, REST and SDK layers call it
// and map its errors with Code. Persistence is a store.IMStore.
//
// # Conversations and sequence numbers
//
// A conversation id is "c2c:<a>|<b>" (the two user ids sorted) or
// "group:<id>". Each stored conversation has a strictly increasing seq from
// 1, allocated in the same transaction as the insert, so seqs have no gaps
// (REFERENCE §2 "Sequence and dedupe"). A ClientMsgID is unique per
// (app, conversation, sender): a retry returns the original seq with
// Duplicate set.
//
// AVChatRoom messages are not stored (REFERENCE §2: no cloud history). The
// Service still numbers them from an in-memory counter per group so live
// receivers can order them; the counter restarts at 1 with the process and
// is not usable for sync, and AVChatRoom sends are not deduplicated (there
// is no history to deduplicate against).
//
// Recalled and erased messages stay in history and sync as tombstones
// (Recalled or Erased set, no elements): their content is deleted from the
// row, so sync still sees every seq and a recall also removes the content
// at rest.
//
// # Error codes
//
// Codes follow TIM's ErrorCode numbering where a counterpart is known
// (TIM below; 23001 is confirmed by REFERENCE §2, the others are from the
// TIM error-code page, https://trtc.io/document/34348, and must be checked
// against it before the REST layer ships); Parley marks codes it chose in
// the 90xxx range.
//
//	Code   Error                  Source  Meaning
//	10004  ErrInvalidArgument     TIM     bad argument (ids, limits, roles)
//	10004  ErrNoApplication       TIM     approve without a pending application
//	10007  ErrPermissionDenied    TIM     role or group type forbids the action
//	10007  ErrNotMember           TIM     caller is not in the conversation
//	10009  ErrOwnerCannotLeave    TIM     owner must dismiss instead of leaving
//	10010  ErrGroupNotFound       TIM     group absent or dismissed
//	10013  ErrAlreadyMember       TIM     join/invite of a member
//	10013  ErrAlreadyApplied      TIM     second application while one is pending
//	10015  ErrInvalidGroupID      TIM     custom id not printable ASCII ≤48 B or "@TGS#…"
//	10017  ErrMuted               TIM     sender muted in the group
//	10021  ErrGroupExists         TIM     group id already used
//	10023  ErrRateLimited         TIM     group send rate (default 40/s) exceeded
//	10031  ErrRecallWindow        TIM     recall after the window (default 2 min)
//	20001  ErrInvalidMessage      TIM     element validation or decoding failed
//	23001  ErrExtensionConflict   TIM     KV extension key set first by someone else
//	80001  ErrVetoed              TIM     the app's before-send callback rejected it (unconfirmed)
//	80002  ErrTooLarge            TIM     encoded message over the limit (default 12 KB)
//	90403  ErrNotSupported        Parley  receipts/extensions/history not offered for the type
//	90404  ErrMessageNotFound     Parley  no message with that seq
//	90409  ErrAlreadyRecalled     Parley  recall of a recalled or erased message
//	90413  ErrExtensionLimit      Parley  >20 keys per call or >300 per message
//	90500  CodeInternal           Parley  store or context failure (not an *Error)
package im
