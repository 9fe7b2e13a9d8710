package sqlite

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/parley-rtc/parley/internal/store"
)

// Renaming only touches active groups; member pages follow join order and
// agree with the count; a user's groups exclude dismissed ones.
func TestIMAdminGroupsAndMembers(t *testing.T) {
	db := openTest(t)
	ctx := testContext(t)
	for _, id := range []string{"g1", "g2", "g3"} {
		if err := db.CreateIMGroup(ctx, store.IMGroup{SDKAppID: 1, GroupID: id, Type: store.IMGroupWork, Owner: "own", CreatedAt: imT0}); err != nil {
			t.Fatal(err)
		}
	}
	for i := 1; i <= 4; i++ {
		m := store.IMMember{UserID: fmt.Sprint("u", i), Role: store.IMRoleMember, JoinedAt: imT0.Add(time.Duration(i) * time.Second)}
		if _, err := db.AddIMMember(ctx, 1, "g1", m); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.AddIMMember(ctx, 1, "g3", store.IMMember{UserID: "u1", Role: store.IMRoleMember, JoinedAt: imT0.Add(-time.Second)}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.AddIMMember(ctx, 1, "g2", store.IMMember{UserID: "u1", Role: store.IMRoleMember, JoinedAt: imT0}); err != nil {
		t.Fatal(err)
	}
	if err := db.DismissIMGroup(ctx, 1, "g2", imT0); err != nil {
		t.Fatal(err)
	}

	if err := db.SetIMGroupName(ctx, 1, "g1", "renamed"); err != nil {
		t.Fatal(err)
	}
	if g, _ := db.GetIMGroup(ctx, 1, "g1"); g.Name != "renamed" {
		t.Fatalf("name = %q", g.Name)
	}
	for _, id := range []string{"g2", "absent"} {
		if err := db.SetIMGroupName(ctx, 1, id, "x"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("rename %s: %v, want ErrNotFound", id, err)
		}
	}

	ids := func(ms []store.IMMember) string {
		var b []string
		for _, m := range ms {
			b = append(b, m.UserID)
		}
		return strings.Join(b, ",")
	}
	for _, c := range []struct {
		offset, limit int
		want          string
	}{{0, 2, "own,u1"}, {2, 2, "u2,u3"}, {4, 10, "u4"}, {9, 10, ""}, {0, 0, ""}} {
		ms, total, err := db.ListIMMembersPage(ctx, 1, "g1", c.offset, c.limit)
		if err != nil || total != 5 || ids(ms) != c.want {
			t.Fatalf("page %d+%d = %q total %d err %v, want %q total 5", c.offset, c.limit, ids(ms), total, err, c.want)
		}
	}
	if _, _, err := db.ListIMMembersPage(ctx, 1, "g1", -1, 1); err == nil {
		t.Fatal("negative offset accepted")
	}
	if ms, total, err := db.ListIMMembersPage(ctx, 1, "absent", 0, 10); err != nil || total != 0 || len(ms) != 0 {
		t.Fatalf("absent group: %v %d %v", ms, total, err)
	}

	gs, err := db.ListIMUserGroups(ctx, 1, "u1")
	if err != nil {
		t.Fatal(err)
	}
	if len(gs) != 2 || gs[0].GroupID != "g3" || gs[1].GroupID != "g1" || gs[1].Name != "renamed" || gs[1].Owner != "own" ||
		gs[1].Type != store.IMGroupWork || !gs[1].CreatedAt.Equal(imT0) {
		t.Fatalf("groups of u1 = %+v, want g3 then g1 (join order), not the dismissed g2", gs)
	}
	if gs, _ := db.ListIMUserGroups(ctx, 2, "u1"); len(gs) != 0 {
		t.Fatalf("other app: %+v", gs)
	}
}

// Client-id lookup, the cursor compare-and-set, and settling a group
// import (members caught up, a non-member sender's cursor dropped).
func TestIMAdminCursorsAndLookup(t *testing.T) {
	db := openTest(t)
	ctx := testContext(t)
	if err := db.CreateIMGroup(ctx, store.IMGroup{SDKAppID: 1, GroupID: "g", Type: store.IMGroupWork, Owner: "own", CreatedAt: imT0}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.AddIMMember(ctx, 1, "g", store.IMMember{UserID: "m", Role: store.IMRoleMember, JoinedAt: imT0}); err != nil {
		t.Fatal(err)
	}
	for i, sender := range []string{"own", "outsider", "own"} {
		if _, _, err := db.AppendIMMessage(ctx, store.IMMessage{SDKAppID: 1, ConvID: "group:g", Sender: sender,
			ClientMsgID: fmt.Sprint("c", i), At: imT0, Body: []byte("x")}, nil); err != nil {
			t.Fatal(err)
		}
	}
	m, err := db.FindIMMessageByClientID(ctx, 1, "group:g", "outsider", "c1")
	if err != nil || m.Seq != 2 || m.Sender != "outsider" {
		t.Fatalf("find = %+v, %v", m, err)
	}
	for _, k := range [][2]string{{"own", "c1"}, {"outsider", "c9"}} {
		if _, err := db.FindIMMessageByClientID(ctx, 1, "group:g", k[0], k[1]); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("find %v: %v, want ErrNotFound", k, err)
		}
	}

	unread := func(user string) map[string]int64 {
		t.Helper()
		cs, err := db.IMConversations(ctx, 1, user)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]int64{}
		for _, c := range cs {
			out[c.ConvID] = c.Unread
		}
		return out
	}
	if u := unread("outsider"); len(u) != 1 {
		t.Fatalf("outsider's cursors before settling: %v", u)
	}
	if u := unread("m"); u["group:g"] != 3 {
		t.Fatalf("m unread = %v", u)
	}
	if err := db.SettleIMGroupImport(ctx, 1, "g", 0); err != nil {
		t.Fatal(err)
	}
	if u := unread("outsider"); len(u) != 0 {
		t.Fatalf("outsider keeps a cursor: %v", u)
	}
	if u := unread("m"); u["group:g"] != 3 {
		t.Fatalf("settle with seq 0 moved m's cursor: %v", u)
	}
	if err := db.SettleIMGroupImport(ctx, 1, "g", 2); err != nil {
		t.Fatal(err)
	}
	if u := unread("m"); u["group:g"] != 1 {
		t.Fatalf("m unread after settling to 2 = %v, want 1", u)
	}

	// C2C: the compare-and-set moves the cursor only from the given seq.
	for range 2 {
		if _, _, err := db.AppendIMMessage(ctx, store.IMMessage{SDKAppID: 1, ConvID: "c2c:a|b", Sender: "a", At: imT0, Body: []byte("x")}, []string{"b"}); err != nil {
			t.Fatal(err)
		}
	}
	if ok, err := db.CatchUpIMCursor(ctx, 1, "c2c:a|b", "b", 1, 2); err != nil || ok {
		t.Fatalf("CAS from a stale seq: moved %v, %v", ok, err)
	}
	if ok, err := db.CatchUpIMCursor(ctx, 1, "c2c:a|b", "b", 0, 1); err != nil || !ok {
		t.Fatalf("CAS from the current seq: moved %v, %v", ok, err)
	}
	if u := unread("b"); u["c2c:a|b"] != 1 {
		t.Fatalf("b unread = %v, want 1", u)
	}
	if ok, err := db.CatchUpIMCursor(ctx, 1, "c2c:a|b", "nobody", 0, 1); err != nil || ok {
		t.Fatalf("CAS without a cursor: moved %v, %v", ok, err)
	}
}
