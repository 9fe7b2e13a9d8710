package im

import (
	"context"
	"time"
)

// EventKind says what an Event reports.
type EventKind int

// Event kinds.
const (
	// EventMessage: a message was stored (or, in an AVChatRoom, numbered).
	EventMessage EventKind = iota + 1
	// EventRecall: a message was recalled; Message is the tombstone.
	EventRecall
	// EventRead: User moved its read cursor in Conv to ReadSeq.
	EventRead
	// EventMembership: Users joined or left Group (Change says how).
	EventMembership
)

// Membership changes of an EventMembership.
const (
	ChangeJoined    = "joined"
	ChangeLeft      = "left"
	ChangeKicked    = "kicked"
	ChangeDismissed = "dismissed"
)

// Event is something that happened, published after it is stored, for
// delivery to online users, offline push and after-event callbacks.
type Event struct {
	Kind EventKind
	App  uint32
	Conv Conv
	// Message is set for EventMessage and EventRecall. For EventMessage
	// Body is the encoded elements as stored (TIM MsgBody), so delivery
	// need not encode them again, and ClientMsgID is the sender's id.
	Message     Record
	Body        []byte
	ClientMsgID string
	// GroupType is the group's type for group conversations.
	GroupType GroupType
	// Recipients are the C2C peer of a message; group recipients are the
	// group's members (the subscriber looks them up).
	Recipients []string
	// EventRead.
	User    string
	ReadSeq int64
	// EventMembership.
	Group  string
	Change string
	Users  []string
	At     time.Time
}

// Hooks connect the service to delivery and to the app's callbacks. All
// are optional.
type Hooks struct {
	// Publish receives every event. It is called in the order events
	// happened per conversation (message events in seq order) and must
	// not block: delivery queues, it does not write to sockets.
	Publish func(Event)
	// PublishBatch, if set, receives the message events of one group
	// commit at once, in seq order per conversation, instead of Publish
	// one by one: a receiver of several gets them in one frame.
	PublishBatch func([]Event)
	// BeforeSend may veto a message (return an error, typically wrapping
	// ErrVetoed), discard it silently (return ErrDiscarded: the sender is
	// told it was sent, nobody receives it, nothing is stored) or replace
	// it (Tencent IM's before-send callback). It runs after the message
	// is validated and before it is stored.
	BeforeSend func(ctx context.Context, app uint32, sender string, conv Conv, msg Message) (Message, error)
	// AfterStore runs once a message is stored and before Send returns —
	// also for a duplicate of a stored message, so a retry after a crash
	// completes it. An error fails the Send (the message stays stored; a
	// retry with the same ClientMsgID runs AfterStore again), so it must
	// be idempotent. The durable after-send callback uses it.
	AfterStore func(ctx context.Context, ev Event) error
}

func (s *Service) publish(ev Event) {
	if s.opt.Hooks.Publish != nil {
		if ev.At.IsZero() {
			ev.At = s.opt.Now()
		}
		s.opt.Hooks.Publish(ev)
	}
}

// publishBatch hands the committed batch's events over, then forgets them.
func (s *Service) publishBatch() {
	if len(s.batch) == 0 {
		return
	}
	if s.opt.Hooks.PublishBatch != nil {
		now := s.opt.Now()
		for i := range s.batch {
			if s.batch[i].At.IsZero() {
				s.batch[i].At = now
			}
		}
		s.opt.Hooks.PublishBatch(s.batch)
	} else {
		for _, ev := range s.batch {
			s.publish(ev)
		}
	}
	clear(s.batch)
	s.batch = s.batch[:0]
}

func (s *Service) membership(app uint32, group, change string, users ...string) {
	s.publish(Event{Kind: EventMembership, App: app, Conv: GroupConv(group), Group: group, Change: change, Users: users})
}
