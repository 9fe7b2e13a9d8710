package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/parley-rtc/parley/internal/room"
	"github.com/parley-rtc/parley/protocol"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

func TestRoomBodyGolden(t *testing.T) {
	now := testT0().Add(123 * time.Millisecond) // 1795176000.123
	const id = "0190c0de-0000-7000-8000-000000000001"
	const roomOnly = `{"EventGroupId":1,"EventType":%d,"CallbackTs":1795176000123,"EventInfo":{"RoomId":1234,"EventTs":1795176000,"EventMsTs":1795176000123,"Reason":0},"EventId":"` + id + `"}`
	const user = `{"EventGroupId":%d,"EventType":%d,"CallbackTs":1795176000123,"EventInfo":{"RoomId":1234,"EventTs":1795176000,"EventMsTs":1795176000123,"UserId":"alice","UniqueId":4285190476144747,"Role":20,"Reason":%d},"EventId":"` + id + `"}`
	for _, c := range []struct {
		typ  room.EventType
		want string
	}{
		{room.EventCreateRoom, fmt.Sprintf(roomOnly, 101)},
		{room.EventDismissRoom, fmt.Sprintf(roomOnly, 102)},
		{room.EventEnterRoom, fmt.Sprintf(user, 1, 103, 0)},
		{room.EventExitRoom, fmt.Sprintf(user, 1, 104, 2)},
		{room.EventChangeRole, fmt.Sprintf(user, 1, 105, 0)},
		{room.EventStartVideo, fmt.Sprintf(user, 2, 201, 0)},
		{room.EventStopVideo, fmt.Sprintf(user, 2, 202, 0)},
		{room.EventStartAudio, fmt.Sprintf(user, 2, 203, 0)},
		{room.EventStopAudio, fmt.Sprintf(user, 2, 204, 0)},
		{room.EventStartAssist, fmt.Sprintf(user, 2, 205, 0)},
		{room.EventStopAssist, fmt.Sprintf(user, 2, 206, 0)},
	} {
		ev := room.Event{Type: c.typ, SDKAppID: testApp, Room: protocol.RoomRef{ID: 1234}}
		if c.typ != room.EventCreateRoom && c.typ != room.EventDismissRoom {
			ev.UserID, ev.Role = "alice", protocol.RoleAnchor
		}
		if c.typ == room.EventExitRoom {
			ev.Reason = protocol.LeaveReasonKicked
		}
		got, err := RoomBody(ev, id, now)
		if err != nil || string(got) != c.want {
			t.Errorf("%d:\n got %s (%v)\nwant %s", c.typ, got, err, c.want)
		}
	}

	// String rooms keep RoomId a JSON string, unescaped.
	got, err := RoomBody(room.Event{Type: room.EventEnterRoom, Room: protocol.RoomRef{Str: "a<b>&c"}, UserID: "bob", Role: protocol.RoleAudience}, "id2", now)
	want := `{"EventGroupId":1,"EventType":103,"CallbackTs":1795176000123,"EventInfo":{"RoomId":"a<b>&c","EventTs":1795176000,"EventMsTs":1795176000123,"UserId":"bob","UniqueId":8489437385730358,"Role":21,"Reason":0},"EventId":"id2"}`
	if err != nil || string(got) != want {
		t.Errorf("string room:\n got %s (%v)\nwant %s", got, err, want)
	}
	for _, bad := range []room.EventType{0, 100, 106, 200, 207} {
		if _, err := RoomBody(room.Event{Type: bad, Room: protocol.RoomRef{ID: 1}}, "x", now); !errors.Is(err, ErrUnknownEvent) {
			t.Errorf("type %d: err = %v, want ErrUnknownEvent", bad, err)
		}
	}
}

// blockingOutbox stalls every Enqueue until released.
type blockingOutbox struct {
	entered chan struct{}
	release chan struct{}
	mu      sync.Mutex
	got     []uint32
}

func (b *blockingOutbox) Enqueue(ctx context.Context, app uint32, _ string, _ []byte) (bool, error) {
	select {
	case b.entered <- struct{}{}:
	default:
	}
	select {
	case <-b.release:
	case <-ctx.Done():
		return false, ctx.Err()
	}
	b.mu.Lock()
	b.got = append(b.got, app)
	b.mu.Unlock()
	return true, nil
}

func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

func TestObserverNeverBlocks(t *testing.T) {
	out := &blockingOutbox{entered: make(chan struct{}, 1), release: make(chan struct{})}
	reg := prometheus.NewRegistry()
	o, err := NewObserver(ObserverConfig{Outbox: out, Buffer: 2, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	o.Start()
	ev := func(app uint32) room.Event {
		return room.Event{Type: room.EventEnterRoom, SDKAppID: app, Room: protocol.RoomRef{ID: 1}, UserID: "u", Role: protocol.RoleAnchor}
	}
	o.RoomEvent(ev(1))
	<-out.entered // the goroutine is stuck in the store with event 1
	o.RoomEvent(ev(2))
	o.RoomEvent(ev(3)) // buffer (2) now full
	for i := range 5 {
		o.RoomEvent(ev(uint32(10 + i))) // must return at once: dropped
	}
	if o.Dropped() != 5 || counterValue(t, o.m.dropped) != 5 {
		t.Fatalf("dropped %d (counter %v), want 5", o.Dropped(), counterValue(t, o.m.dropped))
	}
	close(out.release)
	if err := o.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	out.mu.Lock()
	got := fmt.Sprint(out.got)
	out.mu.Unlock()
	if got != "[1 2 3]" {
		t.Fatalf("enqueued apps %s, want [1 2 3] (queued events drained on Close)", got)
	}
	o.RoomEvent(ev(4)) // after Close: dropped, not blocked
	if o.Dropped() != 6 {
		t.Fatalf("event after Close: dropped %d, want 6", o.Dropped())
	}
}

func TestObserverCloseDeadline(t *testing.T) {
	out := &blockingOutbox{entered: make(chan struct{}, 1), release: make(chan struct{})}
	o, err := NewObserver(ObserverConfig{Outbox: out, Buffer: 4})
	if err != nil {
		t.Fatal(err)
	}
	o.Start()
	o.RoomEvent(room.Event{Type: room.EventCreateRoom, SDKAppID: 1, Room: protocol.RoomRef{ID: 1}})
	<-out.entered
	o.RoomEvent(room.Event{Type: room.EventDismissRoom, SDKAppID: 1, Room: protocol.RoomRef{ID: 1}})
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // no time to drain: the stuck enqueue is cancelled
	if err := o.Close(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Close = %v, want context.Canceled", err)
	}
	if o.Dropped() != 2 {
		t.Fatalf("dropped %d, want 2 (stuck and queued)", o.Dropped())
	}
	if _, err := NewObserver(ObserverConfig{}); !errors.Is(err, ErrBadConfig) {
		t.Fatalf("NewObserver without outbox: %v", err)
	}
}

// TestObserverToReceiver runs room events through the observer, the
// SQLite outbox and the dispatcher to a receiver that verifies them.
func TestObserverToReceiver(t *testing.T) {
	clock := newFakeClock(testT0())
	rc, srv := newReceiver(t, clock, nil)
	db := openDB(t, tempDB(t))
	defer db.Close()
	d, idle := newDispatcher(t, db, clock, srv.URL, rc.key, nil)
	d.Start()
	o, err := NewObserver(ObserverConfig{Outbox: d, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	o.Start()
	o.RoomEvent(room.Event{Type: room.EventEnterRoom, SDKAppID: testApp, Room: protocol.RoomRef{Str: "lobby"}, UserID: "carol", Role: protocol.RoleAnchor})
	o.RoomEvent(room.Event{Type: room.EventEnterRoom, SDKAppID: 99, Room: protocol.RoomRef{ID: 5}, UserID: "dave"}) // no callback
	if err := o.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	idle.wait(t, 1)
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	bodies := rc.bodies
	if len(bodies) != 1 {
		t.Fatalf("received %d bodies, want 1 (app 99 has no callback)", len(bodies))
	}
	var b struct {
		EventGroupId, EventType int
		EventId                 string
		EventInfo               struct {
			RoomId any
			UserId string
		}
	}
	if err := json.Unmarshal(bodies[0], &b); err != nil || b.EventType != 103 || b.EventGroupId != 1 || b.EventInfo.RoomId != "lobby" || b.EventInfo.UserId != "carol" || len(b.EventId) != 36 {
		t.Fatalf("body %s (%v)", bodies[0], err)
	}
}
