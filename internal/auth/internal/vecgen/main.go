// Command vecgen prints Parley-generated UserSigs and PrivateMapKeys as JSON
// for testdata/usersig/gen.mjs, which checks each one against Tencent's
// official Node library and records the result in
// testdata/usersig/vectors.json under "parley_generated".
//
// All inputs, including the clock, are fixed so the output is reproducible.
//
//	go run ./internal/auth/internal/vecgen
package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/parley-rtc/parley/internal/auth"
	"github.com/parley-rtc/parley/protocol"
)

// vector is one generated token and the inputs that produced it; the field
// names match vectors.json.
type vector struct {
	Name       string  `json:"name"`
	Kind       string  `json:"kind"`
	SDKAppID   uint32  `json:"sdkappid"`
	Key        string  `json:"key"`
	User       string  `json:"user"`
	Expire     int64   `json:"expire"`
	Time       int64   `json:"time"`
	UserBuf    *string `json:"userbuf,omitempty"`
	RoomID     uint32  `json:"room_id,omitempty"`
	StrRoomID  string  `json:"str_room_id,omitempty"`
	Privileges uint32  `json:"privileges,omitempty"`
	Token      string  `json:"token"`
}

func main() {
	vs, err := generate()
	if err != nil {
		fmt.Fprintln(os.Stderr, "vecgen:", err)
		os.Exit(1)
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(vs); err != nil {
		fmt.Fprintln(os.Stderr, "vecgen:", err)
		os.Exit(1)
	}
}

func generate() ([]vector, error) {
	const (
		key = "5bd2850fff3ecb11d7c805251c51ee463a25727bddc2385f3fa8bfee1bb93b5e"
		t0  = 1767225600 // 2026-01-01T00:00:00Z
	)
	b64 := func(b []byte) *string { s := base64.StdEncoding.EncodeToString(b); return &s }
	vs := []vector{
		{Name: "parley usersig", Kind: "usersig", SDKAppID: 1400000000, Key: key, User: "parley_user-1", Expire: 86400 * 180, Time: t0},
		{Name: "parley usersig short expiry", Kind: "usersig", SDKAppID: 1400654321, Key: "parley-secret", User: "a", Expire: 1, Time: t0 + 7},
		{Name: "parley usersig with userbuf", Kind: "usersig_userbuf", SDKAppID: 1400000000, Key: key, User: "bob", Expire: 3600, Time: t0, UserBuf: b64([]byte("parley-userbuf\x00\xff"))},
		{Name: "parley usersig with empty userbuf", Kind: "usersig_userbuf", SDKAppID: 1400000000, Key: key, User: "bob", Expire: 3600, Time: t0, UserBuf: b64([]byte{})},
		{Name: "parley privatemapkey numeric room", Kind: "privatemapkey", SDKAppID: 1400000000, Key: key, User: "xiaojun", Expire: 300, Time: t0, RoomID: 10000, Privileges: 255},
		{Name: "parley privatemapkey string room", Kind: "privatemapkey", SDKAppID: 1400000000, Key: key, User: "xiaojun", Expire: 300, Time: t0, StrRoomID: "room A!#$%&()+-:;<=.>?@[]^_{}|~,", Privileges: 42},
	}
	for i := range vs {
		v := &vs[i]
		now := time.Unix(v.Time, 0)
		expire := time.Duration(v.Expire) * time.Second
		var err error
		switch v.Kind {
		case "usersig":
			v.Token, err = auth.GenerateUserSig(v.SDKAppID, v.Key, v.User, expire, now)
		case "usersig_userbuf":
			var ub []byte
			ub, err = base64.StdEncoding.DecodeString(*v.UserBuf)
			if err == nil {
				v.Token, err = auth.GenerateUserSigWithUserBuf(v.SDKAppID, v.Key, v.User, expire, ub, now)
			}
		case "privatemapkey":
			room := protocol.RoomRef{ID: v.RoomID, Str: v.StrRoomID}
			v.Token, err = auth.GeneratePrivateMapKey(v.SDKAppID, v.Key, v.User, room, auth.Privileges(v.Privileges), expire, now)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", v.Name, err)
		}
	}
	return vs, nil
}
