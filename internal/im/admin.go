package im

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"
	"unicode/utf8"

	"github.com/parley-rtc/parley/internal/store"
)

// This file holds the operations app backends reach through the REST API
// (REFERENCE §2 "REST"): batch sends, history import, group management on
// behalf of the owner, and read/unread administration. They need
// store.IMAdminStore next to store.IMStore.

// MaxBatchRecipients bounds SendBatch (TIM's openim/batchsendmsg: 500
// To_Account per call).
const MaxBatchRecipients = 500

// errNoAdminStore means the Service was built over a store without the
// admin operations: a wiring fault, so it carries no IM code.
var errNoAdminStore = errors.New("im: the store does not implement store.IMAdminStore")

func (s *Service) adminStore() (store.IMAdminStore, error) {
	a, ok := s.st.(store.IMAdminStore)
	if !ok {
		return nil, errNoAdminStore
	}
	return a, nil
}

// adminTarget resolves a send or import target to its conversation and the
// C2C parties that get a cursor, with Send's rules.
func adminTarget(sender string, to Target) (Conv, []string, error) {
	switch {
	case to.User != "" && to.Group == "":
		if err := validUserID(to.User); err != nil {
			return "", nil, err
		}
		if to.User == sender {
			return "", nil, fmt.Errorf("%w: C2C message to oneself", ErrInvalidArgument)
		}
		return C2CConv(sender, to.User), []string{to.User}, nil
	case to.Group != "" && to.User == "":
		return GroupConv(to.Group), nil, nil
	}
	return "", nil, fmt.Errorf("%w: target needs exactly one of User or Group", ErrInvalidArgument)
}

// adminBody applies Send's message checks (client id, CloudCustomData,
// elements, REFERENCE §2 size limit) and returns the encoded body.
func (s *Service) adminBody(msg Message) ([]byte, error) {
	if len(msg.ClientMsgID) > maxClientMsgIDBytes || !printableASCII(msg.ClientMsgID) {
		return nil, fmt.Errorf("%w: client message id must be ≤%d printable ASCII bytes", ErrInvalidArgument, maxClientMsgIDBytes)
	}
	if !utf8.ValidString(msg.CloudCustomData) {
		return nil, invalid("CloudCustomData is not UTF-8")
	}
	if err := ValidateElements(msg.Elements); err != nil {
		return nil, err
	}
	body, err := EncodeElements(msg.Elements)
	if err != nil {
		return nil, err
	}
	if n := len(body) + len(msg.CloudCustomData); n > s.opt.MaxMessageBytes {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, n, s.opt.MaxMessageBytes)
	}
	return body, nil
}

// BatchResult is one recipient's outcome of SendBatch: Err is nil when
// the message was stored (or was a retry of a stored one, Stored.Duplicate).
type BatchResult struct {
	To     string
	Stored Stored
	Err    error
}

// SendBatch sends one C2C message from sender to each of to (at most
// MaxBatchRecipients; repeated ids are sent once), as Send would. The
// message and sender are checked once: a problem with them fails the whole
// batch, while a bad recipient only fails its own entry so the others are
// still delivered. A ClientMsgID dedupes per recipient, so a retried batch
// stores nothing twice.
func (s *Service) SendBatch(ctx context.Context, app uint32, sender string, to []string, msg Message) ([]BatchResult, error) {
	if err := validUserID(sender); err != nil {
		return nil, err
	}
	if len(to) == 0 || len(to) > MaxBatchRecipients {
		return nil, fmt.Errorf("%w: %d recipients, allowed 1-%d", ErrInvalidArgument, len(to), MaxBatchRecipients)
	}
	if _, err := s.adminBody(msg); err != nil {
		return nil, err
	}
	out := make([]BatchResult, 0, len(to))
	seen := make(map[string]bool, len(to))
	for _, u := range to {
		if seen[u] {
			continue
		}
		seen[u] = true
		st, err := s.Send(ctx, app, sender, Target{User: u}, msg)
		out = append(out, BatchResult{To: u, Stored: st, Err: err})
	}
	return out, nil
}

// ImportOptions tune Import.
type ImportOptions struct {
	// Unread leaves an imported message unread for the other parties, as
	// a live message would be (TIM's C2C SyncFromOldSystem 1 and 5).
	// Without it (history import) a C2C recipient who had read the whole
	// conversation has read the imported message too (one with older
	// unread messages keeps them, and the import counts among them), and
	// after a group import every member has read the group up to it (TIM
	// documents that a group import leaves all members with no unread).
	Unread bool
}

// Import stores a message from another system's history with its
// original send time at (REFERENCE §2 "History roaming"). It is not a
// live send: no group rate limit, no mute check, no hook or delivery, and
// a group sender need not be a current member. It validates the message
// like Send and rejects times in the future or older than the
// conversation's newest message (TIM's rule for group import, applied to
// C2C too, so seq order stays time order; the same second as the newest
// message is allowed and orders by seq). A ClientMsgID seen before from
// the sender returns the original with Duplicate set, whatever at is, so a
// retried import stores nothing twice. Imports into one conversation are
// meant to be made one after another: the time check and the append are
// not one transaction.
func (s *Service) Import(ctx context.Context, app uint32, sender string, to Target, msg Message, at time.Time, opt ImportOptions) (Stored, error) {
	adm, err := s.adminStore()
	if err != nil {
		return Stored{}, err
	}
	if err := validUserID(sender); err != nil {
		return Stored{}, err
	}
	conv, parties, err := adminTarget(sender, to)
	if err != nil {
		return Stored{}, err
	}
	body, err := s.adminBody(msg)
	if err != nil {
		return Stored{}, err
	}
	if at.IsZero() {
		return Stored{}, fmt.Errorf("%w: import needs the original send time", ErrInvalidArgument)
	}
	if now := s.opt.Now(); at.After(now) {
		return Stored{}, fmt.Errorf("%w: send time %s is in the future", ErrInvalidArgument, at.UTC().Format(time.RFC3339))
	}
	if to.Group != "" {
		g, err := s.Group(ctx, app, to.Group)
		if err != nil {
			return Stored{}, err
		}
		if g.Type == AVChatRoom {
			return Stored{}, fmt.Errorf("%w: AVChatRoom keeps no history to import into", ErrNotSupported)
		}
	}
	if msg.ClientMsgID != "" {
		prev, err := adm.FindIMMessageByClientID(ctx, app, string(conv), sender, msg.ClientMsgID)
		switch {
		case err == nil:
			return Stored{Conv: conv, Seq: prev.Seq, At: prev.At, Duplicate: true}, nil
		case !errors.Is(err, store.ErrNotFound):
			return Stored{}, err
		}
	}
	newest, err := s.st.ListIMMessages(ctx, app, string(conv), store.IMRange{Limit: 1, Newest: true})
	if err != nil {
		return Stored{}, err
	}
	if len(newest) > 0 && at.Before(newest[0].At.Truncate(time.Second)) {
		return Stored{}, fmt.Errorf("%w: send time %s is before the newest message of %q (%s); import in time order",
			ErrInvalidArgument, at.UTC().Format(time.RFC3339), conv, newest[0].At.UTC().Format(time.RFC3339))
	}
	m, dup, err := s.st.AppendIMMessage(ctx, store.IMMessage{
		SDKAppID: app, ConvID: string(conv), Sender: sender, ClientMsgID: msg.ClientMsgID, At: at,
		Body: body, CloudCustomData: msg.CloudCustomData, NeedReadReceipt: msg.NeedReadReceipt,
	}, parties)
	if err != nil {
		return Stored{}, err
	}
	st := Stored{Conv: conv, Seq: m.Seq, At: m.At, Duplicate: dup}
	if dup {
		return st, nil // a concurrent retry stored it; it settled cursors
	}
	if err := s.settleImport(ctx, adm, app, to, conv, m.Seq, opt); err != nil {
		return Stored{}, fmt.Errorf("imported as seq %d of %q, but read cursors were not updated: %w", m.Seq, conv, err)
	}
	return st, nil
}

// settleImport applies ImportOptions.Unread to the read cursors after an
// import stored seq.
func (s *Service) settleImport(ctx context.Context, adm store.IMAdminStore, app uint32, to Target, conv Conv, seq int64, opt ImportOptions) error {
	if to.Group != "" {
		// AppendIMMessage gave the sender a cursor; a non-member must not
		// keep one (it would list the group among its conversations).
		upTo := seq
		if opt.Unread {
			upTo = 0
		}
		return adm.SettleIMGroupImport(ctx, app, to.Group, upTo)
	}
	if opt.Unread {
		return nil
	}
	_, err := adm.CatchUpIMCursor(ctx, app, string(conv), to.User, seq-1, seq)
	return err
}

// RenameGroup sets an active group's name (1-100 bytes of UTF-8); owner or
// admin.
func (s *Service) RenameGroup(ctx context.Context, app uint32, actor, groupID, name string) error {
	adm, err := s.adminStore()
	if err != nil {
		return err
	}
	if name == "" || len(name) > maxNameBytes || !utf8.ValidString(name) {
		return fmt.Errorf("%w: name must be 1-%d bytes of UTF-8", ErrInvalidArgument, maxNameBytes)
	}
	if _, a, err := s.member(ctx, app, groupID, actor); err != nil {
		return err
	} else if !isManager(a) {
		return fmt.Errorf("%w: only the owner or an admin renames", ErrPermissionDenied)
	}
	err = adm.SetIMGroupName(ctx, app, groupID, name)
	s.changed(app, groupID)
	return storeErr(err, ErrGroupNotFound, nil)
}

// MembersPage returns up to limit members of an active group from offset
// (join order) and its member count; limit 0 returns only the count.
func (s *Service) MembersPage(ctx context.Context, app uint32, groupID string, offset, limit int) ([]Member, int, error) {
	adm, err := s.adminStore()
	if err != nil {
		return nil, 0, err
	}
	if offset < 0 || limit < 0 {
		return nil, 0, fmt.Errorf("%w: offset %d and limit %d must not be negative", ErrInvalidArgument, offset, limit)
	}
	if _, err := s.Group(ctx, app, groupID); err != nil {
		return nil, 0, err
	}
	return adm.ListIMMembersPage(ctx, app, groupID, offset, limit)
}

// JoinedGroups lists the active groups user is a member of, in join order.
func (s *Service) JoinedGroups(ctx context.Context, app uint32, user string) ([]Group, error) {
	adm, err := s.adminStore()
	if err != nil {
		return nil, err
	}
	if err := validUserID(user); err != nil {
		return nil, err
	}
	return adm.ListIMUserGroups(ctx, app, user)
}

// uniqueUsers returns users without repeats, in first-seen order.
func uniqueUsers(users []string) []string {
	seen := make(map[string]bool, len(users))
	out := make([]string, 0, len(users))
	for _, u := range users {
		if !seen[u] {
			seen[u] = true
			out = append(out, u)
		}
	}
	return out
}

// checkManageAll checks that actor may act on every one of users (the
// owner on anyone but itself, an admin on plain members) before anything
// changes, so one bad entry fails the call without a partial effect. It
// returns users without repeats.
func (s *Service) checkManageAll(ctx context.Context, app uint32, actor, groupID string, users []string) ([]string, error) {
	if len(users) == 0 {
		return nil, fmt.Errorf("%w: no members given", ErrInvalidArgument)
	}
	users = uniqueUsers(users)
	for _, u := range users {
		if _, _, err := s.canManage(ctx, app, actor, groupID, u); err != nil {
			return nil, fmt.Errorf("member %q: %w", u, err)
		}
	}
	return users, nil
}

// KickMembers removes users from the group with KickMember's permissions.
// Every user is checked before any is removed; each removal then goes
// through KickMember so it is announced like a single kick.
func (s *Service) KickMembers(ctx context.Context, app uint32, actor, groupID string, users []string) error {
	users, err := s.checkManageAll(ctx, app, actor, groupID, users)
	if err != nil {
		return err
	}
	for _, u := range users {
		if err := s.KickMember(ctx, app, actor, groupID, u); err != nil {
			return fmt.Errorf("member %q: %w", u, err)
		}
	}
	return nil
}

// MuteMembers mutes users for d (d <= 0 unmutes) with MuteMember's
// permissions, every user checked before any is muted.
func (s *Service) MuteMembers(ctx context.Context, app uint32, actor, groupID string, users []string, d time.Duration) error {
	users, err := s.checkManageAll(ctx, app, actor, groupID, users)
	if err != nil {
		return err
	}
	for _, u := range users {
		if err := s.MuteMember(ctx, app, actor, groupID, u, d); err != nil {
			return fmt.Errorf("member %q: %w", u, err)
		}
	}
	return nil
}

// MarkC2CRead marks user's C2C conversation with peer read up to its
// newest message and returns the cursor.
func (s *Service) MarkC2CRead(ctx context.Context, app uint32, user, peer string) (int64, error) {
	if err := validUserID(user); err != nil {
		return 0, err
	}
	if _, _, err := adminTarget(user, Target{User: peer}); err != nil {
		return 0, err
	}
	// The store clamps the cursor to the conversation's last seq.
	return s.MarkRead(ctx, app, user, C2CConv(user, peer), math.MaxInt64)
}

// PeerUnread is user's unread count in the C2C conversation with Peer, or
// Err for an invalid peer id.
type PeerUnread struct {
	Peer   string
	Unread int64
	Err    error
}

// C2CUnread returns user's total unread count over its C2C conversations
// and, for each of peers, the count in the conversation with that peer (0
// when there is none).
func (s *Service) C2CUnread(ctx context.Context, app uint32, user string, peers []string) (int64, []PeerUnread, error) {
	if err := validUserID(user); err != nil {
		return 0, nil, err
	}
	cs, err := s.Conversations(ctx, app, user)
	if err != nil {
		return 0, nil, err
	}
	var total int64
	byConv := make(map[Conv]int64, len(cs))
	for _, c := range cs {
		if _, _, ok := c.Conv.Peers(); ok {
			total += c.Unread
			byConv[c.Conv] = c.Unread
		}
	}
	out := make([]PeerUnread, 0, len(peers))
	for _, p := range peers {
		if _, _, err := adminTarget(user, Target{User: p}); err != nil {
			out = append(out, PeerUnread{Peer: p, Err: err})
			continue
		}
		out = append(out, PeerUnread{Peer: p, Unread: byConv[C2CConv(user, p)]})
	}
	return total, out, nil
}
