package sqlite

import (
	"context"
	"errors"
	"fmt"
	"strings"
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

// A batch spanning several conversations allocates each conversation's
// seqs contiguously, continuing after rows appended one at a time, and
// sets cursors as AppendIMMessage does.
func TestIMAppendBatchSeqs(t *testing.T) {
	db := openTest(t)
	ctx := testContext(t)
	if _, _, err := db.AppendIMMessage(ctx, store.IMMessage{SDKAppID: 1, ConvID: "group:g", Sender: "o", At: imT0, Body: []byte("x")}, nil); err != nil {
		t.Fatal(err)
	}
	var batch []store.IMAppend
	for i := range 9 {
		a := store.IMAppend{Msg: store.IMMessage{SDKAppID: 1, ConvID: "group:g", Sender: "o", At: imT0,
			ClientMsgID: fmt.Sprint("g", i), Body: []byte(fmt.Sprint(i))}}
		if i%3 == 1 {
			a = store.IMAppend{Msg: store.IMMessage{SDKAppID: 1, ConvID: "c2c:a|b", Sender: "a", At: imT0,
				ClientMsgID: fmt.Sprint("c", i), Body: []byte(fmt.Sprint(i))}, Parties: []string{"a", "b"}}
		}
		if i%3 == 2 {
			a.Msg.SDKAppID = 2 // same conversation id in another app: its own counter
		}
		batch = append(batch, a)
	}
	rs, err := db.AppendIMMessages(ctx, batch)
	if err != nil || len(rs) != len(batch) {
		t.Fatalf("batch = %d results, %v", len(rs), err)
	}
	next := map[string]int64{"1 group:g": 2, "2 group:g": 1, "1 c2c:a|b": 1}
	for i, r := range rs {
		k := fmt.Sprint(batch[i].Msg.SDKAppID, " ", batch[i].Msg.ConvID)
		if r.Err != nil || r.Duplicate || r.Msg.Seq != next[k] || string(r.Msg.Body) != fmt.Sprint(i) || !r.Msg.At.Equal(imT0) {
			t.Fatalf("item %d (%s) = %+v, want seq %d", i, k, r, next[k])
		}
		next[k]++
		got, err := db.GetIMMessage(ctx, r.Msg.SDKAppID, r.Msg.ConvID, r.Msg.Seq)
		if err != nil || string(got.Body) != fmt.Sprint(i) || got.ClientMsgID != batch[i].Msg.ClientMsgID {
			t.Fatalf("stored item %d = %+v, %v", i, got, err)
		}
	}
	for k, want := range map[string]int64{"group:g": 4, "c2c:a|b": 3} {
		if last, err := db.IMLastSeq(ctx, 1, k); err != nil || last != want {
			t.Fatalf("last seq of %s = %d, %v; want %d", k, last, err, want)
		}
	}
	// Cursors: the sender has read its last message, the peer got a cursor
	// at 0 and sees the conversation's messages as unread.
	for user, want := range map[string]store.IMConvState{
		"a": {ConvID: "c2c:a|b", LastSeq: 3, ReadSeq: 3, Unread: 0},
		"b": {ConvID: "c2c:a|b", LastSeq: 3, ReadSeq: 0, Unread: 3},
		"o": {ConvID: "group:g", LastSeq: 4, ReadSeq: 4, Unread: 0},
	} {
		cs, err := db.IMConversations(ctx, 1, user)
		if err != nil || len(cs) != 1 || cs[0] != want {
			t.Fatalf("conversations of %s = %+v, %v; want %+v", user, cs, err, want)
		}
	}
	if rs, err := db.AppendIMMessages(ctx, nil); err != nil || len(rs) != 0 {
		t.Fatalf("empty batch = %v, %v", rs, err)
	}
}

// A ClientMsgID is deduplicated against rows of earlier transactions and
// against earlier items of the same batch.
func TestIMAppendBatchDedupe(t *testing.T) {
	db := openTest(t)
	ctx := testContext(t)
	msg := func(id, body string) store.IMAppend {
		return store.IMAppend{Msg: store.IMMessage{SDKAppID: 1, ConvID: "group:g", Sender: "s", ClientMsgID: id, At: imT0, Body: []byte(body)}}
	}
	first, _, err := db.AppendIMMessage(ctx, msg("old", "1").Msg, nil)
	if err != nil {
		t.Fatal(err)
	}
	other := msg("new", "x")
	other.Msg.Sender = "t" // another sender's id space
	rs, err := db.AppendIMMessages(ctx, []store.IMAppend{msg("old", "retry"), msg("new", "2"), msg("new", "retry"), other, msg("", "3"), msg("", "4")})
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		seq  int64
		dup  bool
		body string
	}{{1, true, "1"}, {2, false, "2"}, {2, true, "2"}, {3, false, "x"}, {4, false, "3"}, {5, false, "4"}}
	for i, w := range want {
		if r := rs[i]; r.Err != nil || r.Msg.Seq != w.seq || r.Duplicate != w.dup || string(r.Msg.Body) != w.body {
			t.Fatalf("item %d = %+v, want %+v", i, r, w)
		}
	}
	if rs[0].Msg.Seq != first.Seq || !rs[0].Msg.At.Equal(first.At) {
		t.Fatalf("duplicate %+v is not the original %+v", rs[0].Msg, first)
	}
	if last, err := db.IMLastSeq(ctx, 1, "group:g"); err != nil || last != 5 {
		t.Fatalf("last seq = %d, %v", last, err)
	}
}

// A failing item is rolled back alone: it stores nothing, consumes no seq
// and moves no cursor, and the items around it commit.
func TestIMAppendBatchItemFailure(t *testing.T) {
	db := openTest(t)
	ctx := testContext(t)
	msg := func(sender, id string) store.IMAppend {
		return store.IMAppend{Msg: store.IMMessage{SDKAppID: 1, ConvID: "c2c:a|b", Sender: sender, ClientMsgID: id, At: imT0, Body: []byte(id)},
			Parties: []string{"a", "b"}}
	}
	noApp := msg("a", "z")
	noApp.Msg.SDKAppID = 0
	// A client id over 128 bytes passes the Go checks, allocates a seq and
	// then fails the im_messages CHECK: only the savepoint undoes the seq.
	tooLong := msg("b", strings.Repeat("x", 129))
	rs, err := db.AppendIMMessages(ctx, []store.IMAppend{msg("a", "1"), tooLong, msg("", "e"), noApp, msg("a", "2")})
	if err != nil || len(rs) != 5 {
		t.Fatalf("batch = %v, %v", rs, err)
	}
	for i, seq := range map[int]int64{0: 1, 4: 2} {
		if rs[i].Err != nil || rs[i].Msg.Seq != seq {
			t.Fatalf("item %d = %+v, want seq %d", i, rs[i], seq)
		}
	}
	if err := rs[1].Err; err == nil || !strings.Contains(err.Error(), "CHECK constraint failed") || rs[1].Msg.Seq != 0 {
		t.Fatalf("over-long client id = %+v", rs[1])
	}
	for _, i := range []int{2, 3} {
		if !errors.Is(rs[i].Err, errAppendInvalid) || rs[i].Msg.Seq != 0 {
			t.Fatalf("item %d = %+v, want %v", i, rs[i], errAppendInvalid)
		}
	}
	ms, err := db.ListIMMessages(ctx, 1, "c2c:a|b", store.IMRange{Limit: 10})
	if err != nil || len(ms) != 2 || string(ms[0].Body) != "1" || string(ms[1].Body) != "2" {
		t.Fatalf("stored %+v, %v", ms, err)
	}
	// b's failed send left b's cursor where the peer cursor put it.
	cs, err := db.IMConversations(ctx, 1, "b")
	if err != nil || len(cs) != 1 || cs[0].ReadSeq != 0 || cs[0].Unread != 2 {
		t.Fatalf("conversations of b = %+v, %v", cs, err)
	}
	m, _, err := db.AppendIMMessage(ctx, msg("b", "3").Msg, nil)
	if err != nil || m.Seq != 3 {
		t.Fatalf("next append = %+v, %v", m, err)
	}
	// A batch of one takes a path without savepoints: its failure is still
	// the item's, not the batch's, and still consumes no seq.
	for _, a := range []store.IMAppend{tooLong, noApp} {
		rs, err := db.AppendIMMessages(ctx, []store.IMAppend{a})
		if err != nil || len(rs) != 1 || rs[0].Err == nil || rs[0].Msg.Seq != 0 {
			t.Fatalf("single failing item = %+v, %v", rs, err)
		}
	}
	rs, err = db.AppendIMMessages(ctx, []store.IMAppend{msg("b", "3")})
	if err != nil || len(rs) != 1 || rs[0].Err != nil || !rs[0].Duplicate || rs[0].Msg.Seq != 3 {
		t.Fatalf("single retry = %+v, %v", rs, err)
	}
	rs, err = db.AppendIMMessages(ctx, []store.IMAppend{msg("b", "4")})
	if err != nil || len(rs) != 1 || rs[0].Err != nil || rs[0].Duplicate || rs[0].Msg.Seq != 4 {
		t.Fatalf("single append = %+v, %v", rs, err)
	}
}

// A batch whose transaction cannot start stores nothing and reports one
// error for the whole batch.
func TestIMAppendBatchError(t *testing.T) {
	db := openTest(t)
	ctx, cancel := context.WithCancel(testContext(t))
	cancel()
	a := store.IMAppend{Msg: store.IMMessage{SDKAppID: 1, ConvID: "group:g", Sender: "s", At: imT0}}
	for _, batch := range [][]store.IMAppend{{a}, {a, a}} {
		rs, err := db.AppendIMMessages(ctx, batch)
		if !errors.Is(err, context.Canceled) || rs != nil {
			t.Fatalf("cancelled batch of %d = %v, %v", len(batch), rs, err)
		}
	}
	if last, err := db.IMLastSeq(testContext(t), 1, "group:g"); err != nil || last != 0 {
		t.Fatalf("last seq = %d, %v", last, err)
	}
}
