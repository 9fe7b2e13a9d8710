package keyring

import "errors"

// Sentinel errors. Callers match them with errors.Is; the returned errors wrap
// them with the detail (path, length) that explains the failure.
var (
	// ErrInvalidKEK means a key-encryption key is not exactly 32 bytes, or
	// its base64 text does not decode.
	ErrInvalidKEK = errors.New("keyring: invalid key-encryption key")
	// ErrMalformed means a sealed value is too short to hold a nonce and
	// an authentication tag, so it cannot have come from Seal.
	ErrMalformed = errors.New("keyring: malformed sealed value")
	// ErrDecrypt means authentication failed: the sealed value was
	// altered, sealed under another key, or bound to other associated data.
	ErrDecrypt = errors.New("keyring: decryption failed")
	// ErrWrongKEK means the keystore was sealed by a different
	// key-encryption key than the one configured.
	ErrWrongKEK = errors.New("keyring: keystore sealed with another key-encryption key")
)
