package sqlite

import (
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
