package sqlite

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/parley-rtc/parley/internal/keyring"
	"github.com/parley-rtc/parley/internal/store"
)

// The IM store's side of per-subject keys (issue 5, item 2; migration
// 0012). Callers pass and receive clear user and conversation ids; the
// tables hold references and sealed values. The translation is here:
//
//   - a user id is stored as its blind-index reference (DB.UserRef);
//   - "c2c:<a>|<b>" is stored as "c2c:<ref a>|<ref b>", same order;
//     "group:<id>" as is (storedConv, clearConv);
//   - a message's body and cloud custom data are one value sealed with
//     the sender's data key, bound to its row by the aad
//     "im.msg/<sdkappid>/<stored conv>/<seq>" (msgAAD); an extension
//     value is sealed with the writer's key under
//     "im.ext/<sdkappid>/<stored conv>/<seq>/<key>" (extAAD).
//
// A recalled message keeps, instead of content, the key ids of its
// sender's and recaller's keys, so those identities are bound to the keys
// too (recallContentSize).
//
// Reading a value whose key was destroyed (ShredSubject) is not an error:
// the message reads as an erased tombstone, the extension is left out, a
// reference maps to "" (a single field) or is skipped (lists). A value
// that does not open under its own key (altered, or moved from another
// row or column) is an error wrapping keyring.ErrDecrypt: that is
// tampering, not erasure, and must not be hidden as one.

const (
	c2cPrefix   = "c2c:"
	groupPrefix = "group:"
)

// errIMConv rejects a conversation id that is neither "group:<id>" nor
// "c2c:<a>|<b>": the store could not tell which parts are user ids.
var errIMConv = errors.New("sqlite: conversation id must be group:<id> or c2c:<a>|<b>")

// errIMSealed reports a sealed IM value that belongs to another subject or
// another app than its row says: it was moved there.
var errIMSealed = fmt.Errorf("%w: sealed IM value belongs to another subject", keyring.ErrDecrypt)

// imUser keys the per-call memo of references.
type imUser struct {
	app uint32
	id  string
}

// imRefs memoizes, for one store call, the references of the user ids it
// handles and the user ids of the references it reads, so that no
// reference is computed (HMAC) or resolved twice in one call. It is not
// safe for concurrent use; make one per call (db.imRefs).
type imRefs struct {
	db    *DB
	refs  map[imUser]string // clear id → reference
	users map[imUser]string // reference → clear id; "" when erased
	// missing are the users need found without a cached key.
	missing []imUser
}

// imRefs returns a memo for one call; ErrNoKEK if the database has no
// subject keys (a reference would then match nothing).
func (db *DB) imRefs() (*imRefs, error) {
	if err := db.haveKeys(); err != nil {
		return nil, err
	}
	return &imRefs{db: db}, nil
}

// ref is the stored reference of a user id.
func (r *imRefs) ref(app uint32, user string) string {
	k := imUser{app, user}
	if ref, ok := r.refs[k]; ok {
		return ref
	}
	ref := r.db.UserRef(app, user)
	if r.refs == nil {
		r.refs = make(map[imUser]string, 4)
	}
	r.refs[k] = ref
	return ref
}

// conv is the stored form of a conversation id (storedConv).
func (r *imRefs) conv(app uint32, conv string) (string, error) {
	if strings.HasPrefix(conv, groupPrefix) {
		return conv, nil
	}
	a, b, err := c2cPeers(conv)
	if err != nil {
		return "", err
	}
	ra, rb := r.ref(app, a), r.ref(app, b)
	var sb strings.Builder
	sb.Grow(len(c2cPrefix) + len(ra) + 1 + len(rb))
	sb.WriteString(c2cPrefix)
	sb.WriteString(ra)
	sb.WriteByte('|')
	sb.WriteString(rb)
	return sb.String(), nil
}

// c2cPeers splits a clear C2C conversation id.
func c2cPeers(conv string) (a, b string, err error) {
	rest, ok := strings.CutPrefix(conv, c2cPrefix)
	if ok {
		a, b, ok = strings.Cut(rest, "|")
	}
	if !ok || a == "" || b == "" {
		return "", "", fmt.Errorf("%w: %q", errIMConv, conv)
	}
	return a, b, nil
}

// needConv records the users a clear C2C conversation id names (see need).
func (r *imRefs) needConv(app uint32, conv string) {
	if !strings.HasPrefix(conv, c2cPrefix) {
		return
	}
	if a, b, err := c2cPeers(conv); err == nil {
		r.need(app, a, b)
	}
}

// ensure makes sure each user has a data key, so that every reference the
// call stores can be mapped back (userOf). Call it before opening the
// write transaction: ensureKeys writes in a transaction of its own.
func (r *imRefs) ensure(ctx context.Context, app uint32, users ...string) error {
	r.need(app, users...)
	return r.flush(ctx)
}

// need records the users of app whose key is not in the key cache (looked
// up with the memoized references), for flush.
func (r *imRefs) need(app uint32, users ...string) {
	for _, u := range users {
		k := imUser{app, u}
		if r.db.keys.cached(subjKey{app, r.ref(app, u)}) == nil && !slices.Contains(r.missing, k) {
			r.missing = append(r.missing, k)
		}
	}
}

// flush calls ensureKeys once per app for the users need recorded.
func (r *imRefs) flush(ctx context.Context) error {
	for len(r.missing) > 0 {
		app := r.missing[0].app
		var users []string
		rest := r.missing[:0]
		for _, k := range r.missing {
			if k.app == app {
				users = append(users, k.id)
			} else {
				rest = append(rest, k)
			}
		}
		r.missing = rest
		if err := r.db.ensureKeys(ctx, app, users...); err != nil {
			r.missing = nil
			return err
		}
	}
	return nil
}

// key returns the data key of a reference whose key ensure made sure of.
func (r *imRefs) key(ctx context.Context, q queryer, app uint32, ref string) (*dataKey, error) {
	if k := r.db.keys.cached(subjKey{app, ref}); k != nil {
		return k, nil
	}
	k, err := r.db.loadKey(ctx, q, app, ref)
	if err != nil {
		return nil, err
	}
	r.db.keys.remember(k)
	return k, nil
}

// user maps a stored reference back to the user id: "" if the subject was
// erased (its key is gone, or the column was cleared to "").
func (r *imRefs) user(ctx context.Context, q queryer, app uint32, ref string) (string, error) {
	if ref == "" {
		return "", nil
	}
	k := imUser{app, ref}
	if u, ok := r.users[k]; ok {
		return u, nil
	}
	u, err := r.db.userOf(ctx, q, app, ref)
	switch {
	case errors.Is(err, store.ErrErased):
		u = ""
	case err != nil:
		return "", err
	}
	if r.users == nil {
		r.users = make(map[imUser]string, 4)
	}
	r.users[k] = u
	return u, nil
}

// clearConv maps a stored conversation id back; ok is false if a party
// of a C2C conversation was erased.
func (r *imRefs) clearConv(ctx context.Context, q queryer, app uint32, stored string) (conv string, ok bool, err error) {
	if strings.HasPrefix(stored, groupPrefix) {
		return stored, true, nil
	}
	ra, rb, err := c2cPeers(stored)
	if err != nil {
		return "", false, err
	}
	a, err := r.user(ctx, q, app, ra)
	if err != nil || a == "" {
		return "", false, err
	}
	b, err := r.user(ctx, q, app, rb)
	if err != nil || b == "" {
		return "", false, err
	}
	return c2cPrefix + a + "|" + b, true, nil
}

// storedConv is the stored form of a clear conversation id: group ids as
// they are, "c2c:<a>|<b>" as "c2c:<ref a>|<ref b>".
func (db *DB) storedConv(sdkAppID uint32, conv string) (string, error) {
	r, err := db.imRefs()
	if err != nil {
		return "", err
	}
	return r.conv(sdkAppID, conv)
}

// clearConv maps a stored conversation id back to the clear one; an error
// wrapping store.ErrErased if a party of a C2C conversation was erased.
func (db *DB) clearConv(ctx context.Context, q queryer, sdkAppID uint32, stored string) (string, error) {
	r, err := db.imRefs()
	if err != nil {
		return "", err
	}
	conv, ok, err := r.clearConv(ctx, q, sdkAppID, stored)
	if err != nil {
		return "", err
	}
	if !ok {
		return "", fmt.Errorf("conversation %s: %w", stored, store.ErrErased)
	}
	return conv, nil
}

// msgAAD binds a message's sealed content to its row.
func msgAAD(app uint32, storedConv string, seq int64) []byte {
	b := make([]byte, 0, 7+10+1+len(storedConv)+1+20)
	b = append(b, "im.msg/"...)
	b = strconv.AppendUint(b, uint64(app), 10)
	b = append(b, '/')
	b = append(b, storedConv...)
	b = append(b, '/')
	return strconv.AppendInt(b, seq, 10)
}

// extAAD binds a sealed extension value to its row.
func extAAD(app uint32, storedConv string, seq int64, key string) []byte {
	b := make([]byte, 0, 7+10+1+len(storedConv)+1+20+1+len(key))
	b = append(b, "im.ext/"...)
	b = strconv.AppendUint(b, uint64(app), 10)
	b = append(b, '/')
	b = append(b, storedConv...)
	b = append(b, '/')
	b = strconv.AppendInt(b, seq, 10)
	b = append(b, '/')
	return append(b, key...)
}

// msgContent is the clear form of a message's content column:
// uvarint(len(body)) ‖ body ‖ cloud custom data.
func msgContent(body []byte, ccd string) []byte {
	b := make([]byte, 0, binary.MaxVarintLen64+len(body)+len(ccd))
	b = binary.AppendUvarint(b, uint64(len(body)))
	b = append(b, body...)
	return append(b, ccd...)
}

// splitContent is the inverse of msgContent.
func splitContent(b []byte) (body []byte, ccd string, err error) {
	n, w := binary.Uvarint(b)
	if w <= 0 || n > uint64(len(b)-w) {
		return nil, "", fmt.Errorf("%w: message content framing", keyring.ErrMalformed)
	}
	b = b[w:]
	return b[:n:n], string(b[n:]), nil
}

// sealedKey returns the key a sealed value names by its key id prefix;
// an error wrapping store.ErrErased if that key is gone. A key of
// another app or, when ref is set, of another subject than the row
// names is errIMSealed: the value was moved from another row.
func (db *DB) sealedKey(ctx context.Context, q queryer, app uint32, ref string, sealed []byte) (*dataKey, error) {
	k, err := db.keyOfSealed(ctx, q, sealed)
	if err != nil {
		return nil, err
	}
	if k.app != app || (ref != "" && k.subject != ref) {
		return nil, errIMSealed
	}
	return k, nil
}
