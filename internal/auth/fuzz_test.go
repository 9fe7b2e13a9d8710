package auth

import (
	"compress/zlib"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/parley-rtc/parley/protocol"
)

// seedTokens returns the vector tokens plus locally generated ones of every
// shape, so fuzzing starts from inputs that get past each decoding layer.
func seedTokens(f *testing.F) []vectorEntry {
	f.Helper()
	var seeds []vectorEntry
	if _, err := os.Stat(vectorsPath); err == nil {
		vf := loadVectors(f)
		seeds = append(seeds, vf.Official...)
		seeds = append(seeds, vf.Parley...)
	}
	for _, level := range []int{zlib.NoCompression, zlib.DefaultCompression} {
		for _, ub := range [][]byte{nil, {}, []byte("x")} {
			seeds = append(seeds, vectorEntry{Kind: "usersig", SDKAppID: testApp, Key: testKey, User: testUser, Time: testT0, Token: mustGen(f, ub, level)})
		}
		for _, r := range []protocol.RoomRef{roomN(10000), roomS("r-1")} {
			tok, err := generatePrivateMapKey(testApp, testKey, testUser, r, PrivAll, time.Hour, unix(testT0), level)
			if err != nil {
				f.Fatal(err)
			}
			seeds = append(seeds, vectorEntry{Kind: "privatemapkey", SDKAppID: testApp, Key: testKey, User: testUser, Time: testT0, RoomID: r.ID, StrRoomID: r.Str, Token: tok})
		}
	}
	return seeds
}

// isSentinel reports whether err wraps one of the package's sentinels: every
// failure must be classifiable.
func isSentinel(err error) bool {
	for _, s := range sentinels() {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

func FuzzParseUserSig(f *testing.F) {
	for _, s := range seedTokens(f) {
		f.Add(s.Token)
	}
	f.Add("")
	f.Add("eJyrVgrxCdYrSy1SslIy0jNQ0gHzM1NS80oy0zLBwhWZiflZpXlQqeKU7MSCgswUJStDEwMogMiUZOamKlkZmpuZGxmZmsFEUysKMotA4qampkZwtcWZ6UpWSkk5XoHejtnOrgbFHuHFhS7")
	f.Fuzz(func(t *testing.T, sig string) {
		c, err := ParseUserSig(sig)
		if err != nil {
			if !errors.Is(err, ErrBadEncoding) {
				t.Fatalf("parse error %v is not ErrBadEncoding", err)
			}
			return
		}
		if c.Identifier == "" || c.Time < 0 || c.Expire < 0 {
			t.Fatalf("parsed invalid claims %+v", c)
		}
		_ = c.ExpiresAt()
	})
}

func FuzzVerifyUserSig(f *testing.F) {
	for _, s := range seedTokens(f) {
		if s.Kind != "privatemapkey" {
			f.Add(s.SDKAppID, s.Key, s.User, s.Token, s.Time)
		}
	}
	f.Fuzz(func(t *testing.T, app uint32, key, user, sig string, now int64) {
		c, err := VerifyUserSig(app, key, user, sig, time.Unix(now, 0))
		if err != nil {
			if !isSentinel(err) {
				t.Fatalf("unclassified error %v", err)
			}
			return
		}
		if c.SDKAppID != app || c.Identifier != user || c.HasUserBuf() {
			t.Fatalf("verified claims %+v do not match the request", c)
		}
	})
}

func FuzzVerifyPrivateMapKey(f *testing.F) {
	for _, s := range seedTokens(f) {
		if s.Kind == "privatemapkey" {
			f.Add(s.SDKAppID, s.Key, s.User, s.RoomID, s.StrRoomID, s.Token, s.Time)
		}
	}
	f.Fuzz(func(t *testing.T, app uint32, key, user string, roomID uint32, strRoom, tok string, now int64) {
		room := protocol.RoomRef{ID: roomID, Str: strRoom}
		c, err := VerifyPrivateMapKey(app, key, user, room, tok, time.Unix(now, 0))
		if err != nil {
			if !isSentinel(err) {
				t.Fatalf("unclassified error %v", err)
			}
			return
		}
		if c.Map.SDKAppID != app || c.Map.Account != user || c.Map.Room != room.Normalized() || now > int64(c.Map.ExpiresAt) {
			t.Fatalf("verified map %+v does not match the request", c.Map)
		}
		// The userbuf decoder round-trips what it accepts.
		if string(encodePrivateMap(c.Map)) != string(c.UserBuf) && c.UserBuf[0] == pmkVerNumeric {
			t.Fatalf("userbuf %x does not re-encode", c.UserBuf)
		}
	})
}

func FuzzDecodePrivateMap(f *testing.F) {
	for _, s := range seedTokens(f) {
		if c, err := ParseUserSig(s.Token); err == nil && c.UserBuf != nil {
			f.Add(c.UserBuf)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := DecodePrivateMap(b)
		if err != nil {
			if !errors.Is(err, ErrBadEncoding) {
				t.Fatalf("error %v is not ErrBadEncoding", err)
			}
			return
		}
		// Numeric room 0 is no valid room (it re-encodes as a string room);
		// verification rejects it as ErrWrongRoom.
		if b[0] == pmkVerNumeric && m.Room.ID != 0 && string(encodePrivateMap(m)) != string(b) {
			t.Fatalf("numeric userbuf %x re-encodes as %x", b, encodePrivateMap(m))
		}
	})
}
