package sqlite

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/parley-rtc/parley/internal/store"
)

func newApp(t *testing.T, db *DB, name string) store.App {
	t.Helper()
	id, err := db.AllocateSDKAppID(testContext(t))
	if err != nil {
		t.Fatal(err)
	}
	a := store.App{
		SDKAppID:     id,
		Name:         name,
		SealedSecret: []byte("sealed-" + name),
		SecretKeyID:  "0011223344556677",
		Settings:     store.AppSettings{BillingMode: store.BillingParticipantMinutes},
		CreatedAt:    time.Date(2026, 11, 5, 10, 0, 0, 123456000, time.UTC),
	}
	if err := db.CreateApp(testContext(t), a); err != nil {
		t.Fatal(err)
	}
	return a
}

func TestAppCRUD(t *testing.T) {
	db := openTest(t)
	ctx := testContext(t)

	a := newApp(t, db, "first")
	if a.SDKAppID != 1400000001 {
		t.Fatalf("first SDKAppID = %d, want 1400000001", a.SDKAppID)
	}
	b := newApp(t, db, "second")
	if b.SDKAppID != 1400000002 {
		t.Fatalf("second SDKAppID = %d", b.SDKAppID)
	}

	got, err := db.GetApp(ctx, a.SDKAppID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != a.Name || !bytes.Equal(got.SealedSecret, a.SealedSecret) ||
		got.SecretKeyID != a.SecretKeyID || got.Settings != a.Settings || !got.CreatedAt.Equal(a.CreatedAt) {
		t.Fatalf("GetApp = %+v, want %+v", got, a)
	}

	if err := db.CreateApp(ctx, a); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("duplicate create: err = %v, want ErrConflict", err)
	}

	s := store.AppSettings{Recording: true, Relay: true, BillingMode: store.BillingBandwidth, EnforcePrivateMapKey: true}
	if err := db.UpdateAppSettings(ctx, a.SDKAppID, s); err != nil {
		t.Fatal(err)
	}
	if err := db.UpdateAppSecret(ctx, a.SDKAppID, []byte("new"), "8899aabbccddeeff"); err != nil {
		t.Fatal(err)
	}
	got, err = db.GetApp(ctx, a.SDKAppID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Settings != s || string(got.SealedSecret) != "new" || got.SecretKeyID != "8899aabbccddeeff" {
		t.Fatalf("after updates: %+v", got)
	}
	bad := s
	bad.BillingMode = "free"
	if err := db.UpdateAppSettings(ctx, a.SDKAppID, bad); err == nil {
		t.Fatal("unknown billing mode stored")
	}

	apps, err := db.ListApps(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(apps) != 2 || apps[0].SDKAppID != a.SDKAppID || apps[1].SDKAppID != b.SDKAppID {
		t.Fatalf("ListApps = %+v", apps)
	}

	if err := db.DeleteApp(ctx, a.SDKAppID); err != nil {
		t.Fatal(err)
	}
	for name, err := range map[string]error{
		"get":      func() error { _, err := db.GetApp(ctx, a.SDKAppID); return err }(),
		"delete":   db.DeleteApp(ctx, a.SDKAppID),
		"settings": db.UpdateAppSettings(ctx, a.SDKAppID, s),
		"secret":   db.UpdateAppSecret(ctx, a.SDKAppID, []byte("x"), "k"),
	} {
		if !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s after delete: err = %v, want ErrNotFound", name, err)
		}
	}

	// Deleted ids are not reused.
	c := newApp(t, db, "third")
	if c.SDKAppID != 1400000003 {
		t.Fatalf("after delete, SDKAppID = %d, want 1400000003", c.SDKAppID)
	}
}

func TestListAppsEmpty(t *testing.T) {
	apps, err := openTest(t).ListApps(testContext(t))
	if err != nil || len(apps) != 0 {
		t.Fatalf("ListApps = %v, %v", apps, err)
	}
}

func TestConcurrentCreate(t *testing.T) {
	db := openTest(t)
	ctx := testContext(t)
	const workers, each = 16, 20
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				id, err := db.AllocateSDKAppID(ctx)
				if err != nil {
					errs <- err
					return
				}
				err = db.CreateApp(ctx, store.App{
					SDKAppID:     id,
					Name:         fmt.Sprintf("w%d-%d", w, i),
					SealedSecret: []byte{1},
					SecretKeyID:  "k",
					Settings:     store.AppSettings{BillingMode: store.BillingBandwidth},
					CreatedAt:    time.Unix(0, 0),
				})
				if err != nil {
					errs <- err
					return
				}
				// Reads run alongside the writer.
				if _, err := db.GetApp(ctx, id); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	apps, err := db.ListApps(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(apps) != workers*each {
		t.Fatalf("%d apps, want %d", len(apps), workers*each)
	}
	seen := make(map[uint32]bool, len(apps))
	for i, a := range apps {
		if seen[a.SDKAppID] {
			t.Fatalf("duplicate SDKAppID %d", a.SDKAppID)
		}
		seen[a.SDKAppID] = true
		if want := uint32(1400000001 + i); a.SDKAppID != want {
			t.Fatalf("apps[%d].SDKAppID = %d, want %d (no gaps)", i, a.SDKAppID, want)
		}
	}
}

// Two Open handles on one file stand in for the server and the CLI running
// at the same time: each has its own writer, and SQLite's file lock plus
// busy_timeout serialise them.
func TestTwoHandlesOneFile(t *testing.T) {
	dir := t.TempDir()
	ctx := testContext(t)
	open := func() *DB {
		db, err := Open(ctx, dir+"/parley.db", testOptions())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	d1, d2 := open(), open()
	var wg sync.WaitGroup
	ids := make(chan uint32, 40)
	for _, db := range []*DB{d1, d2} {
		wg.Go(func() {
			for range 20 {
				id, err := db.AllocateSDKAppID(ctx)
				if err != nil {
					t.Error(err)
					return
				}
				ids <- id
			}
		})
	}
	wg.Wait()
	close(ids)
	seen := map[uint32]bool{}
	for id := range ids {
		if seen[id] {
			t.Fatalf("id %d allocated twice across handles", id)
		}
		seen[id] = true
	}
	if len(seen) != 40 {
		t.Fatalf("%d ids", len(seen))
	}
}
