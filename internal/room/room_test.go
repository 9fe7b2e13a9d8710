package room

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/parley-rtc/parley/protocol"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// recorder is an Endpoint that records what the room asked of it.
type recorder struct {
	mu      sync.Mutex
	frames  []protocol.Type
	data    []any
	exits   []int
	subs    map[string]bool
	stopped []string
}

func newRecorder() *recorder { return &recorder{subs: map[string]bool{}} }

func (r *recorder) Notify(t protocol.Type, d any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.frames = append(r.frames, t)
	r.data = append(r.data, d)
}
func (r *recorder) Exit(reason int, _ string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.exits = append(r.exits, reason)
}
func (r *recorder) Subscribe(t *Track) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.subs[t.Info.UserID+"/"+t.Info.TrackID] = true
}
func (r *recorder) Unsubscribe(t *Track) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.subs, t.Info.UserID+"/"+t.Info.TrackID)
}
func (r *recorder) StopPublishing(t *Track) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stopped = append(r.stopped, t.Info.TrackID)
}
func (r *recorder) count(t protocol.Type) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, f := range r.frames {
		if f == t {
			n++
		}
	}
	return n
}

type events struct {
	mu  sync.Mutex
	all []Event
}

func (e *events) RoomEvent(ev Event) { e.mu.Lock(); e.all = append(e.all, ev); e.mu.Unlock() }
func (e *events) types() []EventType {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]EventType, len(e.all))
	for i, ev := range e.all {
		out[i] = ev.Type
	}
	return out
}

func mustJoin(t *testing.T, m *Manager, ref protocol.RoomRef, scene protocol.Scene, user string, role protocol.Role) (*Participant, *recorder, []protocol.ParticipantInfo) {
	t.Helper()
	ep := newRecorder()
	p, others, err := m.Join(1400000001, ref, scene, user, role, ep)
	if err != nil {
		t.Fatalf("join %s: %v", user, err)
	}
	return p, ep, others
}

func TestNumericAndStringRoomsAreDistinct(t *testing.T) {
	m := NewManager(Config{})
	mustJoin(t, m, protocol.RoomRef{ID: 123}, protocol.SceneVideoCall, "alice", protocol.RoleAnchor)
	_, _, others := mustJoin(t, m, protocol.RoomRef{Str: "123"}, protocol.SceneVideoCall, "bob", protocol.RoleAnchor)
	if len(others) != 0 {
		t.Fatalf("string room \"123\" saw %d participants of numeric room 123", len(others))
	}
	if got := m.Count(); got != 2 {
		t.Fatalf("rooms = %d, want 2", got)
	}
	_, _, others = mustJoin(t, m, protocol.RoomRef{ID: 123, Str: "ignored"}, protocol.SceneVideoCall, "carol", protocol.RoleAnchor)
	if len(others) != 1 || others[0].UserID != "alice" {
		t.Fatalf("numeric id must win when both are set; others = %+v", others)
	}
}

func TestSecondJoinReplacesFirst(t *testing.T) {
	m := NewManager(Config{})
	ref := protocol.RoomRef{ID: 7}
	_, first, _ := mustJoin(t, m, ref, protocol.SceneVideoCall, "alice", protocol.RoleAnchor)
	_, watcher, _ := mustJoin(t, m, ref, protocol.SceneVideoCall, "bob", protocol.RoleAnchor)
	mustJoin(t, m, ref, protocol.SceneVideoCall, "alice", protocol.RoleAnchor)
	if len(first.exits) != 1 || first.exits[0] != protocol.ExitReasonReplaced {
		t.Fatalf("first connection exits = %v, want [%d]", first.exits, protocol.ExitReasonReplaced)
	}
	users, err := m.Users(1400000001, ref)
	if err != nil || len(users) != 2 {
		t.Fatalf("users = %v, %v; want alice and bob once each", users, err)
	}
	if watcher.count(protocol.TypeUserLeave) != 1 || watcher.count(protocol.TypeUserEnter) != 1 {
		t.Fatalf("bob saw %d leaves and %d enters, want 1 and 1", watcher.count(protocol.TypeUserLeave), watcher.count(protocol.TypeUserEnter))
	}
}

func TestAudienceCannotPublishAndIsInvisible(t *testing.T) {
	m := NewManager(Config{})
	ref := protocol.RoomRef{Str: "live-1"}
	_, anchorEP, _ := mustJoin(t, m, ref, protocol.SceneLive, "anchor", protocol.RoleAnchor)
	viewer, _, others := mustJoin(t, m, ref, protocol.SceneLive, "viewer", protocol.RoleAudience)
	if len(others) != 1 {
		t.Fatalf("viewer should see the anchor, saw %+v", others)
	}
	if anchorEP.count(protocol.TypeUserEnter) != 0 {
		t.Fatal("an audience member's entry was announced in a live room")
	}
	err := viewer.Room().Publish(viewer, &Track{Info: protocol.TrackInfo{TrackID: "v", Kind: protocol.KindVideo}})
	if !errors.Is(err, ErrPublishForbidden) {
		t.Fatalf("audience publish: err = %v, want ErrPublishForbidden", err)
	}
	if err := viewer.Room().SwitchRole(viewer, protocol.RoleAnchor); err != nil {
		t.Fatal(err)
	}
	if anchorEP.count(protocol.TypeUserEnter) != 1 {
		t.Fatal("switching to anchor must announce the user")
	}
	if err := viewer.Room().Publish(viewer, &Track{Info: protocol.TrackInfo{TrackID: "v", Kind: protocol.KindVideo}}); err != nil {
		t.Fatalf("anchor publish after switchRole: %v", err)
	}
	if !anchorEP.subs["viewer/v"] {
		t.Fatal("the other participant was not subscribed to the new track")
	}
	if err := viewer.Room().SwitchRole(viewer, protocol.RoleAudience); err != nil {
		t.Fatal(err)
	}
	if anchorEP.subs["viewer/v"] {
		t.Fatal("switching to audience must unpublish the user's tracks")
	}
}

func TestPublishSubscribesExistingAndLateJoiners(t *testing.T) {
	obs := &events{}
	m := NewManager(Config{Observer: obs})
	ref := protocol.RoomRef{ID: 9}
	alice, _, _ := mustJoin(t, m, ref, protocol.SceneVideoCall, "alice", protocol.RoleAnchor)
	_, bob, _ := mustJoin(t, m, ref, protocol.SceneVideoCall, "bob", protocol.RoleAnchor)
	for _, k := range []protocol.Kind{protocol.KindAudio, protocol.KindVideo} {
		tr := &Track{Info: protocol.TrackInfo{TrackID: string(k), Kind: k, StreamType: protocol.StreamMain}}
		if err := alice.Room().Publish(alice, tr); err != nil {
			t.Fatal(err)
		}
	}
	_, carol, others := mustJoin(t, m, ref, protocol.SceneVideoCall, "carol", protocol.RoleAnchor)
	for _, ep := range []*recorder{bob, carol} {
		if !ep.subs["alice/audio"] || !ep.subs["alice/video"] {
			t.Fatalf("subscriptions = %v, want alice's audio and video", ep.subs)
		}
	}
	if len(others) != 2 {
		t.Fatalf("carol saw %d participants, want 2", len(others))
	}
	if err := alice.Room().SetMuted(alice, protocol.KindVideo, "", true); err != nil {
		t.Fatal(err)
	}
	if bob.count(protocol.TypeAvailability) != 3 { // audio on, video on, video off
		t.Fatalf("bob got %d availability events, want 3", bob.count(protocol.TypeAvailability))
	}
	m.Leave(alice, protocol.ExitReasonLeft, "")
	if len(bob.subs) != 0 || len(carol.subs) != 0 {
		t.Fatal("leaving must unsubscribe the others from the leaver's tracks")
	}
	want := []EventType{EventCreateRoom, EventEnterRoom, EventEnterRoom, EventStartAudio, EventStartVideo, EventEnterRoom, EventStopVideo}
	got := obs.types()
	for i, w := range want {
		if got[i] != w {
			t.Fatalf("events = %v, want prefix %v", got, want)
		}
	}
}

func TestRemoveUserAndDismissReasonCodes(t *testing.T) {
	m := NewManager(Config{})
	ref := protocol.RoomRef{ID: 55}
	_, a, _ := mustJoin(t, m, ref, protocol.SceneVideoCall, "a", protocol.RoleAnchor)
	_, b, _ := mustJoin(t, m, ref, protocol.SceneVideoCall, "b", protocol.RoleAnchor)
	_, c, _ := mustJoin(t, m, ref, protocol.SceneVideoCall, "c", protocol.RoleAnchor)
	n, err := m.RemoveUsers(1400000001, ref, []string{"a", "nobody"})
	if err != nil || n != 1 {
		t.Fatalf("RemoveUsers = %d, %v", n, err)
	}
	if len(a.exits) != 1 || a.exits[0] != protocol.ExitReasonKicked {
		t.Fatalf("removed user exits = %v, want [1]", a.exits)
	}
	if err := m.Dismiss(1400000001, ref); err != nil {
		t.Fatal(err)
	}
	for _, ep := range []*recorder{b, c} {
		if len(ep.exits) != 1 || ep.exits[0] != protocol.ExitReasonDismissed {
			t.Fatalf("dismissed user exits = %v, want [2]", ep.exits)
		}
	}
	if m.Count() != 0 {
		t.Fatal("a dismissed room must be destroyed")
	}
	if _, err := m.RemoveUsers(1400000001, ref, []string{"a"}); !errors.Is(err, ErrRoomNotFound) {
		t.Fatalf("RemoveUsers on a gone room: %v", err)
	}
}

func TestRoomFull(t *testing.T) {
	m := NewManager(Config{MaxParticipants: 2})
	ref := protocol.RoomRef{ID: 1}
	mustJoin(t, m, ref, protocol.SceneVideoCall, "a", protocol.RoleAnchor)
	mustJoin(t, m, ref, protocol.SceneVideoCall, "b", protocol.RoleAnchor)
	if _, _, err := m.Join(1400000001, ref, protocol.SceneVideoCall, "c", protocol.RoleAnchor, newRecorder()); !errors.Is(err, ErrRoomFull) {
		t.Fatalf("third join: %v, want ErrRoomFull", err)
	}
	// Replacing an existing user is allowed even when full.
	if _, _, err := m.Join(1400000001, ref, protocol.SceneVideoCall, "a", protocol.RoleAnchor, newRecorder()); err != nil {
		t.Fatalf("rejoin when full: %v", err)
	}
}

func TestConcurrentJoinLeaveLeavesNoRooms(t *testing.T) {
	m := NewManager(Config{})
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				ref := protocol.RoomRef{ID: uint32(1 + i%3)}
				p, _, err := m.Join(1400000001, ref, protocol.SceneVideoCall, fmt.Sprintf("u%d", g), protocol.RoleAnchor, newRecorder())
				if err != nil {
					t.Error(err)
					return
				}
				m.Leave(p, protocol.ExitReasonLeft, "")
			}
		}(g)
	}
	wg.Wait()
	if n := m.Count(); n != 0 {
		t.Fatalf("%d rooms left open after everyone left", n)
	}
}

// Rooms and Users list in creation and join order even when the clock
// gives every one of them the same instant (the console's live-room view
// relies on it; map order alone is random).
func TestListingsKeepOrderOnEqualTimes(t *testing.T) {
	at := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	m := NewManager(Config{Now: func() time.Time { return at }})
	var wantRooms []string
	for i := range 8 {
		ref := protocol.RoomRef{ID: uint32(100 - i)}
		mustJoin(t, m, ref, protocol.SceneVideoCall, fmt.Sprintf("u%d", i), protocol.RoleAnchor)
		wantRooms = append(wantRooms, ref.Key())
	}
	var wantUsers []string
	for i := range 8 {
		u := fmt.Sprintf("z%d", 8-i)
		mustJoin(t, m, protocol.RoomRef{ID: 100}, protocol.SceneVideoCall, u, protocol.RoleAnchor)
		wantUsers = append(wantUsers, u)
	}
	wantUsers = append([]string{"u0"}, wantUsers...)
	for range 20 {
		var gotRooms []string
		for _, s := range m.Rooms(1400000001) {
			gotRooms = append(gotRooms, s.Room.Key())
		}
		if !slices.Equal(gotRooms, wantRooms) {
			t.Fatalf("rooms %v, want %v", gotRooms, wantRooms)
		}
		us, err := m.Users(1400000001, protocol.RoomRef{ID: 100})
		if err != nil {
			t.Fatal(err)
		}
		var gotUsers []string
		for _, u := range us {
			gotUsers = append(gotUsers, u.UserID)
		}
		if !slices.Equal(gotUsers, wantUsers) {
			t.Fatalf("users %v, want %v", gotUsers, wantUsers)
		}
	}
}
