package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/parley-rtc/parley/internal/store"
)

var _ store.IMAdminStore = (*DB)(nil)

// SetIMGroupName implements store.IMAdminStore.
func (db *DB) SetIMGroupName(ctx context.Context, sdkAppID uint32, groupID, name string) error {
	res, err := db.write.ExecContext(ctx, `UPDATE im_groups SET name = ?
		WHERE sdkappid = ? AND group_id = ? AND dismissed_at IS NULL`, name, int64(sdkAppID), groupID)
	return affected(res, err, "group", groupID)
}

// ListIMMembersPage implements store.IMAdminStore. The count and the page
// are read in one read transaction so they agree with each other. The
// order is ListIMMembers' (join time, then stored reference); a member
// whose subject was erased is counted but left out of the page, which can
// then be shorter than limit.
func (db *DB) ListIMMembersPage(ctx context.Context, sdkAppID uint32, groupID string, offset, limit int) (members []store.IMMember, total int, err error) {
	if offset < 0 || limit < 0 {
		return nil, 0, fmt.Errorf("sqlite: list members of %q: negative offset %d or limit %d", groupID, offset, limit)
	}
	r, err := db.imRefs()
	if err != nil {
		return nil, 0, err
	}
	tx, err := db.read.BeginTx(ctx, nil) // the read pool is query_only
	if err != nil {
		return nil, 0, fmt.Errorf("sqlite: list members of %q: %w", groupID, err)
	}
	defer func() { err = errors.Join(err, rollback(tx)) }()
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM im_group_members WHERE sdkappid = ? AND group_id = ?`,
		int64(sdkAppID), groupID).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("sqlite: count members of %q: %w", groupID, err)
	}
	if limit == 0 {
		return nil, total, nil
	}
	rows, err := tx.QueryContext(ctx, `SELECT `+memberColumns+` FROM im_group_members
		WHERE sdkappid = ? AND group_id = ? ORDER BY joined_at, user_id LIMIT ? OFFSET ?`,
		int64(sdkAppID), groupID, limit, offset)
	if err != nil {
		return nil, 0, fmt.Errorf("sqlite: list members of %q: %w", groupID, err)
	}
	members, err = scanMembers(rows)
	if err == nil {
		members, err = r.clearMembers(ctx, tx, sdkAppID, members)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("sqlite: list members of %q: %w", groupID, err)
	}
	return members, total, nil
}

// ListIMUserGroups implements store.IMAdminStore through the
// im_group_members_user index. An owner whose subject was erased reads
// as "".
func (db *DB) ListIMUserGroups(ctx context.Context, sdkAppID uint32, userID string) ([]store.IMGroup, error) {
	r, err := db.imRefs()
	if err != nil {
		return nil, err
	}
	rows, err := db.read.QueryContext(ctx, `SELECT g.group_id, g.type, g.name, g.owner, g.created_at
		FROM im_group_members m JOIN im_groups g ON g.sdkappid = m.sdkappid AND g.group_id = m.group_id
		WHERE m.sdkappid = ? AND m.user_id = ? AND g.dismissed_at IS NULL
		ORDER BY m.joined_at, g.group_id`, int64(sdkAppID), r.ref(sdkAppID, userID))
	if err != nil {
		return nil, fmt.Errorf("sqlite: groups of %q: %w", userID, err)
	}
	var out []store.IMGroup
	err = func() error {
		defer rows.Close()
		for rows.Next() {
			g := store.IMGroup{SDKAppID: sdkAppID}
			var typ string
			var created int64
			if err := rows.Scan(&g.GroupID, &typ, &g.Name, &g.Owner, &created); err != nil {
				return err
			}
			g.Type, g.CreatedAt = store.IMGroupType(typ), imTime(created)
			out = append(out, g)
		}
		return rows.Err()
	}()
	if err != nil {
		return nil, fmt.Errorf("sqlite: groups of %q: %w", userID, err)
	}
	for i := range out {
		if out[i].Owner, err = r.user(ctx, db.read, sdkAppID, out[i].Owner); err != nil {
			return nil, fmt.Errorf("sqlite: groups of %q: owner: %w", userID, err)
		}
	}
	return out, nil
}

// FindIMMessageByClientID implements store.IMAdminStore through the
// im_messages_client_id unique index.
func (db *DB) FindIMMessageByClientID(ctx context.Context, sdkAppID uint32, convID, sender, clientMsgID string) (store.IMMessage, error) {
	r, err := db.imRefs()
	if err != nil {
		return store.IMMessage{}, err
	}
	stored, err := r.conv(sdkAppID, convID)
	if err != nil {
		return store.IMMessage{}, err
	}
	row, err := scanMessage(db.read.QueryRowContext(ctx, `SELECT `+messageColumns+` FROM im_messages
		WHERE sdkappid = ? AND conv_id = ? AND sender = ? AND client_msg_id = ?`,
		int64(sdkAppID), stored, r.ref(sdkAppID, sender), clientMsgID))
	if errors.Is(err, sql.ErrNoRows) {
		return store.IMMessage{}, fmt.Errorf("message %q of %q in %q: %w", clientMsgID, sender, convID, store.ErrNotFound)
	}
	if err != nil {
		return store.IMMessage{}, fmt.Errorf("sqlite: find message %q in %q: %w", clientMsgID, convID, err)
	}
	m, err := r.message(ctx, db.read, sdkAppID, convID, stored, row)
	if err != nil {
		return store.IMMessage{}, fmt.Errorf("sqlite: find message %q in %q: %w", clientMsgID, convID, err)
	}
	return m, nil
}

// CatchUpIMCursor implements store.IMAdminStore.
func (db *DB) CatchUpIMCursor(ctx context.Context, sdkAppID uint32, convID, userID string, from, to int64) (bool, error) {
	r, err := db.imRefs()
	if err != nil {
		return false, err
	}
	stored, err := r.conv(sdkAppID, convID)
	if err != nil {
		return false, err
	}
	res, err := db.write.ExecContext(ctx, `UPDATE im_cursors SET read_seq = ?
		WHERE sdkappid = ? AND conv_id = ? AND user_id = ? AND read_seq = ?`, to, int64(sdkAppID), stored, r.ref(sdkAppID, userID), from)
	if err != nil {
		return false, fmt.Errorf("sqlite: catch up cursor of %q in %q: %w", userID, convID, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("sqlite: catch up cursor of %q in %q: %w", userID, convID, err)
	}
	return n > 0, nil
}

// SettleIMGroupImport implements store.IMAdminStore.
func (db *DB) SettleIMGroupImport(ctx context.Context, sdkAppID uint32, groupID string, seq int64) error {
	conv := groupPrefix + groupID
	return db.imTx(ctx, "settle group import", func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM im_cursors WHERE sdkappid = ? AND conv_id = ? AND user_id NOT IN
			(SELECT user_id FROM im_group_members WHERE sdkappid = ? AND group_id = ?)`,
			int64(sdkAppID), conv, int64(sdkAppID), groupID); err != nil {
			return fmt.Errorf("sqlite: settle import into %q: %w", groupID, err)
		}
		if seq <= 0 {
			return nil
		}
		if _, err := tx.ExecContext(ctx, `UPDATE im_cursors SET read_seq = max(read_seq, ?)
			WHERE sdkappid = ? AND conv_id = ?`, seq, int64(sdkAppID), conv); err != nil {
			return fmt.Errorf("sqlite: settle import into %q: %w", groupID, err)
		}
		return nil
	})
}
