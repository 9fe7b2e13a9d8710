package auth

import (
	"compress/zlib"
	"encoding/binary"
	"strings"
	"testing"
	"time"

	"github.com/parley-rtc/parley/protocol"
)

func roomN(id uint32) protocol.RoomRef { return protocol.RoomRef{ID: id} }
func roomS(s string) protocol.RoomRef  { return protocol.RoomRef{Str: s} }

func TestPrivilegesHas(t *testing.T) {
	if PrivCreateRoom != 1 || PrivEnterRoom != 2 || PrivSendAudio != 4 || PrivRecvAudio != 8 ||
		PrivSendVideo != 16 || PrivRecvVideo != 32 || PrivSendSubStream != 64 || PrivRecvSubStream != 128 {
		t.Fatal("privilege bits differ from the official numbering")
	}
	if PrivAudience != 42 || PrivAll != 255 {
		t.Fatalf("PrivAudience %d, PrivAll %d", PrivAudience, PrivAll)
	}
	p := PrivAudience
	if !p.Has(PrivEnterRoom) || !p.Has(PrivRecvAudio|PrivRecvVideo) || p.Has(PrivSendAudio) || p.Has(PrivEnterRoom|PrivSendVideo) {
		t.Fatalf("Has on %v is wrong", p)
	}
	if got := p.String(); got != "enter|recv-audio|recv-video" {
		t.Fatalf("String = %q", got)
	}
	if got := Privileges(0).String(); got != "none" {
		t.Fatalf("String = %q", got)
	}
	if got := Privileges(0x101).String(); got != "create|0x100" {
		t.Fatalf("String = %q", got)
	}
}

func TestPrivateMapKeyRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name  string
		room  protocol.RoomRef
		ver   byte
		level int
	}{
		{"numeric", roomN(10000), 0, zlib.DefaultCompression},
		{"numeric stored", roomN(4294967295), 0, zlib.NoCompression},
		{"string", roomS("1000000040"), 1, zlib.DefaultCompression},
		{"numeric wins over string", protocol.RoomRef{ID: 7, Str: "ignored"}, 0, zlib.DefaultCompression},
	} {
		t.Run(tc.name, func(t *testing.T) {
			key, err := generatePrivateMapKey(testApp, testKey, testUser, tc.room, PrivAudience, 300*time.Second, unix(testT0), tc.level)
			if err != nil {
				t.Fatal(err)
			}
			c, err := VerifyPrivateMapKey(testApp, testKey, testUser, tc.room, key, unix(testT0+300))
			if err != nil {
				t.Fatal(err)
			}
			want := PrivateMap{Account: testUser, SDKAppID: testApp, Room: tc.room.Normalized(), ExpiresAt: testT0 + 300, Privileges: PrivAudience}
			if c.Map != want {
				t.Fatalf("map %+v, want %+v", c.Map, want)
			}
			if c.UserBuf[0] != tc.ver {
				t.Fatalf("userbuf version %d, want %d", c.UserBuf[0], tc.ver)
			}
			if c.Expire != 300 || c.Time != testT0 {
				t.Fatalf("envelope %+v", c.Claims)
			}
		})
	}
}

func TestPrivateMapLayout(t *testing.T) {
	// REFERENCE.md §1.1: ver · len(account) · account · sdkappid · roomid ·
	// expiry · privileges · account type · [len(room) · room], big-endian.
	got := encodePrivateMap(PrivateMap{Account: "ab", SDKAppID: 0x01020304, Room: roomS("r1"), ExpiresAt: 0x0a0b0c0d, Privileges: 0xff, AccountType: 0})
	want := []byte{1, 0, 2, 'a', 'b', 1, 2, 3, 4, 0, 0, 0, 0, 0x0a, 0x0b, 0x0c, 0x0d, 0, 0, 0, 0xff, 0, 0, 0, 0, 0, 2, 'r', '1'}
	if string(got) != string(want) {
		t.Fatalf("layout\n got %v\nwant %v", got, want)
	}
	m, err := DecodePrivateMap(got)
	if err != nil || m.Room != roomS("r1") || m.Account != "ab" || m.ExpiresAt != 0x0a0b0c0d {
		t.Fatalf("decode %+v, %v", m, err)
	}
}

func TestDecodePrivateMapRejects(t *testing.T) {
	good := encodePrivateMap(PrivateMap{Account: "ab", SDKAppID: 1, Room: roomS("r1"), ExpiresAt: 1, Privileges: 1})
	numeric := encodePrivateMap(PrivateMap{Account: "ab", SDKAppID: 1, Room: roomN(5), ExpiresAt: 1, Privileges: 1})
	withVer := func(b []byte, v byte) []byte { c := append([]byte(nil), b...); c[0] = v; return c }
	for _, tc := range []struct {
		name string
		b    []byte
		msg  string
	}{
		{"empty", nil, "too short"},
		{"version 2", withVer(good, 2), "version 2"},
		{"account overruns", []byte{0, 0xff, 0xff, 'a'}, "truncated after account"},
		{"fixed fields truncated", numeric[:len(numeric)-1], "truncated after account"},
		{"numeric with trailing byte", append(append([]byte(nil), numeric...), 0), "1 trailing bytes"},
		{"string without room length", withVer(numeric, 1), "without room length"},
		{"room truncated", good[:len(good)-1], "room string truncated"},
		{"string with trailing byte", append(append([]byte(nil), good...), 'x'), "1 trailing bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodePrivateMap(tc.b)
			wantOnly(t, err, ErrBadEncoding)
			if !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("error %q does not contain %q", err, tc.msg)
			}
		})
	}
}

// signedUserBuf issues an envelope around an arbitrary userbuf, as a token
// server with the key could.
func signedUserBuf(t testing.TB, ub []byte, expire time.Duration) string {
	t.Helper()
	s, err := generate(testApp, testKey, testUser, expire, ub, unix(testT0), zlib.DefaultCompression)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestVerifyPrivateMapKeyRejects(t *testing.T) {
	room := roomN(10000)
	good, err := GeneratePrivateMapKey(testApp, testKey, testUser, room, PrivAll, time.Hour, unix(testT0))
	if err != nil {
		t.Fatal(err)
	}
	strKey, err := GeneratePrivateMapKey(testApp, testKey, testUser, roomS("10000"), PrivAll, time.Hour, unix(testT0))
	if err != nil {
		t.Fatal(err)
	}
	plain := mustGen(t, nil, zlib.DefaultCompression)
	pm := func(edit func(m *PrivateMap)) []byte {
		m := PrivateMap{Account: testUser, SDKAppID: testApp, Room: room, ExpiresAt: testT0 + 3600, Privileges: PrivAll}
		edit(&m)
		return encodePrivateMap(m)
	}
	shortAbs := signedUserBuf(t, pm(func(m *PrivateMap) { m.ExpiresAt = testT0 + 60 }), time.Hour)
	otherApp := signedUserBuf(t, pm(func(m *PrivateMap) { m.SDKAppID = testApp + 1 }), time.Hour)
	otherAcct := signedUserBuf(t, pm(func(m *PrivateMap) { m.Account = "mallory" }), time.Hour)
	malformed := signedUserBuf(t, []byte{9, 9, 9}, time.Hour)
	now := unix(testT0 + 1)
	for _, tc := range []struct {
		name string
		app  uint32
		key  string
		user string
		room protocol.RoomRef
		tok  string
		now  time.Time
		want error
		msg  string
	}{
		{"numeric key, string room of same digits", testApp, testKey, testUser, roomS("10000"), good, now, ErrWrongRoom, `key is for room 10000, want "10000"`},
		{"string key, numeric room of same digits", testApp, testKey, testUser, room, strKey, now, ErrWrongRoom, `key is for room "10000", want 10000`},
		{"other numeric room", testApp, testKey, testUser, roomN(10001), good, now, ErrWrongRoom, "wrong room"},
		{"wrong app", testApp + 1, testKey, testUser, room, good, now, ErrWrongApp, "wrong app"},
		{"wrong user", testApp, testKey, "other", room, good, now, ErrWrongUser, "wrong user"},
		{"wrong key", testApp, "nope", testUser, room, good, now, ErrBadSignature, "bad signature"},
		{"envelope expired", testApp, testKey, testUser, room, good, unix(testT0 + 3601), ErrExpired, "expired at 2026-01-01T01:00:00Z"},
		{"absolute expiry passed", testApp, testKey, testUser, room, shortAbs, unix(testT0 + 61), ErrExpired, "expired at 2026-01-01T00:01:00Z (userbuf expiry)"},
		{"userbuf sdkappid differs", testApp, testKey, testUser, room, otherApp, now, ErrWrongApp, "userbuf is for sdkappid 1400000001"},
		{"userbuf account differs", testApp, testKey, testUser, room, otherAcct, now, ErrWrongUser, "userbuf account differs"},
		{"malformed userbuf", testApp, testKey, testUser, room, malformed, now, ErrBadEncoding, "userbuf"},
		{"plain usersig", testApp, testKey, testUser, room, plain, now, ErrUserBufMismatch, "no TLS.userbuf"},
		{"invalid room", testApp, testKey, testUser, protocol.RoomRef{}, good, now, ErrInvalidArgument, "invalid room id"},
		{"not a token", testApp, testKey, testUser, room, "%%%", now, ErrBadEncoding, "base64"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := VerifyPrivateMapKey(tc.app, tc.key, tc.user, tc.room, tc.tok, tc.now)
			wantOnly(t, err, tc.want)
			if !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("error %q does not contain %q", err, tc.msg)
			}
			if strings.Contains(err.Error(), testUser) || strings.Contains(err.Error(), "mallory") {
				t.Fatalf("error %q leaks a user ID", err)
			}
		})
	}
	// Boundary: valid at the absolute expiry itself.
	if _, err := VerifyPrivateMapKey(testApp, testKey, testUser, room, shortAbs, unix(testT0+60)); err != nil {
		t.Fatalf("at absolute expiry: %v", err)
	}
	// A PrivateMapKey is not a plain UserSig.
	_, err = VerifyUserSig(testApp, testKey, testUser, good, now)
	wantOnly(t, err, ErrUserBufMismatch)
}

func TestGeneratePrivateMapKeyRejects(t *testing.T) {
	for _, tc := range []struct {
		name   string
		room   protocol.RoomRef
		expire time.Duration
		now    time.Time
	}{
		{"no room", protocol.RoomRef{}, time.Hour, unix(testT0)},
		{"bad string room", roomS("no/slash"), time.Hour, unix(testT0)},
		{"expiry past 2106", roomN(1), time.Hour, unix(1<<32 - 60)},
		{"fractional expire", roomN(1), time.Second / 2, unix(testT0)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := GeneratePrivateMapKey(testApp, testKey, testUser, tc.room, PrivAll, tc.expire, tc.now)
			wantOnly(t, err, ErrInvalidArgument)
		})
	}
}

func TestPrivateMapKeyUserbufIsBigEndian(t *testing.T) {
	key, err := GeneratePrivateMapKey(testApp, testKey, testUser, roomN(0x01020304), Privileges(0x0a0b0c0d), time.Hour, unix(testT0))
	if err != nil {
		t.Fatal(err)
	}
	c, err := ParseUserSig(key)
	if err != nil {
		t.Fatal(err)
	}
	tail := c.UserBuf[3+len(testUser):]
	if binary.BigEndian.Uint32(tail[4:8]) != 0x01020304 || binary.BigEndian.Uint32(tail[12:16]) != 0x0a0b0c0d {
		t.Fatalf("userbuf %x", c.UserBuf)
	}
}
