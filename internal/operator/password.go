package operator

import (
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Password hashing: PBKDF2-HMAC-SHA256 (stdlib crypto/pbkdf2) with the
// OWASP 2023 work factor, a random 16-byte salt and a 32-byte key,
// encoded as "pbkdf2-sha256$<iterations>$<salt>$<hash>" (unpadded
// standard base64). The iteration count travels with the hash, so a
// later increase applies to new hashes without breaking old ones.
const (
	hashScheme = "pbkdf2-sha256"
	// DefaultIterations is OWASP's 2023 recommendation for
	// PBKDF2-HMAC-SHA256.
	DefaultIterations = 600_000
	// MaxIterations bounds what a stored hash may ask for, so a corrupt
	// row cannot make a login spin for minutes.
	MaxIterations = 10_000_000
	saltSize      = 16
	keySize       = 32
)

// Password length rules (bytes of UTF-8). NIST SP 800-63B asks at least
// 15 characters for a password that is the only factor.
const (
	MinPasswordLen = 15
	MaxPasswordLen = 1024
)

// ValidatePassword checks a new password's length and encoding.
func ValidatePassword(p string) error {
	if !utf8.ValidString(p) {
		return fmt.Errorf("%w: password is not UTF-8", ErrInvalid)
	}
	if n := utf8.RuneCountInString(p); n < MinPasswordLen || len(p) > MaxPasswordLen {
		return fmt.Errorf("%w: password must be %d-%d characters", ErrInvalid, MinPasswordLen, MaxPasswordLen)
	}
	return nil
}

// NewPassword returns a random password: 24 bytes from crypto/rand as 32
// base64url characters (192 bits).
func NewPassword() string {
	var b [24]byte
	_, _ = rand.Read(b[:]) // never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// HashPassword hashes p with iterations rounds (0 means
// DefaultIterations).
func HashPassword(p string, iterations int) (string, error) {
	if iterations == 0 {
		iterations = DefaultIterations
	}
	if iterations < 1 || iterations > MaxIterations {
		return "", fmt.Errorf("%w: iterations %d, want 1-%d", ErrInvalid, iterations, MaxIterations)
	}
	salt := make([]byte, saltSize)
	_, _ = rand.Read(salt)
	key, err := pbkdf2.Key(sha256.New, p, salt, iterations, keySize)
	if err != nil {
		return "", fmt.Errorf("operator: hash password: %w", err)
	}
	enc := base64.RawStdEncoding
	return hashScheme + "$" + strconv.Itoa(iterations) + "$" + enc.EncodeToString(salt) + "$" + enc.EncodeToString(key), nil
}

// parsedHash is a decoded hash.
type parsedHash struct {
	iterations int
	salt, key  []byte
}

func parseHash(h string) (parsedHash, error) {
	parts := strings.Split(h, "$")
	if len(parts) != 4 || parts[0] != hashScheme {
		return parsedHash{}, fmt.Errorf("%w: want %s$iter$salt$hash", ErrBadHash, hashScheme)
	}
	iter, err := strconv.Atoi(parts[1])
	if err != nil || iter < 1 || iter > MaxIterations || parts[1] != strconv.Itoa(iter) {
		return parsedHash{}, fmt.Errorf("%w: iterations %q", ErrBadHash, parts[1])
	}
	enc := base64.RawStdEncoding
	salt, err := enc.DecodeString(parts[2])
	if err != nil || len(salt) < 8 {
		return parsedHash{}, fmt.Errorf("%w: salt", ErrBadHash)
	}
	key, err := enc.DecodeString(parts[3])
	if err != nil || len(key) != keySize {
		return parsedHash{}, fmt.Errorf("%w: hash", ErrBadHash)
	}
	return parsedHash{iterations: iter, salt: salt, key: key}, nil
}

// CheckPassword reports whether p matches the encoded hash h, comparing
// in constant time. A malformed h is ErrBadHash.
func CheckPassword(h, p string) (bool, error) {
	ph, err := parseHash(h)
	if err != nil {
		return false, err
	}
	key, err := pbkdf2.Key(sha256.New, p, ph.salt, ph.iterations, len(ph.key))
	if err != nil {
		return false, fmt.Errorf("operator: check password: %w", err)
	}
	return subtle.ConstantTimeCompare(key, ph.key) == 1, nil
}

// HashIterations returns the iteration count of an encoded hash.
func HashIterations(h string) (int, error) {
	ph, err := parseHash(h)
	if err != nil {
		return 0, err
	}
	return ph.iterations, nil
}
