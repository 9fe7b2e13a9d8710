package sqlite

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/parley-rtc/parley/internal/keyring"
	"github.com/parley-rtc/parley/internal/store"
)

// Subject keys (issue 5, item 2). A stored personal field is sealed with
// its subject's data key as
//
//	key id (8 bytes) ‖ nonce (12) ‖ ciphertext ‖ tag (16)
//
// so any row can be opened knowing only the sealed value. Erasing a
// subject deletes its key row: from then on every value sealed under it,
// live or in a backup, is noise (the backup's copy of the key row is
// wrapped under an epoch key the keystore destroys after its window).

// keyIDSize is the raw length of a data key id.
const keyIDSize = 8

// maxCachedKeys bounds the in-memory key cache; past it the cache is
// emptied and refilled on demand (a few hundred bytes per key).
const maxCachedKeys = 100_000

// dataKey is one subject's unwrapped data key.
type dataKey struct {
	id      [keyIDSize]byte
	app     uint32
	subject string // blind-index reference
	user    string // the identifier, for listings
	aead    *keyring.AESGCM
	commit  []byte // audit commitment key, derived from the data key
}

// commitKey derives a subject's audit commitment key from its data key:
// destroyed with it, so the subject's audit records become unlinkable.
func commitKey(raw []byte) []byte {
	m := hmac.New(sha256.New, raw)
	m.Write([]byte("parley/audit-commit/v1"))
	return m.Sum(nil)
}

// subjectKeys is the DB's key machinery: the blind index, the keystore of
// epoch keys and a cache of unwrapped data keys.
type subjectKeys struct {
	index *keyring.BlindIndex
	ks    *keyring.Keystore
	now   func() time.Time

	mu     sync.RWMutex
	byID   map[[keyIDSize]byte]*dataKey
	bySubj map[subjKey]*dataKey
}

type subjKey struct {
	app     uint32
	subject string
}

func newSubjectKeys(index *keyring.BlindIndex, ks *keyring.Keystore, now func() time.Time) *subjectKeys {
	return &subjectKeys{index: index, ks: ks, now: now,
		byID: map[[keyIDSize]byte]*dataKey{}, bySubj: map[subjKey]*dataKey{}}
}

func (s *subjectKeys) cached(k subjKey) *dataKey {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.bySubj[k]
}

func (s *subjectKeys) cachedID(id [keyIDSize]byte) *dataKey {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.byID[id]
}

func (s *subjectKeys) remember(k *dataKey) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.byID) >= maxCachedKeys {
		clear(s.byID)
		clear(s.bySubj)
	}
	s.byID[k.id] = k
	s.bySubj[subjKey{k.app, k.subject}] = k
}

func (s *subjectKeys) forget(app uint32, subject string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if k := s.bySubj[subjKey{app, subject}]; k != nil {
		delete(s.byID, k.id)
	}
	delete(s.bySubj, subjKey{app, subject})
}

// noRef is the reference of every identifier in a database opened
// without a KEK: it matches no stored row (references are 23 bytes).
const noRef = "~"

// UserRef is the blind-index reference stored in place of a user id.
func (db *DB) UserRef(sdkAppID uint32, userID string) string {
	if db.keys == nil {
		return noRef
	}
	return db.keys.index.User(sdkAppID, userID)
}

// DeviceRef is the blind-index reference stored in place of a device id.
func (db *DB) DeviceRef(sdkAppID uint32, deviceID string) string {
	if db.keys == nil {
		return noRef
	}
	return db.keys.index.Device(sdkAppID, deviceID)
}

// haveKeys fails with ErrNoKEK when the database has no subject keys.
func (db *DB) haveKeys() error {
	if db.keys == nil {
		return ErrNoKEK
	}
	return nil
}

// ensureKeys makes sure each user has a data key, creating missing ones in
// their own committed transaction. Call it before a write transaction that
// seals for these users: a key is never cached unless it is committed.
func (db *DB) ensureKeys(ctx context.Context, sdkAppID uint32, users ...string) error {
	if err := db.haveKeys(); err != nil {
		return err
	}
	var missing []string
	for _, u := range users {
		ref := db.UserRef(sdkAppID, u)
		if db.keys.cached(subjKey{sdkAppID, ref}) != nil {
			continue
		}
		k, err := db.loadKey(ctx, db.read, sdkAppID, ref)
		if err == nil {
			db.keys.remember(k)
			continue
		}
		if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		missing = append(missing, u)
	}
	if len(missing) == 0 {
		return nil
	}
	var made []*dataKey
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		made = made[:0]
		for _, u := range missing {
			k, err := db.createKey(ctx, tx, sdkAppID, u)
			if err != nil {
				return err
			}
			made = append(made, k)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, k := range made {
		db.keys.remember(k)
	}
	return nil
}

// inTx runs fn in a write transaction, committing if it returns nil.
func (db *DB) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: begin: %w", err)
	}
	if err := fn(tx); err != nil {
		return errors.Join(err, rollback(tx))
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: commit: %w", err)
	}
	return nil
}

// createKey inserts a new data key for the user inside tx, or loads the
// one another writer created first. The caller caches it after commit.
func (db *DB) createKey(ctx context.Context, tx *sql.Tx, sdkAppID uint32, userID string) (*dataKey, error) {
	ref := db.UserRef(sdkAppID, userID)
	if k, err := db.loadKey(ctx, tx, sdkAppID, ref); err == nil {
		return k, nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	raw := make([]byte, keyring.KEKSize)
	var id [keyIDSize]byte
	if _, err := rand.Read(raw); err != nil {
		return nil, fmt.Errorf("sqlite: data key: %w", err)
	}
	if _, err := rand.Read(id[:]); err != nil {
		return nil, fmt.Errorf("sqlite: data key id: %w", err)
	}
	idText := hex.EncodeToString(id[:])
	epoch, wrapped, err := db.keys.ks.Wrap(raw, []byte(idText))
	if err != nil {
		return nil, fmt.Errorf("sqlite: wrap data key: %w", err)
	}
	aead, err := keyring.NewAESGCM(raw)
	if err != nil {
		return nil, err
	}
	k := &dataKey{id: id, app: sdkAppID, subject: ref, user: userID, aead: aead, commit: commitKey(raw)}
	sealedID, err := db.sealWith(k, []byte(userID), []byte("subject"))
	if err != nil {
		return nil, err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO subject_keys (key_id, sdkappid, subject, epoch, wrapped, sealed_id, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, idText, sdkAppID, ref, epoch, wrapped, sealedID, db.keys.now().UnixMilli()); err != nil {
		return nil, fmt.Errorf("sqlite: insert data key: %w", err)
	}
	return k, nil
}

// loadKey reads and unwraps a subject's key; store.ErrNotFound if the
// subject has none (never had, or erased).
func (db *DB) loadKey(ctx context.Context, q queryer, sdkAppID uint32, ref string) (*dataKey, error) {
	var idText, epoch string
	var wrapped, sealedID []byte
	err := q.QueryRowContext(ctx, `SELECT key_id, epoch, wrapped, sealed_id FROM subject_keys WHERE sdkappid = ? AND subject = ?`,
		sdkAppID, ref).Scan(&idText, &epoch, &wrapped, &sealedID)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: data key of subject", store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: load data key: %w", err)
	}
	return db.unwrapKey(sdkAppID, ref, idText, epoch, wrapped, sealedID)
}

// loadKeyByID reads a key by its id (opening a sealed value).
func (db *DB) loadKeyByID(ctx context.Context, q queryer, id [keyIDSize]byte) (*dataKey, error) {
	idText := hex.EncodeToString(id[:])
	var app uint32
	var ref, epoch string
	var wrapped, sealedID []byte
	err := q.QueryRowContext(ctx, `SELECT sdkappid, subject, epoch, wrapped, sealed_id FROM subject_keys WHERE key_id = ?`,
		idText).Scan(&app, &ref, &epoch, &wrapped, &sealedID)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: data key %s", store.ErrErased, idText)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: load data key: %w", err)
	}
	return db.unwrapKey(app, ref, idText, epoch, wrapped, sealedID)
}

func (db *DB) unwrapKey(app uint32, ref, idText, epoch string, wrapped, sealedID []byte) (*dataKey, error) {
	raw, err := db.keys.ks.Unwrap(epoch, wrapped, []byte(idText))
	if errors.Is(err, keyring.ErrEpochDestroyed) {
		return nil, fmt.Errorf("%w: data key %s: %w", store.ErrErased, idText, err)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: unwrap data key %s: %w", idText, err)
	}
	aead, err := keyring.NewAESGCM(raw)
	if err != nil {
		return nil, err
	}
	k := &dataKey{app: app, subject: ref, aead: aead, commit: commitKey(raw)}
	if _, err := hex.Decode(k.id[:], []byte(idText)); err != nil {
		return nil, fmt.Errorf("sqlite: data key id %q: %w", idText, err)
	}
	user, err := db.openWith(k, sealedID, []byte("subject"))
	if err != nil {
		return nil, fmt.Errorf("sqlite: data key %s subject: %w", idText, err)
	}
	k.user = string(user)
	return k, nil
}

// keyOf returns the cached (or loaded) key of a user that ensureKeys has
// made sure exists.
func (db *DB) keyOf(ctx context.Context, q queryer, sdkAppID uint32, userID string) (*dataKey, error) {
	if err := db.haveKeys(); err != nil {
		return nil, err
	}
	ref := db.UserRef(sdkAppID, userID)
	if k := db.keys.cached(subjKey{sdkAppID, ref}); k != nil {
		return k, nil
	}
	k, err := db.loadKey(ctx, q, sdkAppID, ref)
	if err != nil {
		return nil, err
	}
	db.keys.remember(k)
	return k, nil
}

// sealWith seals plaintext under k; aad binds it to its column.
func (db *DB) sealWith(k *dataKey, plaintext, aad []byte) ([]byte, error) {
	ct, err := k.aead.Seal(plaintext, aad)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, keyIDSize+len(ct))
	out = append(out, k.id[:]...)
	return append(out, ct...), nil
}

func (db *DB) openWith(k *dataKey, sealed, aad []byte) ([]byte, error) {
	if len(sealed) < keyIDSize {
		return nil, fmt.Errorf("%w: %d bytes", keyring.ErrMalformed, len(sealed))
	}
	return k.aead.Open(sealed[keyIDSize:], aad)
}

// sealFor seals plaintext for a user whose key exists (ensureKeys).
func (db *DB) sealFor(ctx context.Context, q queryer, sdkAppID uint32, userID string, plaintext, aad []byte) ([]byte, error) {
	k, err := db.keyOf(ctx, q, sdkAppID, userID)
	if err != nil {
		return nil, err
	}
	return db.sealWith(k, plaintext, aad)
}

// open opens a sealed value; store.ErrErased if its key is gone.
func (db *DB) open(ctx context.Context, q queryer, sealed, aad []byte) ([]byte, error) {
	if err := db.haveKeys(); err != nil {
		return nil, err
	}
	k, err := db.keyOfSealed(ctx, q, sealed)
	if err != nil {
		return nil, err
	}
	return db.openWith(k, sealed, aad)
}

// keyOfSealed returns the key a sealed value names by its key-id prefix,
// from the cache or the store; an error wrapping store.ErrErased if that
// key is gone.
func (db *DB) keyOfSealed(ctx context.Context, q queryer, sealed []byte) (*dataKey, error) {
	if len(sealed) < keyIDSize {
		return nil, fmt.Errorf("%w: %d bytes", keyring.ErrMalformed, len(sealed))
	}
	var id [keyIDSize]byte
	copy(id[:], sealed)
	if k := db.keys.cachedID(id); k != nil {
		return k, nil
	}
	k, err := db.loadKeyByID(ctx, q, id)
	if err != nil {
		return nil, err
	}
	db.keys.remember(k)
	return k, nil
}

// userOf maps a stored reference back to the user id; store.ErrErased if
// the subject's key is gone (the reference then names nobody).
func (db *DB) userOf(ctx context.Context, q queryer, sdkAppID uint32, ref string) (string, error) {
	if err := db.haveKeys(); err != nil {
		return "", err
	}
	if k := db.keys.cached(subjKey{sdkAppID, ref}); k != nil {
		return k.user, nil
	}
	k, err := db.loadKey(ctx, q, sdkAppID, ref)
	if errors.Is(err, store.ErrNotFound) {
		return "", fmt.Errorf("%w: subject %s", store.ErrErased, ref)
	}
	if err != nil {
		return "", err
	}
	db.keys.remember(k)
	return k.user, nil
}

// ShredSubject deletes a user's data key (crypto-shredding, RIGHTS-3):
// every value sealed under it becomes unreadable at once, and backups of
// this database once the keystore window has passed. It returns the
// destroyed key ids (empty if the user had none).
func (db *DB) ShredSubject(ctx context.Context, sdkAppID uint32, userID string) ([]string, error) {
	if err := db.haveKeys(); err != nil {
		return nil, err
	}
	ref := db.UserRef(sdkAppID, userID)
	var ids []string
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `DELETE FROM subject_keys WHERE sdkappid = ? AND subject = ? RETURNING key_id`, sdkAppID, ref)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				return err
			}
			ids = append(ids, id)
		}
		return rows.Err()
	})
	db.keys.forget(sdkAppID, ref)
	if err != nil {
		return nil, fmt.Errorf("sqlite: shred subject: %w", err)
	}
	return ids, nil
}

// SubjectCommitKey returns the user's audit commitment key (see
// audit.Commit), or nil if the user has no data key (nothing stored): a
// lookup never creates one, since a key row itself records the user.
func (db *DB) SubjectCommitKey(ctx context.Context, sdkAppID uint32, userID string) ([]byte, error) {
	if err := db.haveKeys(); err != nil {
		return nil, err
	}
	k, err := db.keyOf(ctx, db.read, sdkAppID, userID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return k.commit, nil
}

// SubjectKeyID reports a user's current data key id ("" if none), for
// receipts and exports.
func (db *DB) SubjectKeyID(ctx context.Context, sdkAppID uint32, userID string) (string, error) {
	var id string
	err := db.read.QueryRowContext(ctx, `SELECT key_id FROM subject_keys WHERE sdkappid = ? AND subject = ?`,
		sdkAppID, db.UserRef(sdkAppID, userID)).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return id, err
}

// RotateKeys runs the keystore's schedule (issue 5, item 2): make a new
// epoch when due, rewrap every data key of older epochs under it, then
// destroy epoch keys older than the window. The order matters: an epoch
// is destroyed only after no live key is wrapped under it.
func (db *DB) RotateKeys(ctx context.Context) (store.KeyRotation, error) {
	if err := db.haveKeys(); err != nil {
		return store.KeyRotation{}, err
	}
	var r store.KeyRotation
	rotated, err := db.keys.ks.Rotate()
	if err != nil {
		return r, err
	}
	r.NewEpoch = rotated
	cur := db.keys.ks.Current()
	for {
		n, err := db.rewrapBatch(ctx, cur, 1000)
		if err != nil {
			return r, err
		}
		r.Rewrapped += n
		if n == 0 {
			break
		}
	}
	gone, err := db.keys.ks.DestroyExpired()
	if err != nil {
		return r, err
	}
	r.DestroyedEpochs = gone
	return r, nil
}

func (db *DB) rewrapBatch(ctx context.Context, cur string, limit int) (int64, error) {
	var n int64
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT key_id, epoch, wrapped FROM subject_keys WHERE epoch <> ? LIMIT ?`, cur, limit)
		if err != nil {
			return err
		}
		type item struct {
			id, epoch string
			wrapped   []byte
		}
		var items []item
		for rows.Next() {
			var it item
			if err := rows.Scan(&it.id, &it.epoch, &it.wrapped); err != nil {
				rows.Close()
				return err
			}
			items = append(items, it)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, it := range items {
			raw, err := db.keys.ks.Unwrap(it.epoch, it.wrapped, []byte(it.id))
			if err != nil {
				return fmt.Errorf("rewrap %s: %w", it.id, err)
			}
			epoch, w, err := db.keys.ks.Wrap(raw, []byte(it.id))
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `UPDATE subject_keys SET epoch = ?, wrapped = ? WHERE key_id = ?`, epoch, w, it.id); err != nil {
				return err
			}
		}
		n = int64(len(items))
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("sqlite: rewrap data keys: %w", err)
	}
	return n, nil
}

// Backup writes a consistent copy of the database to path (VACUUM INTO),
// which must not exist. The copy holds subject keys only wrapped under
// epoch keys, and no keystore: restored within the keystore window it
// opens with the live keystore; after it, erased subjects stay erased.
func (db *DB) Backup(ctx context.Context, path string) error {
	if _, err := db.write.ExecContext(ctx, `VACUUM INTO ?`, path); err != nil {
		return fmt.Errorf("sqlite: backup to %s: %w", path, err)
	}
	return nil
}
