package im

import (
	"context"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"golang.org/x/time/rate"

	"github.com/parley-rtc/parley/internal/store"
)

// Message is what a client sends.
type Message struct {
	// ClientMsgID deduplicates retries (exactly-once); "" disables it.
	ClientMsgID     string
	Elements        []Element
	CloudCustomData string
	NeedReadReceipt bool
}

// Stored acknowledges a send.
type Stored struct {
	Conv Conv
	Seq  int64
	At   time.Time
	// Duplicate is true when ClientMsgID matched an earlier send; Seq
	// and At are the original's.
	Duplicate bool
}

// Record is a message as history and sync return it. A recalled or erased
// message is a tombstone: no Elements and no CloudCustomData.
type Record struct {
	Conv            Conv
	Seq             int64
	Sender          string // "" once erased
	At              time.Time
	Elements        []Element
	CloudCustomData string
	NeedReadReceipt bool
	Recalled        bool
	RecalledAt      time.Time
	RecalledBy      string
	Erased          bool
}

// convAccess checks that user takes part in conv and returns the group for
// group conversations (zero Group for C2C) and the membership.
func (s *Service) convAccess(ctx context.Context, app uint32, user string, conv Conv) (Group, Member, error) {
	if id, ok := conv.Group(); ok {
		return s.member(ctx, app, id, user)
	}
	a, b, ok := conv.Peers()
	if !ok {
		return Group{}, Member{}, fmt.Errorf("%w: conversation %q", ErrInvalidArgument, conv)
	}
	if user != a && user != b {
		return Group{}, Member{}, fmt.Errorf("%w: %q in %q", ErrNotMember, user, conv)
	}
	return Group{}, Member{}, nil
}

func (s *Service) limiter(app uint32, groupID string) *rate.Limiter {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := groupKey{app, groupID}
	l := s.lims[k]
	if l == nil {
		l = rate.NewLimiter(rate.Limit(s.opt.GroupRate), s.opt.GroupBurst)
		s.lims[k] = l
	}
	return l
}

// Send validates and stores a message (REFERENCE §2 limits: size, group
// rate; sender must be a non-muted member). Sends to C2C are not rate
// limited (REFERENCE §2: "C2C unlimited").
func (s *Service) Send(ctx context.Context, app uint32, sender string, to Target, msg Message) (Stored, error) {
	if err := validUserID(sender); err != nil {
		return Stored{}, err
	}
	var conv Conv
	switch {
	case to.User != "" && to.Group == "":
		if err := validUserID(to.User); err != nil {
			return Stored{}, err
		}
		if to.User == sender {
			return Stored{}, fmt.Errorf("%w: C2C message to oneself", ErrInvalidArgument)
		}
		conv = C2CConv(sender, to.User)
	case to.Group != "" && to.User == "":
		conv = GroupConv(to.Group)
	default:
		return Stored{}, fmt.Errorf("%w: target needs exactly one of User or Group", ErrInvalidArgument)
	}
	if len(msg.ClientMsgID) > maxClientMsgIDBytes || !printableASCII(msg.ClientMsgID) {
		return Stored{}, fmt.Errorf("%w: client message id must be ≤%d printable ASCII bytes", ErrInvalidArgument, maxClientMsgIDBytes)
	}
	if !utf8.ValidString(msg.CloudCustomData) {
		return Stored{}, invalid("CloudCustomData is not UTF-8")
	}
	if err := ValidateElements(msg.Elements); err != nil {
		return Stored{}, err
	}
	body, err := EncodeElements(msg.Elements)
	if err != nil {
		return Stored{}, err
	}
	if n := len(body) + len(msg.CloudCustomData); n > s.opt.MaxMessageBytes {
		return Stored{}, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, n, s.opt.MaxMessageBytes)
	}
	now := s.opt.Now()
	var (
		parties []string
		gtype   GroupType
	)
	if to.Group != "" {
		g, m, err := s.member(ctx, app, to.Group, sender)
		if err != nil {
			return Stored{}, err
		}
		if m.MutedUntil.After(now) {
			return Stored{}, fmt.Errorf("%w: until %s", ErrMuted, m.MutedUntil.UTC().Format(time.RFC3339))
		}
		if !s.limiter(app, to.Group).AllowN(now, 1) {
			return Stored{}, fmt.Errorf("%w: group %q allows %g messages/s", ErrRateLimited, to.Group, s.opt.GroupRate)
		}
		gtype = g.Type
	} else {
		parties = []string{to.User}
	}
	if s.opt.Hooks.BeforeSend != nil {
		if msg, body, err = s.beforeSend(ctx, app, sender, conv, msg); errors.Is(err, ErrDiscarded) {
			return Stored{Conv: conv, At: now}, nil // the sender sees success; nothing is kept
		} else if err != nil {
			return Stored{}, err
		}
	}
	ev := Event{Kind: EventMessage, App: app, Conv: conv, GroupType: gtype, Recipients: parties, Body: body,
		ClientMsgID: msg.ClientMsgID, Message: Record{Conv: conv, Sender: sender, Elements: msg.Elements,
			CloudCustomData: msg.CloudCustomData, NeedReadReceipt: msg.NeedReadReceipt}}
	if gtype == AVChatRoom {
		// No cloud history (REFERENCE §2): numbered in memory only, and
		// published under the lock so receivers see seq order.
		s.mu.Lock()
		defer s.mu.Unlock()
		k := groupKey{app, to.Group}
		s.av[k]++
		ev.Message.Seq, ev.Message.At = s.av[k], now
		s.publish(ev)
		return Stored{Conv: conv, Seq: ev.Message.Seq, At: now}, nil
	}
	m, dup, err := s.appendMessage(ctx, store.IMMessage{
		SDKAppID: app, ConvID: string(conv), Sender: sender, ClientMsgID: msg.ClientMsgID, At: now,
		Body: body, CloudCustomData: msg.CloudCustomData, NeedReadReceipt: msg.NeedReadReceipt,
	}, parties, ev)
	if err != nil {
		return Stored{}, err
	}
	if s.opt.Hooks.AfterStore != nil {
		ev.Message.Seq, ev.Message.At = m.Seq, m.At
		if dup {
			// The stored original is what the callback reports.
			if ev.Message, err = toRecord(m); err != nil {
				return Stored{}, err
			}
			ev.Body = m.Body
		}
		if err := s.opt.Hooks.AfterStore(ctx, ev); err != nil {
			return Stored{}, fmt.Errorf("im: message %d of %q stored, after-store hook failed (retry with the same client message id): %w", m.Seq, conv, err)
		}
	}
	return Stored{Conv: conv, Seq: m.Seq, At: m.At, Duplicate: dup}, nil
}

// beforeSend runs the BeforeSend hook and validates and encodes what it
// returns (a modified message must meet the same limits).
func (s *Service) beforeSend(ctx context.Context, app uint32, sender string, conv Conv, msg Message) (Message, []byte, error) {
	out, err := s.opt.Hooks.BeforeSend(ctx, app, sender, conv, msg)
	if err != nil {
		return Message{}, nil, err
	}
	out.ClientMsgID = msg.ClientMsgID // the dedupe key is the sender's
	if err := ValidateElements(out.Elements); err != nil {
		return Message{}, nil, fmt.Errorf("before-send callback reply: %w", err)
	}
	body, err := EncodeElements(out.Elements)
	if err != nil {
		return Message{}, nil, err
	}
	if n := len(body) + len(out.CloudCustomData); n > s.opt.MaxMessageBytes {
		return Message{}, nil, fmt.Errorf("%w: %d bytes after the before-send callback, limit %d", ErrTooLarge, n, s.opt.MaxMessageBytes)
	}
	return out, body, nil
}

// appendMessage stores m through the group committer and publishes ev
// (with the stored seq and time) unless m is a duplicate. Publishing runs
// in the committer's loop, so events leave in seq order.
func (s *Service) appendMessage(ctx context.Context, m store.IMMessage, parties []string, ev Event) (store.IMMessage, bool, error) {
	return s.commit.appendThen(ctx, m, parties, func(out store.IMMessage) {
		ev.Message.Seq, ev.Message.At = out.Seq, out.At
		s.batch = append(s.batch, ev) // the committer's goroutine only
	})
}

func toRecord(m store.IMMessage) (Record, error) {
	r := Record{Conv: Conv(m.ConvID), Seq: m.Seq, Sender: m.Sender, At: m.At, CloudCustomData: m.CloudCustomData,
		NeedReadReceipt: m.NeedReadReceipt, Recalled: m.Recalled, RecalledAt: m.RecalledAt, RecalledBy: m.RecalledBy, Erased: m.Erased}
	if m.Recalled || m.Erased {
		return r, nil
	}
	els, err := DecodeElements(m.Body)
	if err != nil {
		return Record{}, fmt.Errorf("stored message %d of %q: %w", m.Seq, m.ConvID, err)
	}
	r.Elements = els
	return r, nil
}

// readRange checks access and returns the store range floor: Work and
// Public members see only messages from their join on unless
// PreJoinHistory (REFERENCE §2 "Pre-join history").
func (s *Service) readRange(ctx context.Context, app uint32, user string, conv Conv) (int64, error) {
	g, m, err := s.convAccess(ctx, app, user, conv)
	if err != nil {
		return 0, err
	}
	switch g.Type {
	case AVChatRoom:
		return 0, fmt.Errorf("%w: AVChatRoom keeps no history", ErrNotSupported)
	case Work, Public:
		if !s.opt.PreJoinHistory {
			return m.JoinSeq, nil
		}
	}
	return 0, nil
}

func pageSize(limit int) int {
	if limit <= 0 {
		return DefaultPageSize
	}
	return min(limit, MaxPageSize)
}

func (s *Service) list(ctx context.Context, app uint32, conv Conv, r store.IMRange) ([]Record, error) {
	ms, err := s.st.ListIMMessages(ctx, app, string(conv), r)
	if err != nil {
		return nil, err
	}
	out := make([]Record, len(ms))
	for i, m := range ms {
		if out[i], err = toRecord(m); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// History pages backwards: up to limit messages with seq < beforeSeq
// (0 = from the newest), newest first.
func (s *Service) History(ctx context.Context, app uint32, user string, conv Conv, beforeSeq int64, limit int) ([]Record, error) {
	floor, err := s.readRange(ctx, app, user, conv)
	if err != nil {
		return nil, err
	}
	return s.list(ctx, app, conv, store.IMRange{Before: beforeSeq, MinSeq: floor, Limit: pageSize(limit), Newest: true})
}

// Sync returns up to limit messages with seq > afterSeq, oldest first: the
// reconnect catch-up. Calling it again with the last seq returned yields
// every message exactly once, in order.
func (s *Service) Sync(ctx context.Context, app uint32, user string, conv Conv, afterSeq int64, limit int) ([]Record, error) {
	floor, err := s.readRange(ctx, app, user, conv)
	if err != nil {
		return nil, err
	}
	return s.list(ctx, app, conv, store.IMRange{After: afterSeq, MinSeq: floor, Limit: pageSize(limit)})
}

// ConvSummary is one entry of a user's conversation list.
type ConvSummary struct {
	Conv    Conv
	LastSeq int64
	ReadSeq int64
	Unread  int64
}

// unreadCounted reports whether a conversation type keeps unread counts
// (REFERENCE §2 "Unread": not Meeting, not AVChatRoom).
func unreadCounted(t GroupType) bool { return t != Meeting && t != AVChatRoom }

// Conversations lists the user's conversations with their last seq and
// unread count.
func (s *Service) Conversations(ctx context.Context, app uint32, user string) ([]ConvSummary, error) {
	cs, err := s.st.IMConversations(ctx, app, user)
	if err != nil {
		return nil, err
	}
	out := make([]ConvSummary, 0, len(cs))
	for _, c := range cs {
		sum := ConvSummary{Conv: Conv(c.ConvID), LastSeq: c.LastSeq, ReadSeq: c.ReadSeq, Unread: c.Unread}
		if id, ok := sum.Conv.Group(); ok {
			g, err := s.st.GetIMGroup(ctx, app, id)
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				return nil, err
			}
			if err == nil && !unreadCounted(g.Type) {
				sum.Unread = 0
			}
		}
		out = append(out, sum)
	}
	return out, nil
}

// Unread is the user's unread count in one conversation.
func (s *Service) Unread(ctx context.Context, app uint32, user string, conv Conv) (int64, error) {
	cs, err := s.Conversations(ctx, app, user)
	if err != nil {
		return 0, err
	}
	for _, c := range cs {
		if c.Conv == conv {
			return c.Unread, nil
		}
	}
	return 0, nil
}

// MarkRead moves the user's read cursor to seq; it never moves back.
// It returns the cursor.
func (s *Service) MarkRead(ctx context.Context, app uint32, user string, conv Conv, seq int64) (int64, error) {
	g, _, err := s.convAccess(ctx, app, user, conv)
	if err != nil {
		return 0, err
	}
	cur, err := s.st.MarkIMRead(ctx, app, string(conv), user, seq)
	if err != nil {
		return 0, err
	}
	var parties []string
	if a, b, ok := conv.Peers(); ok {
		parties = []string{a, b}
	}
	s.publish(Event{Kind: EventRead, App: app, Conv: conv, GroupType: g.Type, User: user, ReadSeq: cur, Recipients: parties})
	return cur, nil
}

// receipts reports whether read receipts are offered in conv (REFERENCE §2
// "Read receipts": C2C and the configured group types).
func (s *Service) receipts(ctx context.Context, app uint32, conv Conv) error {
	id, ok := conv.Group()
	if !ok {
		return nil
	}
	g, err := s.Group(ctx, app, id)
	if err != nil {
		return err
	}
	for _, t := range s.opt.ReceiptGroupTypes {
		if t == g.Type {
			return nil
		}
	}
	return fmt.Errorf("%w: no read receipts in %s groups", ErrNotSupported, g.Type)
}

// ReadBy lists the users other than the sender who have read message seq.
func (s *Service) ReadBy(ctx context.Context, app uint32, conv Conv, seq int64) ([]string, error) {
	if err := s.receipts(ctx, app, conv); err != nil {
		return nil, err
	}
	m, err := s.st.GetIMMessage(ctx, app, string(conv), seq)
	if err != nil {
		return nil, storeErr(err, ErrMessageNotFound, nil)
	}
	users, err := s.st.IMReadBy(ctx, app, string(conv), seq)
	if err != nil {
		return nil, err
	}
	out := users[:0]
	for _, u := range users {
		if u != m.Sender {
			out = append(out, u)
		}
	}
	return out, nil
}

// ReadByAs is ReadBy for a participant of the conversation: only they
// learn who read.
func (s *Service) ReadByAs(ctx context.Context, app uint32, user string, conv Conv, seq int64) ([]string, error) {
	if _, _, err := s.convAccess(ctx, app, user, conv); err != nil {
		return nil, err
	}
	return s.ReadBy(ctx, app, conv, seq)
}

// Recall removes a message's content (REFERENCE §2 "Recall"): within the
// window, by its sender or, in groups, by the owner or an admin.
func (s *Service) Recall(ctx context.Context, app uint32, actor string, conv Conv, seq int64) (Record, error) {
	g, a, err := s.convAccess(ctx, app, actor, conv)
	if err != nil {
		return Record{}, err
	}
	if g.Type == AVChatRoom {
		return Record{}, fmt.Errorf("%w: AVChatRoom messages are not stored", ErrNotSupported)
	}
	m, err := s.st.GetIMMessage(ctx, app, string(conv), seq)
	if err != nil {
		return Record{}, storeErr(err, ErrMessageNotFound, nil)
	}
	if m.Recalled || m.Erased {
		return Record{}, ErrAlreadyRecalled
	}
	if m.Sender != actor && !(g.GroupID != "" && isManager(a)) {
		return Record{}, fmt.Errorf("%w: only the sender or a group owner/admin recalls", ErrPermissionDenied)
	}
	now := s.opt.Now()
	if age := now.Sub(m.At); age > s.opt.RecallWindow {
		code := ErrRecallWindow
		if g.GroupID == "" {
			// TIM's C2C code; still errors.Is ErrRecallWindow.
			return Record{}, fmt.Errorf("%w: %w: sent %s ago, window %s", ErrRecallWindowC2C, ErrRecallWindow, age.Round(time.Second), s.opt.RecallWindow)
		}
		return Record{}, fmt.Errorf("%w: sent %s ago, window %s", code, age.Round(time.Second), s.opt.RecallWindow)
	}
	m, err = s.st.RecallIMMessage(ctx, app, string(conv), seq, actor, now)
	if err != nil {
		return Record{}, storeErr(err, ErrMessageNotFound, ErrAlreadyRecalled)
	}
	r, err := toRecord(m)
	if err != nil {
		return Record{}, err
	}
	var parties []string
	if a, b, ok := conv.Peers(); ok {
		parties = []string{a, b}
	}
	s.publish(Event{Kind: EventRecall, App: app, Conv: conv, GroupType: g.Type, Message: r, Recipients: parties})
	return r, nil
}

// SetExtensions sets KV extensions on a message, first writer wins
// (REFERENCE §2 "Extension KV"): keys ≤100 B, values ≤1 KB, ≤20 keys per
// call, ≤300 per message; not in AVChatRoom or Community. Non-conflicting
// keys are stored even when others conflict; the error (ErrExtensionConflict,
// code 23001) names the keys that lost.
func (s *Service) SetExtensions(ctx context.Context, app uint32, actor string, conv Conv, seq int64, kv map[string]string) error {
	g, _, err := s.convAccess(ctx, app, actor, conv)
	if err != nil {
		return err
	}
	if g.Type == AVChatRoom || g.Type == Community {
		return fmt.Errorf("%w: no extensions in %s groups", ErrNotSupported, g.Type)
	}
	if len(kv) == 0 || len(kv) > MaxExtensionKeysPerSet {
		return fmt.Errorf("%w: %d keys in one call, allowed 1-%d", ErrExtensionLimit, len(kv), MaxExtensionKeysPerSet)
	}
	for k, v := range kv {
		if len(k) == 0 || len(k) > MaxExtensionKeyBytes || !utf8.ValidString(k) {
			return fmt.Errorf("%w: extension key %q must be 1-%d bytes of UTF-8", ErrInvalidArgument, k, MaxExtensionKeyBytes)
		}
		if len(v) > MaxExtensionValueBytes || !utf8.ValidString(v) {
			return fmt.Errorf("%w: extension value of %q must be ≤%d bytes of UTF-8", ErrInvalidArgument, k, MaxExtensionValueBytes)
		}
	}
	conflicts, err := s.st.SetIMExtensions(ctx, app, string(conv), seq, actor, s.opt.Now(), kv, MaxExtensionKeys)
	switch {
	case errors.Is(err, store.ErrIMExtensionLimit):
		return fmt.Errorf("%w: %w", ErrExtensionLimit, err)
	case err != nil:
		return storeErr(err, ErrMessageNotFound, nil)
	case len(conflicts) > 0:
		return fmt.Errorf("%w: keys %q", ErrExtensionConflict, conflicts)
	}
	return nil
}

// Extensions returns a message's KV extensions.
func (s *Service) Extensions(ctx context.Context, app uint32, user string, conv Conv, seq int64) (map[string]string, error) {
	if _, _, err := s.convAccess(ctx, app, user, conv); err != nil {
		return nil, err
	}
	return s.st.IMExtensions(ctx, app, string(conv), seq)
}

// EraseUserMessages removes the content and sender of every message user
// sent in app, keeping tombstones so sync has no gaps (RIGHTS-1, RIGHTS-3,
// RIGHTS-6). It returns the number of messages erased.
func (s *Service) EraseUserMessages(ctx context.Context, app uint32, user string) (int64, error) {
	n, err := s.st.EraseIMUser(ctx, app, user)
	if err != nil {
		return 0, err
	}
	s.log.Info("im messages erased", "sdkappid", app, "messages", n)
	return n, nil
}

// DropDay deletes every stored message of the UTC day of day, in app or
// in all apps when app is 0 (RETAIN-3, for the retention engine).
func (s *Service) DropDay(ctx context.Context, app uint32, day time.Time) (int64, error) {
	n, err := s.st.DropIMDay(ctx, app, day)
	if err != nil {
		return 0, err
	}
	s.log.Info("im day dropped", "sdkappid", app, "day", day.UTC().Format(time.DateOnly), "messages", n)
	return n, nil
}
