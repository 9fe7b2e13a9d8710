package sqlite

import (
	"strings"
	"testing"
	"time"

	"github.com/parley-rtc/parley/internal/store"
)

// A logout deletes the device's token only; retention deletes tokens not
// refreshed within the TTL; a second registration replaces the first.
func TestIMPushTokens(t *testing.T) {
	db := openTest(t)
	ctx := testContext(t)
	t0 := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	put := func(dev, vendor, token string, at time.Time) {
		t.Helper()
		if err := db.PutIMPushToken(ctx, store.IMPushToken{SDKAppID: 1, UserID: "bob", DeviceID: dev, Vendor: vendor, Token: token, RegisteredAt: at}); err != nil {
			t.Fatal(err)
		}
	}
	put("d1", "xiaomi", "tok-1", t0)
	put("d2", "apns", "tok-2", t0.Add(time.Hour))
	put("d1", "huawei", "tok-1b", t0.Add(2*time.Hour)) // refresh replaces
	if err := db.PutIMPushToken(ctx, store.IMPushToken{SDKAppID: 1, UserID: "bob", DeviceID: "d3", Vendor: "nokia", Token: "x", RegisteredAt: t0}); err == nil {
		t.Fatal("unknown vendor stored")
	}
	got, err := db.IMPushTokens(ctx, 1, "bob")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Vendor != "huawei" || got[0].Token != "tok-1b" || got[1].DeviceID != "d2" || !got[1].RegisteredAt.Equal(t0.Add(time.Hour)) {
		t.Fatalf("tokens = %+v", got)
	}
	if n, err := db.DeleteIMPushTokensBefore(ctx, t0.Add(90*time.Minute)); err != nil || n != 1 {
		t.Fatalf("expire: %d, %v", n, err)
	}
	if n, err := db.DeleteIMPushTokens(ctx, 1, "bob", "d1"); err != nil || n != 1 {
		t.Fatalf("logout: %d, %v", n, err)
	}
	if got, _ := db.IMPushTokens(ctx, 1, "bob"); len(got) != 0 {
		t.Fatalf("left: %+v", got)
	}
}

// proves RIGHTS-3 for push tokens: the erasure methods delete exactly the
// subject's tokens (one device, then all), and after the user's key is
// destroyed their tokens are skipped by the push lookup without failing.
func TestIMPushTokensEraseAndShred(t *testing.T) {
	db := openTest(t)
	ctx := testContext(t)
	t0 := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	for _, tok := range []store.IMPushToken{
		{SDKAppID: 1, UserID: "bob", DeviceID: "d1", Vendor: "apns", Token: "t-bob-1"},
		{SDKAppID: 1, UserID: "bob", DeviceID: "d2", Vendor: "fcm", Token: "t-bob-2"},
		{SDKAppID: 1, UserID: "carol", DeviceID: "d1", Vendor: "apns", Token: "t-carol-1"},
		{SDKAppID: 2, UserID: "bob", DeviceID: "d1", Vendor: "apns", Token: "t-bob-app2"},
	} {
		tok.RegisteredAt = t0
		if err := db.PutIMPushToken(ctx, tok); err != nil {
			t.Fatal(err)
		}
	}
	count := func(app uint32, user string) int64 {
		t.Helper()
		n, err := db.CountPushTokens(ctx, app, user)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if _, err := db.ErasePushTokensDevice(ctx, 1, "bob", ""); err == nil {
		t.Fatal("device erasure without a device id accepted")
	}
	if n, err := db.ErasePushTokensDevice(ctx, 1, "bob", "d2"); err != nil || n != 1 {
		t.Fatalf("erase bob/d2 = %d, %v", n, err)
	}
	if got, _ := db.IMPushTokens(ctx, 1, "bob"); len(got) != 1 || got[0].DeviceID != "d1" || got[0].Token != "t-bob-1" {
		t.Fatalf("bob after device erasure: %+v", got)
	}
	if n, err := db.ErasePushTokens(ctx, 1, "bob"); err != nil || n != 1 {
		t.Fatalf("erase bob = %d, %v", n, err)
	}
	if count(1, "bob") != 0 || count(1, "carol") != 1 || count(2, "bob") != 1 {
		t.Fatal("erasure deleted the wrong tokens")
	}

	if _, err := db.ShredSubject(ctx, 1, "carol"); err != nil {
		t.Fatal(err)
	}
	if got, err := db.IMPushTokens(ctx, 1, "carol"); err != nil || len(got) != 0 {
		t.Fatalf("carol's tokens after shred = %+v, %v", got, err)
	}
	if count(1, "carol") != 1 {
		t.Fatal("shred deleted the row; only erasure does")
	}
	// A login after the shred registers afresh under a new key.
	if err := db.PutIMPushToken(ctx, store.IMPushToken{SDKAppID: 1, UserID: "carol", DeviceID: "d1", Vendor: "apns", Token: "t-carol-new", RegisteredAt: t0}); err != nil {
		t.Fatal(err)
	}
	if got, err := db.IMPushTokens(ctx, 1, "carol"); err != nil || len(got) != 1 || got[0].Token != "t-carol-new" {
		t.Fatalf("carol re-registered = %+v, %v", got, err)
	}
	if err := db.PutIMPushToken(ctx, store.IMPushToken{SDKAppID: 1, UserID: "carol", DeviceID: "d1", Vendor: "apns",
		Token: strings.Repeat("x", 513), RegisteredAt: t0}); err == nil {
		t.Fatal("token over 512 bytes stored")
	}
}
