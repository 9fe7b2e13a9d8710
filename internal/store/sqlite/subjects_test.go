package sqlite

import (
	"bytes"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/parley-rtc/parley/internal/keyring"
	"github.com/parley-rtc/parley/internal/store"
)

type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

// proves RIGHTS-5: a backup taken before an erasure opens the erased
// subject's data inside the keystore window (the restore case) and never
// after it, while other subjects in the same backup stay readable as long
// as they exist in the live database.
func TestShredReachesBackupAfterWindow(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	clk := &fakeClock{t: time.Date(2026, 11, 2, 8, 0, 0, 0, time.UTC)}
	ksPath := filepath.Join(dir, "keys", "epochs.json")
	opts := Options{KEK: testKEK, KeystorePath: ksPath, Keystore: keyring.KeystoreOptions{Now: clk.now}}
	db, err := Open(ctx, filepath.Join(dir, "live.db"), opts)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.ensureKeys(ctx, 1, "alice", "bob"); err != nil {
		t.Fatal(err)
	}
	sealedA, err := db.sealFor(ctx, db.read, 1, "alice", []byte("alice's secret"), []byte("t"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.sealFor(ctx, db.read, 1, "bob", []byte("bob's"), []byte("t")); err != nil {
		t.Fatal(err)
	}
	backup := filepath.Join(dir, "backup.db")
	if err := db.Backup(ctx, backup); err != nil {
		t.Fatal(err)
	}
	ids, err := db.ShredSubject(ctx, 1, "alice")
	if err != nil || len(ids) != 1 {
		t.Fatalf("shred: %v %v", ids, err)
	}
	if _, err := db.open(ctx, db.read, sealedA, []byte("t")); !errors.Is(err, store.ErrErased) {
		t.Fatalf("live open after shred: %v, want ErrErased", err)
	}
	if _, err := db.userOf(ctx, db.read, 1, db.UserRef(1, "alice")); !errors.Is(err, store.ErrErased) {
		t.Fatalf("userOf after shred: %v", err)
	}

	openBackup := func() *DB {
		t.Helper()
		b, err := Open(ctx, backup, opts) // the live keystore, as a restore would
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	// Day 3: the backup still opens alice's data (restores work).
	for range 3 {
		clk.t = clk.t.Add(24 * time.Hour)
		if _, err := db.RotateKeys(ctx); err != nil {
			t.Fatal(err)
		}
	}
	b := openBackup()
	if got, err := b.open(ctx, b.read, sealedA, []byte("t")); err != nil || string(got) != "alice's secret" {
		t.Fatalf("inside the window the backup should open: %q %v", got, err)
	}
	b.Close()
	// After the window the epoch that wrapped the backup's copy of
	// alice's key is destroyed.
	for range 5 {
		clk.t = clk.t.Add(24 * time.Hour)
		r, err := db.RotateKeys(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if r.Rewrapped == 0 && r.NewEpoch {
			t.Fatal("bob's live key was not rewrapped under the new epoch")
		}
	}
	b = openBackup()
	defer b.Close()
	if _, err := b.open(ctx, b.read, sealedA, []byte("t")); !errors.Is(err, store.ErrErased) {
		t.Fatalf("after the window the backup opened alice's data: %v", err)
	}
	// Bob still exists live: his key was rewrapped and opens.
	if _, err := db.userOf(ctx, db.read, 1, db.UserRef(1, "bob")); err != nil {
		t.Fatalf("live subject lost by rotation: %v", err)
	}
}

func TestSubjectKeysAreStable(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "k.db")
	db, err := Open(ctx, path, testOptions())
	if err != nil {
		t.Fatal(err)
	}
	if err := db.ensureKeys(ctx, 7, "carol"); err != nil {
		t.Fatal(err)
	}
	sealed, err := db.sealFor(ctx, db.read, 7, "carol", []byte("x"), nil)
	if err != nil {
		t.Fatal(err)
	}
	id, _ := db.SubjectKeyID(ctx, 7, "carol")
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	// A second process (reopen) finds the same key by id and by subject.
	db, err = Open(ctx, path, testOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if got, err := db.open(ctx, db.read, sealed, nil); err != nil || !bytes.Equal(got, []byte("x")) {
		t.Fatalf("reopen: %q %v", got, err)
	}
	if err := db.ensureKeys(ctx, 7, "carol"); err != nil {
		t.Fatal(err)
	}
	if id2, _ := db.SubjectKeyID(ctx, 7, "carol"); id2 != id || id == "" {
		t.Fatalf("key id changed: %q → %q", id, id2)
	}
	if u, err := db.userOf(ctx, db.read, 7, db.UserRef(7, "carol")); err != nil || u != "carol" {
		t.Fatalf("userOf = %q, %v", u, err)
	}
	// Without a KEK nothing personal can be read or written.
	nk, err := Open(ctx, filepath.Join(t.TempDir(), "n.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer nk.Close()
	if err := nk.ensureKeys(ctx, 7, "carol"); !errors.Is(err, ErrNoKEK) {
		t.Fatalf("no KEK: %v", err)
	}
}
