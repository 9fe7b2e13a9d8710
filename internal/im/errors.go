package im

import (
	"errors"
	"fmt"
)

// Error is an IM error with a TIM-style ErrorCode (REFERENCE §2, §10 item 4:
// sentinels here, mapped to ActionStatus/ErrorCode only at the REST and
// signaling boundary). The codes are listed in doc.go.
type Error struct {
	code int
	msg  string
}

func (e *Error) Error() string { return "im: " + e.msg }

// Code is the TIM-style ErrorCode.
func (e *Error) Code() int { return e.code }

// CodeInternal is returned by Code for errors that carry no IM code (store
// or context failures).
const CodeInternal = 90500

// Sentinel errors. Callers test them with errors.Is; details are wrapped
// with %w.
var (
	ErrInvalidArgument   = &Error{10004, "invalid argument"}
	ErrInvalidGroupID    = &Error{10015, "invalid group id"}
	ErrGroupNotFound     = &Error{10010, "group not found or dismissed"}
	ErrGroupExists       = &Error{10021, "group id already used"}
	ErrPermissionDenied  = &Error{10007, "permission denied"}
	ErrNotMember         = &Error{10007, "not a member of the conversation"}
	ErrAlreadyMember     = &Error{10013, "already a member"}
	ErrAlreadyApplied    = &Error{90410, "join application already pending"}
	ErrNoApplication     = &Error{10004, "no pending join application"}
	ErrOwnerCannotLeave  = &Error{10009, "the owner cannot leave; dismiss the group"}
	ErrMuted             = &Error{10017, "sender is muted in the group"}
	ErrRateLimited       = &Error{10023, "group message rate exceeded"}
	ErrTooLarge          = &Error{80002, "message too large"}
	ErrVetoed            = &Error{10016, "message rejected by the app's before-send callback"}
	ErrVetoedC2C         = &Error{20006, "message rejected by the app's before-send callback"}
	ErrInvalidMessage    = &Error{20001, "invalid message"}
	ErrMessageNotFound   = &Error{90404, "message not found"}
	ErrRecallWindow      = &Error{10031, "recall window has passed"}
	ErrRecallWindowC2C   = &Error{20016, "recall window has passed"}
	ErrAlreadyRecalled   = &Error{90409, "message already recalled or erased"}
	ErrNotSupported      = &Error{90403, "not supported for this conversation type"}
	ErrExtensionConflict = &Error{23001, "extension key already set by another writer"}
	ErrExtensionLimit    = &Error{90413, "extension limit exceeded"}
)

// VetoError is a before-send veto carrying the app's own ErrorCode
// (Tencent IM passes 10100–10200 for group messages and 120001–130000 for
// C2C to the sender); it is errors.Is base (ErrVetoed or ErrVetoedC2C).
func VetoError(code int, reason string, base *Error) error {
	return fmt.Errorf("%w: %w", &Error{code, base.msg + ": " + reason}, base)
}

// ErrDiscarded is returned by a BeforeSend hook to drop a message
// silently (Tencent IM's before-send ErrorCode 2): Send reports success
// with seq 0 and stores and delivers nothing.
var ErrDiscarded = errors.New("im: message discarded by the before-send callback")

// Cause is the innermost error of err's chain, for logs. The wrapping
// layers name users and conversations (personal information, never
// logged); the innermost error is a sentinel or a store or system error
// ("database is locked"), which does not.
func Cause(err error) string {
	if err == nil {
		return ""
	}
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return err.Error()
		}
		err = next
	}
}

// Code returns the IM code of err: 0 for nil, the code of the first *Error
// in its chain, otherwise CodeInternal.
func Code(err error) int {
	if err == nil {
		return 0
	}
	var e *Error
	if errors.As(err, &e) {
		return e.code
	}
	return CodeInternal
}
