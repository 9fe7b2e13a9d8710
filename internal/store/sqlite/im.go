package sqlite

import (
	"context"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/parley-rtc/parley/internal/store"
)

var _ store.IMStore = (*DB)(nil)

// imMicro stores t as Unix microseconds; the zero time is 0.
func imMicro(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

// imTime is the inverse of imMicro.
func imTime(us int64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return time.UnixMicro(us).UTC()
}

// imDay is the UTC day number (days since 1970-01-01) of t: the retention
// unit of im_messages (RETAIN-3).
func imDay(t time.Time) int64 { return dayOf(t).Unix() / 86400 }

// imTx runs fn in one write transaction (BEGIN IMMEDIATE on the single
// writer connection) and commits it.
func (db *DB) imTx(ctx context.Context, what string, fn func(tx *sql.Tx) error) (err error) {
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: %s: %w", what, err)
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, rollback(tx))
		}
	}()
	if err = fn(tx); err != nil {
		return err
	}
	if err = tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: %s: commit: %w", what, err)
	}
	return nil
}

// CreateIMGroup implements store.IMStore.
func (db *DB) CreateIMGroup(ctx context.Context, g store.IMGroup) error {
	if g.SDKAppID == 0 || !g.Type.Valid() || g.Owner == "" {
		return fmt.Errorf("sqlite: create group %q: invalid group", g.GroupID)
	}
	r, err := db.imRefs()
	if err != nil {
		return err
	}
	if err := r.ensure(ctx, g.SDKAppID, g.Owner); err != nil {
		return fmt.Errorf("sqlite: create group %q: %w", g.GroupID, err)
	}
	owner := r.ref(g.SDKAppID, g.Owner)
	return db.imTx(ctx, "create group", func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO im_groups (sdkappid, group_id, type, name, owner, created_at)
			VALUES (?, ?, ?, ?, ?, ?)`, int64(g.SDKAppID), g.GroupID, string(g.Type), g.Name, owner, g.CreatedAt.UnixMicro())
		if err != nil {
			if isUniqueViolation(err) {
				return fmt.Errorf("group %q of app %d: %w", g.GroupID, g.SDKAppID, store.ErrConflict)
			}
			return fmt.Errorf("sqlite: create group %q: %w", g.GroupID, err)
		}
		_, err = addMember(ctx, tx, g.SDKAppID, g.GroupID, store.IMMember{
			UserID: g.Owner, Role: store.IMRoleOwner, JoinedAt: g.CreatedAt,
		}, owner)
		return err
	})
}

// GetIMGroup implements store.IMStore. An owner whose subject was erased
// reads as "".
func (db *DB) GetIMGroup(ctx context.Context, sdkAppID uint32, groupID string) (store.IMGroup, error) {
	r, err := db.imRefs()
	if err != nil {
		return store.IMGroup{}, err
	}
	g, owner, err := getGroup(ctx, db.read, sdkAppID, groupID)
	if err != nil {
		return store.IMGroup{}, err
	}
	if g.Owner, err = r.user(ctx, db.read, sdkAppID, owner); err != nil {
		return store.IMGroup{}, fmt.Errorf("sqlite: get group %q: owner: %w", groupID, err)
	}
	return g, nil
}

type queryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// getGroup reads a group; its Owner is left empty and the owner's stored
// reference returned instead.
func getGroup(ctx context.Context, q queryer, sdkAppID uint32, groupID string) (store.IMGroup, string, error) {
	g := store.IMGroup{SDKAppID: sdkAppID, GroupID: groupID}
	var typ, owner string
	var created int64
	var dismissed sql.NullInt64
	err := q.QueryRowContext(ctx, `SELECT type, name, owner, created_at, dismissed_at FROM im_groups
		WHERE sdkappid = ? AND group_id = ?`, int64(sdkAppID), groupID).Scan(&typ, &g.Name, &owner, &created, &dismissed)
	if errors.Is(err, sql.ErrNoRows) {
		return store.IMGroup{}, "", fmt.Errorf("group %q of app %d: %w", groupID, sdkAppID, store.ErrNotFound)
	}
	if err != nil {
		return store.IMGroup{}, "", fmt.Errorf("sqlite: get group %q: %w", groupID, err)
	}
	g.Type, g.CreatedAt = store.IMGroupType(typ), imTime(created)
	if dismissed.Valid {
		g.DismissedAt = imTime(dismissed.Int64)
	}
	return g, owner, nil
}

// DismissIMGroup implements store.IMStore.
func (db *DB) DismissIMGroup(ctx context.Context, sdkAppID uint32, groupID string, at time.Time) error {
	return db.imTx(ctx, "dismiss group", func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE im_groups SET dismissed_at = ?
			WHERE sdkappid = ? AND group_id = ? AND dismissed_at IS NULL`, at.UnixMicro(), int64(sdkAppID), groupID)
		if err := affected(res, err, "group", groupID); err != nil {
			return err
		}
		for _, q := range []string{
			`DELETE FROM im_group_members WHERE sdkappid = ? AND group_id = ?`,
			`DELETE FROM im_join_requests WHERE sdkappid = ? AND group_id = ?`,
		} {
			if _, err := tx.ExecContext(ctx, q, int64(sdkAppID), groupID); err != nil {
				return fmt.Errorf("sqlite: dismiss group %q: %w", groupID, err)
			}
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM im_cursors WHERE sdkappid = ? AND conv_id = ?`,
			int64(sdkAppID), groupPrefix+groupID); err != nil {
			return fmt.Errorf("sqlite: dismiss group %q: %w", groupID, err)
		}
		return nil
	})
}

// affected turns a statement result that must touch a row into ErrNotFound
// when it touched none.
func affected(res sql.Result, err error, what, key string) error {
	if err != nil {
		return fmt.Errorf("sqlite: %s %q: %w", what, key, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("sqlite: %s %q: %w", what, key, err)
	}
	if n == 0 {
		return fmt.Errorf("%s %q: %w", what, key, store.ErrNotFound)
	}
	return nil
}

func lastSeq(ctx context.Context, q queryer, sdkAppID uint32, convID string) (int64, error) {
	var n int64
	err := q.QueryRowContext(ctx, `SELECT last_seq FROM im_conversations WHERE sdkappid = ? AND conv_id = ?`,
		int64(sdkAppID), convID).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("sqlite: last seq of %q: %w", convID, err)
	}
	return n, nil
}

// addMember inserts m, whose user's reference is ref, inside tx with
// JoinSeq read in the same transaction, so no message can be allocated
// between the read and the insert.
func addMember(ctx context.Context, tx *sql.Tx, sdkAppID uint32, groupID string, m store.IMMember, ref string) (store.IMMember, error) {
	conv := groupPrefix + groupID
	last, err := lastSeq(ctx, tx, sdkAppID, conv)
	if err != nil {
		return store.IMMember{}, err
	}
	m.JoinSeq = last + 1
	m.JoinedAt = imTime(m.JoinedAt.UnixMicro())
	_, err = tx.ExecContext(ctx, `INSERT INTO im_group_members (sdkappid, group_id, user_id, role, muted_until, joined_at, join_seq)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, int64(sdkAppID), groupID, ref, string(m.Role), imMicro(m.MutedUntil), m.JoinedAt.UnixMicro(), m.JoinSeq)
	if err != nil {
		if isUniqueViolation(err) {
			return store.IMMember{}, fmt.Errorf("member %q of group %q: %w", m.UserID, groupID, store.ErrConflict)
		}
		return store.IMMember{}, fmt.Errorf("sqlite: add member %q to %q: %w", m.UserID, groupID, err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM im_join_requests WHERE sdkappid = ? AND group_id = ? AND user_id = ?`,
		int64(sdkAppID), groupID, ref); err != nil {
		return store.IMMember{}, fmt.Errorf("sqlite: add member %q to %q: %w", m.UserID, groupID, err)
	}
	// The cursor starts just before the join: pre-join messages are not unread.
	if _, err := tx.ExecContext(ctx, `INSERT INTO im_cursors (sdkappid, conv_id, user_id, read_seq) VALUES (?, ?, ?, ?)
		ON CONFLICT DO UPDATE SET read_seq = max(read_seq, excluded.read_seq)`, int64(sdkAppID), conv, ref, last); err != nil {
		return store.IMMember{}, fmt.Errorf("sqlite: add member %q to %q: %w", m.UserID, groupID, err)
	}
	return m, nil
}

// AddIMMember implements store.IMStore.
func (db *DB) AddIMMember(ctx context.Context, sdkAppID uint32, groupID string, m store.IMMember) (out store.IMMember, err error) {
	if !m.Role.Valid() {
		return store.IMMember{}, fmt.Errorf("sqlite: add member %q: unknown role %q", m.UserID, m.Role)
	}
	r, err := db.imRefs()
	if err != nil {
		return store.IMMember{}, err
	}
	if err := r.ensure(ctx, sdkAppID, m.UserID); err != nil {
		return store.IMMember{}, fmt.Errorf("sqlite: add member %q: %w", m.UserID, err)
	}
	ref := r.ref(sdkAppID, m.UserID)
	err = db.imTx(ctx, "add member", func(tx *sql.Tx) error {
		g, _, err := getGroup(ctx, tx, sdkAppID, groupID)
		if err != nil {
			return err
		}
		if !g.DismissedAt.IsZero() {
			return fmt.Errorf("group %q dismissed: %w", groupID, store.ErrNotFound)
		}
		out, err = addMember(ctx, tx, sdkAppID, groupID, m, ref)
		return err
	})
	return out, err
}

// RemoveIMMember implements store.IMStore.
func (db *DB) RemoveIMMember(ctx context.Context, sdkAppID uint32, groupID, userID string) error {
	r, err := db.imRefs()
	if err != nil {
		return err
	}
	ref := r.ref(sdkAppID, userID)
	return db.imTx(ctx, "remove member", func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM im_group_members WHERE sdkappid = ? AND group_id = ? AND user_id = ?`,
			int64(sdkAppID), groupID, ref)
		if err := affected(res, err, "member", userID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM im_cursors WHERE sdkappid = ? AND conv_id = ? AND user_id = ?`,
			int64(sdkAppID), groupPrefix+groupID, ref); err != nil {
			return fmt.Errorf("sqlite: remove member %q: %w", userID, err)
		}
		return nil
	})
}

const memberColumns = `user_id, role, muted_until, joined_at, join_seq`

// scanMember reads a member row; its UserID is the stored reference.
func scanMember(s scanner) (store.IMMember, error) {
	var m store.IMMember
	var role string
	var muted, joined int64
	if err := s.Scan(&m.UserID, &role, &muted, &joined, &m.JoinSeq); err != nil {
		return store.IMMember{}, err
	}
	m.Role, m.MutedUntil, m.JoinedAt = store.IMRole(role), imTime(muted), imTime(joined)
	return m, nil
}

// scanMembers reads member rows and closes them.
func scanMembers(rows *sql.Rows) ([]store.IMMember, error) {
	defer rows.Close()
	var out []store.IMMember
	for rows.Next() {
		m, err := scanMember(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// clearMembers maps the references scanMember left in UserID back to user
// ids, in place, dropping members whose subject was erased. It runs after
// the member rows are closed: resolving a reference may query q, and a
// read connection held by open rows while waiting for another could
// exhaust the pool.
func (r *imRefs) clearMembers(ctx context.Context, q queryer, sdkAppID uint32, ms []store.IMMember) ([]store.IMMember, error) {
	out := ms[:0]
	for _, m := range ms {
		u, err := r.user(ctx, q, sdkAppID, m.UserID)
		if err != nil {
			return nil, err
		}
		if u == "" {
			continue
		}
		m.UserID = u
		out = append(out, m)
	}
	return out, nil
}

// GetIMMember implements store.IMStore.
func (db *DB) GetIMMember(ctx context.Context, sdkAppID uint32, groupID, userID string) (store.IMMember, error) {
	r, err := db.imRefs()
	if err != nil {
		return store.IMMember{}, err
	}
	m, err := scanMember(db.read.QueryRowContext(ctx, `SELECT `+memberColumns+` FROM im_group_members
		WHERE sdkappid = ? AND group_id = ? AND user_id = ?`, int64(sdkAppID), groupID, r.ref(sdkAppID, userID)))
	if errors.Is(err, sql.ErrNoRows) {
		return store.IMMember{}, fmt.Errorf("member %q of group %q: %w", userID, groupID, store.ErrNotFound)
	}
	if err != nil {
		return store.IMMember{}, fmt.Errorf("sqlite: get member %q: %w", userID, err)
	}
	m.UserID = userID
	return m, nil
}

// ListIMMembers implements store.IMStore. Members who joined in the same
// microsecond are ordered by their stored reference, not their user id
// (an order on user ids would need them in clear); ListIMMembersPage
// pages in the same order. Members whose subject was erased are left out.
func (db *DB) ListIMMembers(ctx context.Context, sdkAppID uint32, groupID string) ([]store.IMMember, error) {
	r, err := db.imRefs()
	if err != nil {
		return nil, err
	}
	rows, err := db.read.QueryContext(ctx, `SELECT `+memberColumns+` FROM im_group_members
		WHERE sdkappid = ? AND group_id = ? ORDER BY joined_at, user_id`, int64(sdkAppID), groupID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list members of %q: %w", groupID, err)
	}
	ms, err := scanMembers(rows)
	if err == nil {
		ms, err = r.clearMembers(ctx, db.read, sdkAppID, ms)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: list members of %q: %w", groupID, err)
	}
	return ms, nil
}

// UpdateIMMember implements store.IMStore.
func (db *DB) UpdateIMMember(ctx context.Context, sdkAppID uint32, groupID string, m store.IMMember) error {
	if !m.Role.Valid() {
		return fmt.Errorf("sqlite: update member %q: unknown role %q", m.UserID, m.Role)
	}
	r, err := db.imRefs()
	if err != nil {
		return err
	}
	res, err := db.write.ExecContext(ctx, `UPDATE im_group_members SET role = ?, muted_until = ?
		WHERE sdkappid = ? AND group_id = ? AND user_id = ?`, string(m.Role), imMicro(m.MutedUntil), int64(sdkAppID), groupID,
		r.ref(sdkAppID, m.UserID))
	return affected(res, err, "member", m.UserID)
}

// AddIMJoinRequest implements store.IMStore.
func (db *DB) AddIMJoinRequest(ctx context.Context, sdkAppID uint32, groupID, userID string, at time.Time) error {
	r, err := db.imRefs()
	if err != nil {
		return err
	}
	if err := r.ensure(ctx, sdkAppID, userID); err != nil {
		return fmt.Errorf("sqlite: add join request of %q to %q: %w", userID, groupID, err)
	}
	_, err = db.write.ExecContext(ctx, `INSERT INTO im_join_requests (sdkappid, group_id, user_id, requested_at)
		VALUES (?, ?, ?, ?)`, int64(sdkAppID), groupID, r.ref(sdkAppID, userID), at.UnixMicro())
	if err != nil {
		if isUniqueViolation(err) {
			return fmt.Errorf("join request of %q to %q: %w", userID, groupID, store.ErrConflict)
		}
		return fmt.Errorf("sqlite: add join request of %q to %q: %w", userID, groupID, err)
	}
	return nil
}

// ListIMJoinRequests implements store.IMStore. Requests made in the same
// microsecond are ordered by reference; those of erased subjects are left
// out.
func (db *DB) ListIMJoinRequests(ctx context.Context, sdkAppID uint32, groupID string) ([]store.IMJoinRequest, error) {
	r, err := db.imRefs()
	if err != nil {
		return nil, err
	}
	rows, err := db.read.QueryContext(ctx, `SELECT user_id, requested_at FROM im_join_requests
		WHERE sdkappid = ? AND group_id = ? ORDER BY requested_at, user_id`, int64(sdkAppID), groupID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list join requests of %q: %w", groupID, err)
	}
	var reqs []store.IMJoinRequest
	err = func() error {
		defer rows.Close()
		for rows.Next() {
			var q store.IMJoinRequest
			var at int64
			if err := rows.Scan(&q.UserID, &at); err != nil {
				return err
			}
			q.RequestedAt = imTime(at)
			reqs = append(reqs, q)
		}
		return rows.Err()
	}()
	if err != nil {
		return nil, fmt.Errorf("sqlite: list join requests of %q: %w", groupID, err)
	}
	out := reqs[:0]
	for _, q := range reqs {
		u, err := r.user(ctx, db.read, sdkAppID, q.UserID)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list join requests of %q: %w", groupID, err)
		}
		if u != "" {
			q.UserID = u
			out = append(out, q)
		}
	}
	return out, nil
}

// DeleteIMJoinRequest implements store.IMStore.
func (db *DB) DeleteIMJoinRequest(ctx context.Context, sdkAppID uint32, groupID, userID string) error {
	r, err := db.imRefs()
	if err != nil {
		return err
	}
	res, err := db.write.ExecContext(ctx, `DELETE FROM im_join_requests WHERE sdkappid = ? AND group_id = ? AND user_id = ?`,
		int64(sdkAppID), groupID, r.ref(sdkAppID, userID))
	return affected(res, err, "join request", userID)
}

const messageColumns = `seq, sender, coalesce(client_msg_id, ''), at, body, need_receipt,
	recalled, coalesce(recalled_at, 0), coalesce(recalled_by, ''), erased`

// imRow is a stored message as read: references and the sealed content.
type imRow struct {
	seq         int64
	sender      string // reference; "" once erased
	clientID    string
	at          int64
	content     []byte // sealed; empty once recalled or erased
	needReceipt bool
	recalled    bool
	recalledAt  int64
	recalledBy  string // reference or ""
	erased      bool
}

func scanMessage(s scanner) (imRow, error) {
	var r imRow
	err := s.Scan(&r.seq, &r.sender, &r.clientID, &r.at, &r.content, &r.needReceipt,
		&r.recalled, &r.recalledAt, &r.recalledBy, &r.erased)
	return r, err
}

// A recalled message keeps, in place of its content, the 8-byte ids of
// the sender's and the recaller's data keys (recallContent): no content,
// but the identities stay bound to the keys, so that destroying a key
// erases them even if the user id is later reused (a new key, the same
// reference).
const recallContentSize = 2 * keyIDSize

// message opens a row of the conversation conv (stored as stored) into the
// store's form. A row whose sender's key was destroyed reads as an erased
// tombstone (Erased, no Sender, no content), a recaller whose key was
// destroyed as RecalledBy ""; content that does not open under its own
// key is an error (see im_refs.go).
func (r *imRefs) message(ctx context.Context, q queryer, app uint32, conv, stored string, row imRow) (store.IMMessage, error) {
	m := store.IMMessage{SDKAppID: app, ConvID: conv, Seq: row.seq, ClientMsgID: row.clientID, At: imTime(row.at),
		NeedReadReceipt: row.needReceipt, Recalled: row.recalled, RecalledAt: imTime(row.recalledAt), Erased: row.erased}
	recall := row.recalled && len(row.content) == recallContentSize
	var err error
	switch {
	case row.recalledBy == "":
	case recall:
		m.RecalledBy, err = r.keyUser(ctx, q, app, row.recalledBy, row.content[keyIDSize:])
	default: // erased since (EraseIMUser cleared the content)
		m.RecalledBy, err = r.user(ctx, q, app, row.recalledBy)
	}
	if err != nil {
		return store.IMMessage{}, fmt.Errorf("message %d: %w", row.seq, err)
	}
	switch {
	case row.sender == "" || len(row.content) == 0: // EraseIMUser's tombstone
		m.Erased = true
	case recall:
		if m.Sender, err = r.keyUser(ctx, q, app, row.sender, row.content[:keyIDSize]); err != nil {
			return store.IMMessage{}, fmt.Errorf("message %d: %w", row.seq, err)
		}
		m.Erased = m.Erased || m.Sender == ""
	default:
		k, err := r.db.sealedKey(ctx, q, app, row.sender, row.content)
		if errors.Is(err, store.ErrErased) {
			m.Erased = true // crypto-shredded: nothing readable is left
			return m, nil
		}
		if err != nil {
			return store.IMMessage{}, fmt.Errorf("message %d: %w", row.seq, err)
		}
		pt, err := r.db.openWith(k, row.content, msgAAD(app, stored, row.seq))
		if err != nil {
			return store.IMMessage{}, fmt.Errorf("message %d: %w", row.seq, err)
		}
		if m.Body, m.CloudCustomData, err = splitContent(pt); err != nil {
			return store.IMMessage{}, fmt.Errorf("message %d: %w", row.seq, err)
		}
		m.Sender = k.user
	}
	return m, nil
}

// keyUser is the user of the key whose id a recalled message kept for
// ref; "" if that key is gone.
func (r *imRefs) keyUser(ctx context.Context, q queryer, app uint32, ref string, id []byte) (string, error) {
	k, err := r.db.sealedKey(ctx, q, app, ref, id)
	if errors.Is(err, store.ErrErased) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return k.user, nil
}

// errAppendInvalid rejects a message without the fields its keys need,
// before any SQL runs.
var errAppendInvalid = errors.New("sqlite: append message: sdkappid, conversation and sender are required")

func checkAppend(m store.IMMessage) error {
	if m.SDKAppID == 0 || m.ConvID == "" || m.Sender == "" {
		return errAppendInvalid
	}
	return nil
}

// imAppendItem is one append, prepared before the write transaction opens:
// references computed, keys made sure of, nothing left that queries.
type imAppendItem struct {
	m       store.IMMessage // as given: clear ids
	conv    string          // stored conversation id
	sender  string          // the sender's reference
	key     *dataKey        // the sender's data key
	parties []string        // references of the parties other than the sender
	err     error           // the item fails without touching SQL
}

// prepareAppends prepares the items of a batch: one reference per distinct
// user and app (memoized in r), one ensureKeys call per app for the users
// whose key is not cached, then each sender's key from the cache. Items
// that cannot be stored get err. The returned error is the batch's
// (creating keys failed).
func (db *DB) prepareAppends(ctx context.Context, r *imRefs, batch []store.IMAppend) ([]imAppendItem, error) {
	items := make([]imAppendItem, len(batch))
	for i, a := range batch {
		it := &items[i]
		it.m = a.Msg
		if it.err = checkAppend(a.Msg); it.err != nil {
			continue
		}
		app := a.Msg.SDKAppID
		if it.conv, it.err = r.conv(app, a.Msg.ConvID); it.err != nil {
			continue
		}
		it.sender = r.ref(app, a.Msg.Sender)
		r.need(app, a.Msg.Sender)
		r.needConv(app, a.Msg.ConvID)
		for _, p := range a.Parties {
			if p != a.Msg.Sender {
				it.parties = append(it.parties, r.ref(app, p))
				r.need(app, p)
			}
		}
	}
	if err := r.flush(ctx); err != nil {
		return nil, fmt.Errorf("sqlite: append messages: subject keys: %w", err)
	}
	for i := range items {
		it := &items[i]
		if it.err != nil {
			continue
		}
		k, err := r.key(ctx, db.read, it.m.SDKAppID, it.sender)
		if err != nil {
			return nil, fmt.Errorf("sqlite: append messages: subject keys: %w", err)
		}
		it.key = k
	}
	return items, nil
}

// AppendIMMessage implements store.IMStore. The dedupe lookup, the seq
// allocation and the insert share one write transaction, so a retry racing
// its original still yields one message, and seqs have no gaps (a failed
// insert rolls the allocation back).
func (db *DB) AppendIMMessage(ctx context.Context, m store.IMMessage, parties []string) (out store.IMMessage, dup bool, err error) {
	if err := checkAppend(m); err != nil {
		return store.IMMessage{}, false, err
	}
	r, err := db.imRefs()
	if err != nil {
		return store.IMMessage{}, false, err
	}
	items, err := db.prepareAppends(ctx, r, []store.IMAppend{{Msg: m, Parties: parties}})
	if err != nil {
		return store.IMMessage{}, false, err
	}
	if err := items[0].err; err != nil {
		return store.IMMessage{}, false, err
	}
	err = db.imTx(ctx, "append message", func(tx *sql.Tx) error {
		var err error
		out, dup, err = db.appendMessage(ctx, db.appendTx(tx), r, &items[0])
		return err
	})
	if err != nil {
		return store.IMMessage{}, false, err
	}
	return out, dup, nil
}

// AppendIMMessages implements store.IMStore. References, keys and
// ensureKeys are dealt with for the whole batch before the transaction
// (prepareAppends); inside it each item only seals (no query) and runs the
// prepared statements. Each item runs inside its own savepoint: an item
// that fails (a constraint, say) is rolled back to the savepoint, undoing
// its seq allocation so the conversation keeps no gap, while the items
// before and after it still commit with the batch. The statements are
// prepared once per batch (preparedTx).
func (db *DB) AppendIMMessages(ctx context.Context, batch []store.IMAppend) ([]store.IMAppendResult, error) {
	if len(batch) == 0 {
		return nil, nil
	}
	r, err := db.imRefs()
	if err != nil {
		return nil, err
	}
	items, err := db.prepareAppends(ctx, r, batch)
	if err != nil {
		return nil, err
	}
	if len(batch) == 1 {
		return db.appendOne(ctx, r, &items[0])
	}
	out := make([]store.IMAppendResult, len(batch))
	err = db.imTx(ctx, "append messages", func(tx *sql.Tx) error {
		ptx := db.appendTx(tx)
		for i := range items {
			it := &items[i]
			if it.err != nil {
				out[i] = store.IMAppendResult{Err: it.err}
				continue
			}
			if err := ptx.exec(ctx, qSavepoint); err != nil {
				return fmt.Errorf("sqlite: append messages: savepoint: %w", err)
			}
			m, dup, err := db.appendMessage(ctx, ptx, r, it)
			if err != nil {
				// A failed item must not abort the batch, but an error that
				// ended the transaction itself (context cancelled, I/O
				// error, SQLite's own rollback) cannot be undone to the
				// savepoint: ROLLBACK TO then fails and the batch fails.
				if rerr := ptx.exec(ctx, qRollback); rerr != nil {
					return fmt.Errorf("sqlite: append messages: item %d: %w", i, errors.Join(err, rerr))
				}
				out[i] = store.IMAppendResult{Err: err}
			} else {
				out[i] = store.IMAppendResult{Msg: m, Duplicate: dup}
			}
			// ROLLBACK TO keeps the savepoint open; RELEASE pops it either way.
			if err := ptx.exec(ctx, qRelease); err != nil {
				return fmt.Errorf("sqlite: append messages: release: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// appendOne is AppendIMMessages for a batch of one, the common case at low
// load. The transaction itself isolates the item, so it takes no
// savepoint.
func (db *DB) appendOne(ctx context.Context, r *imRefs, it *imAppendItem) ([]store.IMAppendResult, error) {
	if it.err != nil {
		return []store.IMAppendResult{{Err: it.err}}, nil
	}
	var res store.IMAppendResult
	failed := false
	err := db.imTx(ctx, "append messages", func(tx *sql.Tx) error {
		m, dup, err := db.appendMessage(ctx, db.appendTx(tx), r, it)
		if err != nil {
			failed = true // rolled back by imTx: the item's own failure
			return err
		}
		res = store.IMAppendResult{Msg: m, Duplicate: dup}
		return nil
	})
	switch {
	case failed:
		return []store.IMAppendResult{{Err: err}}, nil
	case err != nil:
		return nil, err
	}
	return []store.IMAppendResult{res}, nil
}

// appendTx runs the statements of one append inside a write transaction,
// with the statements prepared at Open (preparedTx), because parsing SQL
// is about half of an append's cost in the pure-Go SQLite.
type appendTx interface {
	exec(ctx context.Context, query string, args ...any) error
	queryRow(ctx context.Context, query string, args ...any) scanner
}

// preparedTx uses the statements prepared at Open (shared) and prepares
// any other query on first use. The statements it returns belong to tx,
// which closes them when it commits or rolls back (the shared ones stay
// prepared on the connection).
type preparedTx struct {
	tx     *sql.Tx
	shared map[string]*sql.Stmt
	stmts  map[string]*sql.Stmt
}

func (db *DB) appendTx(tx *sql.Tx) *preparedTx {
	return &preparedTx{tx: tx, shared: db.appendStmts, stmts: make(map[string]*sql.Stmt, 8)}
}

func (p *preparedTx) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	if st, ok := p.stmts[query]; ok {
		return st, nil
	}
	if sh, ok := p.shared[query]; ok {
		st := p.tx.StmtContext(ctx, sh)
		p.stmts[query] = st
		return st, nil
	}
	st, err := p.tx.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	p.stmts[query] = st
	return st, nil
}

func (p *preparedTx) exec(ctx context.Context, query string, args ...any) error {
	st, err := p.stmt(ctx, query)
	if err != nil {
		return err
	}
	_, err = st.ExecContext(ctx, args...)
	return err
}

func (p *preparedTx) queryRow(ctx context.Context, query string, args ...any) scanner {
	st, err := p.stmt(ctx, query)
	if err != nil {
		return errScanner{err}
	}
	return st.QueryRowContext(ctx, args...)
}

// errScanner carries a prepare failure to the Scan that would have read
// the row.
type errScanner struct{ err error }

func (e errScanner) Scan(...any) error { return e.err }

// The statements of an append, prepared once on the writer connection at
// Open (prepareAppend): parsing SQL is about half of an append's cost in
// the pure-Go SQLite.
var (
	qAppendDedupe = `SELECT ` + messageColumns + ` FROM im_messages
		WHERE sdkappid = ? AND conv_id = ? AND sender = ? AND client_msg_id = ?`
	qAppendSeq = `INSERT INTO im_conversations (sdkappid, conv_id, last_seq) VALUES (?, ?, 1)
		ON CONFLICT DO UPDATE SET last_seq = last_seq + 1 RETURNING last_seq`
	qAppendInsert = `INSERT INTO im_messages
		(sdkappid, conv_id, seq, day, at, sender, client_msg_id, body, need_receipt)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`
	qAppendSenderCursor = `INSERT INTO im_cursors (sdkappid, conv_id, user_id, read_seq) VALUES (?, ?, ?, ?)
		ON CONFLICT DO UPDATE SET read_seq = max(read_seq, excluded.read_seq)`
	qAppendPartyCursor = `INSERT INTO im_cursors (sdkappid, conv_id, user_id, read_seq) VALUES (?, ?, ?, 0)
		ON CONFLICT DO NOTHING`
	qSavepoint = `SAVEPOINT im_append`
	qRollback  = `ROLLBACK TO im_append`
	qRelease   = `RELEASE im_append`
)

// prepareAppend prepares the append statements on the writer connection;
// a transaction on that connection reuses them (sql.Tx.StmtContext finds
// the connection's prepared statement instead of parsing again).
func prepareAppend(ctx context.Context, w *sql.DB) (map[string]*sql.Stmt, error) {
	out := map[string]*sql.Stmt{}
	for _, q := range []string{qAppendDedupe, qAppendSeq, qAppendInsert, qAppendSenderCursor, qAppendPartyCursor,
		qSavepoint, qRollback, qRelease} {
		st, err := w.PrepareContext(ctx, q)
		if err != nil {
			for _, st := range out {
				_ = st.Close()
			}
			return nil, fmt.Errorf("sqlite: prepare append statements: %w", err)
		}
		out[q] = st
	}
	return out, nil
}

// appendMessage is the body of one append inside tx: dedupe, seq
// allocation, sealing, insert and cursors. it was prepared by
// prepareAppends without error.
func (db *DB) appendMessage(ctx context.Context, tx appendTx, r *imRefs, it *imAppendItem) (store.IMMessage, bool, error) {
	m := it.m
	app := int64(m.SDKAppID)
	var clientID sql.NullString
	if m.ClientMsgID != "" {
		clientID = sql.NullString{String: m.ClientMsgID, Valid: true}
		row, err := scanMessage(tx.queryRow(ctx, qAppendDedupe, app, it.conv, it.sender, m.ClientMsgID))
		switch {
		case err == nil:
			// The keys the original may need are committed: the read pool
			// sees them.
			prev, err := r.message(ctx, db.read, m.SDKAppID, m.ConvID, it.conv, row)
			if err != nil {
				return store.IMMessage{}, false, fmt.Errorf("sqlite: append message: dedupe: %w", err)
			}
			return prev, true, nil
		case !errors.Is(err, sql.ErrNoRows):
			return store.IMMessage{}, false, fmt.Errorf("sqlite: append message: dedupe: %w", err)
		}
	}
	if err := tx.queryRow(ctx, qAppendSeq, app, it.conv).Scan(&m.Seq); err != nil {
		return store.IMMessage{}, false, fmt.Errorf("sqlite: append message: allocate seq: %w", err)
	}
	m.At = imTime(m.At.UnixMicro())
	if m.Body == nil {
		m.Body = []byte{}
	}
	content, err := db.sealWith(it.key, msgContent(m.Body, m.CloudCustomData), msgAAD(m.SDKAppID, it.conv, m.Seq))
	if err != nil {
		return store.IMMessage{}, false, fmt.Errorf("sqlite: append message: seal: %w", err)
	}
	if err := tx.exec(ctx, qAppendInsert, app, it.conv, m.Seq, imDay(m.At), m.At.UnixMicro(), it.sender,
		clientID, content, m.NeedReadReceipt); err != nil {
		return store.IMMessage{}, false, fmt.Errorf("sqlite: append message: %w", err)
	}
	// The sender has read what it sent; peers get a cursor so the
	// conversation appears in their list.
	if err := tx.exec(ctx, qAppendSenderCursor, app, it.conv, it.sender, m.Seq); err != nil {
		return store.IMMessage{}, false, fmt.Errorf("sqlite: append message: cursor: %w", err)
	}
	for _, p := range it.parties {
		if err := tx.exec(ctx, qAppendPartyCursor, app, it.conv, p); err != nil {
			return store.IMMessage{}, false, fmt.Errorf("sqlite: append message: cursor: %w", err)
		}
	}
	return m, false, nil
}

// GetIMMessage implements store.IMStore.
func (db *DB) GetIMMessage(ctx context.Context, sdkAppID uint32, convID string, seq int64) (store.IMMessage, error) {
	r, err := db.imRefs()
	if err != nil {
		return store.IMMessage{}, err
	}
	stored, err := r.conv(sdkAppID, convID)
	if err != nil {
		return store.IMMessage{}, err
	}
	row, err := scanMessage(db.read.QueryRowContext(ctx, `SELECT `+messageColumns+` FROM im_messages
		WHERE sdkappid = ? AND conv_id = ? AND seq = ?`, int64(sdkAppID), stored, seq))
	if errors.Is(err, sql.ErrNoRows) {
		return store.IMMessage{}, fmt.Errorf("message %d of %q: %w", seq, convID, store.ErrNotFound)
	}
	if err != nil {
		return store.IMMessage{}, fmt.Errorf("sqlite: get message %d of %q: %w", seq, convID, err)
	}
	m, err := r.message(ctx, db.read, sdkAppID, convID, stored, row)
	if err != nil {
		return store.IMMessage{}, fmt.Errorf("sqlite: get message %d of %q: %w", seq, convID, err)
	}
	return m, nil
}

// ListIMMessages implements store.IMStore. The rows are read and closed
// before any is opened: opening may load a key through the read pool.
func (db *DB) ListIMMessages(ctx context.Context, sdkAppID uint32, convID string, rg store.IMRange) ([]store.IMMessage, error) {
	r, err := db.imRefs()
	if err != nil {
		return nil, err
	}
	stored, err := r.conv(sdkAppID, convID)
	if err != nil {
		return nil, err
	}
	before := rg.Before
	if before <= 0 {
		before = 1<<63 - 1
	}
	order := "ASC"
	if rg.Newest {
		order = "DESC"
	}
	rows, err := db.read.QueryContext(ctx, `SELECT `+messageColumns+` FROM im_messages
		WHERE sdkappid = ? AND conv_id = ? AND seq > ? AND seq < ? AND seq >= ?
		ORDER BY seq `+order+` LIMIT ?`, int64(sdkAppID), stored, rg.After, before, rg.MinSeq, max(rg.Limit, 0))
	if err != nil {
		return nil, fmt.Errorf("sqlite: list messages of %q: %w", convID, err)
	}
	raw := make([]imRow, 0, max(rg.Limit, 0))
	err = func() error {
		defer rows.Close()
		for rows.Next() {
			row, err := scanMessage(rows)
			if err != nil {
				return err
			}
			raw = append(raw, row)
		}
		return rows.Err()
	}()
	if err != nil {
		return nil, fmt.Errorf("sqlite: list messages of %q: %w", convID, err)
	}
	out := make([]store.IMMessage, len(raw))
	for i, row := range raw {
		if out[i], err = r.message(ctx, db.read, sdkAppID, convID, stored, row); err != nil {
			return nil, fmt.Errorf("sqlite: list messages of %q: %w", convID, err)
		}
	}
	return out, nil
}

// IMLastSeq implements store.IMStore.
func (db *DB) IMLastSeq(ctx context.Context, sdkAppID uint32, convID string) (int64, error) {
	stored, err := db.storedConv(sdkAppID, convID)
	if err != nil {
		return 0, err
	}
	return lastSeq(ctx, db.read, sdkAppID, stored)
}

// RecallIMMessage implements store.IMStore. The content is removed from
// the row, not hidden, so a recall is also an erasure (RETAIN-3); the
// client message id stays so a late retry of the original is still
// recognised as a duplicate.
func (db *DB) RecallIMMessage(ctx context.Context, sdkAppID uint32, convID string, seq int64, by string, at time.Time) (m store.IMMessage, err error) {
	r, err := db.imRefs()
	if err != nil {
		return store.IMMessage{}, err
	}
	stored, err := r.conv(sdkAppID, convID)
	if err != nil {
		return store.IMMessage{}, err
	}
	if err := r.ensure(ctx, sdkAppID, by); err != nil {
		return store.IMMessage{}, fmt.Errorf("sqlite: recall message %d of %q: %w", seq, convID, err)
	}
	byRef := r.ref(sdkAppID, by)
	byKey, err := r.key(ctx, db.read, sdkAppID, byRef)
	if err != nil {
		return store.IMMessage{}, fmt.Errorf("sqlite: recall message %d of %q: %w", seq, convID, err)
	}
	var row imRow
	err = db.imTx(ctx, "recall message", func(tx *sql.Tx) error {
		var err error
		// The content goes; the key ids of sender and recaller stay
		// (recallContentSize). || makes text, so the blob is built in hex.
		row, err = scanMessage(tx.QueryRowContext(ctx, `UPDATE im_messages
			SET recalled = 1, recalled_at = ?, recalled_by = ?, body = unhex(hex(substr(body, 1, ?)) || ?)
			WHERE sdkappid = ? AND conv_id = ? AND seq = ? AND recalled = 0 AND erased = 0
			RETURNING `+messageColumns, at.UnixMicro(), byRef, keyIDSize, hex.EncodeToString(byKey.id[:]), int64(sdkAppID), stored, seq))
		if errors.Is(err, sql.ErrNoRows) {
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM im_messages WHERE sdkappid = ? AND conv_id = ? AND seq = ?`,
				int64(sdkAppID), stored, seq).Scan(&n); err != nil {
				return fmt.Errorf("sqlite: recall message %d of %q: %w", seq, convID, err)
			}
			if n == 0 {
				return fmt.Errorf("message %d of %q: %w", seq, convID, store.ErrNotFound)
			}
			return fmt.Errorf("message %d of %q already recalled or erased: %w", seq, convID, store.ErrConflict)
		}
		if err != nil {
			return fmt.Errorf("sqlite: recall message %d of %q: %w", seq, convID, err)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM im_extensions WHERE sdkappid = ? AND conv_id = ? AND seq = ?`,
			int64(sdkAppID), stored, seq); err != nil {
			return fmt.Errorf("sqlite: recall message %d of %q: %w", seq, convID, err)
		}
		return nil
	})
	if err != nil {
		return store.IMMessage{}, err
	}
	if m, err = r.message(ctx, db.read, sdkAppID, convID, stored, row); err != nil {
		return store.IMMessage{}, fmt.Errorf("sqlite: recall message %d of %q: %w", seq, convID, err)
	}
	return m, nil
}

// MarkIMRead implements store.IMStore.
func (db *DB) MarkIMRead(ctx context.Context, sdkAppID uint32, convID, userID string, seq int64) (cur int64, err error) {
	r, err := db.imRefs()
	if err != nil {
		return 0, err
	}
	stored, err := r.conv(sdkAppID, convID)
	if err != nil {
		return 0, err
	}
	if err := r.ensure(ctx, sdkAppID, userID); err != nil {
		return 0, fmt.Errorf("sqlite: mark read: %w", err)
	}
	err = db.imTx(ctx, "mark read", func(tx *sql.Tx) error {
		last, err := lastSeq(ctx, tx, sdkAppID, stored)
		if err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, `INSERT INTO im_cursors (sdkappid, conv_id, user_id, read_seq) VALUES (?, ?, ?, ?)
			ON CONFLICT DO UPDATE SET read_seq = max(read_seq, excluded.read_seq) RETURNING read_seq`,
			int64(sdkAppID), stored, r.ref(sdkAppID, userID), max(min(seq, last), 0)).Scan(&cur)
	})
	return cur, err
}

// IMConversations implements store.IMStore, ordered by conversation id. A
// C2C conversation whose peer was erased is left out: its id cannot be
// given back.
func (db *DB) IMConversations(ctx context.Context, sdkAppID uint32, userID string) ([]store.IMConvState, error) {
	r, err := db.imRefs()
	if err != nil {
		return nil, err
	}
	ref := r.ref(sdkAppID, userID)
	rows, err := db.read.QueryContext(ctx, `SELECT c.conv_id, coalesce(v.last_seq, 0), c.read_seq,
			(SELECT count(*) FROM im_messages m WHERE m.sdkappid = c.sdkappid AND m.conv_id = c.conv_id
				AND m.seq > c.read_seq AND m.sender <> c.user_id AND m.recalled = 0 AND m.erased = 0)
		FROM im_cursors c LEFT JOIN im_conversations v ON v.sdkappid = c.sdkappid AND v.conv_id = c.conv_id
		WHERE c.sdkappid = ? AND c.user_id = ?`, int64(sdkAppID), ref)
	if err != nil {
		return nil, fmt.Errorf("sqlite: conversations of %q: %w", userID, err)
	}
	var cs []store.IMConvState
	err = func() error {
		defer rows.Close()
		for rows.Next() {
			var c store.IMConvState
			if err := rows.Scan(&c.ConvID, &c.LastSeq, &c.ReadSeq, &c.Unread); err != nil {
				return err
			}
			cs = append(cs, c)
		}
		return rows.Err()
	}()
	if err != nil {
		return nil, fmt.Errorf("sqlite: conversations of %q: %w", userID, err)
	}
	// The user's own side of a C2C id needs no lookup.
	r.users = map[imUser]string{{sdkAppID, ref}: userID}
	out := cs[:0]
	for _, c := range cs {
		conv, ok, err := r.clearConv(ctx, db.read, sdkAppID, c.ConvID)
		if err != nil {
			return nil, fmt.Errorf("sqlite: conversations of %q: %w", userID, err)
		}
		if ok {
			c.ConvID = conv
			out = append(out, c)
		}
	}
	slices.SortFunc(out, func(a, b store.IMConvState) int { return strings.Compare(a.ConvID, b.ConvID) })
	return out, nil
}

// IMReadBy implements store.IMStore, sorted by user id; erased users are
// left out.
func (db *DB) IMReadBy(ctx context.Context, sdkAppID uint32, convID string, seq int64) ([]string, error) {
	r, err := db.imRefs()
	if err != nil {
		return nil, err
	}
	stored, err := r.conv(sdkAppID, convID)
	if err != nil {
		return nil, err
	}
	rows, err := db.read.QueryContext(ctx, `SELECT user_id FROM im_cursors
		WHERE sdkappid = ? AND conv_id = ? AND read_seq >= ?`, int64(sdkAppID), stored, seq)
	if err != nil {
		return nil, fmt.Errorf("sqlite: read by of %q: %w", convID, err)
	}
	var refs []string
	err = func() error {
		defer rows.Close()
		for rows.Next() {
			var u string
			if err := rows.Scan(&u); err != nil {
				return err
			}
			refs = append(refs, u)
		}
		return rows.Err()
	}()
	if err != nil {
		return nil, fmt.Errorf("sqlite: read by of %q: %w", convID, err)
	}
	out := refs[:0]
	for _, ref := range refs {
		u, err := r.user(ctx, db.read, sdkAppID, ref)
		if err != nil {
			return nil, fmt.Errorf("sqlite: read by of %q: %w", convID, err)
		}
		if u != "" {
			out = append(out, u)
		}
	}
	slices.Sort(out)
	return out, nil
}

// SetIMExtensions implements store.IMStore. Keys are applied in sorted
// order so results do not depend on map iteration. Each value is sealed
// with the writer's key. A key whose value can no longer be opened (its
// writer's key was destroyed) is free again: it is overwritten.
func (db *DB) SetIMExtensions(ctx context.Context, sdkAppID uint32, convID string, seq int64, writer string, at time.Time,
	kv map[string]string, maxKeys int) (conflicts []string, err error) {
	keys := make([]string, 0, len(kv))
	for k := range kv {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	r, err := db.imRefs()
	if err != nil {
		return nil, err
	}
	stored, err := r.conv(sdkAppID, convID)
	if err != nil {
		return nil, err
	}
	if err := r.ensure(ctx, sdkAppID, writer); err != nil {
		return nil, fmt.Errorf("sqlite: set extensions: %w", err)
	}
	wref := r.ref(sdkAppID, writer)
	wkey, err := r.key(ctx, db.read, sdkAppID, wref)
	if err != nil {
		return nil, fmt.Errorf("sqlite: set extensions: %w", err)
	}
	app := int64(sdkAppID)
	err = db.imTx(ctx, "set extensions", func(tx *sql.Tx) error {
		conflicts = nil
		var live bool
		var sender string
		var content []byte
		err := tx.QueryRowContext(ctx, `SELECT recalled = 0 AND erased = 0, sender, substr(body, 1, ?) FROM im_messages
			WHERE sdkappid = ? AND conv_id = ? AND seq = ?`, keyIDSize, app, stored, seq).Scan(&live, &sender, &content)
		if err == nil && live {
			// A message whose sender's key is gone reads as erased.
			if _, kerr := db.sealedKey(ctx, tx, sdkAppID, sender, content); errors.Is(kerr, store.ErrErased) {
				live = false
			} else if kerr != nil {
				return fmt.Errorf("sqlite: set extensions: message %d: %w", seq, kerr)
			}
		}
		if errors.Is(err, sql.ErrNoRows) || (err == nil && !live) {
			return fmt.Errorf("message %d of %q: %w", seq, convID, store.ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("sqlite: set extensions: %w", err)
		}
		var have int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM im_extensions WHERE sdkappid = ? AND conv_id = ? AND seq = ?`,
			app, stored, seq).Scan(&have); err != nil {
			return fmt.Errorf("sqlite: set extensions: %w", err)
		}
		var added int
		for _, k := range keys {
			aad := extAAD(sdkAppID, stored, seq, k)
			var cur []byte
			var curWriter string
			err := tx.QueryRowContext(ctx, `SELECT value, writer FROM im_extensions WHERE sdkappid = ? AND conv_id = ? AND seq = ? AND key = ?`,
				app, stored, seq, k).Scan(&cur, &curWriter)
			existing := err == nil
			switch {
			case existing:
				v, err := db.openExtension(ctx, tx, sdkAppID, curWriter, cur, aad)
				if err == nil {
					if string(v) != kv[k] {
						conflicts = append(conflicts, k)
					}
					continue
				}
				if !errors.Is(err, store.ErrErased) {
					return fmt.Errorf("sqlite: set extensions: key %q: %w", k, err)
				}
				// Its writer was erased: the key is free, and already counted.
			case !errors.Is(err, sql.ErrNoRows):
				return fmt.Errorf("sqlite: set extensions: %w", err)
			case have+added >= maxKeys:
				return fmt.Errorf("message %d of %q holds %d keys, max %d: %w", seq, convID, have, maxKeys, store.ErrIMExtensionLimit)
			}
			sealed, err := db.sealWith(wkey, []byte(kv[k]), aad)
			if err != nil {
				return fmt.Errorf("sqlite: set extensions: %w", err)
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO im_extensions (sdkappid, conv_id, seq, key, value, writer, set_at)
				VALUES (?, ?, ?, ?, ?, ?, ?)
				ON CONFLICT DO UPDATE SET value = excluded.value, writer = excluded.writer, set_at = excluded.set_at`,
				app, stored, seq, k, sealed, wref, at.UnixMicro()); err != nil {
				return fmt.Errorf("sqlite: set extensions: %w", err)
			}
			if !existing {
				added++
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return conflicts, nil
}

// openExtension opens a sealed extension value written by writer (a
// reference, or "" once the writer's name was erased); an error wrapping
// store.ErrErased if the key that sealed it is gone.
func (db *DB) openExtension(ctx context.Context, q queryer, sdkAppID uint32, writer string, sealed, aad []byte) ([]byte, error) {
	k, err := db.sealedKey(ctx, q, sdkAppID, writer, sealed)
	if err != nil {
		return nil, err
	}
	return db.openWith(k, sealed, aad)
}

// IMExtensions implements store.IMStore. Values whose writer's key was
// destroyed are left out.
func (db *DB) IMExtensions(ctx context.Context, sdkAppID uint32, convID string, seq int64) (map[string]string, error) {
	stored, err := db.storedConv(sdkAppID, convID)
	if err != nil {
		return nil, err
	}
	rows, err := db.read.QueryContext(ctx, `SELECT key, value, writer FROM im_extensions WHERE sdkappid = ? AND conv_id = ? AND seq = ?`,
		int64(sdkAppID), stored, seq)
	if err != nil {
		return nil, fmt.Errorf("sqlite: extensions of %d in %q: %w", seq, convID, err)
	}
	type ext struct {
		key, writer string
		value       []byte
	}
	var exts []ext
	err = func() error {
		defer rows.Close()
		for rows.Next() {
			var e ext
			if err := rows.Scan(&e.key, &e.value, &e.writer); err != nil {
				return err
			}
			exts = append(exts, e)
		}
		return rows.Err()
	}()
	if err != nil {
		return nil, fmt.Errorf("sqlite: extensions of %d in %q: %w", seq, convID, err)
	}
	out := make(map[string]string, len(exts))
	for _, e := range exts {
		v, err := db.openExtension(ctx, db.read, sdkAppID, e.writer, e.value, extAAD(sdkAppID, stored, seq, e.key))
		if errors.Is(err, store.ErrErased) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("sqlite: extensions of %d in %q: key %q: %w", seq, convID, e.key, err)
		}
		out[e.key] = string(v)
	}
	return out, nil
}

// EraseIMUser implements store.IMStore (RIGHTS-1, RIGHTS-3, RIGHTS-6), on
// the user's reference. It removes the rows' content and reference; what
// it leaves sealed under the user's key (extension values the user wrote
// on other messages) becomes unreadable once the key is destroyed
// (ShredSubject).
func (db *DB) EraseIMUser(ctx context.Context, sdkAppID uint32, userID string) (n int64, err error) {
	r, err := db.imRefs()
	if err != nil {
		return 0, err
	}
	app, ref := int64(sdkAppID), r.ref(sdkAppID, userID)
	err = db.imTx(ctx, "erase user messages", func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM im_extensions WHERE (sdkappid, conv_id, seq) IN
			(SELECT sdkappid, conv_id, seq FROM im_messages WHERE sdkappid = ? AND sender = ?)`, app, ref); err != nil {
			return fmt.Errorf("sqlite: erase user messages: %w", err)
		}
		res, err := tx.ExecContext(ctx, `UPDATE im_messages
			SET erased = 1, sender = '', body = X'', client_msg_id = NULL
			WHERE sdkappid = ? AND sender = ?`, app, ref)
		if err != nil {
			return fmt.Errorf("sqlite: erase user messages: %w", err)
		}
		if n, err = res.RowsAffected(); err != nil {
			return fmt.Errorf("sqlite: erase user messages: %w", err)
		}
		for _, q := range []string{
			`UPDATE im_messages SET recalled_by = '' WHERE sdkappid = ? AND recalled_by = ?`,
			`UPDATE im_extensions SET writer = '' WHERE sdkappid = ? AND writer = ?`,
			`DELETE FROM im_cursors WHERE sdkappid = ? AND user_id = ?`,
		} {
			if _, err := tx.ExecContext(ctx, q, app, ref); err != nil {
				return fmt.Errorf("sqlite: erase user messages: %w", err)
			}
		}
		return nil
	})
	return n, err
}

// DropIMDay implements store.IMStore (RETAIN-3). Extensions go with their
// messages (ON DELETE CASCADE); the seq allocator is untouched.
func (db *DB) DropIMDay(ctx context.Context, sdkAppID uint32, day time.Time) (int64, error) {
	res, err := db.write.ExecContext(ctx, `DELETE FROM im_messages WHERE day = ? AND (? = 0 OR sdkappid = ?)`,
		imDay(day), int64(sdkAppID), int64(sdkAppID))
	if err != nil {
		return 0, fmt.Errorf("sqlite: drop messages of %s: %w", dayOf(day).Format(time.DateOnly), err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("sqlite: drop messages of %s: %w", dayOf(day).Format(time.DateOnly), err)
	}
	return n, nil
}
