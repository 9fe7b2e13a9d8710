package im_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parley-rtc/parley/internal/im"
)

// adminEvents records what the service publishes and how often the
// before-send hook ran, to tell live sends from imports.
type adminEvents struct {
	mu      sync.Mutex
	kinds   []im.EventKind
	befores int
}

func (e *adminEvents) hooks() im.Hooks {
	return im.Hooks{
		Publish: func(ev im.Event) { e.mu.Lock(); e.kinds = append(e.kinds, ev.Kind); e.mu.Unlock() },
		BeforeSend: func(_ context.Context, _ uint32, _ string, _ im.Conv, m im.Message) (im.Message, error) {
			e.mu.Lock()
			e.befores++
			e.mu.Unlock()
			return m, nil
		},
	}
}

func (e *adminEvents) messages() (published, befores int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, k := range e.kinds {
		if k == im.EventMessage {
			published++
		}
	}
	return published, e.befores
}

func importText(s, clientID string) im.Message {
	m := text(s)
	m.ClientMsgID = clientID
	return m
}

// A group import keeps the original send times and their order, is not a
// live send (no hooks, no events, no rate limit or mute, sender need not
// be a member), dedupes a retry whatever its time, refuses times in the
// future or before the newest message, and leaves members with no unread.
func TestImportGroupHistory(t *testing.T) {
	ev := &adminEvents{}
	s, clk, ctx := setup(t, im.Options{GroupRate: 1, GroupBurst: 1, Hooks: ev.hooks()})
	now := clk.Now()
	must(s.CreateGroup(ctx, app, "own", im.GroupSpec{ID: "imp", Type: im.Work})).get(t)
	must(s.InviteMember(ctx, app, "own", "imp", "m1")).get(t)
	if err := s.MuteMember(ctx, app, "own", "imp", "m1", time.Hour); err != nil {
		t.Fatal(err)
	}

	at := []time.Time{now.Add(-3 * time.Hour), now.Add(-2 * time.Hour), now.Add(-2 * time.Hour), now.Add(-time.Hour)}
	senders := []string{"former", "m1", "own", "former"} // former was never a member; m1 is muted
	for i := range at {
		st := must(s.Import(ctx, app, senders[i], im.Target{Group: "imp"}, importText(fmt.Sprint("h", i), fmt.Sprint("i", i)), at[i], im.ImportOptions{})).get(t)
		if st.Seq != int64(i+1) || !st.At.Equal(at[i]) || st.Duplicate {
			t.Fatalf("import %d = %+v, want seq %d at %s", i, st, i+1, at[i])
		}
	}
	hist := must(s.History(ctx, app, "own", im.GroupConv("imp"), 0, 10)).get(t)
	if texts(hist) != "4:h3 3:h2 2:h1 1:h0" || !hist[3].At.Equal(at[0]) || hist[3].Sender != "former" {
		t.Fatalf("history = %s (%+v)", texts(hist), hist[3])
	}
	if pub, befores := ev.messages(); pub != 0 || befores != 0 {
		t.Fatalf("imports published %d message events and ran the before-send hook %d times; want none", pub, befores)
	}

	// A retry of the first import is recognised although it is now older
	// than the newest message.
	again := must(s.Import(ctx, app, "former", im.Target{Group: "imp"}, importText("h0", "i0"), at[0], im.ImportOptions{})).get(t)
	if !again.Duplicate || again.Seq != 1 || !again.At.Equal(at[0]) {
		t.Fatalf("retried import = %+v, want the original seq 1", again)
	}
	_, err := s.Import(ctx, app, "former", im.Target{Group: "imp"}, importText("late", "i9"), now.Add(-4*time.Hour), im.ImportOptions{})
	wantErr(t, err, im.ErrInvalidArgument, 10004)
	_, err = s.Import(ctx, app, "former", im.Target{Group: "imp"}, text("future"), now.Add(time.Minute), im.ImportOptions{})
	wantErr(t, err, im.ErrInvalidArgument, 10004)
	_, err = s.Import(ctx, app, "former", im.Target{Group: "imp"}, text("no time"), time.Time{}, im.ImportOptions{})
	wantErr(t, err, im.ErrInvalidArgument, 10004)
	_, err = s.Import(ctx, app, "former", im.Target{Group: "imp"}, text(strings.Repeat("x", 13<<10)), now, im.ImportOptions{})
	wantErr(t, err, im.ErrTooLarge, 80002)
	_, err = s.Import(ctx, app, "former", im.Target{Group: "imp"}, im.Message{}, now, im.ImportOptions{})
	wantErr(t, err, im.ErrInvalidMessage, 20001)

	// TIM: members have no unread after a group import, and the
	// non-member sender has no conversation for the group.
	if n := must(s.Unread(ctx, app, "m1", im.GroupConv("imp"))).get(t); n != 0 {
		t.Fatalf("m1 unread after import = %d", n)
	}
	if cs := must(s.Conversations(ctx, app, "former")).get(t); len(cs) != 0 {
		t.Fatalf("non-member sender's conversations = %+v", cs)
	}

	// A live send is still muted, rate limited and hooked.
	_, err = s.Send(ctx, app, "m1", im.Target{Group: "imp"}, text("live"))
	wantErr(t, err, im.ErrMuted, 10017)
	must(s.Send(ctx, app, "own", im.Target{Group: "imp"}, text("live"))).get(t)
	if pub, befores := ev.messages(); pub != 1 || befores != 1 {
		t.Fatalf("live send: %d events, %d before-send calls; want 1 and 1", pub, befores)
	}

	must(s.CreateGroup(ctx, app, "own", im.GroupSpec{ID: "av", Type: im.AVChatRoom})).get(t)
	_, err = s.Import(ctx, app, "own", im.Target{Group: "av"}, text("x"), now, im.ImportOptions{})
	wantErr(t, err, im.ErrNotSupported, 90403)
	if err := s.DismissGroup(ctx, app, "own", "imp"); err != nil {
		t.Fatal(err)
	}
	_, err = s.Import(ctx, app, "own", im.Target{Group: "imp"}, text("x"), now, im.ImportOptions{})
	wantErr(t, err, im.ErrGroupNotFound, 10010)
}

// A C2C history import does not add to a caught-up recipient's unread
// count; an import with Unread does, as a live message would.
func TestImportC2CUnread(t *testing.T) {
	s, clk, ctx := setup(t, im.Options{})
	now := clk.Now()
	conv := im.C2CConv("alice", "bob")
	st := must(s.Import(ctx, app, "alice", im.Target{User: "bob"}, text("old"), now.Add(-time.Hour), im.ImportOptions{})).get(t)
	if st.Seq != 1 || st.Conv != conv || !st.At.Equal(now.Add(-time.Hour)) {
		t.Fatalf("import = %+v", st)
	}
	if n := must(s.Unread(ctx, app, "bob", conv)).get(t); n != 0 {
		t.Fatalf("bob unread after history import = %d, want 0", n)
	}
	must(s.Import(ctx, app, "alice", im.Target{User: "bob"}, text("counted"), now.Add(-time.Minute), im.ImportOptions{Unread: true})).get(t)
	if n := must(s.Unread(ctx, app, "bob", conv)).get(t); n != 1 {
		t.Fatalf("bob unread after an Unread import = %d, want 1", n)
	}
	// With an unread message before it, a history import counts too:
	// cursors are positions, so it cannot be skipped alone.
	must(s.Import(ctx, app, "alice", im.Target{User: "bob"}, text("later"), now, im.ImportOptions{})).get(t)
	if n := must(s.Unread(ctx, app, "bob", conv)).get(t); n != 2 {
		t.Fatalf("bob unread = %d, want 2", n)
	}
	if got := texts(must(s.Sync(ctx, app, "bob", conv, 0, 10)).get(t)); got != "1:old 2:counted 3:later" {
		t.Fatalf("sync = %s", got)
	}
	_, err := s.Import(ctx, app, "alice", im.Target{User: "alice"}, text("self"), now, im.ImportOptions{})
	wantErr(t, err, im.ErrInvalidArgument, 10004)
	_, err = s.Import(ctx, app, "bad|id", im.Target{User: "bob"}, text("x"), now, im.ImportOptions{})
	wantErr(t, err, im.ErrInvalidArgument, 10004)
	_, err = s.Import(ctx, app, "alice", im.Target{User: "bob", Group: "g"}, text("x"), now, im.ImportOptions{})
	wantErr(t, err, im.ErrInvalidArgument, 10004)
}

// A batch delivers to every valid recipient once, reports the invalid
// ones, dedupes a retry per recipient, and is a live send.
func TestSendBatch(t *testing.T) {
	ev := &adminEvents{}
	s, _, ctx := setup(t, im.Options{Hooks: ev.hooks()})
	msg := importText("notice", "batch-1")
	rs := must(s.SendBatch(ctx, app, "alice", []string{"bob", "bad|id", "carol", "bob", "alice"}, msg)).get(t)
	var got []string
	for _, r := range rs {
		got = append(got, fmt.Sprintf("%s:%d:%d", r.To, r.Stored.Seq, im.Code(r.Err)))
	}
	if strings.Join(got, " ") != "bob:1:0 bad|id:0:10004 carol:1:0 alice:0:10004" {
		t.Fatalf("results = %v", got)
	}
	if pub, befores := ev.messages(); pub != 2 || befores != 2 {
		t.Fatalf("batch: %d events, %d before-send calls; want 2 and 2", pub, befores)
	}
	for _, r := range must(s.SendBatch(ctx, app, "alice", []string{"bob", "carol"}, msg)).get(t) {
		if r.Err != nil || !r.Stored.Duplicate || r.Stored.Seq != 1 {
			t.Fatalf("retried batch: %+v", r)
		}
	}
	if h := must(s.History(ctx, app, "carol", im.C2CConv("alice", "carol"), 0, 10)).get(t); texts(h) != "1:notice" {
		t.Fatalf("carol history = %s", texts(h))
	}
	many := make([]string, im.MaxBatchRecipients+1)
	for i := range many {
		many[i] = fmt.Sprint("u", i)
	}
	_, err := s.SendBatch(ctx, app, "alice", many, text("x"))
	wantErr(t, err, im.ErrInvalidArgument, 10004)
	_, err = s.SendBatch(ctx, app, "alice", nil, text("x"))
	wantErr(t, err, im.ErrInvalidArgument, 10004)
	_, err = s.SendBatch(ctx, app, "alice", []string{"bob"}, im.Message{})
	wantErr(t, err, im.ErrInvalidMessage, 20001)
	_, err = s.SendBatch(ctx, app, "", []string{"bob"}, text("x"))
	wantErr(t, err, im.ErrInvalidArgument, 10004)
}

func memberIDs(ms []im.Member) string {
	var ids []string
	for _, m := range ms {
		ids = append(ids, m.UserID)
	}
	return strings.Join(ids, ",")
}

// Rename, paging, joined groups, and batch kick/mute that check every
// member before changing any.
func TestGroupAdministration(t *testing.T) {
	s, clk, ctx := setup(t, im.Options{})
	must(s.CreateGroup(ctx, app, "own", im.GroupSpec{ID: "g", Type: im.Public, Name: "before"})).get(t)
	must(s.CreateGroup(ctx, app, "own", im.GroupSpec{ID: "h", Type: im.Meeting})).get(t)
	for i := 1; i <= 5; i++ {
		clk.Add(time.Second) // distinct join times: paging follows join order
		must(s.InviteMember(ctx, app, "own", "g", fmt.Sprint("u", i))).get(t)
	}
	must(s.JoinGroup(ctx, app, "u1", "h")).get(t)

	if err := s.RenameGroup(ctx, app, "own", "g", "after"); err != nil {
		t.Fatal(err)
	}
	if g := must(s.Group(ctx, app, "g")).get(t); g.Name != "after" {
		t.Fatalf("name = %q", g.Name)
	}
	wantErr(t, s.RenameGroup(ctx, app, "u1", "g", "x"), im.ErrPermissionDenied, 10007)
	wantErr(t, s.RenameGroup(ctx, app, "own", "g", ""), im.ErrInvalidArgument, 10004)
	wantErr(t, s.RenameGroup(ctx, app, "own", "g", strings.Repeat("n", 101)), im.ErrInvalidArgument, 10004)

	page, total, err := s.MembersPage(ctx, app, "g", 1, 2)
	if err != nil || total != 6 || memberIDs(page) != "u1,u2" {
		t.Fatalf("page = %s, total %d, err %v", memberIDs(page), total, err)
	}
	if page, total, err := s.MembersPage(ctx, app, "g", 0, 0); err != nil || total != 6 || len(page) != 0 {
		t.Fatalf("count only = %d members, total %d, err %v", len(page), total, err)
	}
	if page, _, _ := s.MembersPage(ctx, app, "g", 5, 10); memberIDs(page) != "u5" {
		t.Fatalf("last page = %s", memberIDs(page))
	}
	_, _, err = s.MembersPage(ctx, app, "g", -1, 1)
	wantErr(t, err, im.ErrInvalidArgument, 10004)
	_, _, err = s.MembersPage(ctx, app, "nope", 0, 1)
	wantErr(t, err, im.ErrGroupNotFound, 10010)

	gs := must(s.JoinedGroups(ctx, app, "u1")).get(t)
	if len(gs) != 2 || gs[0].GroupID != "g" || gs[1].GroupID != "h" {
		t.Fatalf("joined = %+v", gs)
	}

	// One bad entry (the owner) fails the batch before anyone is removed.
	wantErr(t, s.KickMembers(ctx, app, "own", "g", []string{"u1", "own"}), im.ErrPermissionDenied, 10007)
	wantErr(t, s.KickMembers(ctx, app, "own", "g", []string{"u1", "stranger"}), im.ErrNotMember, 10007)
	if _, total, _ := s.MembersPage(ctx, app, "g", 0, 0); total != 6 {
		t.Fatalf("a failed batch kick removed members: %d left", total)
	}
	if err := s.KickMembers(ctx, app, "own", "g", []string{"u1", "u2", "u1"}); err != nil {
		t.Fatal(err)
	}
	_, err = s.History(ctx, app, "u1", im.GroupConv("g"), 0, 10)
	wantErr(t, err, im.ErrNotMember, 10007)
	if gs := must(s.JoinedGroups(ctx, app, "u1")).get(t); len(gs) != 1 || gs[0].GroupID != "h" {
		t.Fatalf("joined after kick = %+v", gs)
	}

	wantErr(t, s.MuteMembers(ctx, app, "own", "g", []string{"u3", "u1"}, time.Minute), im.ErrNotMember, 10007)
	must(s.Send(ctx, app, "u3", im.Target{Group: "g"}, text("not muted yet"))).get(t)
	if err := s.MuteMembers(ctx, app, "own", "g", []string{"u3", "u4"}, time.Minute); err != nil {
		t.Fatal(err)
	}
	_, err = s.Send(ctx, app, "u4", im.Target{Group: "g"}, text("x"))
	wantErr(t, err, im.ErrMuted, 10017)
	page, _, _ = s.MembersPage(ctx, app, "g", 0, 10)
	for _, m := range page {
		if muted := !m.MutedUntil.IsZero(); muted != (m.UserID == "u3" || m.UserID == "u4") {
			t.Fatalf("%s muted until %v", m.UserID, m.MutedUntil)
		}
	}
	if err := s.MuteMembers(ctx, app, "own", "g", []string{"u4"}, 0); err != nil {
		t.Fatal(err)
	}
	must(s.Send(ctx, app, "u4", im.Target{Group: "g"}, text("unmuted"))).get(t)
	wantErr(t, s.MuteMembers(ctx, app, "own", "g", nil, time.Minute), im.ErrInvalidArgument, 10004)

	if err := s.DismissGroup(ctx, app, "own", "h"); err != nil {
		t.Fatal(err)
	}
	if gs := must(s.JoinedGroups(ctx, app, "own")).get(t); len(gs) != 1 || gs[0].GroupID != "g" {
		t.Fatalf("joined after dismiss = %+v", gs)
	}
	wantErr(t, s.RenameGroup(ctx, app, "own", "h", "x"), im.ErrGroupNotFound, 10010)
}

// C2C unread totals and per-peer counts, and marking a conversation read.
func TestC2CReadAdministration(t *testing.T) {
	s, _, ctx := setup(t, im.Options{})
	for i := range 3 {
		must(s.Send(ctx, app, "alice", im.Target{User: "bob"}, text(fmt.Sprint(i)))).get(t)
	}
	must(s.Send(ctx, app, "carol", im.Target{User: "bob"}, text("hi"))).get(t)
	must(s.CreateGroup(ctx, app, "bob", im.GroupSpec{ID: "g", Type: im.Work})).get(t)
	must(s.InviteMember(ctx, app, "bob", "g", "alice")).get(t)
	must(s.Send(ctx, app, "alice", im.Target{Group: "g"}, text("group, not C2C"))).get(t)

	total, peers, err := s.C2CUnread(ctx, app, "bob", []string{"alice", "carol", "dave", "bad|id"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range peers {
		got = append(got, fmt.Sprintf("%s:%d:%d", p.Peer, p.Unread, im.Code(p.Err)))
	}
	if total != 4 || strings.Join(got, " ") != "alice:3:0 carol:1:0 dave:0:0 bad|id:0:10004" {
		t.Fatalf("total %d, peers %v", total, got)
	}
	if cur := must(s.MarkC2CRead(ctx, app, "bob", "alice")).get(t); cur != 3 {
		t.Fatalf("cursor = %d", cur)
	}
	if total, _, _ := s.C2CUnread(ctx, app, "bob", nil); total != 1 {
		t.Fatalf("total after read = %d", total)
	}
	_, err = s.MarkC2CRead(ctx, app, "bob", "bob")
	wantErr(t, err, im.ErrInvalidArgument, 10004)
	_, _, err = s.C2CUnread(ctx, app, "", nil)
	wantErr(t, err, im.ErrInvalidArgument, 10004)
}
