package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
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
	return db.imTx(ctx, "create group", func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO im_groups (sdkappid, group_id, type, name, owner, created_at)
			VALUES (?, ?, ?, ?, ?, ?)`, int64(g.SDKAppID), g.GroupID, string(g.Type), g.Name, g.Owner, g.CreatedAt.UnixMicro())
		if err != nil {
			if isUniqueViolation(err) {
				return fmt.Errorf("group %q of app %d: %w", g.GroupID, g.SDKAppID, store.ErrConflict)
			}
			return fmt.Errorf("sqlite: create group %q: %w", g.GroupID, err)
		}
		_, err = addMember(ctx, tx, g.SDKAppID, g.GroupID, store.IMMember{
			UserID: g.Owner, Role: store.IMRoleOwner, JoinedAt: g.CreatedAt,
		})
		return err
	})
}

// GetIMGroup implements store.IMStore.
func (db *DB) GetIMGroup(ctx context.Context, sdkAppID uint32, groupID string) (store.IMGroup, error) {
	return getGroup(ctx, db.read, sdkAppID, groupID)
}

type queryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func getGroup(ctx context.Context, q queryer, sdkAppID uint32, groupID string) (store.IMGroup, error) {
	g := store.IMGroup{SDKAppID: sdkAppID, GroupID: groupID}
	var typ string
	var created int64
	var dismissed sql.NullInt64
	err := q.QueryRowContext(ctx, `SELECT type, name, owner, created_at, dismissed_at FROM im_groups
		WHERE sdkappid = ? AND group_id = ?`, int64(sdkAppID), groupID).Scan(&typ, &g.Name, &g.Owner, &created, &dismissed)
	if errors.Is(err, sql.ErrNoRows) {
		return store.IMGroup{}, fmt.Errorf("group %q of app %d: %w", groupID, sdkAppID, store.ErrNotFound)
	}
	if err != nil {
		return store.IMGroup{}, fmt.Errorf("sqlite: get group %q: %w", groupID, err)
	}
	g.Type, g.CreatedAt = store.IMGroupType(typ), imTime(created)
	if dismissed.Valid {
		g.DismissedAt = imTime(dismissed.Int64)
	}
	return g, nil
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
			int64(sdkAppID), "group:"+groupID); err != nil {
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

// addMember inserts m inside tx with JoinSeq read in the same transaction,
// so no message can be allocated between the read and the insert.
func addMember(ctx context.Context, tx *sql.Tx, sdkAppID uint32, groupID string, m store.IMMember) (store.IMMember, error) {
	conv := "group:" + groupID
	last, err := lastSeq(ctx, tx, sdkAppID, conv)
	if err != nil {
		return store.IMMember{}, err
	}
	m.JoinSeq = last + 1
	m.JoinedAt = imTime(m.JoinedAt.UnixMicro())
	_, err = tx.ExecContext(ctx, `INSERT INTO im_group_members (sdkappid, group_id, user_id, role, muted_until, joined_at, join_seq)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, int64(sdkAppID), groupID, m.UserID, string(m.Role), imMicro(m.MutedUntil), m.JoinedAt.UnixMicro(), m.JoinSeq)
	if err != nil {
		if isUniqueViolation(err) {
			return store.IMMember{}, fmt.Errorf("member %q of group %q: %w", m.UserID, groupID, store.ErrConflict)
		}
		return store.IMMember{}, fmt.Errorf("sqlite: add member %q to %q: %w", m.UserID, groupID, err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM im_join_requests WHERE sdkappid = ? AND group_id = ? AND user_id = ?`,
		int64(sdkAppID), groupID, m.UserID); err != nil {
		return store.IMMember{}, fmt.Errorf("sqlite: add member %q to %q: %w", m.UserID, groupID, err)
	}
	// The cursor starts just before the join: pre-join messages are not unread.
	if _, err := tx.ExecContext(ctx, `INSERT INTO im_cursors (sdkappid, conv_id, user_id, read_seq) VALUES (?, ?, ?, ?)
		ON CONFLICT DO UPDATE SET read_seq = max(read_seq, excluded.read_seq)`, int64(sdkAppID), conv, m.UserID, last); err != nil {
		return store.IMMember{}, fmt.Errorf("sqlite: add member %q to %q: %w", m.UserID, groupID, err)
	}
	return m, nil
}

// AddIMMember implements store.IMStore.
func (db *DB) AddIMMember(ctx context.Context, sdkAppID uint32, groupID string, m store.IMMember) (out store.IMMember, err error) {
	if !m.Role.Valid() {
		return store.IMMember{}, fmt.Errorf("sqlite: add member %q: unknown role %q", m.UserID, m.Role)
	}
	err = db.imTx(ctx, "add member", func(tx *sql.Tx) error {
		g, err := getGroup(ctx, tx, sdkAppID, groupID)
		if err != nil {
			return err
		}
		if !g.DismissedAt.IsZero() {
			return fmt.Errorf("group %q dismissed: %w", groupID, store.ErrNotFound)
		}
		out, err = addMember(ctx, tx, sdkAppID, groupID, m)
		return err
	})
	return out, err
}

// RemoveIMMember implements store.IMStore.
func (db *DB) RemoveIMMember(ctx context.Context, sdkAppID uint32, groupID, userID string) error {
	return db.imTx(ctx, "remove member", func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM im_group_members WHERE sdkappid = ? AND group_id = ? AND user_id = ?`,
			int64(sdkAppID), groupID, userID)
		if err := affected(res, err, "member", userID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM im_cursors WHERE sdkappid = ? AND conv_id = ? AND user_id = ?`,
			int64(sdkAppID), "group:"+groupID, userID); err != nil {
			return fmt.Errorf("sqlite: remove member %q: %w", userID, err)
		}
		return nil
	})
}

const memberColumns = `user_id, role, muted_until, joined_at, join_seq`

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

// GetIMMember implements store.IMStore.
func (db *DB) GetIMMember(ctx context.Context, sdkAppID uint32, groupID, userID string) (store.IMMember, error) {
	m, err := scanMember(db.read.QueryRowContext(ctx, `SELECT `+memberColumns+` FROM im_group_members
		WHERE sdkappid = ? AND group_id = ? AND user_id = ?`, int64(sdkAppID), groupID, userID))
	if errors.Is(err, sql.ErrNoRows) {
		return store.IMMember{}, fmt.Errorf("member %q of group %q: %w", userID, groupID, store.ErrNotFound)
	}
	if err != nil {
		return store.IMMember{}, fmt.Errorf("sqlite: get member %q: %w", userID, err)
	}
	return m, nil
}

// ListIMMembers implements store.IMStore.
func (db *DB) ListIMMembers(ctx context.Context, sdkAppID uint32, groupID string) ([]store.IMMember, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT `+memberColumns+` FROM im_group_members
		WHERE sdkappid = ? AND group_id = ? ORDER BY joined_at, user_id`, int64(sdkAppID), groupID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list members of %q: %w", groupID, err)
	}
	defer rows.Close()
	var out []store.IMMember
	for rows.Next() {
		m, err := scanMember(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list members of %q: %w", groupID, err)
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// UpdateIMMember implements store.IMStore.
func (db *DB) UpdateIMMember(ctx context.Context, sdkAppID uint32, groupID string, m store.IMMember) error {
	if !m.Role.Valid() {
		return fmt.Errorf("sqlite: update member %q: unknown role %q", m.UserID, m.Role)
	}
	res, err := db.write.ExecContext(ctx, `UPDATE im_group_members SET role = ?, muted_until = ?
		WHERE sdkappid = ? AND group_id = ? AND user_id = ?`, string(m.Role), imMicro(m.MutedUntil), int64(sdkAppID), groupID, m.UserID)
	return affected(res, err, "member", m.UserID)
}

// AddIMJoinRequest implements store.IMStore.
func (db *DB) AddIMJoinRequest(ctx context.Context, sdkAppID uint32, groupID, userID string, at time.Time) error {
	_, err := db.write.ExecContext(ctx, `INSERT INTO im_join_requests (sdkappid, group_id, user_id, requested_at)
		VALUES (?, ?, ?, ?)`, int64(sdkAppID), groupID, userID, at.UnixMicro())
	if err != nil {
		if isUniqueViolation(err) {
			return fmt.Errorf("join request of %q to %q: %w", userID, groupID, store.ErrConflict)
		}
		return fmt.Errorf("sqlite: add join request of %q to %q: %w", userID, groupID, err)
	}
	return nil
}

// ListIMJoinRequests implements store.IMStore.
func (db *DB) ListIMJoinRequests(ctx context.Context, sdkAppID uint32, groupID string) ([]store.IMJoinRequest, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT user_id, requested_at FROM im_join_requests
		WHERE sdkappid = ? AND group_id = ? ORDER BY requested_at, user_id`, int64(sdkAppID), groupID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list join requests of %q: %w", groupID, err)
	}
	defer rows.Close()
	var out []store.IMJoinRequest
	for rows.Next() {
		var r store.IMJoinRequest
		var at int64
		if err := rows.Scan(&r.UserID, &at); err != nil {
			return nil, fmt.Errorf("sqlite: list join requests of %q: %w", groupID, err)
		}
		r.RequestedAt = imTime(at)
		out = append(out, r)
	}
	return out, rows.Err()
}

// DeleteIMJoinRequest implements store.IMStore.
func (db *DB) DeleteIMJoinRequest(ctx context.Context, sdkAppID uint32, groupID, userID string) error {
	res, err := db.write.ExecContext(ctx, `DELETE FROM im_join_requests WHERE sdkappid = ? AND group_id = ? AND user_id = ?`,
		int64(sdkAppID), groupID, userID)
	return affected(res, err, "join request", userID)
}

const messageColumns = `seq, sender, coalesce(client_msg_id, ''), at, body, cloud_custom_data, need_receipt,
	recalled, coalesce(recalled_at, 0), coalesce(recalled_by, ''), erased`

func scanMessage(s scanner, sdkAppID uint32, convID string) (store.IMMessage, error) {
	m := store.IMMessage{SDKAppID: sdkAppID, ConvID: convID}
	var at, recalledAt int64
	if err := s.Scan(&m.Seq, &m.Sender, &m.ClientMsgID, &at, &m.Body, &m.CloudCustomData, &m.NeedReadReceipt,
		&m.Recalled, &recalledAt, &m.RecalledBy, &m.Erased); err != nil {
		return store.IMMessage{}, err
	}
	m.At, m.RecalledAt = imTime(at), imTime(recalledAt)
	return m, nil
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

// AppendIMMessage implements store.IMStore. The dedupe lookup, the seq
// allocation and the insert share one write transaction, so a retry racing
// its original still yields one message, and seqs have no gaps (a failed
// insert rolls the allocation back).
func (db *DB) AppendIMMessage(ctx context.Context, m store.IMMessage, parties []string) (out store.IMMessage, dup bool, err error) {
	if err := checkAppend(m); err != nil {
		return store.IMMessage{}, false, err
	}
	err = db.imTx(ctx, "append message", func(tx *sql.Tx) error {
		var err error
		out, dup, err = appendMessage(ctx, db.appendTx(tx), m, parties)
		return err
	})
	if err != nil {
		return store.IMMessage{}, false, err
	}
	return out, dup, nil
}

// AppendIMMessages implements store.IMStore. Each item runs inside its own
// savepoint: an item that fails (a constraint, say) is rolled back to the
// savepoint, undoing its seq allocation so the conversation keeps no gap,
// while the items before and after it still commit with the batch. The
// statements are prepared once per batch (preparedTx).
func (db *DB) AppendIMMessages(ctx context.Context, batch []store.IMAppend) ([]store.IMAppendResult, error) {
	switch len(batch) {
	case 0:
		return nil, nil
	case 1:
		return db.appendOne(ctx, batch[0])
	}
	out := make([]store.IMAppendResult, len(batch))
	err := db.imTx(ctx, "append messages", func(tx *sql.Tx) error {
		ptx := db.appendTx(tx)
		for i, a := range batch {
			if err := checkAppend(a.Msg); err != nil {
				out[i] = store.IMAppendResult{Err: err}
				continue
			}
			if err := ptx.exec(ctx, qSavepoint); err != nil {
				return fmt.Errorf("sqlite: append messages: savepoint: %w", err)
			}
			m, dup, err := appendMessage(ctx, ptx, a.Msg, a.Parties)
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
func (db *DB) appendOne(ctx context.Context, a store.IMAppend) ([]store.IMAppendResult, error) {
	if err := checkAppend(a.Msg); err != nil {
		return []store.IMAppendResult{{Err: err}}, nil
	}
	var res store.IMAppendResult
	failed := false
	err := db.imTx(ctx, "append messages", func(tx *sql.Tx) error {
		m, dup, err := appendMessage(ctx, db.appendTx(tx), a.Msg, a.Parties)
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
		(sdkappid, conv_id, seq, day, at, sender, client_msg_id, body, cloud_custom_data, need_receipt)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
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
// allocation, insert and cursors. m has passed checkAppend.
func appendMessage(ctx context.Context, tx appendTx, m store.IMMessage, parties []string) (store.IMMessage, bool, error) {
	app := int64(m.SDKAppID)
	var clientID sql.NullString
	if m.ClientMsgID != "" {
		clientID = sql.NullString{String: m.ClientMsgID, Valid: true}
		prev, err := scanMessage(tx.queryRow(ctx, qAppendDedupe, app, m.ConvID, m.Sender, m.ClientMsgID), m.SDKAppID, m.ConvID)
		switch {
		case err == nil:
			return prev, true, nil
		case !errors.Is(err, sql.ErrNoRows):
			return store.IMMessage{}, false, fmt.Errorf("sqlite: append message: dedupe: %w", err)
		}
	}
	if err := tx.queryRow(ctx, qAppendSeq, app, m.ConvID).Scan(&m.Seq); err != nil {
		return store.IMMessage{}, false, fmt.Errorf("sqlite: append message: allocate seq: %w", err)
	}
	m.At = imTime(m.At.UnixMicro())
	if m.Body == nil {
		m.Body = []byte{}
	}
	if err := tx.exec(ctx, qAppendInsert, app, m.ConvID, m.Seq, imDay(m.At), m.At.UnixMicro(), m.Sender,
		clientID, m.Body, m.CloudCustomData, m.NeedReadReceipt); err != nil {
		return store.IMMessage{}, false, fmt.Errorf("sqlite: append message: %w", err)
	}
	// The sender has read what it sent; peers get a cursor so the
	// conversation appears in their list.
	if err := tx.exec(ctx, qAppendSenderCursor, app, m.ConvID, m.Sender, m.Seq); err != nil {
		return store.IMMessage{}, false, fmt.Errorf("sqlite: append message: cursor: %w", err)
	}
	for _, p := range parties {
		if p == m.Sender {
			continue
		}
		if err := tx.exec(ctx, qAppendPartyCursor, app, m.ConvID, p); err != nil {
			return store.IMMessage{}, false, fmt.Errorf("sqlite: append message: cursor: %w", err)
		}
	}
	return m, false, nil
}

// GetIMMessage implements store.IMStore.
func (db *DB) GetIMMessage(ctx context.Context, sdkAppID uint32, convID string, seq int64) (store.IMMessage, error) {
	m, err := scanMessage(db.read.QueryRowContext(ctx, `SELECT `+messageColumns+` FROM im_messages
		WHERE sdkappid = ? AND conv_id = ? AND seq = ?`, int64(sdkAppID), convID, seq), sdkAppID, convID)
	if errors.Is(err, sql.ErrNoRows) {
		return store.IMMessage{}, fmt.Errorf("message %d of %q: %w", seq, convID, store.ErrNotFound)
	}
	if err != nil {
		return store.IMMessage{}, fmt.Errorf("sqlite: get message %d of %q: %w", seq, convID, err)
	}
	return m, nil
}

// ListIMMessages implements store.IMStore.
func (db *DB) ListIMMessages(ctx context.Context, sdkAppID uint32, convID string, r store.IMRange) ([]store.IMMessage, error) {
	before := r.Before
	if before <= 0 {
		before = 1<<63 - 1
	}
	order := "ASC"
	if r.Newest {
		order = "DESC"
	}
	rows, err := db.read.QueryContext(ctx, `SELECT `+messageColumns+` FROM im_messages
		WHERE sdkappid = ? AND conv_id = ? AND seq > ? AND seq < ? AND seq >= ?
		ORDER BY seq `+order+` LIMIT ?`, int64(sdkAppID), convID, r.After, before, r.MinSeq, max(r.Limit, 0))
	if err != nil {
		return nil, fmt.Errorf("sqlite: list messages of %q: %w", convID, err)
	}
	defer rows.Close()
	out := make([]store.IMMessage, 0, r.Limit)
	for rows.Next() {
		m, err := scanMessage(rows, sdkAppID, convID)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list messages of %q: %w", convID, err)
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// IMLastSeq implements store.IMStore.
func (db *DB) IMLastSeq(ctx context.Context, sdkAppID uint32, convID string) (int64, error) {
	return lastSeq(ctx, db.read, sdkAppID, convID)
}

// RecallIMMessage implements store.IMStore. The content is removed from
// the row, not hidden, so a recall is also an erasure (RETAIN-3); the
// client message id stays so a late retry of the original is still
// recognised as a duplicate.
func (db *DB) RecallIMMessage(ctx context.Context, sdkAppID uint32, convID string, seq int64, by string, at time.Time) (m store.IMMessage, err error) {
	err = db.imTx(ctx, "recall message", func(tx *sql.Tx) error {
		var err error
		m, err = scanMessage(tx.QueryRowContext(ctx, `UPDATE im_messages
			SET recalled = 1, recalled_at = ?, recalled_by = ?, body = X'', cloud_custom_data = ''
			WHERE sdkappid = ? AND conv_id = ? AND seq = ? AND recalled = 0 AND erased = 0
			RETURNING `+messageColumns, at.UnixMicro(), by, int64(sdkAppID), convID, seq), sdkAppID, convID)
		if errors.Is(err, sql.ErrNoRows) {
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM im_messages WHERE sdkappid = ? AND conv_id = ? AND seq = ?`,
				int64(sdkAppID), convID, seq).Scan(&n); err != nil {
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
			int64(sdkAppID), convID, seq); err != nil {
			return fmt.Errorf("sqlite: recall message %d of %q: %w", seq, convID, err)
		}
		return nil
	})
	if err != nil {
		return store.IMMessage{}, err
	}
	return m, nil
}

// MarkIMRead implements store.IMStore.
func (db *DB) MarkIMRead(ctx context.Context, sdkAppID uint32, convID, userID string, seq int64) (cur int64, err error) {
	err = db.imTx(ctx, "mark read", func(tx *sql.Tx) error {
		last, err := lastSeq(ctx, tx, sdkAppID, convID)
		if err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, `INSERT INTO im_cursors (sdkappid, conv_id, user_id, read_seq) VALUES (?, ?, ?, ?)
			ON CONFLICT DO UPDATE SET read_seq = max(read_seq, excluded.read_seq) RETURNING read_seq`,
			int64(sdkAppID), convID, userID, max(min(seq, last), 0)).Scan(&cur)
	})
	return cur, err
}

// IMConversations implements store.IMStore.
func (db *DB) IMConversations(ctx context.Context, sdkAppID uint32, userID string) ([]store.IMConvState, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT c.conv_id, coalesce(v.last_seq, 0), c.read_seq,
			(SELECT count(*) FROM im_messages m WHERE m.sdkappid = c.sdkappid AND m.conv_id = c.conv_id
				AND m.seq > c.read_seq AND m.sender <> c.user_id AND m.recalled = 0 AND m.erased = 0)
		FROM im_cursors c LEFT JOIN im_conversations v ON v.sdkappid = c.sdkappid AND v.conv_id = c.conv_id
		WHERE c.sdkappid = ? AND c.user_id = ? ORDER BY c.conv_id`, int64(sdkAppID), userID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: conversations of %q: %w", userID, err)
	}
	defer rows.Close()
	var out []store.IMConvState
	for rows.Next() {
		var c store.IMConvState
		if err := rows.Scan(&c.ConvID, &c.LastSeq, &c.ReadSeq, &c.Unread); err != nil {
			return nil, fmt.Errorf("sqlite: conversations of %q: %w", userID, err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// IMReadBy implements store.IMStore.
func (db *DB) IMReadBy(ctx context.Context, sdkAppID uint32, convID string, seq int64) ([]string, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT user_id FROM im_cursors
		WHERE sdkappid = ? AND conv_id = ? AND read_seq >= ? ORDER BY user_id`, int64(sdkAppID), convID, seq)
	if err != nil {
		return nil, fmt.Errorf("sqlite: read by of %q: %w", convID, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var u string
		if err := rows.Scan(&u); err != nil {
			return nil, fmt.Errorf("sqlite: read by of %q: %w", convID, err)
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

// SetIMExtensions implements store.IMStore. Keys are applied in sorted
// order so results do not depend on map iteration.
func (db *DB) SetIMExtensions(ctx context.Context, sdkAppID uint32, convID string, seq int64, writer string, at time.Time,
	kv map[string]string, maxKeys int) (conflicts []string, err error) {
	keys := make([]string, 0, len(kv))
	for k := range kv {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	app := int64(sdkAppID)
	err = db.imTx(ctx, "set extensions", func(tx *sql.Tx) error {
		conflicts = nil
		var live bool
		err := tx.QueryRowContext(ctx, `SELECT recalled = 0 AND erased = 0 FROM im_messages
			WHERE sdkappid = ? AND conv_id = ? AND seq = ?`, app, convID, seq).Scan(&live)
		if errors.Is(err, sql.ErrNoRows) || (err == nil && !live) {
			return fmt.Errorf("message %d of %q: %w", seq, convID, store.ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("sqlite: set extensions: %w", err)
		}
		var have int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM im_extensions WHERE sdkappid = ? AND conv_id = ? AND seq = ?`,
			app, convID, seq).Scan(&have); err != nil {
			return fmt.Errorf("sqlite: set extensions: %w", err)
		}
		var added int
		for _, k := range keys {
			var cur string
			err := tx.QueryRowContext(ctx, `SELECT value FROM im_extensions WHERE sdkappid = ? AND conv_id = ? AND seq = ? AND key = ?`,
				app, convID, seq, k).Scan(&cur)
			switch {
			case err == nil:
				if cur != kv[k] {
					conflicts = append(conflicts, k)
				}
				continue
			case !errors.Is(err, sql.ErrNoRows):
				return fmt.Errorf("sqlite: set extensions: %w", err)
			}
			if have+added >= maxKeys {
				return fmt.Errorf("message %d of %q holds %d keys, max %d: %w", seq, convID, have, maxKeys, store.ErrIMExtensionLimit)
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO im_extensions (sdkappid, conv_id, seq, key, value, writer, set_at)
				VALUES (?, ?, ?, ?, ?, ?, ?)`, app, convID, seq, k, kv[k], writer, at.UnixMicro()); err != nil {
				return fmt.Errorf("sqlite: set extensions: %w", err)
			}
			added++
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return conflicts, nil
}

// IMExtensions implements store.IMStore.
func (db *DB) IMExtensions(ctx context.Context, sdkAppID uint32, convID string, seq int64) (map[string]string, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT key, value FROM im_extensions WHERE sdkappid = ? AND conv_id = ? AND seq = ?`,
		int64(sdkAppID), convID, seq)
	if err != nil {
		return nil, fmt.Errorf("sqlite: extensions of %d in %q: %w", seq, convID, err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return nil, fmt.Errorf("sqlite: extensions of %d in %q: %w", seq, convID, err)
		}
		out[k] = v
	}
	return out, rows.Err()
}

// EraseIMUser implements store.IMStore (RIGHTS-1, RIGHTS-3, RIGHTS-6).
func (db *DB) EraseIMUser(ctx context.Context, sdkAppID uint32, userID string) (n int64, err error) {
	app := int64(sdkAppID)
	err = db.imTx(ctx, "erase user messages", func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM im_extensions WHERE (sdkappid, conv_id, seq) IN
			(SELECT sdkappid, conv_id, seq FROM im_messages WHERE sdkappid = ? AND sender = ?)`, app, userID); err != nil {
			return fmt.Errorf("sqlite: erase user messages: %w", err)
		}
		res, err := tx.ExecContext(ctx, `UPDATE im_messages
			SET erased = 1, sender = '', body = X'', cloud_custom_data = '', client_msg_id = NULL
			WHERE sdkappid = ? AND sender = ?`, app, userID)
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
			if _, err := tx.ExecContext(ctx, q, app, userID); err != nil {
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
