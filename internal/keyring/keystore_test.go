package keyring

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

type stepClock struct{ t time.Time }

func (c *stepClock) now() time.Time { return c.t }

func openTestKeystore(t *testing.T, path string, kek []byte, c *stepClock) *Keystore {
	t.Helper()
	ks, err := OpenKeystore(path, kek, KeystoreOptions{Now: c.now})
	if err != nil {
		t.Fatal(err)
	}
	return ks
}

// proves RIGHTS-5: an epoch key outlives its window by at most one
// rotation, so a key wrapped under it (in a backup) becomes unrecoverable.
func TestKeystoreRotationDestroysAfterWindow(t *testing.T) {
	c := &stepClock{t: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)}
	path := filepath.Join(t.TempDir(), "ks", "epochs.json")
	ks := openTestKeystore(t, path, testKEK(t), c)
	dk := bytes.Repeat([]byte{1}, 32)
	epoch, wrapped, err := ks.Wrap(dk, []byte("k1"))
	if err != nil {
		t.Fatal(err)
	}
	for day := 1; day <= 6; day++ {
		c.t = c.t.Add(24 * time.Hour)
		if rotated, err := ks.Rotate(); err != nil || !rotated {
			t.Fatalf("day %d: rotated=%v err=%v", day, rotated, err)
		}
		if gone, err := ks.DestroyExpired(); err != nil || len(gone) != 0 {
			t.Fatalf("day %d: destroyed %v (%v) inside the window", day, gone, err)
		}
	}
	if got, err := ks.Unwrap(epoch, wrapped, []byte("k1")); err != nil || !bytes.Equal(got, dk) {
		t.Fatalf("inside the window: %v", err)
	}
	if _, err := ks.Unwrap(epoch, wrapped, []byte("k2")); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("wrong aad: %v", err)
	}
	c.t = c.t.Add(24 * time.Hour) // day 7: the first epoch is a window old
	if _, err := ks.Rotate(); err != nil {
		t.Fatal(err)
	}
	gone, err := ks.DestroyExpired()
	if err != nil || len(gone) != 1 || gone[0] != epoch {
		t.Fatalf("destroyed %v, %v; want [%s]", gone, err, epoch)
	}
	// Reopened from the file, the destroyed epoch is gone for good.
	ks2 := openTestKeystore(t, path, testKEK(t), c)
	if _, err := ks2.Unwrap(epoch, wrapped, []byte("k1")); !errors.Is(err, ErrEpochDestroyed) {
		t.Fatalf("after the window: %v, want ErrEpochDestroyed", err)
	}
	if n := len(ks2.Epochs()); n != 7 {
		t.Fatalf("%d epochs kept, want 7", n)
	}
}

func TestKeystoreNoRotationBeforeInterval(t *testing.T) {
	c := &stepClock{t: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)}
	ks := openTestKeystore(t, filepath.Join(t.TempDir(), "e.json"), testKEK(t), c)
	c.t = c.t.Add(23 * time.Hour)
	if rotated, err := ks.Rotate(); err != nil || rotated {
		t.Fatalf("rotated=%v err=%v before the interval", rotated, err)
	}
}

func TestKeystoreWrongKEKAndRotateKEK(t *testing.T) {
	c := &stepClock{t: time.Now()}
	path := filepath.Join(t.TempDir(), "e.json")
	ks := openTestKeystore(t, path, testKEK(t), c)
	epoch, wrapped, _ := ks.Wrap([]byte("0123456789abcdef0123456789abcdef"), nil)
	other := bytes.Repeat([]byte{9}, KEKSize)
	if _, err := OpenKeystore(path, other, KeystoreOptions{}); !errors.Is(err, ErrWrongKEK) {
		t.Fatalf("other KEK: %v", err)
	}
	if err := ks.RotateKEK(other); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenKeystore(path, testKEK(t), KeystoreOptions{}); !errors.Is(err, ErrWrongKEK) {
		t.Fatalf("old KEK after rotation: %v", err)
	}
	ks2, err := OpenKeystore(path, other, KeystoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ks2.Unwrap(epoch, wrapped, nil); err != nil {
		t.Fatalf("data keys survive KEK rotation: %v", err)
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("keystore mode %v, %v", st.Mode().Perm(), err)
	}
}

func TestKeystoreRejectsBadFiles(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{
		"notjson":  "{",
		"version":  `{"version":2,"kek_id":"x","epochs":[]}`,
		"noepochs": `{"version":1,"kek_id":"` + KeyID(testKEK(t)) + `","epochs":[]}`,
		"badseal":  `{"version":1,"kek_id":"` + KeyID(testKEK(t)) + `","epochs":[{"id":"a","created_ms":1,"sealed_key":"AAAA"}]}`,
	} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := OpenKeystore(p, testKEK(t), KeystoreOptions{}); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := OpenKeystore(filepath.Join(dir, "w"), testKEK(t), KeystoreOptions{RotateEvery: time.Hour, Window: time.Hour}); err == nil {
		t.Error("window not longer than the rotation accepted")
	}
}

func TestBlindIndexRefs(t *testing.T) {
	k, _ := Derive(testKEK(t), IndexLabel)
	b, err := NewBlindIndexKey(k)
	if err != nil {
		t.Fatal(err)
	}
	r := b.User(1, "alice")
	if len(r) != RefTextLen || r != b.User(1, "alice") || r == b.User(2, "alice") || r == b.Device(1, "alice") {
		t.Fatalf("refs: %q", r)
	}
	sum, ok := RefBytes(r)
	if !ok || !bytes.Equal(sum, b.Sum(1, "user", "alice")) {
		t.Fatal("RefBytes does not invert RefText")
	}
	for _, bad := range []string{"", "alice", "~short", r[1:] + "x"} {
		if _, ok := RefBytes(bad); ok {
			t.Errorf("RefBytes(%q) accepted", bad)
		}
	}
}
