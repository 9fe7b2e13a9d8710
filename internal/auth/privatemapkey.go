package auth

import (
	"compress/zlib"
	"encoding/binary"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/parley-rtc/parley/protocol"
)

// Privileges is a PrivateMapKey privilege bit map (TRTCParams.privateMapKey,
// REFERENCE.md §1.1). The field is 32 bits on the wire; TRTC defines the
// low 8.
type Privileges uint32

// Privilege bits, as numbered by the official libraries.
const (
	PrivCreateRoom    Privileges = 1 << iota // 1: create the room
	PrivEnterRoom                            // 2: enter the room
	PrivSendAudio                            // 4: send audio
	PrivRecvAudio                            // 8: receive audio
	PrivSendVideo                            // 16: send video
	PrivRecvVideo                            // 32: receive video
	PrivSendSubStream                        // 64: send the sub stream (screen share)
	PrivRecvSubStream                        // 128: receive the sub stream

	// PrivAll (255) grants every privilege TRTC defines.
	PrivAll Privileges = 255
	// PrivAudience (42) is the official example of a viewer: enter and
	// receive audio and video.
	PrivAudience = PrivEnterRoom | PrivRecvAudio | PrivRecvVideo
)

// Has reports whether every bit of q is set in p.
func (p Privileges) Has(q Privileges) bool { return p&q == q }

// String lists the set bits by name, e.g. "enter|recv-audio|recv-video".
func (p Privileges) String() string {
	names := [...]string{"create", "enter", "send-audio", "recv-audio", "send-video", "recv-video", "send-sub", "recv-sub"}
	var parts []string
	for i, n := range names {
		if p&(1<<i) != 0 {
			parts = append(parts, n)
		}
	}
	if rest := p &^ PrivAll; rest != 0 {
		parts = append(parts, fmt.Sprintf("0x%x", uint32(rest)))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, "|")
}

// PrivateMap is the decoded userbuf of a PrivateMapKey.
type PrivateMap struct {
	// Account is the UserID the key is for. Personal information.
	Account  string
	SDKAppID uint32
	// Room is {ID} for a version-0 (numeric room) userbuf and {Str} for a
	// version-1 (string room) userbuf.
	Room protocol.RoomRef
	// ExpiresAt is the absolute expiry (now+expire at issue), in Unix
	// seconds; the key is valid while now <= ExpiresAt.
	ExpiresAt uint32
	// Privileges is the privilege bit map.
	Privileges Privileges
	// AccountType is always 0 in tokens from the official libraries.
	AccountType uint32
}

// Userbuf layout sizes (REFERENCE.md §1.1, PrivateMapKey): ver (1) · account
// length (2) · account · sdkappid, roomid, expiry, privileges, account type
// (4 each) · [version 1: room length (2) · room].
const (
	pmkVerNumeric = 0
	pmkVerString  = 1
	pmkFixedTail  = 20
)

// encodePrivateMap lays out m big-endian as the official _genUserbuf does.
func encodePrivateMap(m PrivateMap) []byte {
	ver := byte(pmkVerNumeric)
	roomID := m.Room.ID
	if roomID == 0 {
		ver = pmkVerString
	}
	n := 1 + 2 + len(m.Account) + pmkFixedTail
	if ver == pmkVerString {
		n += 2 + len(m.Room.Str)
	}
	b := make([]byte, 0, n)
	b = append(b, ver)
	b = binary.BigEndian.AppendUint16(b, uint16(len(m.Account)))
	b = append(b, m.Account...)
	b = binary.BigEndian.AppendUint32(b, m.SDKAppID)
	b = binary.BigEndian.AppendUint32(b, roomID)
	b = binary.BigEndian.AppendUint32(b, m.ExpiresAt)
	b = binary.BigEndian.AppendUint32(b, uint32(m.Privileges))
	b = binary.BigEndian.AppendUint32(b, m.AccountType)
	if ver == pmkVerString {
		b = binary.BigEndian.AppendUint16(b, uint16(len(m.Room.Str)))
		b = append(b, m.Room.Str...)
	}
	return b
}

// DecodePrivateMap parses a PrivateMapKey userbuf. It rejects unknown
// versions, lengths that overrun the buffer and trailing bytes. In a
// version-1 userbuf the numeric room field (0 from the official libraries)
// is ignored: the room is the string.
func DecodePrivateMap(b []byte) (PrivateMap, error) {
	if len(b) < 3 {
		return PrivateMap{}, fmt.Errorf("%w: userbuf: %d bytes, too short for a header", ErrBadEncoding, len(b))
	}
	ver := b[0]
	if ver != pmkVerNumeric && ver != pmkVerString {
		return PrivateMap{}, fmt.Errorf("%w: userbuf: version %d, want 0 or 1", ErrBadEncoding, ver)
	}
	accLen := int(binary.BigEndian.Uint16(b[1:3]))
	rest := b[3:]
	if len(rest) < accLen+pmkFixedTail {
		return PrivateMap{}, fmt.Errorf("%w: userbuf: truncated after account (%d bytes left, need %d)", ErrBadEncoding, len(rest), accLen+pmkFixedTail)
	}
	m := PrivateMap{Account: string(rest[:accLen])}
	rest = rest[accLen:]
	m.SDKAppID = binary.BigEndian.Uint32(rest[0:4])
	roomID := binary.BigEndian.Uint32(rest[4:8])
	m.ExpiresAt = binary.BigEndian.Uint32(rest[8:12])
	m.Privileges = Privileges(binary.BigEndian.Uint32(rest[12:16]))
	m.AccountType = binary.BigEndian.Uint32(rest[16:20])
	rest = rest[pmkFixedTail:]
	if ver == pmkVerNumeric {
		m.Room = protocol.RoomRef{ID: roomID}
	} else {
		if len(rest) < 2 {
			return PrivateMap{}, fmt.Errorf("%w: userbuf: version 1 without room length", ErrBadEncoding)
		}
		roomLen := int(binary.BigEndian.Uint16(rest[0:2]))
		rest = rest[2:]
		if len(rest) < roomLen {
			return PrivateMap{}, fmt.Errorf("%w: userbuf: room string truncated (%d bytes left, need %d)", ErrBadEncoding, len(rest), roomLen)
		}
		m.Room = protocol.RoomRef{Str: string(rest[:roomLen])}
		rest = rest[roomLen:]
	}
	if len(rest) != 0 {
		return PrivateMap{}, fmt.Errorf("%w: userbuf: %d trailing bytes", ErrBadEncoding, len(rest))
	}
	return m, nil
}

// PrivateMapKeyClaims is a verified PrivateMapKey: its envelope and its
// decoded userbuf.
type PrivateMapKeyClaims struct {
	Claims
	Map PrivateMap
}

// GeneratePrivateMapKey issues a PrivateMapKey letting userID into room with
// the given privileges, valid from now for expire (whole seconds). The
// envelope lifetime and the userbuf's absolute expiry agree, as in the
// official libraries (which recommend 300 s).
func GeneratePrivateMapKey(sdkAppID uint32, secretKey, userID string, room protocol.RoomRef, privileges Privileges, expire time.Duration, now time.Time) (string, error) {
	return generatePrivateMapKey(sdkAppID, secretKey, userID, room, privileges, expire, now, zlib.DefaultCompression)
}

func generatePrivateMapKey(sdkAppID uint32, secretKey, userID string, room protocol.RoomRef, privileges Privileges, expire time.Duration, now time.Time, level int) (string, error) {
	if err := checkIssueArgs(sdkAppID, secretKey, userID, expire, now); err != nil {
		return "", err
	}
	if err := room.Validate(); err != nil {
		return "", fmt.Errorf("%w: %w", ErrInvalidArgument, err)
	}
	// The absolute expiry is a uint32 of Unix seconds (year 2106).
	abs := now.Unix() + int64(expire/time.Second)
	if abs > math.MaxUint32 {
		return "", fmt.Errorf("%w: expiry %d does not fit the userbuf's 32 bits", ErrInvalidArgument, abs)
	}
	ub := encodePrivateMap(PrivateMap{
		Account:    userID,
		SDKAppID:   sdkAppID,
		Room:       room.Normalized(),
		ExpiresAt:  uint32(abs),
		Privileges: privileges,
	})
	return generate(sdkAppID, secretKey, userID, expire, ub, now, level)
}

// VerifyPrivateMapKey checks a PrivateMapKey for userID entering room in app
// sdkAppID at now: the envelope (app, user, TLS.time+TLS.expire, HMAC) and
// then the signed userbuf (sdkappid, account, absolute expiry, room). Both
// expiries are enforced (REFERENCE.md §1.1). Privileges are returned, not
// checked: the caller tests the bits it needs with Has.
func VerifyPrivateMapKey(sdkAppID uint32, secretKey, userID string, room protocol.RoomRef, key string, now time.Time) (PrivateMapKeyClaims, error) {
	if err := room.Validate(); err != nil {
		return PrivateMapKeyClaims{}, fmt.Errorf("%w: %w", ErrInvalidArgument, err)
	}
	t, err := verifyEnvelope(sdkAppID, secretKey, userID, key, now)
	if err != nil {
		return PrivateMapKeyClaims{}, err
	}
	if !t.HasUserBuf() {
		return PrivateMapKeyClaims{}, fmt.Errorf("%w: PrivateMapKey has no TLS.userbuf", ErrUserBufMismatch)
	}
	if err := checkSig(secretKey, t); err != nil {
		return PrivateMapKeyClaims{}, err
	}
	// The userbuf is authenticated from here on.
	m, err := DecodePrivateMap(t.UserBuf)
	if err != nil {
		return PrivateMapKeyClaims{}, err
	}
	if m.SDKAppID != sdkAppID {
		return PrivateMapKeyClaims{}, fmt.Errorf("%w: userbuf is for sdkappid %d, want %d", ErrWrongApp, m.SDKAppID, sdkAppID)
	}
	if m.Account != userID {
		return PrivateMapKeyClaims{}, fmt.Errorf("%w: userbuf account differs", ErrWrongUser)
	}
	if now.Unix() > int64(m.ExpiresAt) {
		return PrivateMapKeyClaims{}, fmt.Errorf("%w at %s (userbuf expiry)", ErrExpired, time.Unix(int64(m.ExpiresAt), 0).UTC().Format(time.RFC3339))
	}
	if want := room.Normalized(); m.Room != want {
		return PrivateMapKeyClaims{}, fmt.Errorf("%w: key is for room %s, want %s", ErrWrongRoom, m.Room, want)
	}
	return PrivateMapKeyClaims{Claims: t.Claims, Map: m}, nil
}
