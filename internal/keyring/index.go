package keyring

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"strings"
)

// IndexLabel is the HKDF label of the blind-index key. It is the label the
// telemetry pseudonyms were first derived under, so a user's telemetry
// reference and their blind index in every other store are the same 16
// bytes: one erasure finds them all.
const IndexLabel = "telemetry-pseudonym/v1"

// RefSize is the length of a blind-index reference: 128 bits of
// HMAC-SHA256, collision-free for any realistic number of subjects.
const RefSize = 16

// refPrefix marks a stored reference. A raw user id never starts with it
// in a Parley store, so a reference is never mistaken for an identifier.
const refPrefix = "~"

// RefTextLen is the length of a reference's text form: "~" and 22
// base64url characters, inside every user-id column's 32-byte limit.
const RefTextLen = 1 + 22

// BlindIndex computes per-app blind indexes of identifiers (issue 5, item
// 2): equality lookups on user and device ids without storing them. The
// key is derived from the KEK, so a copy of the database alone cannot
// test guesses.
type BlindIndex struct {
	key []byte
}

// NewBlindIndexKey uses a derived 32-byte key: Derive(root, IndexLabel)
// of the keystore's root key, which is also the telemetry service's
// pseudonym key.
func NewBlindIndexKey(key []byte) (*BlindIndex, error) {
	if len(key) < 32 {
		return nil, fmt.Errorf("%w: index key %d bytes, want 32", ErrInvalidKEK, len(key))
	}
	return &BlindIndex{key: key}, nil
}

// Key returns the index key (for the telemetry service, which computes
// the same references).
func (b *BlindIndex) Key() []byte { return b.key }

// Sum is HMAC-SHA256(key, app ‖ kind ‖ 0 ‖ id) truncated to RefSize. kind
// separates identifier spaces ("user", "device"); the same id has
// unrelated references in different apps.
func (b *BlindIndex) Sum(sdkAppID uint32, kind, id string) []byte {
	m := hmac.New(sha256.New, b.key)
	var app [4]byte
	binary.BigEndian.PutUint32(app[:], sdkAppID)
	m.Write(app[:])
	m.Write([]byte(kind))
	m.Write([]byte{0})
	m.Write([]byte(id))
	return m.Sum(nil)[:RefSize]
}

// User is the text reference of a user id, as stored in place of it.
func (b *BlindIndex) User(sdkAppID uint32, userID string) string {
	return RefText(b.Sum(sdkAppID, "user", userID))
}

// Device is the text reference of a device id.
func (b *BlindIndex) Device(sdkAppID uint32, deviceID string) string {
	return RefText(b.Sum(sdkAppID, "device", deviceID))
}

// RefText is the stored text form of a reference.
func RefText(sum []byte) string {
	return refPrefix + base64.RawURLEncoding.EncodeToString(sum)
}

// RefBytes parses RefText's output; ok is false for anything else.
func RefBytes(text string) (sum []byte, ok bool) {
	rest, found := strings.CutPrefix(text, refPrefix)
	if !found || len(text) != RefTextLen {
		return nil, false
	}
	b, err := base64.RawURLEncoding.DecodeString(rest)
	if err != nil || len(b) != RefSize {
		return nil, false
	}
	return b, true
}
