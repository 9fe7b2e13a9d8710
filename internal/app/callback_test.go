package app

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/parley-rtc/parley/internal/store"
)

// TestCallbacksSealedAndBoundToApp: the callback key is stored sealed
// (never in clear in the database file), opens only for its own app, and
// goes when the app is deleted (proves SEC-4, RETAIN-2 for callback keys).
func TestCallbacksSealedAndBoundToApp(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	l, err := OpenLocalStores(ctx, LocalOptions{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	a, err := l.Apps.Create(ctx, "cb")
	if err != nil {
		t.Fatal(err)
	}
	other, err := l.Apps.Create(ctx, "other")
	if err != nil {
		t.Fatal(err)
	}
	const key = "CallbackKey0123456789abcdefXYZ"
	if err := l.Callbacks.Set(ctx, a.SDKAppID, Callback{URL: "https://backend.example/trtc", Key: key}); err != nil {
		t.Fatal(err)
	}
	got, ok, err := l.Callbacks.Get(ctx, a.SDKAppID)
	if err != nil || !ok || got.Key != key || got.URL != "https://backend.example/trtc" {
		t.Fatalf("Get = %+v, %v, %v", got, ok, err)
	}
	for _, bad := range []Callback{{URL: "ftp://x/y", Key: "k"}, {URL: "https://x/y", Key: ""}, {URL: "https://x/y", Key: "has space"}, {URL: "/relative", Key: "k"}} {
		if err := l.Callbacks.Set(ctx, a.SDKAppID, bad); !errors.Is(err, ErrInvalidCallback) {
			t.Errorf("Set(%+v) = %v, want ErrInvalidCallback", bad, err)
		}
	}
	// The sealed key does not open for another app (associated data).
	row, err := l.DB.GetAppCallback(ctx, a.SDKAppID)
	if err != nil {
		t.Fatal(err)
	}
	row.SDKAppID = other.SDKAppID
	if err := l.DB.PutAppCallback(ctx, row); err != nil {
		t.Fatal(err)
	}
	if _, _, err := l.Callbacks.Get(ctx, other.SDKAppID); err == nil {
		t.Fatal("a callback key sealed for one app opened for another")
	}
	if err := l.Callbacks.Set(ctx, 999, Callback{URL: "https://x/y", Key: "k"}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("callback for an unknown app: %v", err)
	}
	if err := l.Apps.Delete(ctx, a.SDKAppID); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := l.Callbacks.Get(ctx, a.SDKAppID); err != nil || ok {
		t.Fatalf("callback survived its app: ok=%v err=%v", ok, err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "parley.db*"))
	for _, f := range files {
		b, _ := os.ReadFile(f)
		if bytes.Contains(b, []byte(key)) {
			t.Fatalf("callback key in clear in %s", f)
		}
	}
}
