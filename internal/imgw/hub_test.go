package imgw_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/parley-rtc/parley/internal/im"
	"github.com/parley-rtc/parley/internal/imgw"
	"github.com/parley-rtc/parley/internal/store"
	"github.com/parley-rtc/parley/internal/store/sqlite"
	"github.com/parley-rtc/parley/internal/store/sqlite/sqlitetest"
	"github.com/parley-rtc/parley/protocol"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const app = 1400000001

// conn records what the hub queues on a connection.
type conn struct {
	mu     sync.Mutex
	msgs   []protocol.IMMessage
	frames []protocol.Type
	calls  int // DeliverIM calls
}

// DeliverIM takes one message or a comma-joined run of them.
func (c *conn) DeliverIM(b []byte) {
	var ms []protocol.IMMessage
	if err := json.Unmarshal(append(append([]byte("["), b...), ']'), &ms); err != nil {
		panic(err) // the hub's encoding is under test
	}
	c.mu.Lock()
	c.msgs = append(c.msgs, ms...)
	c.calls++
	c.mu.Unlock()
}

func (c *conn) NotifyIM(t protocol.Type, _ any) {
	c.mu.Lock()
	c.frames = append(c.frames, t)
	c.mu.Unlock()
}

func (c *conn) seqs() []int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]int64, len(c.msgs))
	for i, m := range c.msgs {
		out[i] = m.Seq
	}
	return out
}

// pusher records pushes.
type pusher struct {
	mu sync.Mutex
	ns []imgw.Notice
}

func (p *pusher) Push(_ context.Context, n imgw.Notice) error {
	p.mu.Lock()
	p.ns = append(p.ns, n)
	p.mu.Unlock()
	return nil
}

// setup is a real IM service on SQLite publishing into a hub.
func setup(t *testing.T) (*im.Service, *imgw.Hub, *sqlite.DB, *pusher) {
	t.Helper()
	ctx := t.Context()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "im.db"), sqlitetest.Options())
	if err != nil {
		t.Fatal(err)
	}
	var hub *imgw.Hub
	svc, err := im.New(db, im.Options{GroupRate: 10000, Hooks: im.Hooks{
		Publish:      func(ev im.Event) { hub.Publish(ev) },
		PublishBatch: func(evs []im.Event) { hub.PublishBatch(evs) },
	}})
	if err != nil {
		t.Fatal(err)
	}
	p := &pusher{}
	hub, err = imgw.New(imgw.Config{Members: svc, Tokens: db, Pusher: p})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = svc.Close()
		hub.Close()
		_ = db.Close()
	})
	return svc, hub, db, p
}

func text(s string) im.Message { return im.Message{Elements: []im.Element{im.Text{Text: s}}} }

// Concurrent senders' group messages reach every online connection of
// every member (the sender's too: its other devices) in seq order, encoded
// once; an offline member with a token gets one push per message; a
// member who joins later gets what follows (the member cache is
// invalidated by the membership event).
func TestHubFanOutOrderAndPush(t *testing.T) {
	svc, hub, db, p := setup(t)
	ctx := t.Context()
	if _, err := svc.CreateGroup(ctx, app, "owner", im.GroupSpec{ID: "g", Type: im.Meeting}); err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{"a", "b", "off"} {
		if _, err := svc.JoinGroup(ctx, app, u, "g"); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.PutIMPushToken(ctx, store.IMPushToken{SDKAppID: app, UserID: "off", DeviceID: "d1", Vendor: "vivo", Token: "t", RegisteredAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	owner, a1, a2, b := &conn{}, &conn{}, &conn{}, &conn{}
	hub.Attach(app, "owner", "d", owner)
	hub.Attach(app, "a", "d1", a1)
	hub.Attach(app, "a", "d2", a2)
	hub.Attach(app, "b", "d", b)
	const per = 50
	var wg sync.WaitGroup
	for _, sender := range []string{"a", "b", "owner"} {
		wg.Go(func() {
			for range per {
				if _, err := svc.Send(ctx, app, sender, im.Target{Group: "g"}, text("x")); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	for name, c := range map[string]*conn{"owner": owner, "a1": a1, "a2": a2, "b": b} {
		got := c.seqs()
		if len(got) != 3*per {
			t.Fatalf("%s got %d messages, want %d", name, len(got), 3*per)
		}
		for i, s := range got {
			if s != int64(i+1) {
				t.Fatalf("%s: message %d has seq %d (out of order)", name, i, s)
			}
		}
	}
	late := &conn{}
	hub.Attach(app, "late", "d", late)
	if _, err := svc.JoinGroup(ctx, app, "late", "g"); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Send(ctx, app, "a", im.Target{Group: "g"}, text("welcome")); err != nil {
		t.Fatal(err)
	}
	if got := late.seqs(); len(got) != 1 || got[0] != 3*per+1 {
		t.Fatalf("late joiner got %v", got)
	}
	hub.Detach(app, "b", b)
	if _, err := svc.Send(ctx, app, "a", im.Target{Group: "g"}, text("b is gone")); err != nil {
		t.Fatal(err)
	}
	if n := len(b.seqs()); n != 3*per+1 { // everything up to "welcome"
		t.Fatalf("detached connection got %d messages", n)
	}
	hub.Close() // drains the push queue
	p.mu.Lock()
	defer p.mu.Unlock()
	// "off" is offline for every message; "b" for the last one but has
	// no token.
	if len(p.ns) != 3*per+2 {
		t.Fatalf("%d pushes, want %d", len(p.ns), 3*per+2)
	}
	for i, n := range p.ns {
		if n.User != "off" || n.Vendor != "vivo" || n.Seq != int64(i+1) || n.GroupID != "g" {
			t.Fatalf("push %d = %+v", i, n)
		}
	}
}

// AVChatRoom messages are marked live and never pushed; receipts and
// recalls go to both C2C parties' connections.
func TestHubLiveAndNotices(t *testing.T) {
	svc, hub, db, p := setup(t)
	ctx := t.Context()
	if _, err := svc.CreateGroup(ctx, app, "host", im.GroupSpec{ID: "live", Type: im.AVChatRoom}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.JoinGroup(ctx, app, "fan", "live"); err != nil {
		t.Fatal(err)
	}
	if err := db.PutIMPushToken(ctx, store.IMPushToken{SDKAppID: app, UserID: "fan", DeviceID: "d", Vendor: "fcm", Token: "t", RegisteredAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	host := &conn{}
	hub.Attach(app, "host", "d", host)
	if _, err := svc.Send(ctx, app, "host", im.Target{Group: "live"}, text("hi")); err != nil {
		t.Fatal(err)
	}
	host.mu.Lock()
	if len(host.msgs) != 1 || !host.msgs[0].Live {
		t.Fatalf("live message = %+v", host.msgs)
	}
	host.mu.Unlock()
	alice, bob := &conn{}, &conn{}
	hub.Attach(app, "alice", "d", alice)
	hub.Attach(app, "bob", "d", bob)
	st, err := svc.Send(ctx, app, "alice", im.Target{User: "bob"}, text("hey"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.MarkRead(ctx, app, "bob", st.Conv, st.Seq); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Recall(ctx, app, "alice", st.Conv, st.Seq); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]*conn{"alice": alice, "bob": bob} {
		c.mu.Lock()
		defer c.mu.Unlock()
		if len(c.frames) != 2 || c.frames[0] != protocol.TypeIMReceipt || c.frames[1] != protocol.TypeIMRecalled {
			t.Fatalf("%s notices = %v", name, c.frames)
		}
	}
	hub.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.ns) != 0 {
		t.Fatalf("pushes for a live room: %+v", p.ns)
	}
}

// Dismissing a group tells its online members.
func TestHubDismissalAnnounced(t *testing.T) {
	svc, hub, _, _ := setup(t)
	ctx := t.Context()
	if _, err := svc.CreateGroup(ctx, app, "owner", im.GroupSpec{ID: "g", Type: im.Meeting}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.JoinGroup(ctx, app, "m", "g"); err != nil {
		t.Fatal(err)
	}
	m := &conn{}
	hub.Attach(app, "m", "d", m)
	if err := svc.DismissGroup(ctx, app, "owner", "g"); err != nil {
		t.Fatal(err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.frames) != 1 || m.frames[0] != protocol.TypeIMGroupEvent {
		t.Fatalf("member's notices = %v", m.frames)
	}
}

// A batch reaches each connection in one DeliverIM, in order; chunks stay
// under the frame budget.
func TestHubPublishBatchCoalesces(t *testing.T) {
	_, hub, _, _ := setup(t)
	bob := &conn{}
	hub.Attach(app, "bob", "d", bob)
	conv := im.C2CConv("alice", "bob")
	var evs []im.Event
	for seq := int64(1); seq <= 3; seq++ {
		evs = append(evs, im.Event{Kind: im.EventMessage, App: app, Conv: conv,
			Message: im.Record{Conv: conv, Seq: seq, Sender: "alice", At: time.Now()}, Body: []byte(`[{"MsgType":"TIMTextElem","MsgContent":{"Text":"x"}}]`)})
	}
	hub.PublishBatch(evs)
	if bob.calls != 1 || len(bob.seqs()) != 3 || bob.seqs()[2] != 3 {
		t.Fatalf("3 messages in %d calls: %v", bob.calls, bob.seqs())
	}
	big := strings.Repeat("y", 6000)
	evs = evs[:0]
	for seq := int64(4); seq <= 13; seq++ {
		evs = append(evs, im.Event{Kind: im.EventMessage, App: app, Conv: conv,
			Message: im.Record{Conv: conv, Seq: seq, Sender: "alice", At: time.Now(), CloudCustomData: big}})
	}
	hub.PublishBatch(evs)
	if bob.calls < 1+4 || len(bob.seqs()) != 13 {
		t.Fatalf("60 KB in %d calls (want chunks ≤ 16 KiB): %d messages", bob.calls-1, len(bob.seqs()))
	}
}
