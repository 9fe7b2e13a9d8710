package keyring

import (
	"crypto/hkdf"
	"crypto/sha256"
)

// Derive returns a 32-byte key for one purpose, derived from the
// key-encryption key with HKDF-SHA256 (RFC 5869) and the label as info.
// Different labels give independent keys, so a key used for pseudonyms
// never doubles as the key that seals secrets. It fails only if the
// standard library's HKDF rejects the lengths, which it does not for
// these.
func Derive(kek []byte, label string) ([]byte, error) {
	return hkdf.Key(sha256.New, kek, nil, "parley/"+label, 32)
}
