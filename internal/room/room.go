package room

import (
	"fmt"
	"sync"
	"time"

	"github.com/parley-rtc/parley/protocol"
)

// Participant is one user in one room.
type Participant struct {
	UserID   string
	JoinedAt time.Time
	seq      uint64 // join order within the manager
	endpoint Endpoint
	room     *Room

	// guarded by room.mu
	role   protocol.Role
	tracks map[string]*Track
	gone   bool
}

// Room returns the participant's room.
func (p *Participant) Room() *Room { return p.room }

// Role returns the participant's current role.
func (p *Participant) Role() protocol.Role {
	p.room.mu.Lock()
	defer p.room.mu.Unlock()
	return p.role
}

// Room is one room of one app.
type Room struct {
	SDKAppID  uint32
	Ref       protocol.RoomRef
	Scene     protocol.Scene
	CreatedAt time.Time
	seq       uint64 // creation order within the manager
	mgr       *Manager

	mu           sync.Mutex
	participants map[string]*Participant // by UserID
	closed       bool
}

// visible reports whether others see p enter and leave: in live scenes
// audience members are invisible (REFERENCE.md §1.2).
func (r *Room) visible(role protocol.Role) bool {
	return !r.Scene.IsLive() || role == protocol.RoleAnchor
}

// infoLocked describes p for others. Caller holds r.mu.
func infoLocked(p *Participant) protocol.ParticipantInfo {
	pi := protocol.ParticipantInfo{UserID: p.UserID, Role: p.role}
	for _, t := range p.tracks {
		pi.Tracks = append(pi.Tracks, t.Info)
	}
	return pi
}

// snapshotLocked lists the visible participants other than self.
func (r *Room) snapshotLocked(self string) []protocol.ParticipantInfo {
	out := []protocol.ParticipantInfo{}
	for id, p := range r.participants {
		if id == self || !r.visible(p.role) {
			continue
		}
		out = append(out, infoLocked(p))
	}
	return out
}

// broadcastLocked notifies every participant except skip.
func (r *Room) broadcastLocked(skip *Participant, t protocol.Type, data any) {
	for _, p := range r.participants {
		if p != skip {
			p.endpoint.Notify(t, data)
		}
	}
}

func (r *Room) emit(typ EventType, p *Participant, reason int) {
	if r.mgr.cfg.Observer == nil {
		return
	}
	ev := Event{Type: typ, SDKAppID: r.SDKAppID, Room: r.Ref, Reason: reason}
	if p != nil {
		ev.UserID, ev.Role = p.UserID, p.role
	}
	r.mgr.cfg.Observer.RoomEvent(ev)
}

// join adds p, evicting an older participant with the same UserID. It
// returns false if the room closed concurrently (the manager retries).
func (r *Room) join(p *Participant) ([]protocol.ParticipantInfo, bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, false, nil
	}
	old := r.participants[p.UserID]
	if old == nil && len(r.participants) >= r.mgr.cfg.MaxParticipants {
		return nil, true, fmt.Errorf("%w: %d participants", ErrRoomFull, len(r.participants))
	}
	if old != nil {
		r.removeLocked(old, protocol.LeaveReasonKicked)
		old.endpoint.Exit(protocol.ExitReasonReplaced, "the same user id entered the room elsewhere")
	}
	r.participants[p.UserID] = p
	r.emit(EventEnterRoom, p, 0)
	if r.visible(p.role) {
		r.broadcastLocked(p, protocol.TypeUserEnter, infoLocked(p))
	}
	// The newcomer receives every track already published.
	for _, other := range r.participants {
		if other == p {
			continue
		}
		for _, t := range other.tracks {
			p.endpoint.Subscribe(t)
		}
	}
	return r.snapshotLocked(p.UserID), true, nil
}

// removeLocked takes p out of the room: its tracks are unpublished and the
// others are told. Caller holds r.mu. It does not call p.endpoint.Exit.
func (r *Room) removeLocked(p *Participant, leaveReason int) {
	if p.gone {
		return
	}
	for id := range p.tracks {
		r.unpublishLocked(p, id)
	}
	p.gone = true
	delete(r.participants, p.UserID)
	r.emit(EventExitRoom, p, leaveReason)
	if r.visible(p.role) {
		r.broadcastLocked(p, protocol.TypeUserLeave, protocol.UserLeave{UserID: p.UserID, Reason: leaveReason})
	}
}

// Publish makes a started track available to the room: every other
// participant subscribes to it and is told.
func (r *Room) Publish(p *Participant, t *Track) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if p.gone {
		return ErrNotInRoom
	}
	if !p.role.CanPublish() {
		return ErrPublishForbidden
	}
	if _, dup := p.tracks[t.Info.TrackID]; dup {
		return fmt.Errorf("%w: %q", ErrTrackExists, t.Info.TrackID)
	}
	t.Info.UserID = p.UserID
	p.tracks[t.Info.TrackID] = t
	r.emit(mediaEvent(t.Info, true), p, 0)
	r.broadcastLocked(p, protocol.TypeTrackPublished, t.Info)
	if !t.Info.Muted {
		r.broadcastLocked(p, protocol.TypeAvailability, availability(t.Info, true))
	}
	for _, other := range r.participants {
		if other != p {
			other.endpoint.Subscribe(t)
		}
	}
	return nil
}

// Unpublish withdraws one of p's tracks.
func (r *Room) Unpublish(p *Participant, trackID string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := p.tracks[trackID]; !ok {
		return fmt.Errorf("%w: %q", ErrUnknownTrack, trackID)
	}
	r.unpublishLocked(p, trackID)
	return nil
}

func (r *Room) unpublishLocked(p *Participant, trackID string) {
	t := p.tracks[trackID]
	delete(p.tracks, trackID)
	for _, other := range r.participants {
		if other != p {
			other.endpoint.Unsubscribe(t)
		}
	}
	p.endpoint.StopPublishing(t)
	r.emit(mediaEvent(t.Info, false), p, 0)
	if !t.Info.Muted {
		r.broadcastLocked(p, protocol.TypeAvailability, availability(t.Info, false))
	}
	r.broadcastLocked(p, protocol.TypeTrackUnpublished, t.Info)
}

// SetMuted records a mute change of p's tracks of that kind and stream
// type, and tells the others (onUserAudioAvailable / onUserVideoAvailable).
func (r *Room) SetMuted(p *Participant, kind protocol.Kind, st protocol.StreamType, muted bool) error {
	if st == "" {
		st = protocol.StreamMain
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if p.gone {
		return ErrNotInRoom
	}
	changed := false
	for _, t := range p.tracks {
		if t.Info.Kind == kind && t.Info.StreamType == st && t.Info.Muted != muted {
			t.Info.Muted = muted
			changed = true
			r.emit(mediaEvent(t.Info, !muted), p, 0)
		}
	}
	if !changed {
		return nil
	}
	r.broadcastLocked(p, protocol.TypeAvailability, protocol.Availability{
		UserID: p.UserID, Kind: kind, StreamType: st, Available: !muted,
	})
	return nil
}

// SwitchRole changes p's role in a live scene. Becoming audience
// unpublishes p's tracks; visibility to others follows the role.
func (r *Room) SwitchRole(p *Participant, role protocol.Role) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if p.gone {
		return ErrNotInRoom
	}
	if !r.Scene.IsLive() {
		return ErrLiveRoleRequired
	}
	if p.role == role {
		return nil
	}
	if role == protocol.RoleAudience {
		for id := range p.tracks {
			r.unpublishLocked(p, id)
		}
	}
	wasVisible := r.visible(p.role)
	p.role = role
	r.emit(EventChangeRole, p, 0)
	switch {
	case !wasVisible && r.visible(role):
		r.broadcastLocked(p, protocol.TypeUserEnter, infoLocked(p))
	case wasVisible && !r.visible(role):
		r.broadcastLocked(p, protocol.TypeUserLeave, protocol.UserLeave{UserID: p.UserID, Reason: protocol.LeaveReasonLeft})
	}
	p.endpoint.Notify(protocol.TypeRoleChanged, protocol.SwitchRole{UserID: p.UserID, Role: role})
	return nil
}

// Track returns one of the room's published tracks.
func (r *Room) Track(userID, trackID string) (*Track, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	p := r.participants[userID]
	if p == nil {
		return nil, false
	}
	t, ok := p.tracks[trackID]
	return t, ok
}

// Summary describes a room for the REST API.
type Summary struct {
	SDKAppID     uint32           `json:"sdkappid"`
	Room         protocol.RoomRef `json:"room"`
	Scene        protocol.Scene   `json:"scene"`
	Participants int              `json:"participants"`
	CreatedAt    time.Time        `json:"created_at"`
}

// UserSummary describes a participant for the REST API.
type UserSummary struct {
	UserID   string        `json:"user_id"`
	Role     protocol.Role `json:"role"`
	JoinedAt time.Time     `json:"joined_at"`
}

func (r *Room) summary() Summary {
	r.mu.Lock()
	defer r.mu.Unlock()
	return Summary{SDKAppID: r.SDKAppID, Room: r.Ref, Scene: r.Scene, Participants: len(r.participants), CreatedAt: r.CreatedAt}
}

func mediaEvent(info protocol.TrackInfo, start bool) EventType {
	var ev EventType
	switch {
	case info.Kind == protocol.KindAudio:
		ev = EventStartAudio
	case info.StreamType == protocol.StreamSub:
		ev = EventStartAssist
	default:
		ev = EventStartVideo
	}
	if !start {
		ev++
	}
	return ev
}

func availability(info protocol.TrackInfo, on bool) protocol.Availability {
	return protocol.Availability{UserID: info.UserID, Kind: info.Kind, StreamType: info.StreamType, Available: on}
}

// Relay sends a participant's custom message to everyone else in the room
// (sendCustomCmdMsg). In live scenes only anchors may send, as in TRTC.
func (r *Room) Relay(p *Participant, t protocol.Type, data any) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if p.gone {
		return ErrNotInRoom
	}
	if r.Scene.IsLive() && !p.role.CanPublish() {
		return ErrPublishForbidden
	}
	r.broadcastLocked(p, t, data)
	return nil
}

// Chat sends a participant's chat message to everyone else in the room.
// Unlike Relay every role may chat: the audience of a live room comments.
func (r *Room) Chat(p *Participant, t protocol.Type, data any) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if p.gone {
		return ErrNotInRoom
	}
	r.broadcastLocked(p, t, data)
	return nil
}
