package keyring

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"
)

// Keystore defaults (RIGHTS-5, docs/privacy.md "Crypto-shredding").
const (
	// DefaultRotateEvery is how often a new epoch key is made; every
	// subject key is rewrapped under it at the next sweep.
	DefaultRotateEvery = 24 * time.Hour
	// DefaultWindow is the keystore's own retention: an epoch key is
	// destroyed this long after it was made. A database copy taken at
	// time T holds subject keys wrapped under the epoch current at T, so
	// from T+Window on it cannot reveal the data of a subject erased
	// since.
	DefaultWindow = 7 * 24 * time.Hour
)

// ErrEpochDestroyed means a wrapped key names an epoch the keystore no
// longer has: it was wrapped more than the window ago (a backup) and the
// subject's data is unrecoverable, by design.
var ErrEpochDestroyed = errors.New("keyring: epoch key destroyed")

// Keystore holds the epoch keys that wrap per-subject data keys. It lives
// in its own file, outside the database, so a database backup carries
// subject keys only in wrapped form; the epoch keys that open them are
// destroyed after the window. Epoch keys are themselves sealed with the
// KEK. Safe for concurrent use; writes replace the file atomically.
type Keystore struct {
	path   string
	kek    Sealer
	now    func() time.Time
	rotate time.Duration
	window time.Duration

	mu     sync.RWMutex
	epochs []epoch // oldest first; the last is current
	root   []byte  // the root key (see Root)
	rootS  []byte  // root sealed by the KEK
}

type epoch struct {
	ID      string
	Created time.Time
	aead    *AESGCM
	sealed  []byte
}

// keystoreFile is the file format: version 1, epochs oldest first.
type keystoreFile struct {
	Version int          `json:"version"`
	KEKID   string       `json:"kek_id"`
	Root    []byte       `json:"sealed_root"`
	Epochs  []epochEntry `json:"epochs"`
}

// rootAAD binds the sealed root key to its field.
var rootAAD = []byte("root")

type epochEntry struct {
	ID      string `json:"id"`
	Created int64  `json:"created_ms"`
	Sealed  []byte `json:"sealed_key"`
}

// KeystoreOptions configure OpenKeystore.
type KeystoreOptions struct {
	Now         func() time.Time // default time.Now
	RotateEvery time.Duration    // default DefaultRotateEvery
	Window      time.Duration    // default DefaultWindow; must exceed RotateEvery
	// LegacyRoot makes a new keystore's root key the KEK itself: for a
	// data directory whose pseudonyms and audit signatures were derived
	// from the KEK before the keystore existed. Otherwise the root is
	// random.
	LegacyRoot bool
}

// OpenKeystore opens the keystore file at path, creating it (0600, with a
// first epoch) if absent. kek seals the epoch keys.
func OpenKeystore(path string, kek []byte, o KeystoreOptions) (*Keystore, error) {
	sealer, err := NewAESGCM(kek)
	if err != nil {
		return nil, err
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.RotateEvery <= 0 {
		o.RotateEvery = DefaultRotateEvery
	}
	if o.Window <= 0 {
		o.Window = DefaultWindow
	}
	if o.Window <= o.RotateEvery {
		return nil, fmt.Errorf("keyring: keystore window %v must be longer than the rotation interval %v", o.Window, o.RotateEvery)
	}
	k := &Keystore{path: path, kek: sealer, now: o.Now, rotate: o.RotateEvery, window: o.Window}
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, fmt.Errorf("keyring: keystore directory: %w", err)
		}
		root := make([]byte, KEKSize)
		if o.LegacyRoot {
			copy(root, kek)
		} else if _, err := rand.Read(root); err != nil {
			return nil, fmt.Errorf("keyring: root key: %w", err)
		}
		if k.rootS, err = sealer.Seal(root, rootAAD); err != nil {
			return nil, err
		}
		k.root = root
		if err := k.addEpochLocked(); err != nil {
			return nil, err
		}
		return k, k.saveLocked()
	case err != nil:
		return nil, fmt.Errorf("keyring: read keystore: %w", err)
	}
	if err := k.load(b); err != nil {
		return nil, fmt.Errorf("keyring: keystore %s: %w", path, err)
	}
	return k, nil
}

func (k *Keystore) load(b []byte) error {
	var f keystoreFile
	if err := json.Unmarshal(b, &f); err != nil {
		return fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if f.Version != 1 {
		return fmt.Errorf("%w: version %d", ErrMalformed, f.Version)
	}
	if f.KEKID != k.kek.KeyID() {
		return fmt.Errorf("%w (key %s; the configured key is %s)", ErrWrongKEK, f.KEKID, k.kek.KeyID())
	}
	if len(f.Epochs) == 0 {
		return fmt.Errorf("%w: no epochs", ErrMalformed)
	}
	root, err := k.kek.Open(f.Root, rootAAD)
	if err != nil {
		return fmt.Errorf("root key: %w", err)
	}
	if len(root) != KEKSize {
		return fmt.Errorf("%w: root key of %d bytes", ErrMalformed, len(root))
	}
	k.root, k.rootS = root, f.Root
	for _, e := range f.Epochs {
		raw, err := k.kek.Open(e.Sealed, []byte("epoch/"+e.ID))
		if err != nil {
			return fmt.Errorf("epoch %s: %w", e.ID, err)
		}
		a, err := NewAESGCM(raw)
		if err != nil {
			return fmt.Errorf("epoch %s: %w", e.ID, err)
		}
		k.epochs = append(k.epochs, epoch{ID: e.ID, Created: time.UnixMilli(e.Created), aead: a, sealed: e.Sealed})
	}
	return nil
}

// addEpochLocked makes a new current epoch. k.mu is held (or k is not
// yet shared).
func (k *Keystore) addEpochLocked() error {
	raw := make([]byte, KEKSize)
	idb := make([]byte, 8)
	if _, err := rand.Read(raw); err != nil {
		return fmt.Errorf("keyring: epoch key: %w", err)
	}
	if _, err := rand.Read(idb); err != nil {
		return fmt.Errorf("keyring: epoch id: %w", err)
	}
	id := hex.EncodeToString(idb)
	sealed, err := k.kek.Seal(raw, []byte("epoch/"+id))
	if err != nil {
		return err
	}
	a, err := NewAESGCM(raw)
	if err != nil {
		return err
	}
	k.epochs = append(k.epochs, epoch{ID: id, Created: k.now(), aead: a, sealed: sealed})
	return nil
}

// saveLocked writes the file through a temporary file and a rename, so a
// crash leaves the old or the new keystore, never half of one.
func (k *Keystore) saveLocked() error {
	f := keystoreFile{Version: 1, KEKID: k.kek.KeyID(), Root: k.rootS}
	for _, e := range k.epochs {
		f.Epochs = append(f.Epochs, epochEntry{ID: e.ID, Created: e.Created.UnixMilli(), Sealed: e.sealed})
	}
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return fmt.Errorf("keyring: encode keystore: %w", err)
	}
	return writeFileAtomic(k.path, b)
}

// writeFileAtomic writes b to a 0600 temporary file beside path, syncs it
// and renames it over path.
func writeFileAtomic(path string, b []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".keystore-*")
	if err != nil {
		return fmt.Errorf("keyring: write keystore: %w", err)
	}
	defer os.Remove(tmp.Name()) // after a successful rename there is nothing left to remove
	err = tmp.Chmod(0o600)
	if err == nil {
		_, err = tmp.Write(b)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("keyring: write keystore: %w", err)
	}
	return nil
}

// Current returns the current epoch's id.
func (k *Keystore) Current() string {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.epochs[len(k.epochs)-1].ID
}

// Root is the root key every purpose key (blind index, audit signer,
// receipt signer) is derived from with Derive. It is kept in the
// keystore, sealed by the KEK, so rotating the KEK changes none of them.
func (k *Keystore) Root() []byte { return k.root }

// Window is the keystore's retention window.
func (k *Keystore) Window() time.Duration { return k.window }

// Wrap seals a data key under the current epoch; aad binds it to its
// row. It returns the epoch id to store beside the wrapped key.
func (k *Keystore) Wrap(dataKey, aad []byte) (epochID string, wrapped []byte, err error) {
	k.mu.RLock()
	e := k.epochs[len(k.epochs)-1]
	k.mu.RUnlock()
	w, err := e.aead.Seal(dataKey, aad)
	return e.ID, w, err
}

// Unwrap opens a data key wrapped under epochID; ErrEpochDestroyed if
// that epoch is gone.
func (k *Keystore) Unwrap(epochID string, wrapped, aad []byte) ([]byte, error) {
	k.mu.RLock()
	i := slices.IndexFunc(k.epochs, func(e epoch) bool { return e.ID == epochID })
	var e epoch
	if i >= 0 {
		e = k.epochs[i]
	}
	k.mu.RUnlock()
	if i < 0 {
		return nil, fmt.Errorf("%w: %s", ErrEpochDestroyed, epochID)
	}
	return e.aead.Open(wrapped, aad)
}

// Rotate makes a new current epoch if the current one is older than the
// rotation interval. The caller then rewraps every stored data key under
// the new epoch before calling DestroyExpired.
func (k *Keystore) Rotate() (rotated bool, err error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.now().Sub(k.epochs[len(k.epochs)-1].Created) < k.rotate {
		return false, nil
	}
	if err := k.addEpochLocked(); err != nil {
		return false, err
	}
	if err := k.saveLocked(); err != nil {
		k.epochs = k.epochs[:len(k.epochs)-1]
		return false, err
	}
	return true, nil
}

// DestroyExpired destroys every epoch key older than the window except
// the current one, and returns their ids. Call it only after every
// stored data key has been rewrapped under a newer epoch: a key still
// wrapped under a destroyed epoch is lost.
func (k *Keystore) DestroyExpired() ([]string, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	cutoff := k.now().Add(-k.window)
	cur := len(k.epochs) - 1
	var keep []epoch
	var gone []string
	for i, e := range k.epochs {
		if i != cur && !e.Created.After(cutoff) {
			gone = append(gone, e.ID)
			continue
		}
		keep = append(keep, e)
	}
	if len(gone) == 0 {
		return nil, nil
	}
	old := k.epochs
	k.epochs = keep
	if err := k.saveLocked(); err != nil {
		k.epochs = old
		return nil, err
	}
	return gone, nil
}

// Epochs lists the epoch ids with their creation times, oldest first.
func (k *Keystore) Epochs() []EpochInfo {
	k.mu.RLock()
	defer k.mu.RUnlock()
	out := make([]EpochInfo, len(k.epochs))
	for i, e := range k.epochs {
		out[i] = EpochInfo{ID: e.ID, Created: e.Created}
	}
	return out
}

// EpochInfo describes one epoch key without revealing it.
type EpochInfo struct {
	ID      string    `json:"id"`
	Created time.Time `json:"created"`
}

// RotateKEK reseals every epoch key under newKEK and rewrites the file.
// Subject keys need no change (they are wrapped by epoch keys); the app
// secrets sealed directly by the KEK are resealed by the caller.
func (k *Keystore) RotateKEK(newKEK []byte) error {
	ns, err := NewAESGCM(newKEK)
	if err != nil {
		return err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	old, oldEpochs, oldRoot := k.kek, k.epochs, k.rootS
	rootS, err := ns.Seal(k.root, rootAAD)
	if err != nil {
		return err
	}
	next := make([]epoch, len(k.epochs))
	for i, e := range k.epochs {
		raw, err := old.Open(e.sealed, []byte("epoch/"+e.ID))
		if err != nil {
			return fmt.Errorf("keyring: rotate: epoch %s: %w", e.ID, err)
		}
		s, err := ns.Seal(raw, []byte("epoch/"+e.ID))
		if err != nil {
			return err
		}
		e.sealed = s
		next[i] = e
	}
	k.kek, k.epochs, k.rootS = ns, next, rootS
	if err := k.saveLocked(); err != nil {
		k.kek, k.epochs, k.rootS = old, oldEpochs, oldRoot
		return err
	}
	return nil
}

// ReadRoot reads an existing keystore's root key without creating or
// changing anything (fs.ErrNotExist if there is no keystore): for tools
// such as `parley audit key` that must not make a data directory.
func ReadRoot(path string, kek []byte) ([]byte, error) {
	sealer, err := NewAESGCM(kek)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("keyring: read keystore: %w", err)
	}
	k := &Keystore{path: path, kek: sealer}
	if err := k.load(b); err != nil {
		return nil, fmt.Errorf("keyring: keystore %s: %w", path, err)
	}
	return k.root, nil
}
