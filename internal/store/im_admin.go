package store

import "context"

// IMAdminStore is what the im service's app-backend operations (REST
// group management and history import) need beyond IMStore. It is a
// separate interface so IMStore implementations that do not offer these
// operations stay valid; the im service checks for it when an admin
// operation is called.
type IMAdminStore interface {
	// SetIMGroupName renames an active group; ErrNotFound if the group is
	// absent or dismissed.
	SetIMGroupName(ctx context.Context, sdkAppID uint32, groupID, name string) error
	// ListIMMembersPage returns up to limit members starting at offset, in
	// ListIMMembers' order (join time, then user id), and the group's
	// member count. A limit of 0 returns only the count.
	ListIMMembersPage(ctx context.Context, sdkAppID uint32, groupID string, offset, limit int) ([]IMMember, int, error)
	// ListIMUserGroups lists the active groups userID is a member of,
	// ordered by the user's join time, then group id.
	ListIMUserGroups(ctx context.Context, sdkAppID uint32, userID string) ([]IMGroup, error)
	// FindIMMessageByClientID returns the message sender stored with
	// clientMsgID in the conversation; ErrNotFound.
	FindIMMessageByClientID(ctx context.Context, sdkAppID uint32, convID, sender, clientMsgID string) (IMMessage, error)
	// CatchUpIMCursor moves userID's read cursor in the conversation from
	// exactly from to to, and reports whether it moved. It is a
	// compare-and-set, so a message appended concurrently is never marked
	// read by it.
	CatchUpIMCursor(ctx context.Context, sdkAppID uint32, convID, userID string, from, to int64) (bool, error)
	// SettleIMGroupImport, after messages were imported into a group,
	// moves every member's read cursor in the group's conversation to at
	// least seq (0 moves none) and removes the cursors of users who are
	// not members (an imported message's sender need not be one), in one
	// transaction.
	SettleIMGroupImport(ctx context.Context, sdkAppID uint32, groupID string, seq int64) error
}
