package store

import (
	"context"
	"errors"
	"time"
)

// ErrIMExtensionLimit means a message already holds the maximum number of
// KV extension keys (REFERENCE §2: ≤300 per message).
var ErrIMExtensionLimit = errors.New("store: message extension limit reached")

// IMGroupType is one of the group types of REFERENCE §2.
type IMGroupType string

// Group types (REFERENCE §2 table; old names in parentheses).
const (
	IMGroupWork       IMGroupType = "Work"       // Private
	IMGroupPublic     IMGroupType = "Public"     // Public
	IMGroupMeeting    IMGroupType = "Meeting"    // ChatRoom
	IMGroupAVChatRoom IMGroupType = "AVChatRoom" // no cloud history
	IMGroupCommunity  IMGroupType = "Community"  // Community-lite
)

// Valid reports whether t is a known group type.
func (t IMGroupType) Valid() bool {
	switch t {
	case IMGroupWork, IMGroupPublic, IMGroupMeeting, IMGroupAVChatRoom, IMGroupCommunity:
		return true
	}
	return false
}

// IMRole is a group member's role.
type IMRole string

// Member roles (REFERENCE §2: Work and AVChatRoom know only owner and member).
const (
	IMRoleOwner  IMRole = "owner"
	IMRoleAdmin  IMRole = "admin"
	IMRoleMember IMRole = "member"
)

// Valid reports whether r is a known role.
func (r IMRole) Valid() bool { return r == IMRoleOwner || r == IMRoleAdmin || r == IMRoleMember }

// IMGroup is one group. Times have microsecond precision.
type IMGroup struct {
	SDKAppID  uint32
	GroupID   string
	Type      IMGroupType
	Name      string
	Owner     string
	CreatedAt time.Time
	// DismissedAt is zero while the group is active.
	DismissedAt time.Time
}

// IMMember is one group member.
type IMMember struct {
	UserID     string
	Role       IMRole
	MutedUntil time.Time // zero: not muted
	JoinedAt   time.Time
	// JoinSeq is the first conversation seq allocated after the member
	// joined; set by the store. Pre-join history is the messages below it.
	JoinSeq int64
}

// IMJoinRequest is a pending application to a Public group.
type IMJoinRequest struct {
	UserID      string
	RequestedAt time.Time
}

// IMMessage is one stored message. Body is the encoded element list, opaque
// to the store. A recalled or erased message keeps its row (a tombstone, so
// sequence-based sync sees no gap) with Body and CloudCustomData cleared.
type IMMessage struct {
	SDKAppID        uint32
	ConvID          string
	Seq             int64 // assigned by the store, from 1, no gaps
	Sender          string
	ClientMsgID     string // "" = no dedupe
	At              time.Time
	Body            []byte
	CloudCustomData string
	NeedReadReceipt bool
	Recalled        bool
	RecalledAt      time.Time
	RecalledBy      string
	// Erased marks a message whose content and sender were removed for a
	// data-subject request (RIGHTS-1, RIGHTS-3).
	Erased bool
}

// IMRange selects messages of one conversation. Zero bounds are open.
type IMRange struct {
	After  int64 // seq > After
	Before int64 // seq < Before (0 = no upper bound)
	MinSeq int64 // seq >= MinSeq (pre-join history hiding)
	Limit  int
	// Newest returns the newest messages first (history paging); otherwise
	// oldest first (sync).
	Newest bool
}

// IMConvState is one user's view of one conversation.
type IMConvState struct {
	ConvID  string
	LastSeq int64
	ReadSeq int64
	// Unread counts messages after ReadSeq not sent by the user and not
	// recalled or erased.
	Unread int64
}

// IMAppend is one item of an AppendIMMessages batch: the arguments of one
// AppendIMMessage call.
type IMAppend struct {
	Msg     IMMessage
	Parties []string // C2C peers that get a read cursor
}

// IMAppendResult is the outcome of one IMAppend, at the same index: the
// results of one AppendIMMessage call. When Err is set the item stored
// nothing and Msg is zero.
type IMAppendResult struct {
	Msg       IMMessage
	Duplicate bool // Msg is the earlier message with the same ClientMsgID
	Err       error
}

// IMStore persists groups, messages, read cursors and extensions for the
// im service (issue 4). Conversation ids are opaque strings built by the
// im package ("c2c:<a>|<b>", "group:<id>").
type IMStore interface {
	// CreateIMGroup inserts g with its owner as first member;
	// ErrConflict if the id exists (dismissed groups keep their id).
	CreateIMGroup(ctx context.Context, g IMGroup) error
	// GetIMGroup returns the group, dismissed or not; ErrNotFound.
	GetIMGroup(ctx context.Context, sdkAppID uint32, groupID string) (IMGroup, error)
	// DismissIMGroup marks the group dismissed and removes its members,
	// join requests and read cursors; ErrNotFound if absent or dismissed.
	DismissIMGroup(ctx context.Context, sdkAppID uint32, groupID string, at time.Time) error
	// AddIMMember adds m (JoinSeq set by the store, in the same
	// transaction as the read of the conversation's last seq) and drops
	// any pending join request; ErrConflict if already a member,
	// ErrNotFound if the group is absent or dismissed.
	AddIMMember(ctx context.Context, sdkAppID uint32, groupID string, m IMMember) (IMMember, error)
	// RemoveIMMember removes a member and its read cursor; ErrNotFound.
	RemoveIMMember(ctx context.Context, sdkAppID uint32, groupID, userID string) error
	// GetIMMember returns one member; ErrNotFound.
	GetIMMember(ctx context.Context, sdkAppID uint32, groupID, userID string) (IMMember, error)
	// ListIMMembers returns the members ordered by join time.
	ListIMMembers(ctx context.Context, sdkAppID uint32, groupID string) ([]IMMember, error)
	// UpdateIMMember replaces a member's Role and MutedUntil; ErrNotFound.
	UpdateIMMember(ctx context.Context, sdkAppID uint32, groupID string, m IMMember) error
	// AddIMJoinRequest records an application; ErrConflict if pending.
	AddIMJoinRequest(ctx context.Context, sdkAppID uint32, groupID, userID string, at time.Time) error
	// ListIMJoinRequests lists pending applications, oldest first.
	ListIMJoinRequests(ctx context.Context, sdkAppID uint32, groupID string) ([]IMJoinRequest, error)
	// DeleteIMJoinRequest removes an application; ErrNotFound.
	DeleteIMJoinRequest(ctx context.Context, sdkAppID uint32, groupID, userID string) error

	// AppendIMMessage allocates the conversation's next seq and inserts m
	// in one transaction. If m.ClientMsgID is set and the sender already
	// stored a message with it in the conversation, it returns that
	// message and true instead (exactly-once). It advances the sender's
	// read cursor and creates a cursor for each of parties (C2C peers).
	AppendIMMessage(ctx context.Context, m IMMessage, parties []string) (IMMessage, bool, error)
	// AppendIMMessages appends a batch in one transaction with the same
	// per-item semantics as AppendIMMessage (dedupe, seq allocation, cursors).
	// Items are applied in order; a later item sees earlier ones (a retry of
	// an earlier item's ClientMsgID in the same batch is a duplicate). An item
	// that fails is rolled back alone (its Err set) and the others commit;
	// the returned error is for the batch as a whole (begin/commit failure),
	// in which case nothing was stored.
	AppendIMMessages(ctx context.Context, batch []IMAppend) ([]IMAppendResult, error)
	// GetIMMessage returns one message; ErrNotFound.
	GetIMMessage(ctx context.Context, sdkAppID uint32, convID string, seq int64) (IMMessage, error)
	// ListIMMessages returns messages of a conversation in r.
	ListIMMessages(ctx context.Context, sdkAppID uint32, convID string, r IMRange) ([]IMMessage, error)
	// IMLastSeq is the last seq allocated in the conversation (0: none).
	IMLastSeq(ctx context.Context, sdkAppID uint32, convID string) (int64, error)
	// RecallIMMessage clears the content and marks the row recalled;
	// ErrNotFound if absent, ErrConflict if already recalled or erased.
	RecallIMMessage(ctx context.Context, sdkAppID uint32, convID string, seq int64, by string, at time.Time) (IMMessage, error)

	// MarkIMRead moves the user's read cursor forward to seq (never
	// back, never past the last seq) and returns the cursor.
	MarkIMRead(ctx context.Context, sdkAppID uint32, convID, userID string, seq int64) (int64, error)
	// IMConversations lists the user's conversations with counts.
	IMConversations(ctx context.Context, sdkAppID uint32, userID string) ([]IMConvState, error)
	// IMReadBy lists the users whose cursor in the conversation is at or
	// past seq, sorted.
	IMReadBy(ctx context.Context, sdkAppID uint32, convID string, seq int64) ([]string, error)

	// SetIMExtensions stores kv on a message, first writer wins: a key
	// already set to another value is returned in conflicts and left
	// unchanged (a key set to the same value is not a conflict). It
	// fails with ErrIMExtensionLimit, writing nothing, if the message
	// would hold more than maxKeys keys; ErrNotFound if the message is
	// absent, recalled or erased.
	SetIMExtensions(ctx context.Context, sdkAppID uint32, convID string, seq int64, writer string, at time.Time, kv map[string]string, maxKeys int) (conflicts []string, err error)
	// IMExtensions returns a message's extensions.
	IMExtensions(ctx context.Context, sdkAppID uint32, convID string, seq int64) (map[string]string, error)

	// EraseIMUser removes the content and sender of every message the
	// user sent in the app (tombstones keep the seq), the extensions on
	// them, the user's name from recalls and other extensions, and the
	// user's read cursors (RIGHTS-1, RIGHTS-3, RIGHTS-6). It returns the
	// number of messages erased.
	EraseIMUser(ctx context.Context, sdkAppID uint32, userID string) (int64, error)
	// DropIMDay deletes every message (and its extensions) stored on the
	// UTC day of day, in all apps when sdkAppID is 0 (RETAIN-3). Seqs are
	// never reused afterwards.
	DropIMDay(ctx context.Context, sdkAppID uint32, day time.Time) (int64, error)
}
