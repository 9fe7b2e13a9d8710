// Package keyring holds the key-encryption key (KEK) and seals secrets at rest
// with it. The KEK never touches the database: it comes from the PARLEY_KEK
// environment variable or a 0600 file next to the data, so a copy of the
// database alone (a backup, a stolen disk image) does not reveal app secrets.
package keyring

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// KEKSize is the length of a key-encryption key: AES-256.
const KEKSize = 32

// ParseKEK decodes the base64 text of a 32-byte key. Standard and URL-safe
// alphabets, padded or not, are accepted because operators paste keys from
// different tools (openssl rand -base64 32, secret managers).
func ParseKEK(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, fmt.Errorf("%w: empty", ErrInvalidKEK)
	}
	for _, enc := range []*base64.Encoding{
		base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding,
	} {
		k, err := enc.DecodeString(s)
		if err != nil {
			continue
		}
		if len(k) != KEKSize {
			return nil, fmt.Errorf("%w: decodes to %d bytes, want %d", ErrInvalidKEK, len(k), KEKSize)
		}
		return k, nil
	}
	return nil, fmt.Errorf("%w: not valid base64", ErrInvalidKEK)
}

// LoadOrCreateKEK returns the key-encryption key. A non-empty envValue (the
// base64 text of PARLEY_KEK) wins, so deployments can keep the key out of the
// file system. Otherwise the key is read from path, and if path does not exist
// a new random key is written there (0600, parent directory 0700).
//
// An existing file that cannot be parsed is an error, never overwritten:
// replacing a KEK would make every sealed secret unreadable.
func LoadOrCreateKEK(path string, envValue string) ([]byte, error) {
	if strings.TrimSpace(envValue) != "" {
		k, err := ParseKEK(envValue)
		if err != nil {
			return nil, fmt.Errorf("PARLEY_KEK: %w", err)
		}
		return k, nil
	}
	if path == "" {
		return nil, fmt.Errorf("%w: no key file path and no PARLEY_KEK", ErrInvalidKEK)
	}
	k, err := readKEK(path)
	if err == nil {
		return k, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	return createKEK(path)
}

func readKEK(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read key file: %w", err)
	}
	k, err := ParseKEK(string(b))
	if err != nil {
		return nil, fmt.Errorf("key file %s: %w", path, err)
	}
	return k, nil
}

// createKEK writes a fresh key to a temporary file and hard-links it into
// place. The link fails if another process created the key first, in which
// case that process's key is used: two processes starting at once (server and
// CLI) must agree on one key, and a reader must never see a half-written file.
func createKEK(path string) ([]byte, error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create key directory: %w", err)
	}
	k := make([]byte, KEKSize)
	if _, err := rand.Read(k); err != nil {
		return nil, fmt.Errorf("generate key: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".kek-*")
	if err != nil {
		return nil, fmt.Errorf("create key file: %w", err)
	}
	tmpName := tmp.Name()
	defer os.Remove(tmpName) // the hard link, if made, keeps the data
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("create key file: %w", err)
	}
	if _, err := tmp.WriteString(base64.StdEncoding.EncodeToString(k) + "\n"); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("write key file: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("write key file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return nil, fmt.Errorf("write key file: %w", err)
	}
	if err := os.Link(tmpName, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return readKEK(path)
		}
		return nil, fmt.Errorf("install key file: %w", err)
	}
	return k, nil
}
