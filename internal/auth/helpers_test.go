package auth

import (
	"encoding/json"
	"errors"
	"os"
	"testing"
	"time"
)

const (
	testApp  uint32 = 1400000000
	testKey         = "5bd2850fff3ecb11d7c805251c51ee463a25727bddc2385f3fa8bfee1bb93b5e"
	testUser        = "xiaojun"
	testT0          = 1767225600 // 2026-01-01T00:00:00Z
)

// sentinels lists every sentinel error of the package.
func sentinels() []error {
	return []error{
		ErrBadEncoding, ErrWrongApp, ErrWrongUser, ErrExpired,
		ErrBadSignature, ErrUserBufMismatch, ErrWrongRoom, ErrInvalidArgument,
	}
}

// wantOnly fails unless err wraps want and no other sentinel, so each
// rejection reason is distinct.
func wantOnly(t testing.TB, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("error %v, want %v", err, want)
	}
	for _, s := range sentinels() {
		if s != want && errors.Is(err, s) {
			t.Fatalf("error %v also wraps %v", err, s)
		}
	}
}

// vectorFile mirrors testdata/usersig/vectors.json.
type vectorFile struct {
	Library struct {
		Name    string `json:"name"`
		Version string `json:"version"`
	} `json:"library"`
	Official []vectorEntry `json:"official"`
	Parley   []vectorEntry `json:"parley_generated"`
}

type vectorEntry struct {
	Name       string  `json:"name"`
	Kind       string  `json:"kind"`
	SDKAppID   uint32  `json:"sdkappid"`
	Key        string  `json:"key"`
	User       string  `json:"user"`
	Expire     int64   `json:"expire"`
	Time       int64   `json:"time"`
	UserBuf    *string `json:"userbuf"`
	RoomID     uint32  `json:"room_id"`
	StrRoomID  string  `json:"str_room_id"`
	Privileges uint32  `json:"privileges"`
	Token      string  `json:"token"`
	Verified   bool    `json:"verified_by_official"`
}

const vectorsPath = "../../testdata/usersig/vectors.json"

func loadVectors(t testing.TB) vectorFile {
	t.Helper()
	data, err := os.ReadFile(vectorsPath)
	if err != nil {
		t.Fatalf("read vectors: %v", err)
	}
	var v vectorFile
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatalf("parse vectors: %v", err)
	}
	if len(v.Official) == 0 || len(v.Parley) == 0 {
		t.Fatalf("vectors file has %d official and %d Parley tokens", len(v.Official), len(v.Parley))
	}
	return v
}

// unix is a test clock reading.
func unix(sec int64) time.Time { return time.Unix(sec, 0) }

// mustGen generates a UserSig at the given zlib level or fails the test.
func mustGen(t testing.TB, userBuf []byte, level int) string {
	t.Helper()
	s, err := generate(testApp, testKey, testUser, time.Hour, userBuf, unix(testT0), level)
	if err != nil {
		t.Fatalf("generate: %v", err)
	}
	return s
}
