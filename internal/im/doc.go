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
// Codes follow TIM's ErrorCode numbering where a counterpart is known;
// Parley marks codes it chose in the 90xxx range. Source: "TIM ✓" = the
// number and its meaning were checked against Tencent's published list and
// match Parley's use; "TIM?" = the number exists in TIM but its meaning
// only loosely fits Parley's use; "TIM ✗" = TIM uses the number for
// something else (see the notes under the table). Checked against:
//
//   - the Chat error-code page, https://trtc.io/document/34348
//     (= https://intl.cloud.tencent.com/document/product/1047/34348;
//     Chinese: https://cloud.tencent.com/document/product/269/1671);
//   - Tencent's SDK header V2TIMErrorCode.h (server section, which adds
//     23001 ERR_SVR_MSG_EXTENSION_CONFLICT and gives 80002's limit as
//     12 KB; older pages say 8 KB);
//   - https://web.sdk.qcloud.com/im/download/error-message/v3/0.0.4/tim-error-message.txt;
//   - the before-send webhooks, https://trtc.io/document/34374 (group) and
//     https://intl.cloud.tencent.com/document/product/1047/34364 (C2C),
//     and send_group_msg, https://trtc.io/document/34959.
//
// The codes:
//
//	Code   Error                  Source  Meaning
//	10004  ErrInvalidArgument     TIM ✓   bad argument (ids, limits, roles)
//	10004  ErrNoApplication       TIM?    approve without a pending application
//	10007  ErrPermissionDenied    TIM ✓   role or group type forbids the action
//	10007  ErrNotMember           TIM ✓   caller is not in the conversation
//	10009  ErrOwnerCannotLeave    TIM ✓   owner must dismiss instead of leaving
//	10010  ErrGroupNotFound       TIM ✓   group absent or dismissed
//	10013  ErrAlreadyMember       TIM ✓   join/invite of a member
//	10015  ErrInvalidGroupID      TIM ✓   custom id not printable ASCII ≤48 B or "@TGS#…"
//	10017  ErrMuted               TIM ✓   sender muted in the group
//	10021  ErrGroupExists         TIM ✓   group id already used
//	10023  ErrRateLimited         TIM ✓   group send rate (default 40/s) exceeded
//	10016  ErrVetoed              TIM ✓   the app's before-send callback rejected a group message
//	10031  ErrRecallWindow        TIM ✓   group recall after the window (default 2 min)
//	20006  ErrVetoedC2C           TIM ✓   the app's before-send callback rejected a C2C message
//	20016  ErrRecallWindowC2C     TIM ✓   C2C recall after the window (wraps ErrRecallWindow)
//	20001  ErrInvalidMessage      TIM?    element validation or decoding failed
//	23001  ErrExtensionConflict   TIM ✓   KV extension key set first by someone else
//	80002  ErrTooLarge            TIM ✓   encoded message over the limit (default 12 KB)
//	90403  ErrNotSupported        Parley  receipts/extensions/history not offered for the type
//	90404  ErrMessageNotFound     Parley  no message with that seq
//	90409  ErrAlreadyRecalled     Parley  recall of a recalled or erased message
//	90410  ErrAlreadyApplied      Parley  second application while one is pending (TIM has none)
//	90413  ErrExtensionLimit      Parley  >20 keys per call or >300 per message
//	90500  CodeInternal           Parley  store or context failure (not an *Error)
//
// Notes from that check:
//
//   - A before-send webhook veto is 10016 in groups ("The app backend
//     rejected this operation through a third-party callback") and 20006
//     in C2C (80001 is TIM's text-security filter). TIM also lets an app
//     return its own code (10100–10200 for groups, 120001–130000 for C2C),
//     which the sender gets (VetoError), and ErrorCode 2 as a silent
//     discard (ErrDiscarded); Parley does the same.
//   - 10031 is the group recall limit; TIM's C2C recall limit is 20016.
//     10017 is the group mute (Parley has no C2C mute; TIM's is 20012).
//   - 20001 is "Invalid request packet"; TIM reports a bad MsgBody as
//     90002/90010 (REST C2C) or 10004 (group APIs).
//   - 10013 is "The invitee is already a group member"; TIM lists no code
//     for a duplicate pending application. 10024 is "This invitation or
//     request has already been processed".
//   - 10007 is "insufficient operation permissions"; TIM lists no
//     separate not-a-member code.
//   - The REST layer (internal/server) answers a bad SDKAppID with 60006,
//     a UserSig that does not verify with 70003, a call over its rate with
//     60007 ("The RESTful API call exceeds the frequency limit");
//     malformed JSON and bad fields with 10004.
package im
