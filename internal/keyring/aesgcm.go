package keyring

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
)

// Sealer encrypts small secrets at rest. aad (associated data) is
// authenticated but not stored: a value sealed for one record cannot be
// opened for another, so swapping ciphertexts between rows is detected.
// Implementations are safe for concurrent use.
type Sealer interface {
	Seal(plaintext, aad []byte) ([]byte, error)
	Open(sealed, aad []byte) ([]byte, error)
	// KeyID names the key without revealing it, so stored values record
	// which key sealed them and a wrong key is reported as such.
	KeyID() string
}

// AESGCM is a Sealer using AES-256-GCM. A sealed value is
// nonce (12 random bytes) || ciphertext || tag (16 bytes).
//
// Random 96-bit nonces are safe for well under 2^32 seals per key (NIST SP
// 800-38D §8.3); app secrets are sealed a handful of times per app.
type AESGCM struct {
	aead  cipher.AEAD
	keyID string
}

var _ Sealer = (*AESGCM)(nil)

// NewAESGCM returns a Sealer keyed with kek, which must be 32 bytes.
func NewAESGCM(kek []byte) (*AESGCM, error) {
	if len(kek) != KEKSize {
		return nil, fmt.Errorf("%w: %d bytes, want %d", ErrInvalidKEK, len(kek), KEKSize)
	}
	block, err := aes.NewCipher(kek)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidKEK, err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidKEK, err)
	}
	return &AESGCM{aead: aead, keyID: KeyID(kek)}, nil
}

// KeyID returns the first 8 bytes of SHA-256(kek) in hex. It identifies a key
// in stored rows and logs; 64 bits of a hash reveal nothing useful about it.
func KeyID(kek []byte) string {
	sum := sha256.Sum256(kek)
	return hex.EncodeToString(sum[:8])
}

// KeyID implements Sealer.
func (s *AESGCM) KeyID() string { return s.keyID }

// Seal implements Sealer.
func (s *AESGCM) Seal(plaintext, aad []byte) ([]byte, error) {
	ns := s.aead.NonceSize()
	out := make([]byte, ns, ns+len(plaintext)+s.aead.Overhead())
	if _, err := rand.Read(out); err != nil {
		return nil, fmt.Errorf("keyring: nonce: %w", err)
	}
	return s.aead.Seal(out, out, plaintext, aad), nil
}

// Open implements Sealer.
func (s *AESGCM) Open(sealed, aad []byte) ([]byte, error) {
	ns := s.aead.NonceSize()
	if len(sealed) < ns+s.aead.Overhead() {
		return nil, fmt.Errorf("%w: %d bytes", ErrMalformed, len(sealed))
	}
	pt, err := s.aead.Open(nil, sealed[:ns], sealed[ns:], aad)
	if err != nil {
		// The cipher's error says nothing more than "authentication
		// failed"; the sentinel is what callers act on.
		return nil, ErrDecrypt
	}
	return pt, nil
}
