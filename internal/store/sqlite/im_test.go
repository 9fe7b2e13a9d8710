package sqlite

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/parley-rtc/parley/internal/store"
)

var imT0 = time.Date(2026, 3, 1, 23, 59, 0, 0, time.UTC)

// The same ClientMsgID sent concurrently is stored once; distinct ones get
// unique, gap-free seqs.
func TestIMAppendConcurrentDedupe(t *testing.T) {
	db := openTest(t)
	ctx := testContext(t)
	var wg sync.WaitGroup
	var mu sync.Mutex
	seqs := map[int64]int{}
	dups := 0
	for i := range 20 {
		wg.Go(func() {
			m, dup, err := db.AppendIMMessage(ctx, store.IMMessage{SDKAppID: 1, ConvID: "group:g", Sender: "s",
				ClientMsgID: fmt.Sprint("c", i%10), At: imT0, Body: []byte("x")}, nil)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			seqs[m.Seq]++
			if dup {
				dups++
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	if len(seqs) != 10 || dups != 10 {
		t.Fatalf("seqs %v dups %d", seqs, dups)
	}
	for q := int64(1); q <= 10; q++ {
		if seqs[q] != 2 {
			t.Fatalf("seq %d seen %d times", q, seqs[q])
		}
	}
}

// proves RETAIN-3: a day drops as a whole, per app or for all apps, with
// the extensions of its messages; seqs are never reused.
func TestIMDropDay(t *testing.T) {
	db := openTest(t)
	ctx := testContext(t)
	for _, at := range []time.Time{imT0, imT0, imT0.Add(2 * time.Minute)} { // 2 on day 1, 1 on day 2
		for _, app := range []uint32{1, 2} {
			if _, _, err := db.AppendIMMessage(ctx, store.IMMessage{SDKAppID: app, ConvID: "c2c:a|b", Sender: "a", At: at, Body: []byte("x")}, []string{"b"}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if c, err := db.SetIMExtensions(ctx, 1, "c2c:a|b", 1, "a", imT0, map[string]string{"k": "v"}, 300); err != nil || c != nil {
		t.Fatal(c, err)
	}
	if n, err := db.DropIMDay(ctx, 1, imT0); err != nil || n != 2 {
		t.Fatalf("drop app 1 = %d, %v", n, err)
	}
	if n, err := db.DropIMDay(ctx, 0, imT0); err != nil || n != 2 {
		t.Fatalf("drop all = %d, %v", n, err)
	}
	var ext int
	if err := db.read.QueryRowContext(ctx, `SELECT count(*) FROM im_extensions`).Scan(&ext); err != nil || ext != 0 {
		t.Fatalf("extensions left %d, %v", ext, err)
	}
	ms, err := db.ListIMMessages(ctx, 1, "c2c:a|b", store.IMRange{Limit: 10})
	if err != nil || len(ms) != 1 || ms[0].Seq != 3 {
		t.Fatalf("left %+v, %v", ms, err)
	}
	m, _, err := db.AppendIMMessage(ctx, store.IMMessage{SDKAppID: 1, ConvID: "c2c:a|b", Sender: "b", At: imT0, Body: []byte("y")}, nil)
	if err != nil || m.Seq != 4 {
		t.Fatalf("next seq %d, %v", m.Seq, err)
	}
}

// proves RIGHTS-1/RIGHTS-3: erasure removes content, sender, extensions
// and cursors, keeps the seq as a tombstone, and leaves other users alone.
func TestIMEraseUser(t *testing.T) {
	db := openTest(t)
	ctx := testContext(t)
	for i, s := range []string{"a", "b", "a"} {
		if _, _, err := db.AppendIMMessage(ctx, store.IMMessage{SDKAppID: 1, ConvID: "c2c:a|b", Sender: s,
			ClientMsgID: fmt.Sprint(i), At: imT0, Body: []byte("secret"), CloudCustomData: "cc"}, []string{"a", "b"}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.SetIMExtensions(ctx, 1, "c2c:a|b", 1, "b", imT0, map[string]string{"k": "v"}, 300); err != nil {
		t.Fatal(err)
	}
	n, err := db.EraseIMUser(ctx, 1, "a")
	if err != nil || n != 2 {
		t.Fatalf("erase = %d, %v", n, err)
	}
	ms, err := db.ListIMMessages(ctx, 1, "c2c:a|b", store.IMRange{Limit: 10})
	if err != nil || len(ms) != 3 {
		t.Fatal(ms, err)
	}
	for _, m := range []store.IMMessage{ms[0], ms[2]} {
		if !m.Erased || m.Sender != "" || len(m.Body) != 0 || m.CloudCustomData != "" || m.ClientMsgID != "" {
			t.Fatalf("not erased: %+v", m)
		}
	}
	if ms[1].Erased || string(ms[1].Body) != "secret" {
		t.Fatalf("other user's message touched: %+v", ms[1])
	}
	kv, err := db.IMExtensions(ctx, 1, "c2c:a|b", 1)
	if err != nil || len(kv) != 0 {
		t.Fatalf("extensions on erased message: %v %v", kv, err)
	}
	cs, err := db.IMConversations(ctx, 1, "a")
	if err != nil || len(cs) != 0 {
		t.Fatalf("cursors of erased user: %v %v", cs, err)
	}
	if _, err := db.RecallIMMessage(ctx, 1, "c2c:a|b", 1, "x", imT0); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("recall erased: %v", err)
	}
}

func TestIMGroupsAndMembers(t *testing.T) {
	db := openTest(t)
	ctx := testContext(t)
	g := store.IMGroup{SDKAppID: 1, GroupID: "g", Type: store.IMGroupPublic, Name: "n", Owner: "o", CreatedAt: imT0}
	if err := db.CreateIMGroup(ctx, g); err != nil {
		t.Fatal(err)
	}
	if err := db.CreateIMGroup(ctx, g); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("dup group: %v", err)
	}
	if got, err := db.GetIMGroup(ctx, 1, "g"); err != nil || got != g {
		t.Fatalf("get = %+v, %v", got, err)
	}
	for range 2 {
		if _, _, err := db.AppendIMMessage(ctx, store.IMMessage{SDKAppID: 1, ConvID: "group:g", Sender: "o", At: imT0, Body: []byte("x")}, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.AddIMJoinRequest(ctx, 1, "g", "u", imT0); err != nil {
		t.Fatal(err)
	}
	m, err := db.AddIMMember(ctx, 1, "g", store.IMMember{UserID: "u", Role: store.IMRoleMember, JoinedAt: imT0})
	if err != nil || m.JoinSeq != 3 {
		t.Fatalf("add = %+v, %v", m, err)
	}
	if rs, err := db.ListIMJoinRequests(ctx, 1, "g"); err != nil || len(rs) != 0 {
		t.Fatalf("request not consumed: %v %v", rs, err)
	}
	if _, err := db.AddIMMember(ctx, 1, "g", m); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("dup member: %v", err)
	}
	m.MutedUntil = imT0.Add(time.Hour)
	if err := db.UpdateIMMember(ctx, 1, "g", m); err != nil {
		t.Fatal(err)
	}
	if got, err := db.GetIMMember(ctx, 1, "g", "u"); err != nil || !got.MutedUntil.Equal(m.MutedUntil) {
		t.Fatalf("get member = %+v, %v", got, err)
	}
	if err := db.DismissIMGroup(ctx, 1, "g", imT0); err != nil {
		t.Fatal(err)
	}
	if err := db.DismissIMGroup(ctx, 1, "g", imT0); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("dismiss twice: %v", err)
	}
	if ms, err := db.ListIMMembers(ctx, 1, "g"); err != nil || len(ms) != 0 {
		t.Fatalf("members after dismiss: %v %v", ms, err)
	}
	if _, err := db.AddIMMember(ctx, 1, "g", m); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("join dismissed: %v", err)
	}
}
