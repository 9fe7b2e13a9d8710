package im_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/parley-rtc/parley/internal/im"
	"github.com/parley-rtc/parley/internal/store/sqlite"
	"github.com/parley-rtc/parley/internal/store/sqlite/sqlitetest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const app = 1400000001

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func setup(t *testing.T, opt im.Options) (*im.Service, *clock, context.Context) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	t.Cleanup(cancel)
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "im.db"), sqlitetest.Options())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	c := &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	opt.Now = c.Now
	s, err := im.New(db, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s, c, ctx
}

func text(s string) im.Message { return im.Message{Elements: []im.Element{im.Text{Text: s}}} }

type result[T any] struct {
	v   T
	err error
}

func must[T any](v T, err error) result[T] { return result[T]{v, err} }

func (r result[T]) get(t *testing.T) T {
	t.Helper()
	if r.err != nil {
		t.Fatal(r.err)
	}
	return r.v
}

func wantErr(t *testing.T, err, want error, code int) {
	t.Helper()
	if !errors.Is(err, want) || im.Code(err) != code {
		t.Fatalf("err = %v (code %d), want %v (code %d)", err, im.Code(err), want, code)
	}
}

func texts(rs []im.Record) string {
	var b []string
	for _, r := range rs {
		switch {
		case r.Recalled:
			b = append(b, fmt.Sprintf("%d:recalled", r.Seq))
		case r.Erased:
			b = append(b, fmt.Sprintf("%d:erased", r.Seq))
		default:
			b = append(b, fmt.Sprintf("%d:%s", r.Seq, r.Elements[0].(im.Text).Text))
		}
	}
	return strings.Join(b, " ")
}

func TestC2COrderDedupeAndSync(t *testing.T) {
	s, _, ctx := setup(t, im.Options{})
	for i := 1; i <= 5; i++ {
		st := must(s.Send(ctx, app, "alice", im.Target{User: "bob"}, text(fmt.Sprint("m", i)))).get(t)
		if st.Seq != int64(i) || st.Duplicate || st.Conv != im.C2CConv("bob", "alice") {
			t.Fatalf("send %d = %+v", i, st)
		}
	}
	// A retry of a ClientMsgID returns the original seq, not a new message.
	m := text("once")
	m.ClientMsgID = "cid-1"
	first := must(s.Send(ctx, app, "bob", im.Target{User: "alice"}, m)).get(t)
	again := must(s.Send(ctx, app, "bob", im.Target{User: "alice"}, m)).get(t)
	if first.Seq != 6 || !again.Duplicate || again.Seq != 6 {
		t.Fatalf("dedupe: first %+v again %+v", first, again)
	}
	conv := im.C2CConv("alice", "bob")
	got := must(s.Sync(ctx, app, "bob", conv, 2, 0)).get(t)
	if texts(got) != "3:m3 4:m4 5:m5 6:once" {
		t.Fatalf("sync = %s", texts(got))
	}
	hist := must(s.History(ctx, app, "alice", conv, 5, 2)).get(t)
	if texts(hist) != "4:m4 3:m3" {
		t.Fatalf("history = %s", texts(hist))
	}
	_, err := s.Sync(ctx, app, "carol", conv, 0, 10)
	wantErr(t, err, im.ErrNotMember, 10007)
	_, err = s.Send(ctx, app, "alice", im.Target{User: "alice"}, text("x"))
	wantErr(t, err, im.ErrInvalidArgument, 10004)
}

func TestJoinRulesAndRoles(t *testing.T) {
	s, _, ctx := setup(t, im.Options{})
	for _, typ := range []im.GroupType{im.Meeting, im.Community, im.AVChatRoom} {
		g := must(s.CreateGroup(ctx, app, "own", im.GroupSpec{Type: typ})).get(t)
		if !strings.HasPrefix(g.GroupID, "@TGS#") {
			t.Fatalf("generated id %q", g.GroupID)
		}
		if r := must(s.JoinGroup(ctx, app, "u1", g.GroupID)).get(t); r != im.Joined {
			t.Fatalf("%s join = %v", typ, r)
		}
		_, err := s.JoinGroup(ctx, app, "u1", g.GroupID)
		wantErr(t, err, im.ErrAlreadyMember, 10013)
	}
	_, err := s.CreateGroup(ctx, app, "own", im.GroupSpec{ID: "@TGS#mine", Type: im.Work})
	wantErr(t, err, im.ErrInvalidGroupID, 10015)
	_, err = s.CreateGroup(ctx, app, "own", im.GroupSpec{ID: strings.Repeat("g", 49), Type: im.Work})
	wantErr(t, err, im.ErrInvalidGroupID, 10015)

	// Work: invitation by a member only.
	must(s.CreateGroup(ctx, app, "own", im.GroupSpec{ID: "work", Type: im.Work})).get(t)
	_, err = s.CreateGroup(ctx, app, "x", im.GroupSpec{ID: "work", Type: im.Work})
	wantErr(t, err, im.ErrGroupExists, 10021)
	_, err = s.JoinGroup(ctx, app, "u1", "work")
	wantErr(t, err, im.ErrPermissionDenied, 10007)
	must(s.InviteMember(ctx, app, "own", "work", "u1")).get(t)
	must(s.InviteMember(ctx, app, "u1", "work", "u2")).get(t) // any member invites in Work
	wantErr(t, s.SetRole(ctx, app, "own", "work", "u1", im.RoleAdmin), im.ErrNotSupported, 90403)

	// Public: apply + approve by owner/admin.
	must(s.CreateGroup(ctx, app, "own", im.GroupSpec{ID: "pub", Type: im.Public})).get(t)
	if r := must(s.JoinGroup(ctx, app, "a", "pub")).get(t); r != im.Pending {
		t.Fatalf("public join = %v", r)
	}
	_, err = s.JoinGroup(ctx, app, "a", "pub")
	wantErr(t, err, im.ErrAlreadyApplied, 90410)
	_, err = s.Sync(ctx, app, "a", im.GroupConv("pub"), 0, 10)
	wantErr(t, err, im.ErrNotMember, 10007)
	must(s.ApproveJoin(ctx, app, "own", "pub", "a")).get(t)
	_, err = s.ApproveJoin(ctx, app, "own", "pub", "nobody")
	wantErr(t, err, im.ErrNoApplication, 10004)
	must(s.JoinGroup(ctx, app, "b", "pub")).get(t)
	_, err = s.ApproveJoin(ctx, app, "a", "pub", "b") // plain member
	wantErr(t, err, im.ErrPermissionDenied, 10007)
	wantErr(t, s.SetRole(ctx, app, "a", "pub", "a", im.RoleAdmin), im.ErrPermissionDenied, 10007)
	if err := s.SetRole(ctx, app, "own", "pub", "a", im.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	must(s.ApproveJoin(ctx, app, "a", "pub", "b")).get(t)
	must(s.InviteMember(ctx, app, "a", "pub", "c")).get(t)
	if err := s.SetRole(ctx, app, "own", "pub", "c", im.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	// Admins cannot act on the owner or other admins; the owner can.
	wantErr(t, s.KickMember(ctx, app, "a", "pub", "own"), im.ErrPermissionDenied, 10007)
	wantErr(t, s.KickMember(ctx, app, "a", "pub", "c"), im.ErrPermissionDenied, 10007)
	wantErr(t, s.MuteMember(ctx, app, "a", "pub", "c", time.Minute), im.ErrPermissionDenied, 10007)
	wantErr(t, s.KickMember(ctx, app, "b", "pub", "c"), im.ErrPermissionDenied, 10007)
	if err := s.KickMember(ctx, app, "a", "pub", "b"); err != nil {
		t.Fatal(err)
	}
	if err := s.KickMember(ctx, app, "own", "pub", "c"); err != nil {
		t.Fatal(err)
	}
	wantErr(t, s.LeaveGroup(ctx, app, "own", "pub"), im.ErrOwnerCannotLeave, 10009)
	if err := s.LeaveGroup(ctx, app, "a", "pub"); err != nil {
		t.Fatal(err)
	}
	ms := must(s.Members(ctx, app, "pub")).get(t)
	if len(ms) != 1 || ms[0].UserID != "own" || ms[0].Role != im.RoleOwner {
		t.Fatalf("members = %+v", ms)
	}
	wantErr(t, s.DismissGroup(ctx, app, "u1", "work"), im.ErrPermissionDenied, 10007)
	if err := s.DismissGroup(ctx, app, "own", "work"); err != nil {
		t.Fatal(err)
	}
	_, err = s.Send(ctx, app, "own", im.Target{Group: "work"}, text("x"))
	wantErr(t, err, im.ErrGroupNotFound, 10010)
}

func TestMuteSizeAndRate(t *testing.T) {
	s, clk, ctx := setup(t, im.Options{MaxMessageBytes: 200})
	must(s.CreateGroup(ctx, app, "own", im.GroupSpec{ID: "g", Type: im.Meeting})).get(t)
	must(s.JoinGroup(ctx, app, "u", "g")).get(t)
	if err := s.MuteMember(ctx, app, "own", "g", "u", time.Minute); err != nil {
		t.Fatal(err)
	}
	_, err := s.Send(ctx, app, "u", im.Target{Group: "g"}, text("hi"))
	wantErr(t, err, im.ErrMuted, 10017)
	clk.Add(time.Minute + time.Second)
	must(s.Send(ctx, app, "u", im.Target{Group: "g"}, text("hi"))).get(t)
	_, err = s.Send(ctx, app, "outsider", im.Target{Group: "g"}, text("hi"))
	wantErr(t, err, im.ErrNotMember, 10007)

	_, err = s.Send(ctx, app, "u", im.Target{Group: "g"}, text(strings.Repeat("x", 200)))
	wantErr(t, err, im.ErrTooLarge, 80002)
	if !strings.Contains(err.Error(), "bytes, limit 200") {
		t.Fatalf("size error lacks the size: %v", err)
	}

	// 40/s per group: the 41st send within one instant is refused; the
	// bucket refills with the (injected) clock.
	clk.Add(time.Second)
	for i := range 40 {
		if _, err := s.Send(ctx, app, "own", im.Target{Group: "g"}, text(fmt.Sprint(i))); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
	_, err = s.Send(ctx, app, "own", im.Target{Group: "g"}, text("41"))
	wantErr(t, err, im.ErrRateLimited, 10023)
	clk.Add(25 * time.Millisecond)
	must(s.Send(ctx, app, "own", im.Target{Group: "g"}, text("refilled"))).get(t)
	// C2C is not rate limited.
	for i := range 60 {
		must(s.Send(ctx, app, "own", im.Target{User: "u"}, text(fmt.Sprint(i)))).get(t)
	}
}

func TestConcurrentGroupSendersGapFree(t *testing.T) {
	s, _, ctx := setup(t, im.Options{GroupRate: 1e6})
	must(s.CreateGroup(ctx, app, "own", im.GroupSpec{ID: "g", Type: im.Community})).get(t)
	const senders, each = 8, 25
	for i := range senders {
		must(s.JoinGroup(ctx, app, fmt.Sprint("s", i), "g")).get(t)
	}
	var wg sync.WaitGroup
	seqs := make(chan int64, senders*each)
	errs := make(chan error, senders*each)
	for i := range senders {
		wg.Go(func() {
			for j := range each {
				m := text(fmt.Sprint(i, "-", j))
				m.ClientMsgID = fmt.Sprint(i, "-", j)
				st, err := s.Send(ctx, app, fmt.Sprint("s", i), im.Target{Group: "g"}, m)
				if err != nil {
					errs <- err
					return
				}
				seqs <- st.Seq
			}
		})
	}
	wg.Wait()
	close(seqs)
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	seen := map[int64]bool{}
	for q := range seqs {
		if seen[q] {
			t.Fatalf("seq %d twice", q)
		}
		seen[q] = true
	}
	for q := int64(1); q <= senders*each; q++ {
		if !seen[q] {
			t.Fatalf("gap at %d", q)
		}
	}
}

func TestHistoryPreJoinAndSyncAfterGap(t *testing.T) {
	s, _, ctx := setup(t, im.Options{})
	must(s.CreateGroup(ctx, app, "own", im.GroupSpec{ID: "w", Type: im.Work})).get(t)
	must(s.CreateGroup(ctx, app, "own", im.GroupSpec{ID: "m", Type: im.Meeting})).get(t)
	for i := 1; i <= 3; i++ {
		must(s.Send(ctx, app, "own", im.Target{Group: "w"}, text(fmt.Sprint("w", i)))).get(t)
		must(s.Send(ctx, app, "own", im.Target{Group: "m"}, text(fmt.Sprint("m", i)))).get(t)
	}
	must(s.InviteMember(ctx, app, "own", "w", "late")).get(t)
	must(s.JoinGroup(ctx, app, "late", "m")).get(t)
	for i := 4; i <= 8; i++ {
		must(s.Send(ctx, app, "own", im.Target{Group: "w"}, text(fmt.Sprint("w", i)))).get(t)
	}
	// Work hides pre-join history by default; Meeting shows it.
	if got := texts(must(s.History(ctx, app, "late", im.GroupConv("w"), 0, 100)).get(t)); got != "8:w8 7:w7 6:w6 5:w5 4:w4" {
		t.Fatalf("work history = %s", got)
	}
	if got := texts(must(s.Sync(ctx, app, "late", im.GroupConv("m"), 0, 100)).get(t)); got != "1:m1 2:m2 3:m3" {
		t.Fatalf("meeting sync = %s", got)
	}
	// Paging backwards with the oldest seq of each page.
	p1 := must(s.History(ctx, app, "own", im.GroupConv("w"), 0, 3)).get(t)
	p2 := must(s.History(ctx, app, "own", im.GroupConv("w"), p1[len(p1)-1].Seq, 3)).get(t)
	p3 := must(s.History(ctx, app, "own", im.GroupConv("w"), p2[len(p2)-1].Seq, 3)).get(t)
	if texts(p1)+"|"+texts(p2)+"|"+texts(p3) != "8:w8 7:w7 6:w6|5:w5 4:w4 3:w3|2:w2 1:w1" {
		t.Fatalf("pages %s | %s | %s", texts(p1), texts(p2), texts(p3))
	}
	// Sync after a gap: the client saw up to 5, paginates the rest.
	a := must(s.Sync(ctx, app, "late", im.GroupConv("w"), 5, 2)).get(t)
	b := must(s.Sync(ctx, app, "late", im.GroupConv("w"), a[len(a)-1].Seq, 2)).get(t)
	if texts(a)+"|"+texts(b) != "6:w6 7:w7|8:w8" {
		t.Fatalf("sync pages %s | %s", texts(a), texts(b))
	}
	s2, _, ctx2 := setup(t, im.Options{PreJoinHistory: true})
	must(s2.CreateGroup(ctx2, app, "own", im.GroupSpec{ID: "w", Type: im.Work})).get(t)
	must(s2.Send(ctx2, app, "own", im.Target{Group: "w"}, text("before"))).get(t)
	must(s2.InviteMember(ctx2, app, "own", "w", "late")).get(t)
	if got := texts(must(s2.Sync(ctx2, app, "late", im.GroupConv("w"), 0, 10)).get(t)); got != "1:before" {
		t.Fatalf("toggle on: %s", got)
	}
}

func TestRecall(t *testing.T) {
	s, clk, ctx := setup(t, im.Options{})
	must(s.CreateGroup(ctx, app, "own", im.GroupSpec{ID: "g", Type: im.Public})).get(t)
	must(s.InviteMember(ctx, app, "own", "g", "adm")).get(t)
	must(s.InviteMember(ctx, app, "own", "g", "u")).get(t)
	if err := s.SetRole(ctx, app, "own", "g", "adm", im.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	conv := im.GroupConv("g")
	must(s.Send(ctx, app, "u", im.Target{Group: "g"}, text("one"))).get(t)
	must(s.Send(ctx, app, "u", im.Target{Group: "g"}, text("two"))).get(t)
	must(s.Send(ctx, app, "adm", im.Target{Group: "g"}, text("three"))).get(t)
	r := must(s.Recall(ctx, app, "u", conv, 1)).get(t)
	if !r.Recalled || r.RecalledBy != "u" || r.Elements != nil {
		t.Fatalf("recall = %+v", r)
	}
	_, err := s.Recall(ctx, app, "u", conv, 1)
	wantErr(t, err, im.ErrAlreadyRecalled, 90409)
	_, err = s.Recall(ctx, app, "u", conv, 3) // someone else's
	wantErr(t, err, im.ErrPermissionDenied, 10007)
	must(s.Recall(ctx, app, "adm", conv, 2)).get(t) // admin recalls a member's
	_, err = s.Recall(ctx, app, "u", conv, 99)
	wantErr(t, err, im.ErrMessageNotFound, 90404)
	clk.Add(2*time.Minute + time.Second)
	_, err = s.Recall(ctx, app, "adm", conv, 3)
	wantErr(t, err, im.ErrRecallWindow, 10031)
	if got := texts(must(s.Sync(ctx, app, "own", conv, 0, 10)).get(t)); got != "1:recalled 2:recalled 3:three" {
		t.Fatalf("tombstones = %s", got)
	}
}

func TestReceiptsAndUnread(t *testing.T) {
	s, _, ctx := setup(t, im.Options{})
	c2c := im.C2CConv("a", "b")
	for i := range 3 {
		must(s.Send(ctx, app, "a", im.Target{User: "b"}, text(fmt.Sprint(i)))).get(t)
	}
	if n := must(s.Unread(ctx, app, "b", c2c)).get(t); n != 3 {
		t.Fatalf("unread b = %d", n)
	}
	if n := must(s.Unread(ctx, app, "a", c2c)).get(t); n != 0 {
		t.Fatalf("unread a = %d", n)
	}
	if cur := must(s.MarkRead(ctx, app, "b", c2c, 2)).get(t); cur != 2 {
		t.Fatalf("cursor %d", cur)
	}
	if cur := must(s.MarkRead(ctx, app, "b", c2c, 1)).get(t); cur != 2 { // monotonic
		t.Fatalf("cursor moved back to %d", cur)
	}
	if cur := must(s.MarkRead(ctx, app, "b", c2c, 99)).get(t); cur != 3 { // clamped
		t.Fatalf("cursor %d past last", cur)
	}
	if n := must(s.Unread(ctx, app, "b", c2c)).get(t); n != 0 {
		t.Fatalf("unread after read = %d", n)
	}
	if rb := must(s.ReadBy(ctx, app, c2c, 3)).get(t); len(rb) != 1 || rb[0] != "b" {
		t.Fatalf("readBy = %v", rb)
	}

	must(s.CreateGroup(ctx, app, "own", im.GroupSpec{ID: "w", Type: im.Work})).get(t)
	must(s.InviteMember(ctx, app, "own", "w", "x")).get(t)
	must(s.InviteMember(ctx, app, "own", "w", "y")).get(t)
	must(s.Send(ctx, app, "own", im.Target{Group: "w"}, text("hello"))).get(t)
	must(s.MarkRead(ctx, app, "x", im.GroupConv("w"), 1)).get(t)
	if rb := must(s.ReadBy(ctx, app, im.GroupConv("w"), 1)).get(t); len(rb) != 1 || rb[0] != "x" {
		t.Fatalf("group readBy = %v", rb)
	}
	if n := must(s.Unread(ctx, app, "y", im.GroupConv("w"))).get(t); n != 1 {
		t.Fatalf("group unread = %d", n)
	}
	must(s.CreateGroup(ctx, app, "own", im.GroupSpec{ID: "c", Type: im.Community})).get(t)
	must(s.Send(ctx, app, "own", im.Target{Group: "c"}, text("hello"))).get(t)
	_, err := s.ReadBy(ctx, app, im.GroupConv("c"), 1)
	wantErr(t, err, im.ErrNotSupported, 90403)
	if _, err := im.New(nil, im.Options{}); err == nil {
		t.Fatal("nil store accepted")
	}
	cs := must(s.Conversations(ctx, app, "own")).get(t)
	if len(cs) != 2 || cs[1].Conv != im.GroupConv("w") || cs[1].LastSeq != 1 {
		t.Fatalf("conversations = %+v", cs)
	}
}

func TestExtensions(t *testing.T) {
	s, _, ctx := setup(t, im.Options{})
	must(s.CreateGroup(ctx, app, "own", im.GroupSpec{ID: "g", Type: im.Work})).get(t)
	must(s.InviteMember(ctx, app, "own", "g", "u")).get(t)
	conv := im.GroupConv("g")
	must(s.Send(ctx, app, "own", im.Target{Group: "g"}, text("vote"))).get(t)
	if err := s.SetExtensions(ctx, app, "own", conv, 1, map[string]string{"k": "own", "z": "1"}); err != nil {
		t.Fatal(err)
	}
	err := s.SetExtensions(ctx, app, "u", conv, 1, map[string]string{"k": "u", "new": "v"})
	wantErr(t, err, im.ErrExtensionConflict, 23001)
	if err := s.SetExtensions(ctx, app, "u", conv, 1, map[string]string{"k": "own"}); err != nil {
		t.Fatalf("same value is no conflict: %v", err)
	}
	kv := must(s.Extensions(ctx, app, "u", conv, 1)).get(t)
	if len(kv) != 3 || kv["k"] != "own" || kv["new"] != "v" {
		t.Fatalf("extensions = %v", kv)
	}
	big := map[string]string{}
	for i := range 21 {
		big[fmt.Sprint("k", i)] = "v"
	}
	wantErr(t, s.SetExtensions(ctx, app, "u", conv, 1, big), im.ErrExtensionLimit, 90413)
	wantErr(t, s.SetExtensions(ctx, app, "u", conv, 1, map[string]string{strings.Repeat("k", 101): "v"}), im.ErrInvalidArgument, 10004)
	wantErr(t, s.SetExtensions(ctx, app, "u", conv, 1, map[string]string{"k2": strings.Repeat("v", 1025)}), im.ErrInvalidArgument, 10004)
	for i := range 15 { // 3 + 15*20 > 300
		m := map[string]string{}
		for j := range 20 {
			m[fmt.Sprint("b", i, "-", j)] = "v"
		}
		err = s.SetExtensions(ctx, app, "u", conv, 1, m)
		if i < 14 && err != nil {
			t.Fatalf("batch %d: %v", i, err)
		}
	}
	wantErr(t, err, im.ErrExtensionLimit, 90413)
	wantErr(t, s.SetExtensions(ctx, app, "u", conv, 9, map[string]string{"a": "b"}), im.ErrMessageNotFound, 90404)
	must(s.CreateGroup(ctx, app, "own", im.GroupSpec{ID: "av", Type: im.AVChatRoom})).get(t)
	wantErr(t, s.SetExtensions(ctx, app, "own", im.GroupConv("av"), 1, map[string]string{"a": "b"}), im.ErrNotSupported, 90403)
}

func TestAVChatRoomNotStored(t *testing.T) {
	s, _, ctx := setup(t, im.Options{})
	must(s.CreateGroup(ctx, app, "own", im.GroupSpec{ID: "live", Type: im.AVChatRoom})).get(t)
	for i := 1; i <= 3; i++ {
		st := must(s.Send(ctx, app, "own", im.Target{Group: "live"}, text("x"))).get(t)
		if st.Seq != int64(i) {
			t.Fatalf("in-memory seq %d, want %d", st.Seq, i)
		}
	}
	_, err := s.Sync(ctx, app, "own", im.GroupConv("live"), 0, 10)
	wantErr(t, err, im.ErrNotSupported, 90403)
	_, err = s.Recall(ctx, app, "own", im.GroupConv("live"), 1)
	wantErr(t, err, im.ErrNotSupported, 90403)
	cs := must(s.Conversations(ctx, app, "own")).get(t)
	if len(cs) != 1 || cs[0].LastSeq != 0 || cs[0].Unread != 0 {
		t.Fatalf("nothing stored, conversations = %+v", cs)
	}
}

// proves RETAIN-3 and RIGHTS-1/3: a day's messages drop as a whole; a
// user's content is erased with tombstones kept, and sync stays gap-free.
func TestDropDayAndErase(t *testing.T) {
	s, clk, ctx := setup(t, im.Options{})
	conv := im.C2CConv("a", "b")
	must(s.Send(ctx, app, "a", im.Target{User: "b"}, text("day1-a"))).get(t)
	must(s.Send(ctx, app, "b", im.Target{User: "a"}, text("day1-b"))).get(t)
	clk.Add(24 * time.Hour)
	must(s.Send(ctx, app, "a", im.Target{User: "b"}, text("day2-a"))).get(t)
	must(s.Send(ctx, app, "b", im.Target{User: "a"}, text("day2-b"))).get(t)
	if n := must(s.DropDay(ctx, app, clk.Now().Add(-24*time.Hour))).get(t); n != 2 {
		t.Fatalf("dropped %d", n)
	}
	if got := texts(must(s.Sync(ctx, app, "a", conv, 0, 10)).get(t)); got != "3:day2-a 4:day2-b" {
		t.Fatalf("after drop: %s", got)
	}
	if st := must(s.Send(ctx, app, "a", im.Target{User: "b"}, text("next"))).get(t); st.Seq != 5 {
		t.Fatalf("seq reused: %d", st.Seq)
	}
	if n := must(s.EraseUserMessages(ctx, app, "a")).get(t); n != 2 {
		t.Fatalf("erased %d", n)
	}
	rs := must(s.Sync(ctx, app, "b", conv, 0, 10)).get(t)
	if texts(rs) != "3:erased 4:day2-b 5:erased" || rs[0].Sender != "" {
		t.Fatalf("after erase: %s %+v", texts(rs), rs[0])
	}
}

// A property test: random interleavings of sends and reconnecting clients
// that sync from their last seen seq deliver every message exactly once,
// in order, with no gap.
func TestPropertySyncExactlyOnce(t *testing.T) {
	for seed := range uint64(6) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			r := rand.New(rand.NewPCG(seed, 42))
			s, _, ctx := setup(t, im.Options{GroupRate: 1e6})
			must(s.CreateGroup(ctx, app, "u0", im.GroupSpec{ID: "g", Type: im.Meeting})).get(t)
			users := []string{"u0", "u1", "u2", "u3"}
			for _, u := range users[1:] {
				must(s.JoinGroup(ctx, app, u, "g")).get(t)
			}
			conv := im.GroupConv("g")
			seen := map[string][]int64{}
			last := map[string]int64{}
			sent := 0
			for range 200 {
				u := users[r.IntN(len(users))]
				switch r.IntN(3) {
				case 0, 1:
					m := text(fmt.Sprint(sent))
					m.ClientMsgID = fmt.Sprint("c", sent)
					if r.IntN(5) == 0 && sent > 0 { // a retry of an earlier send
						m.ClientMsgID = fmt.Sprint("c", r.IntN(sent))
					}
					st := must(s.Send(ctx, app, u, im.Target{Group: "g"}, m)).get(t)
					if !st.Duplicate {
						sent++
					}
				case 2: // reconnect and catch up with a random page size
					for {
						rs := must(s.Sync(ctx, app, u, conv, last[u], 1+r.IntN(7))).get(t)
						if len(rs) == 0 {
							break
						}
						for _, rec := range rs {
							seen[u] = append(seen[u], rec.Seq)
							last[u] = rec.Seq
						}
					}
				}
			}
			for _, u := range users {
				for {
					rs := must(s.Sync(ctx, app, u, conv, last[u], 50)).get(t)
					if len(rs) == 0 {
						break
					}
					for _, rec := range rs {
						seen[u] = append(seen[u], rec.Seq)
						last[u] = rec.Seq
					}
				}
				if len(seen[u]) != sent {
					t.Fatalf("%s got %d messages, %d sent", u, len(seen[u]), sent)
				}
				for i, q := range seen[u] {
					if q != int64(i+1) {
						t.Fatalf("%s: position %d has seq %d", u, i, q)
					}
				}
			}
		})
	}
}

// Membership answers are cached for sends, but every change through the
// service takes effect on the next send: mute, unmute, role, kick.
func TestMemberCacheInvalidation(t *testing.T) {
	s, _, ctx := setup(t, im.Options{})
	if _, err := s.CreateGroup(ctx, app, "own", im.GroupSpec{ID: "g", Type: im.Public}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.InviteMember(ctx, app, "own", "g", "u"); err != nil {
		t.Fatal(err)
	}
	send := func() error {
		_, err := s.Send(ctx, app, "u", im.Target{Group: "g"}, text("x"))
		return err
	}
	if err := send(); err != nil { // warms the cache
		t.Fatal(err)
	}
	if err := s.MuteMember(ctx, app, "own", "g", "u", time.Hour); err != nil {
		t.Fatal(err)
	}
	wantErr(t, send(), im.ErrMuted, 10017)
	if err := s.MuteMember(ctx, app, "own", "g", "u", 0); err != nil {
		t.Fatal(err)
	}
	if err := send(); err != nil {
		t.Fatalf("after unmute: %v", err)
	}
	if err := s.SetRole(ctx, app, "own", "g", "u", im.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	if _, err := s.InviteMember(ctx, app, "u", "g", "v"); err != nil { // admins invite to Public groups
		t.Fatalf("the new admin's invite: %v", err)
	}
	if err := s.KickMember(ctx, app, "own", "g", "u"); err != nil {
		t.Fatal(err)
	}
	wantErr(t, send(), im.ErrNotMember, 10007)
}
