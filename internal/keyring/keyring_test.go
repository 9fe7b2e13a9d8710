package keyring

import (
	"bytes"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
)

func testKEK(t *testing.T) []byte {
	t.Helper()
	return bytes.Repeat([]byte{7}, KEKSize)
}

func TestLoadOrCreateKEKCreatesFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	path := filepath.Join(dir, "kek")
	k1, err := LoadOrCreateKEK(path, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(k1) != KEKSize {
		t.Fatalf("len = %d", len(k1))
	}
	if runtime.GOOS != "windows" {
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("file mode = %v, want 0600", st.Mode().Perm())
		}
		dst, err := os.Stat(dir)
		if err != nil {
			t.Fatal(err)
		}
		if dst.Mode().Perm() != 0o700 {
			t.Errorf("dir mode = %v, want 0700", dst.Mode().Perm())
		}
	}
	k2, err := LoadOrCreateKEK(path, "")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(k1, k2) {
		t.Fatal("second load returned a different key")
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Errorf("temporary files left behind: %v", entries)
	}
}

func TestLoadOrCreateKEKEnvWins(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kek")
	want := testKEK(t)
	got, err := LoadOrCreateKEK(path, base64.StdEncoding.EncodeToString(want))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("env key not used")
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("key file created although PARLEY_KEK was set: %v", err)
	}
	for _, enc := range []*base64.Encoding{base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if _, err := LoadOrCreateKEK(path, " "+enc.EncodeToString(want)+"\n"); err != nil {
			t.Errorf("encoding %v: %v", enc, err)
		}
	}
}

func TestLoadOrCreateKEKRejectsBadKeys(t *testing.T) {
	dir := t.TempDir()
	for name, env := range map[string]string{
		"short":  base64.StdEncoding.EncodeToString(make([]byte, 16)),
		"long":   base64.StdEncoding.EncodeToString(make([]byte, 33)),
		"base64": "not base64 !!!",
	} {
		if _, err := LoadOrCreateKEK(filepath.Join(dir, "kek"), env); !errors.Is(err, ErrInvalidKEK) {
			t.Errorf("%s: err = %v, want ErrInvalidKEK", name, err)
		}
	}
	bad := filepath.Join(dir, "bad")
	if err := os.WriteFile(bad, []byte("garbage\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateKEK(bad, ""); !errors.Is(err, ErrInvalidKEK) {
		t.Fatalf("corrupt file: err = %v, want ErrInvalidKEK", err)
	}
	b, err := os.ReadFile(bad)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != "garbage\n" {
		t.Fatal("corrupt key file was overwritten")
	}
}

func TestLoadOrCreateKEKConcurrent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kek")
	const n = 16
	keys := make([][]byte, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { keys[i], errs[i] = LoadOrCreateKEK(path, "") })
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if !bytes.Equal(keys[i], keys[0]) {
			t.Fatal("concurrent creators disagree on the key")
		}
	}
}

func TestSealOpen(t *testing.T) {
	s, err := NewAESGCM(testKEK(t))
	if err != nil {
		t.Fatal(err)
	}
	pt := []byte("secret")
	aad := []byte("app:1400000001")
	c1, err := s.Seal(pt, aad)
	if err != nil {
		t.Fatal(err)
	}
	c2, err := s.Seal(pt, aad)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(c1, c2) {
		t.Fatal("two seals of the same plaintext are equal: nonce not random")
	}
	if bytes.Contains(c1, pt) {
		t.Fatal("plaintext visible in sealed value")
	}
	got, err := s.Open(c1, aad)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, pt) {
		t.Fatalf("Open = %q", got)
	}
}

func TestOpenDetectsTampering(t *testing.T) {
	s, err := NewAESGCM(testKEK(t))
	if err != nil {
		t.Fatal(err)
	}
	aad := []byte("app:1400000001")
	sealed, err := s.Seal([]byte("secret"), aad)
	if err != nil {
		t.Fatal(err)
	}
	for i := range sealed {
		c := bytes.Clone(sealed)
		c[i] ^= 0x01
		if _, err := s.Open(c, aad); !errors.Is(err, ErrDecrypt) {
			t.Fatalf("flipped byte %d: err = %v, want ErrDecrypt", i, err)
		}
	}
	if _, err := s.Open(sealed, []byte("app:1400000002")); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("wrong aad: err = %v, want ErrDecrypt", err)
	}
	if _, err := s.Open(sealed[:10], aad); !errors.Is(err, ErrMalformed) {
		t.Fatalf("truncated: err = %v, want ErrMalformed", err)
	}
	other := bytes.Repeat([]byte{8}, KEKSize)
	s2, err := NewAESGCM(other)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s2.Open(sealed, aad); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("wrong key: err = %v, want ErrDecrypt", err)
	}
	if s.KeyID() == s2.KeyID() {
		t.Fatal("different keys share a KeyID")
	}
}

func TestKeyID(t *testing.T) {
	// SHA-256 of 32 bytes of 0x07, first 8 bytes, computed independently.
	s, err := NewAESGCM(testKEK(t))
	if err != nil {
		t.Fatal(err)
	}
	// printf '\x07%.0s' $(seq 32) | sha256sum | cut -c1-16
	if got, want := s.KeyID(), "4bb06f8e4e3a7715"; got != want {
		t.Fatalf("KeyID = %q, want %q", got, want)
	}
	if _, err := NewAESGCM(make([]byte, 16)); !errors.Is(err, ErrInvalidKEK) {
		t.Fatalf("16-byte key: err = %v", err)
	}
}
