package room

import (
	"fmt"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parley-rtc/parley/protocol"
)

// Config configures a Manager.
type Config struct {
	MaxParticipants int              // per room; 300 as TRTC's call scenes
	Observer        Observer         // optional
	Now             func() time.Time // injectable clock
}

// Manager owns every room of every app on this node.
type Manager struct {
	cfg   Config
	mu    sync.Mutex
	rooms map[string]*Room // by roomKey
	// seq numbers rooms and participants in creation order, so listings
	// are stable when the clock gives two of them the same instant.
	seq atomic.Uint64
}

// NewManager returns an empty manager.
func NewManager(cfg Config) *Manager {
	if cfg.MaxParticipants <= 0 {
		cfg.MaxParticipants = 300
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Manager{cfg: cfg, rooms: make(map[string]*Room)}
}

func roomKey(appID uint32, ref protocol.RoomRef) string {
	return strconv.FormatUint(uint64(appID), 10) + "/" + ref.Key()
}

// Join enters userID into the room, creating the room on first entry. It
// returns the participant and the visible participants already present.
func (m *Manager) Join(appID uint32, ref protocol.RoomRef, scene protocol.Scene, userID string, role protocol.Role, ep Endpoint) (*Participant, []protocol.ParticipantInfo, error) {
	ref = ref.Normalized()
	key := roomKey(appID, ref)
	for {
		m.mu.Lock()
		r := m.rooms[key]
		created := false
		if r == nil {
			r = &Room{SDKAppID: appID, Ref: ref, Scene: scene, CreatedAt: m.cfg.Now(), seq: m.seq.Add(1), mgr: m, participants: make(map[string]*Participant)}
			m.rooms[key] = r
			created = true
		}
		m.mu.Unlock()
		if created {
			r.emit(EventCreateRoom, nil, 0)
		}
		p := &Participant{UserID: userID, JoinedAt: m.cfg.Now(), seq: m.seq.Add(1), endpoint: ep, room: r, role: role, tracks: make(map[string]*Track)}
		others, ok, err := r.join(p)
		if err != nil {
			m.dropIfEmpty(key, r)
			return nil, nil, err
		}
		if ok {
			return p, others, nil
		}
		// The room closed between lookup and join; the next lookup
		// creates a fresh one.
	}
}

// Leave takes p out of its room for the given exit reason and, unless the
// client asked to leave itself, tells its endpoint. Empty rooms close.
func (m *Manager) Leave(p *Participant, exitReason int, detail string) {
	r := p.room
	leave := protocol.LeaveReasonLeft
	switch exitReason {
	case protocol.ExitReasonKicked, protocol.ExitReasonDismissed:
		leave = protocol.LeaveReasonKicked
	case protocol.ExitReasonServerClose:
		leave = protocol.LeaveReasonTimeout
	}
	r.mu.Lock()
	wasIn := !p.gone
	r.removeLocked(p, leave)
	r.mu.Unlock()
	if wasIn && exitReason != protocol.ExitReasonLeft {
		p.endpoint.Exit(exitReason, detail)
	}
	m.dropIfEmpty(roomKey(r.SDKAppID, r.Ref), r)
}

// Drop removes p after its connection was lost (TRTC leave reason 1,
// timeout) without telling its endpoint, which is gone.
func (m *Manager) Drop(p *Participant) {
	r := p.room
	r.mu.Lock()
	r.removeLocked(p, protocol.LeaveReasonTimeout)
	r.mu.Unlock()
	m.dropIfEmpty(roomKey(r.SDKAppID, r.Ref), r)
}

func (m *Manager) dropIfEmpty(key string, r *Room) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed || len(r.participants) > 0 {
		return
	}
	r.closed = true
	if m.rooms[key] == r {
		delete(m.rooms, key)
	}
	r.emit(EventDismissRoom, nil, 0)
}

func (m *Manager) room(appID uint32, ref protocol.RoomRef) (*Room, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r := m.rooms[roomKey(appID, ref.Normalized())]
	if r == nil {
		return nil, fmt.Errorf("%w: %s", ErrRoomNotFound, ref)
	}
	return r, nil
}

func (r *Room) participantsList() []*Participant {
	r.mu.Lock()
	defer r.mu.Unlock()
	ps := make([]*Participant, 0, len(r.participants))
	for _, p := range r.participants {
		ps = append(ps, p)
	}
	return ps
}

// RemoveUsers removes users from a room as the REST RemoveUser API:
// they exit with reason 1, the others see them leave with reason 2. It
// returns how many were in the room.
func (m *Manager) RemoveUsers(appID uint32, ref protocol.RoomRef, userIDs []string) (int, error) {
	r, err := m.room(appID, ref)
	if err != nil {
		return 0, err
	}
	want := make(map[string]bool, len(userIDs))
	for _, u := range userIDs {
		want[u] = true
	}
	n := 0
	for _, p := range r.participantsList() {
		if want[p.UserID] {
			m.Leave(p, protocol.ExitReasonKicked, "removed by RemoveUser")
			n++
		}
	}
	return n, nil
}

// Dismiss ends a room as the REST DismissRoom API: everyone exits with
// reason 2.
func (m *Manager) Dismiss(appID uint32, ref protocol.RoomRef) error {
	r, err := m.room(appID, ref)
	if err != nil {
		return err
	}
	for _, p := range r.participantsList() {
		m.Leave(p, protocol.ExitReasonDismissed, "room dismissed")
	}
	return nil
}

// CloseAll exits everyone with reason 4 (server shutdown).
func (m *Manager) CloseAll() {
	m.mu.Lock()
	rooms := make([]*Room, 0, len(m.rooms))
	for _, r := range m.rooms {
		rooms = append(rooms, r)
	}
	m.mu.Unlock()
	for _, r := range rooms {
		for _, p := range r.participantsList() {
			m.Leave(p, protocol.ExitReasonServerClose, "server shutting down")
		}
	}
}

// Rooms lists the app's rooms, ordered by creation.
func (m *Manager) Rooms(appID uint32) []Summary {
	m.mu.Lock()
	rooms := make([]*Room, 0)
	for _, r := range m.rooms {
		if r.SDKAppID == appID {
			rooms = append(rooms, r)
		}
	}
	m.mu.Unlock()
	sort.Slice(rooms, func(i, j int) bool { return rooms[i].seq < rooms[j].seq })
	out := make([]Summary, 0, len(rooms))
	for _, r := range rooms {
		out = append(out, r.summary())
	}
	return out
}

// Users lists a room's participants, ordered by join time.
func (m *Manager) Users(appID uint32, ref protocol.RoomRef) ([]UserSummary, error) {
	r, err := m.room(appID, ref)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	ps := make([]*Participant, 0, len(r.participants))
	for _, p := range r.participants {
		ps = append(ps, p)
	}
	sort.Slice(ps, func(i, j int) bool { return ps[i].seq < ps[j].seq })
	out := make([]UserSummary, 0, len(ps))
	for _, p := range ps {
		out = append(out, UserSummary{UserID: p.UserID, Role: p.role, JoinedAt: p.JoinedAt})
	}
	r.mu.Unlock()
	return out, nil
}

// Count returns the number of open rooms (for metrics).
func (m *Manager) Count() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.rooms)
}
