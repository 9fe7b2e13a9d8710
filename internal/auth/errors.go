package auth

import "errors"

// Sentinel errors. Returned errors wrap exactly one of these with %w and add
// detail (never a user ID or key), so callers branch with errors.Is and map
// to API codes at their own boundary.
var (
	// ErrBadEncoding: the token is not a well-formed TLSSigAPIv2 envelope
	// (length bound, base64 alphabet, zlib stream, inflated size, JSON
	// syntax or types, missing field, TLS.ver) or its PrivateMapKey userbuf
	// is malformed. The message says which.
	ErrBadEncoding = errors.New("bad encoding")
	// ErrWrongApp: TLS.sdkappid (or the PrivateMapKey's sdkappid) is not the
	// app the caller verifies for.
	ErrWrongApp = errors.New("wrong app")
	// ErrWrongUser: TLS.identifier (or the PrivateMapKey's account) is not the
	// user the caller verifies for.
	ErrWrongUser = errors.New("wrong user")
	// ErrExpired: now is after TLS.time+TLS.expire, or after a PrivateMapKey's
	// absolute expiry.
	ErrExpired = errors.New("expired")
	// ErrBadSignature: TLS.sig is not the HMAC-SHA256 of the token's content
	// under the given key (wrong key or tampered token).
	ErrBadSignature = errors.New("bad signature")
	// ErrUserBufMismatch: the token carries a TLS.userbuf where none was
	// expected, lacks one where one was expected, or carries a different one.
	ErrUserBufMismatch = errors.New("userbuf mismatch")
	// ErrWrongRoom: a PrivateMapKey is for another room. Numeric room 123 and
	// string room "123" are different rooms (REFERENCE.md §1.2).
	ErrWrongRoom = errors.New("wrong room")
	// ErrInvalidArgument: the caller passed an unusable parameter (empty key,
	// invalid user or room ID, non-positive or fractional expiry, zero app).
	ErrInvalidArgument = errors.New("invalid argument")
)
