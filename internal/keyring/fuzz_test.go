package keyring

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// FuzzKeystoreFile: a keystore file of any content opens with an error or
// as a keystore with a current epoch; it never panics.
func FuzzKeystoreFile(f *testing.F) {
	kek := bytes.Repeat([]byte{7}, KEKSize)
	dir := f.TempDir()
	ks, err := OpenKeystore(filepath.Join(dir, "seed.json"), kek, KeystoreOptions{})
	if err != nil {
		f.Fatal(err)
	}
	_ = ks
	good, err := os.ReadFile(filepath.Join(dir, "seed.json"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte(`{"version":1,"kek_id":"x","epochs":[]}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		p := filepath.Join(t.TempDir(), "epochs.json")
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		ks, err := OpenKeystore(p, kek, KeystoreOptions{})
		if err != nil {
			return
		}
		if ks.Current() == "" {
			t.Fatal("opened a keystore without a current epoch")
		}
		if _, _, err := ks.Wrap(kek, nil); err != nil {
			t.Fatalf("wrap with an opened keystore: %v", err)
		}
	})
}
