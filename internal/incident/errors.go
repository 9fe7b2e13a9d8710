package incident

import "errors"

// Sentinel errors; the wrapped messages say precisely what is wrong.
var (
	// ErrInvalid means a declaration breaks a rule (a missing or
	// over-long field, a malformed app list, a window in the future).
	ErrInvalid = errors.New("incident: invalid declaration")
	// ErrUnknownCategory means a category is not an inventory element id.
	ErrUnknownCategory = errors.New("incident: unknown data category")
	// ErrUnknownApp means a listed SDKAppID has no app.
	ErrUnknownApp = errors.New("incident: unknown app")
	// ErrNotFound means there is no incident with that id.
	ErrNotFound = errors.New("incident: not found")
)
