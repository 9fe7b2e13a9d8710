package telemetry

import (
	"errors"
	"fmt"
)

// Sentinel errors.
var (
	ErrRejected = errors.New("telemetry rejected")
	ErrClosed   = errors.New("telemetry service closed")
	ErrOverload = errors.New("telemetry queue full")
)

// Rejection reasons (protocol.FieldRejection.Reason).
const (
	ReasonUndeclared   = "undeclared"    // not an inventory element of this section
	ReasonPlatform     = "platform"      // not declared for the session's platform
	ReasonSwitchedOff  = "switched_off"  // its switch is off for the session
	ReasonNotConsented = "not_consented" // its purpose is not in the consent
	ReasonBadValue     = "bad_value"     // wrong type, out of range, not truncated
)

// RejectError names the field a report was refused for.
type RejectError struct {
	Section, Field, Reason string
	Detail                 string
}

func (e *RejectError) Error() string {
	msg := fmt.Sprintf("%s in %s: %s", e.Field, e.Section, e.Reason)
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	return msg
}

func (e *RejectError) Unwrap() error { return ErrRejected }
