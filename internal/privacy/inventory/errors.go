package inventory

import "errors"

// Sentinel errors. Each is wrapped with the detail (line, element id,
// field), so callers test with errors.Is.
var (
	// ErrInvalid means an inventory document is malformed or breaks a
	// rule: an unknown key, a duplicate id, a switch that does not exist,
	// an unknown purpose, an insane wire type, an optional element
	// without a switch.
	ErrInvalid = errors.New("inventory: invalid")
	// ErrBadValue means a telemetry value does not match its element's
	// declared wire type (REFERENCE §6.2 C6: strict decode).
	ErrBadValue = errors.New("inventory: bad value")
)
