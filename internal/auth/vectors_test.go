package auth

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/parley-rtc/parley/protocol"
)

// verifyVector verifies v's token as its kind requires at now and returns
// the envelope claims.
func verifyVector(t *testing.T, v vectorEntry, app uint32, key, user string, room protocol.RoomRef, now time.Time) (Claims, error) {
	t.Helper()
	switch v.Kind {
	case "usersig":
		return VerifyUserSig(app, key, user, v.Token, now)
	case "usersig_userbuf":
		ub, err := base64.StdEncoding.DecodeString(*v.UserBuf)
		if err != nil {
			t.Fatal(err)
		}
		return VerifyUserSigWithUserBuf(app, key, user, v.Token, ub, now)
	case "privatemapkey":
		c, err := VerifyPrivateMapKey(app, key, user, room, v.Token, now)
		return c.Claims, err
	}
	t.Fatalf("unknown kind %q", v.Kind)
	return Claims{}, nil
}

func vectorRoom(v vectorEntry) protocol.RoomRef {
	return protocol.RoomRef{ID: v.RoomID, Str: v.StrRoomID}
}

// otherNamespace is the same room name in the other namespace: numeric
// 10000 ↔ string "10000".
func otherNamespace(t *testing.T, r protocol.RoomRef) protocol.RoomRef {
	t.Helper()
	if r.ID != 0 {
		return roomS(strconv.FormatUint(uint64(r.ID), 10))
	}
	n, err := strconv.ParseUint(r.Str, 10, 32)
	if err != nil {
		return roomN(1)
	}
	return roomN(uint32(n))
}

func TestOfficialVectors(t *testing.T) {
	vf := loadVectors(t)
	if vf.Library.Name != "tls-sig-api-v2" || vf.Library.Version != "1.0.2" {
		t.Fatalf("vectors from %s@%s", vf.Library.Name, vf.Library.Version)
	}
	kinds := map[string]int{}
	for _, v := range vf.Official {
		kinds[v.Kind]++
		t.Run(v.Name, func(t *testing.T) {
			if !strings.HasPrefix(v.Token, "eJ") {
				t.Fatalf("official token %q is not default-level zlib", v.Token)
			}
			room := vectorRoom(v)
			at := unix(v.Time)
			c, err := verifyVector(t, v, v.SDKAppID, v.Key, v.User, room, at)
			if err != nil {
				t.Fatalf("verify: %v", err)
			}
			if c.Identifier != v.User || c.SDKAppID != v.SDKAppID || c.Time != v.Time || c.Expire != v.Expire {
				t.Fatalf("claims %+v", c)
			}
			if v.Kind == "privatemapkey" {
				pk, err := VerifyPrivateMapKey(v.SDKAppID, v.Key, v.User, room, v.Token, at)
				if err != nil {
					t.Fatal(err)
				}
				want := PrivateMap{Account: v.User, SDKAppID: v.SDKAppID, Room: room, ExpiresAt: uint32(v.Time + v.Expire), Privileges: Privileges(v.Privileges)}
				if pk.Map != want {
					t.Fatalf("map %+v, want %+v", pk.Map, want)
				}
				_, err = verifyVector(t, v, v.SDKAppID, v.Key, v.User, otherNamespace(t, room), at)
				wantOnly(t, err, ErrWrongRoom)
			}
			if _, err := verifyVector(t, v, v.SDKAppID, v.Key, v.User, room, unix(v.Time+v.Expire)); err != nil {
				t.Fatalf("at time+expire: %v", err)
			}
			_, err = verifyVector(t, v, v.SDKAppID, v.Key, v.User, room, unix(v.Time+v.Expire+1))
			wantOnly(t, err, ErrExpired)
			_, err = verifyVector(t, v, v.SDKAppID, v.Key+"0", v.User, room, at)
			wantOnly(t, err, ErrBadSignature)
			_, err = verifyVector(t, v, v.SDKAppID, v.Key, v.User+"x", room, at)
			wantOnly(t, err, ErrWrongUser)
			_, err = verifyVector(t, v, v.SDKAppID+1, v.Key, v.User, room, at)
			wantOnly(t, err, ErrWrongApp)
		})
	}
	for _, k := range []string{"usersig", "usersig_userbuf", "privatemapkey"} {
		if kinds[k] == 0 {
			t.Errorf("no official %s vector", k)
		}
	}
}

func TestParleyVectorsVerifiedByOfficial(t *testing.T) {
	vf := loadVectors(t)
	for _, v := range vf.Parley {
		t.Run(v.Name, func(t *testing.T) {
			if !v.Verified {
				t.Fatal("not verified by the official library")
			}
			room := vectorRoom(v)
			got, err := verifyVector(t, v, v.SDKAppID, v.Key, v.User, room, unix(v.Time))
			if err != nil {
				t.Fatalf("verify: %v", err)
			}
			// Parley today issues the same signed document for the same
			// inputs (compressed bytes may differ across Go versions).
			now, expire := unix(v.Time), time.Duration(v.Expire)*time.Second
			var again string
			switch v.Kind {
			case "usersig":
				again, err = GenerateUserSig(v.SDKAppID, v.Key, v.User, expire, now)
			case "usersig_userbuf":
				ub, derr := base64.StdEncoding.DecodeString(*v.UserBuf)
				if derr != nil {
					t.Fatal(derr)
				}
				again, err = GenerateUserSigWithUserBuf(v.SDKAppID, v.Key, v.User, expire, ub, now)
			case "privatemapkey":
				again, err = GeneratePrivateMapKey(v.SDKAppID, v.Key, v.User, room, Privileges(v.Privileges), expire, now)
			}
			if err != nil {
				t.Fatal(err)
			}
			a, errA := decodeToken(again)
			b, errB := decodeToken(v.Token)
			if err := errors.Join(errA, errB); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(a.sig, b.sig) || !bytes.Equal(a.UserBuf, b.UserBuf) || a.Time != got.Time {
				t.Fatal("regenerated token differs from the recorded one")
			}
		})
	}
}
