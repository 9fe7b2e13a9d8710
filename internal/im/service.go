package im

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/parley-rtc/parley/internal/store"
)

// Re-exported store types so consumers need not import store.
type (
	GroupType = store.IMGroupType
	Role      = store.IMRole
	Group     = store.IMGroup
	Member    = store.IMMember
)

// Group types and roles (REFERENCE §2).
const (
	Work       = store.IMGroupWork
	Public     = store.IMGroupPublic
	Meeting    = store.IMGroupMeeting
	AVChatRoom = store.IMGroupAVChatRoom
	Community  = store.IMGroupCommunity

	RoleOwner  = store.IMRoleOwner
	RoleAdmin  = store.IMRoleAdmin
	RoleMember = store.IMRoleMember
)

// Defaults (REFERENCE §2 "Limits", "Recall", "Extension KV").
const (
	DefaultMaxMessageBytes = 12 << 10
	DefaultGroupRate       = 40
	DefaultRecallWindow    = 2 * time.Minute
	DefaultPageSize        = 20
	MaxPageSize            = 100
	MaxExtensionKeysPerSet = 20
	MaxExtensionKeys       = 300
	MaxExtensionKeyBytes   = 100
	MaxExtensionValueBytes = 1024
	maxClientMsgIDBytes    = 128
	maxNameBytes           = 100
)

// Options configure a Service. Zero values take the defaults.
type Options struct {
	// MaxMessageBytes bounds the encoded elements plus CloudCustomData.
	MaxMessageBytes int
	// GroupRate is the per-group send rate in messages/s; GroupBurst the
	// bucket size (default: GroupRate).
	GroupRate  float64
	GroupBurst int
	// RecallWindow is how long after sending a message can be recalled.
	RecallWindow time.Duration
	// PreJoinHistory shows Work and Public members the messages sent
	// before they joined (REFERENCE §2 "toggle"; default hidden).
	PreJoinHistory bool
	// ReceiptGroupTypes are the group types with read receipts (default
	// Work, Public, Meeting); AVChatRoom and Community are refused.
	ReceiptGroupTypes []GroupType
	// Now is the clock (default time.Now).
	Now    func() time.Time
	Logger *slog.Logger
	// Hooks connect delivery and callbacks (events.go).
	Hooks Hooks
}

type groupKey struct {
	app uint32
	id  string
}

// Service is the IM core. It is safe for concurrent use.
type Service struct {
	st     store.IMStore
	opt    Options
	log    *slog.Logger
	mu     sync.Mutex
	commit *committer // group commit of message appends
	// members caches member's answers; gens counts each group's
	// membership changes (an entry of an older generation is stale).
	members map[memberKey]memberEntry
	gens    map[groupKey]uint64
	batch   []Event                    // the batch being committed: the committer goroutine only
	lims    map[groupKey]*rate.Limiter // per-group send buckets
	av      map[groupKey]int64         // AVChatRoom in-memory seq
}

// New returns a Service over st.
func New(st store.IMStore, opt Options) (*Service, error) {
	if st == nil {
		return nil, fmt.Errorf("%w: nil store", ErrInvalidArgument)
	}
	if opt.MaxMessageBytes <= 0 {
		opt.MaxMessageBytes = DefaultMaxMessageBytes
	}
	if opt.GroupRate <= 0 {
		opt.GroupRate = DefaultGroupRate
	}
	if opt.GroupBurst <= 0 {
		opt.GroupBurst = max(1, int(opt.GroupRate))
	}
	if opt.RecallWindow <= 0 {
		opt.RecallWindow = DefaultRecallWindow
	}
	if opt.ReceiptGroupTypes == nil {
		opt.ReceiptGroupTypes = []GroupType{Work, Public, Meeting}
	}
	for _, t := range opt.ReceiptGroupTypes {
		if !t.Valid() || t == AVChatRoom || t == Community {
			// REFERENCE §2 "Read receipts": not AVChatRoom/Community.
			return nil, fmt.Errorf("%w: read receipts cannot be enabled for %q", ErrInvalidArgument, t)
		}
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	log := opt.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Service{st: st, opt: opt, log: log, commit: newCommitter(st, 0),
		lims: map[groupKey]*rate.Limiter{}, av: map[groupKey]int64{},
		members: map[memberKey]memberEntry{}, gens: map[groupKey]uint64{}}
	s.commit.afterBatch = s.publishBatch
	return s, nil
}

// MaxMessageBytes is the configured message size limit.
func (s *Service) MaxMessageBytes() int { return s.opt.MaxMessageBytes }

// Close stops the group committer after the sends in flight are stored.
// Sends after Close fail.
func (s *Service) Close() error {
	s.commit.close()
	return nil
}

// storeErr maps the store's sentinels to IM errors, keeping the cause.
func storeErr(err error, notFound, conflict *Error) error {
	switch {
	case err == nil:
		return nil
	case notFound != nil && errors.Is(err, store.ErrNotFound):
		return fmt.Errorf("%w: %w", notFound, err)
	case conflict != nil && errors.Is(err, store.ErrConflict):
		return fmt.Errorf("%w: %w", conflict, err)
	}
	return err
}

// GroupSpec describes a group to create.
type GroupSpec struct {
	// ID is optional; empty lets the server generate "@TGS#…".
	ID   string
	Type GroupType
	Name string
}

// CreateGroup creates a group owned by owner.
func (s *Service) CreateGroup(ctx context.Context, app uint32, owner string, spec GroupSpec) (Group, error) {
	if err := validUserID(owner); err != nil {
		return Group{}, err
	}
	if !spec.Type.Valid() {
		return Group{}, fmt.Errorf("%w: group type %q", ErrInvalidArgument, spec.Type)
	}
	if len(spec.Name) > maxNameBytes {
		return Group{}, fmt.Errorf("%w: name longer than %d bytes", ErrInvalidArgument, maxNameBytes)
	}
	id := spec.ID
	if id == "" {
		id = generatedPrefix + rand.Text()
	} else if err := checkGroupID(id, false); err != nil {
		return Group{}, err
	}
	g := Group{SDKAppID: app, GroupID: id, Type: spec.Type, Name: spec.Name, Owner: owner,
		CreatedAt: s.opt.Now().UTC().Truncate(time.Microsecond)}
	if err := s.st.CreateIMGroup(ctx, g); err != nil {
		return Group{}, storeErr(err, nil, ErrGroupExists)
	}
	return g, nil
}

// Group returns an active group.
func (s *Service) Group(ctx context.Context, app uint32, groupID string) (Group, error) {
	g, err := s.st.GetIMGroup(ctx, app, groupID)
	if err != nil {
		return Group{}, storeErr(err, ErrGroupNotFound, nil)
	}
	if !g.DismissedAt.IsZero() {
		return Group{}, fmt.Errorf("%w: %q dismissed", ErrGroupNotFound, groupID)
	}
	return g, nil
}

// member returns the active group and user's membership.
//
// Every group send checks membership, so answers are cached briefly
// (memberCacheTTL): a membership change through this Service invalidates
// its group at once; the TTL bounds what another process's change (a
// second server) can leave stale.
func (s *Service) member(ctx context.Context, app uint32, groupID, user string) (Group, Member, error) {
	k, gk := memberKey{app, groupID, user}, groupKey{app, groupID}
	now := s.opt.Now()
	s.mu.Lock()
	e, ok := s.members[k]
	gen := s.gens[gk]
	s.mu.Unlock()
	if ok && e.gen == gen && now.Sub(e.at) < memberCacheTTL && !e.at.After(now) {
		return e.g, e.m, nil
	}
	g, err := s.Group(ctx, app, groupID)
	if err != nil {
		return Group{}, Member{}, err
	}
	m, err := s.st.GetIMMember(ctx, app, groupID, user)
	if err != nil {
		return Group{}, Member{}, storeErr(err, ErrNotMember, nil)
	}
	s.mu.Lock()
	if s.gens[gk] == gen { // no change while we read
		if len(s.members) >= memberCacheMax {
			clear(s.members)
		}
		s.members[k] = memberEntry{g: g, m: m, gen: gen, at: now}
	}
	s.mu.Unlock()
	return g, m, nil
}

// memberCacheTTL and memberCacheMax bound the membership cache.
const (
	memberCacheTTL = 2 * time.Second
	memberCacheMax = 100_000
)

type memberKey struct {
	app         uint32
	group, user string
}

type memberEntry struct {
	g   Group
	m   Member
	gen uint64
	at  time.Time
}

// changed invalidates the cached memberships of a group; every mutation
// of a group's members or roles calls it after the store.
func (s *Service) changed(app uint32, groupID string) {
	s.mu.Lock()
	s.gens[groupKey{app, groupID}]++
	s.mu.Unlock()
}

// Members lists an active group's members.
func (s *Service) Members(ctx context.Context, app uint32, groupID string) ([]Member, error) {
	if _, err := s.Group(ctx, app, groupID); err != nil {
		return nil, err
	}
	return s.st.ListIMMembers(ctx, app, groupID)
}

// JoinResult says whether a join took effect or awaits approval.
type JoinResult int

// Join results.
const (
	Joined JoinResult = iota + 1
	Pending
)

// JoinGroup applies the type's join rule (REFERENCE §2 "Join"): Meeting,
// Community and AVChatRoom are free; Public records an application an
// owner or admin approves; Work is by invitation only.
func (s *Service) JoinGroup(ctx context.Context, app uint32, user, groupID string) (JoinResult, error) {
	if err := validUserID(user); err != nil {
		return 0, err
	}
	g, err := s.Group(ctx, app, groupID)
	if err != nil {
		return 0, err
	}
	switch g.Type {
	case Work:
		return 0, fmt.Errorf("%w: Work groups are joined by invitation", ErrPermissionDenied)
	case Public:
		if _, err := s.st.GetIMMember(ctx, app, groupID, user); err == nil {
			return 0, ErrAlreadyMember
		}
		if err := s.st.AddIMJoinRequest(ctx, app, groupID, user, s.opt.Now()); err != nil {
			return 0, storeErr(err, nil, ErrAlreadyApplied)
		}
		return Pending, nil
	}
	if _, err := s.addMember(ctx, app, groupID, user); err != nil {
		return 0, err
	}
	s.membership(app, groupID, ChangeJoined, user)
	return Joined, nil
}

func (s *Service) addMember(ctx context.Context, app uint32, groupID, user string) (Member, error) {
	m, err := s.st.AddIMMember(ctx, app, groupID, Member{UserID: user, Role: RoleMember, JoinedAt: s.opt.Now()})
	s.changed(app, groupID)
	return m, storeErr(err, ErrGroupNotFound, ErrAlreadyMember)
}

// isManager reports owner or admin.
func isManager(m Member) bool { return m.Role == RoleOwner || m.Role == RoleAdmin }

// ApproveJoin admits a pending Public applicant; owner or admin only.
func (s *Service) ApproveJoin(ctx context.Context, app uint32, actor, groupID, user string) (Member, error) {
	if _, a, err := s.member(ctx, app, groupID, actor); err != nil {
		return Member{}, err
	} else if !isManager(a) {
		return Member{}, fmt.Errorf("%w: only the owner or an admin approves", ErrPermissionDenied)
	}
	reqs, err := s.st.ListIMJoinRequests(ctx, app, groupID)
	if err != nil {
		return Member{}, err
	}
	if !slices.ContainsFunc(reqs, func(r store.IMJoinRequest) bool { return r.UserID == user }) {
		return Member{}, fmt.Errorf("%w: %q", ErrNoApplication, user)
	}
	m, err := s.addMember(ctx, app, groupID, user) // also removes the request
	if err == nil {
		s.membership(app, groupID, ChangeJoined, user)
	}
	return m, err
}

// RejectJoin drops a pending application; owner or admin only.
func (s *Service) RejectJoin(ctx context.Context, app uint32, actor, groupID, user string) error {
	if _, a, err := s.member(ctx, app, groupID, actor); err != nil {
		return err
	} else if !isManager(a) {
		return fmt.Errorf("%w: only the owner or an admin rejects", ErrPermissionDenied)
	}
	return storeErr(s.st.DeleteIMJoinRequest(ctx, app, groupID, user), ErrNoApplication, nil)
}

// JoinRequests lists pending applications; owner or admin only.
func (s *Service) JoinRequests(ctx context.Context, app uint32, actor, groupID string) ([]store.IMJoinRequest, error) {
	if _, a, err := s.member(ctx, app, groupID, actor); err != nil {
		return nil, err
	} else if !isManager(a) {
		return nil, ErrPermissionDenied
	}
	return s.st.ListIMJoinRequests(ctx, app, groupID)
}

// InviteMember adds user directly: in Work groups any member may invite;
// in other types only the owner or an admin.
func (s *Service) InviteMember(ctx context.Context, app uint32, actor, groupID, user string) (Member, error) {
	if err := validUserID(user); err != nil {
		return Member{}, err
	}
	g, a, err := s.member(ctx, app, groupID, actor)
	if err != nil {
		return Member{}, err
	}
	if g.Type != Work && !isManager(a) {
		return Member{}, fmt.Errorf("%w: only the owner or an admin invites to %s groups", ErrPermissionDenied, g.Type)
	}
	m, err := s.addMember(ctx, app, groupID, user)
	if err == nil {
		s.membership(app, groupID, ChangeJoined, user)
	}
	return m, err
}

// LeaveGroup removes user; the owner must dismiss instead.
func (s *Service) LeaveGroup(ctx context.Context, app uint32, user, groupID string) error {
	_, m, err := s.member(ctx, app, groupID, user)
	if err != nil {
		return err
	}
	if m.Role == RoleOwner {
		return ErrOwnerCannotLeave
	}
	err = s.st.RemoveIMMember(ctx, app, groupID, user)
	s.changed(app, groupID)
	if err != nil {
		return storeErr(err, ErrNotMember, nil)
	}
	s.membership(app, groupID, ChangeLeft, user)
	return nil
}

// canManage returns the target if actor (owner or admin) may act on it:
// the owner on anyone else, an admin on plain members only.
func (s *Service) canManage(ctx context.Context, app uint32, actor, groupID, user string) (Group, Member, error) {
	g, a, err := s.member(ctx, app, groupID, actor)
	if err != nil {
		return Group{}, Member{}, err
	}
	if !isManager(a) {
		return Group{}, Member{}, fmt.Errorf("%w: %q is not owner or admin", ErrPermissionDenied, actor)
	}
	t, err := s.st.GetIMMember(ctx, app, groupID, user)
	if err != nil {
		return Group{}, Member{}, storeErr(err, ErrNotMember, nil)
	}
	if actor == user || t.Role == RoleOwner || (a.Role == RoleAdmin && t.Role == RoleAdmin) {
		return Group{}, Member{}, fmt.Errorf("%w: %s %q cannot act on %s %q", ErrPermissionDenied, a.Role, actor, t.Role, user)
	}
	return g, t, nil
}

// KickMember removes user; owner, or admin on plain members.
func (s *Service) KickMember(ctx context.Context, app uint32, actor, groupID, user string) error {
	if _, _, err := s.canManage(ctx, app, actor, groupID, user); err != nil {
		return err
	}
	err := s.st.RemoveIMMember(ctx, app, groupID, user)
	s.changed(app, groupID)
	if err != nil {
		return storeErr(err, ErrNotMember, nil)
	}
	s.membership(app, groupID, ChangeKicked, user)
	return nil
}

// MuteMember mutes user for d (d <= 0 unmutes); owner, or admin on plain
// members.
func (s *Service) MuteMember(ctx context.Context, app uint32, actor, groupID, user string, d time.Duration) error {
	_, t, err := s.canManage(ctx, app, actor, groupID, user)
	if err != nil {
		return err
	}
	t.MutedUntil = time.Time{}
	if d > 0 {
		t.MutedUntil = s.opt.Now().Add(d)
	}
	err = s.st.UpdateIMMember(ctx, app, groupID, t)
	s.changed(app, groupID)
	return storeErr(err, ErrNotMember, nil)
}

// SetRole makes user an admin or a member; owner only. Work and
// AVChatRoom groups have no admins (REFERENCE §2 "Roles").
func (s *Service) SetRole(ctx context.Context, app uint32, actor, groupID, user string, role Role) error {
	if role != RoleAdmin && role != RoleMember {
		return fmt.Errorf("%w: role %q (ownership transfer is not supported)", ErrInvalidArgument, role)
	}
	g, a, err := s.member(ctx, app, groupID, actor)
	if err != nil {
		return err
	}
	if a.Role != RoleOwner {
		return fmt.Errorf("%w: only the owner sets roles", ErrPermissionDenied)
	}
	if role == RoleAdmin && (g.Type == Work || g.Type == AVChatRoom) {
		return fmt.Errorf("%w: %s groups have no admins", ErrNotSupported, g.Type)
	}
	if user == actor {
		return fmt.Errorf("%w: the owner keeps its role", ErrPermissionDenied)
	}
	t, err := s.st.GetIMMember(ctx, app, groupID, user)
	if err != nil {
		return storeErr(err, ErrNotMember, nil)
	}
	t.Role = role
	err = s.st.UpdateIMMember(ctx, app, groupID, t)
	s.changed(app, groupID)
	return storeErr(err, ErrNotMember, nil)
}

// DismissGroup ends a group; owner only.
func (s *Service) DismissGroup(ctx context.Context, app uint32, actor, groupID string) error {
	_, a, err := s.member(ctx, app, groupID, actor)
	if err != nil {
		return err
	}
	if a.Role != RoleOwner {
		return fmt.Errorf("%w: only the owner dismisses", ErrPermissionDenied)
	}
	// The members learn of the dismissal; listed first, since dismissing
	// removes them.
	ms, err := s.st.ListIMMembers(ctx, app, groupID)
	if err != nil {
		return err
	}
	users := make([]string, len(ms))
	for i, m := range ms {
		users[i] = m.UserID
	}
	err = s.st.DismissIMGroup(ctx, app, groupID, s.opt.Now())
	s.changed(app, groupID)
	if err != nil {
		return storeErr(err, ErrGroupNotFound, nil)
	}
	s.mu.Lock()
	delete(s.lims, groupKey{app, groupID})
	delete(s.av, groupKey{app, groupID})
	s.mu.Unlock()
	s.log.Info("im group dismissed", "sdkappid", app)
	s.membership(app, groupID, ChangeDismissed, users...)
	return nil
}
