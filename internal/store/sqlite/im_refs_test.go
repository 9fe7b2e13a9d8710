package sqlite

import (
	"bytes"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parley-rtc/parley/internal/keyring"
	"github.com/parley-rtc/parley/internal/store"
)

// The stored conversation id keeps the clear id's order and maps back;
// group ids are stored as they are; anything else is refused.
func TestIMStoredConv(t *testing.T) {
	db := openTest(t)
	ctx := testContext(t)
	if err := db.ensureKeys(ctx, 1, "a", "b"); err != nil {
		t.Fatal(err)
	}
	stored, err := db.storedConv(1, "c2c:a|b")
	if err != nil || stored != "c2c:"+db.UserRef(1, "a")+"|"+db.UserRef(1, "b") || len(stored) != 51 {
		t.Fatalf("stored = %q, %v", stored, err)
	}
	if other, _ := db.storedConv(2, "c2c:a|b"); other == stored {
		t.Fatal("the same conversation has the same stored id in two apps")
	}
	if conv, err := db.clearConv(ctx, db.read, 1, stored); err != nil || conv != "c2c:a|b" {
		t.Fatalf("clear = %q, %v", conv, err)
	}
	if g, err := db.storedConv(1, "group:g|x"); err != nil || g != "group:g|x" {
		t.Fatalf("group = %q, %v", g, err)
	}
	for _, bad := range []string{"c2c:a", "c2c:|b", "c2c:a|", "dm:a|b", ""} {
		if _, err := db.storedConv(1, bad); !errors.Is(err, errIMConv) {
			t.Fatalf("storedConv(%q) = %v, want errIMConv", bad, err)
		}
	}
	if _, err := db.ShredSubject(ctx, 1, "b"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.clearConv(ctx, db.read, 1, stored); !errors.Is(err, store.ErrErased) {
		t.Fatalf("clear with an erased party = %v, want ErrErased", err)
	}
}

// proves RIGHTS-3, RIGHTS-5: a raw scan of every file the store leaves
// (database, WAL, shared memory, keystore) finds no user id and no
// message content, after C2C and group messages, members, a join request,
// cursors, extensions and a recall.
func TestIMRawFileHoldsNoClearIDs(t *testing.T) {
	dir := t.TempDir()
	ctx := testContext(t)
	db, err := Open(ctx, filepath.Join(dir, "parley.db"), testOptions())
	if err != nil {
		t.Fatal(err)
	}
	const (
		alice, bob, carol, dave = "alice-raw-scan", "bob-raw-scan", "carol-raw-scan", "dave-raw-scan"
		c2c                     = "c2c:" + alice + "|" + bob
		group                   = "grp7"
	)
	secrets := []string{alice, bob, carol, dave,
		"c2c-text-ZEBRA-QUARTZ", "group-text-OSPREY-MAGMA", "recalled-text-HERON-BASALT",
		"cloud-data-LYNX-GARNET", "ext-value-IBIS-COBALT"}
	if err := db.CreateIMGroup(ctx, store.IMGroup{SDKAppID: 1, GroupID: group, Type: store.IMGroupPublic, Owner: alice, CreatedAt: imT0}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.AddIMMember(ctx, 1, group, store.IMMember{UserID: carol, Role: store.IMRoleMember, JoinedAt: imT0}); err != nil {
		t.Fatal(err)
	}
	if err := db.AddIMJoinRequest(ctx, 1, group, dave, imT0); err != nil {
		t.Fatal(err)
	}
	rs, err := db.AppendIMMessages(ctx, []store.IMAppend{
		{Msg: store.IMMessage{SDKAppID: 1, ConvID: c2c, Sender: alice, ClientMsgID: "m1", At: imT0,
			Body: []byte("c2c-text-ZEBRA-QUARTZ"), CloudCustomData: "cloud-data-LYNX-GARNET"}, Parties: []string{alice, bob}},
		{Msg: store.IMMessage{SDKAppID: 1, ConvID: c2c, Sender: bob, At: imT0, Body: []byte("recalled-text-HERON-BASALT")},
			Parties: []string{alice, bob}},
		{Msg: store.IMMessage{SDKAppID: 1, ConvID: "group:" + group, Sender: carol, At: imT0, Body: []byte("group-text-OSPREY-MAGMA")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		if r.Err != nil {
			t.Fatal(r.Err)
		}
	}
	if _, err := db.SetIMExtensions(ctx, 1, "group:"+group, 1, alice, imT0, map[string]string{"k": "ext-value-IBIS-COBALT"}, 10); err != nil {
		t.Fatal(err)
	}
	if _, err := db.RecallIMMessage(ctx, 1, c2c, 2, bob, imT0); err != nil {
		t.Fatal(err)
	}
	if _, err := db.MarkIMRead(ctx, 1, c2c, bob, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := db.MarkIMRead(ctx, 1, "group:"+group, dave, 1); err != nil {
		t.Fatal(err)
	}
	// Everything reads back in clear through the API.
	m, err := db.GetIMMessage(ctx, 1, c2c, 1)
	if err != nil || string(m.Body) != "c2c-text-ZEBRA-QUARTZ" || m.CloudCustomData != "cloud-data-LYNX-GARNET" || m.Sender != alice || m.ConvID != c2c {
		t.Fatalf("message 1 = %+v, %v", m, err)
	}
	if m, err := db.GetIMMessage(ctx, 1, c2c, 2); err != nil || !m.Recalled || m.RecalledBy != bob || m.Sender != bob || len(m.Body) != 0 {
		t.Fatalf("recalled = %+v, %v", m, err)
	}
	if cs, err := db.IMConversations(ctx, 1, bob); err != nil || len(cs) != 1 || cs[0].ConvID != c2c || cs[0].ReadSeq != 2 {
		t.Fatalf("conversations of bob = %+v, %v", cs, err)
	}
	if g, err := db.GetIMGroup(ctx, 1, group); err != nil || g.Owner != alice {
		t.Fatalf("group = %+v, %v", g, err)
	}
	if rq, err := db.ListIMJoinRequests(ctx, 1, group); err != nil || len(rq) != 1 || rq[0].UserID != dave {
		t.Fatalf("join requests = %+v, %v", rq, err)
	}
	if kv, err := db.IMExtensions(ctx, 1, "group:"+group, 1); err != nil || kv["k"] != "ext-value-IBIS-COBALT" {
		t.Fatalf("extensions = %v, %v", kv, err)
	}
	if err := db.Close(); err != nil { // checkpoints the WAL
		t.Fatal(err)
	}

	scanned := 0
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		scanned++
		for _, s := range secrets {
			if bytes.Contains(b, []byte(s)) {
				t.Errorf("%s holds %q in clear", filepath.Base(path), s)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if scanned < 2 { // the database and the keystore at least
		t.Fatalf("scanned %d files", scanned)
	}
}

// proves RIGHTS-3: destroying a sender's key (crypto-shredding) turns
// their messages into erased tombstones for their peers at once; history
// and sync keep every seq and fail nothing, the peer's own messages and
// extensions stay readable, and lists leave the erased user out. A new
// key for the same user id (the id reused) does not bring anything back.
func TestIMShredSender(t *testing.T) {
	db := openTest(t)
	ctx := testContext(t)
	const c2c = "c2c:alice|bob"
	if err := db.CreateIMGroup(ctx, store.IMGroup{SDKAppID: 1, GroupID: "g", Type: store.IMGroupPublic, Owner: "alice", CreatedAt: imT0}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.AddIMMember(ctx, 1, "g", store.IMMember{UserID: "bob", Role: store.IMRoleMember, JoinedAt: imT0.Add(time.Second)}); err != nil {
		t.Fatal(err)
	}
	send := func(conv, from, body string) store.IMMessage {
		t.Helper()
		m, _, err := db.AppendIMMessage(ctx, store.IMMessage{SDKAppID: 1, ConvID: conv, Sender: from, ClientMsgID: body,
			At: imT0, Body: []byte(body), CloudCustomData: "cc-" + body}, []string{"alice", "bob"})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	send(c2c, "alice", "a1")
	send(c2c, "bob", "b1")
	send(c2c, "alice", "a2")
	send(c2c, "alice", "a3")
	send("group:g", "alice", "ga1")
	send("group:g", "bob", "gb1")
	if _, err := db.RecallIMMessage(ctx, 1, c2c, 4, "alice", imT0); err != nil {
		t.Fatal(err)
	}
	if _, err := db.SetIMExtensions(ctx, 1, c2c, 2, "alice", imT0, map[string]string{"by-alice": "x"}, 10); err != nil {
		t.Fatal(err)
	}
	if _, err := db.SetIMExtensions(ctx, 1, c2c, 2, "bob", imT0, map[string]string{"by-bob": "y"}, 10); err != nil {
		t.Fatal(err)
	}
	if _, err := db.SetIMExtensions(ctx, 1, c2c, 1, "bob", imT0, map[string]string{"on-alice": "z"}, 10); err != nil {
		t.Fatal(err)
	}
	if ids, err := db.ShredSubject(ctx, 1, "alice"); err != nil || len(ids) != 1 {
		t.Fatalf("shred = %v, %v", ids, err)
	}

	n := 4 // messages in the C2C conversation
	check := func(stage string) {
		t.Helper()
		for _, newest := range []bool{false, true} {
			ms, err := db.ListIMMessages(ctx, 1, c2c, store.IMRange{Limit: 10, Newest: newest})
			if err != nil || len(ms) != n {
				t.Fatalf("%s: history (newest %v) = %+v, %v", stage, newest, ms, err)
			}
		}
		ms, err := db.ListIMMessages(ctx, 1, c2c, store.IMRange{After: 0, Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		for i, m := range ms {
			if m.Seq != int64(i+1) || m.ConvID != c2c {
				t.Fatalf("%s: sync %d = %+v", stage, i, m)
			}
			if m.Seq == 2 || m.Seq == 5 {
				if body := fmt.Sprint("b", m.Seq/2); m.Erased || m.Sender != "bob" || string(m.Body) != body || m.CloudCustomData != "cc-"+body {
					t.Fatalf("%s: bob's message = %+v", stage, m)
				}
				continue
			}
			if !m.Erased || m.Sender != "" || len(m.Body) != 0 || m.CloudCustomData != "" {
				t.Fatalf("%s: alice's message %d not a tombstone: %+v", stage, m.Seq, m)
			}
		}
		if !ms[3].Recalled || ms[3].RecalledBy != "" {
			t.Fatalf("%s: recall by the erased sender = %+v", stage, ms[3])
		}
		if m, err := db.GetIMMessage(ctx, 1, c2c, 1); err != nil || !m.Erased || m.Sender != "" || m.ClientMsgID != "a1" {
			t.Fatalf("%s: get = %+v, %v", stage, m, err)
		}
		gs, err := db.ListIMMessages(ctx, 1, "group:g", store.IMRange{Limit: 10})
		if err != nil || len(gs) != 2 || !gs[0].Erased || gs[1].Erased || string(gs[1].Body) != "gb1" {
			t.Fatalf("%s: group history = %+v, %v", stage, gs, err)
		}
		kv, err := db.IMExtensions(ctx, 1, c2c, 2)
		if err != nil || len(kv) != 1 || kv["by-bob"] != "y" {
			t.Fatalf("%s: extensions on bob's message = %v, %v", stage, kv, err)
		}
		if _, err := db.SetIMExtensions(ctx, 1, c2c, 1, "bob", imT0, map[string]string{"k": "v"}, 10); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("%s: extension on a shredded message: %v, want ErrNotFound", stage, err)
		}
	}
	check("after shred")

	// Lists leave alice out; the group keeps its owner's seat empty.
	ms, err := db.ListIMMembers(ctx, 1, "g")
	if err != nil || len(ms) != 1 || ms[0].UserID != "bob" {
		t.Fatalf("members = %+v, %v", ms, err)
	}
	if page, total, err := db.ListIMMembersPage(ctx, 1, "g", 0, 10); err != nil || total != 2 || len(page) != 1 || page[0].UserID != "bob" {
		t.Fatalf("page = %+v, %d, %v", page, total, err)
	}
	if g, err := db.GetIMGroup(ctx, 1, "g"); err != nil || g.Owner != "" {
		t.Fatalf("group = %+v, %v", g, err)
	}
	if rb, err := db.IMReadBy(ctx, 1, c2c, 1); err != nil || !slices.Equal(rb, []string{"bob"}) {
		t.Fatalf("read by = %v, %v", rb, err)
	}
	if cs, err := db.IMConversations(ctx, 1, "bob"); err != nil || len(cs) != 1 || cs[0].ConvID != "group:g" {
		t.Fatalf("bob's conversations = %+v, %v", cs, err)
	}

	// bob writes to "alice" again: a new key for the id, a new subject.
	// The conversation is listed again; the old messages stay erased.
	send(c2c, "bob", "b2")
	n++
	check("after the id's reuse")
	if cs, err := db.IMConversations(ctx, 1, "bob"); err != nil || len(cs) != 2 || cs[0].ConvID != c2c {
		t.Fatalf("bob's conversations = %+v, %v", cs, err)
	}
	// A retry of alice's original (the id's new subject) finds the
	// tombstone, not a new seq.
	dup, isDup, err := db.AppendIMMessage(ctx, store.IMMessage{SDKAppID: 1, ConvID: c2c, Sender: "alice", ClientMsgID: "a1",
		At: imT0, Body: []byte("a1")}, nil)
	if err != nil || !isDup || dup.Seq != 1 || !dup.Erased || dup.Sender != "" {
		t.Fatalf("retry = %+v, %v, %v", dup, isDup, err)
	}
	check("after the retry")
}

// Sealed values are bound to their row and column (aad) and to the
// subject their row names: a value copied into another row with raw SQL
// fails to read with keyring.ErrDecrypt. That is an error, not an erased
// tombstone, because it is tampering and must not pass for an erasure.
// Only a value whose key is gone reads as erased wherever it is found.
func TestIMSealedValueSwap(t *testing.T) {
	db := openTest(t)
	ctx := testContext(t)
	for i, from := range []string{"alice", "alice", "bob"} {
		if _, _, err := db.AppendIMMessage(ctx, store.IMMessage{SDKAppID: 1, ConvID: "c2c:alice|bob", Sender: from,
			At: imT0, Body: []byte{byte('a' + i)}}, []string{"alice", "bob"}); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := db.AppendIMMessage(ctx, store.IMMessage{SDKAppID: 1, ConvID: "group:g", Sender: "alice", At: imT0, Body: []byte("g")}, nil); err != nil {
		t.Fatal(err)
	}
	for _, seq := range []int64{1, 2} {
		if _, err := db.SetIMExtensions(ctx, 1, "c2c:alice|bob", seq, "alice", imT0, map[string]string{"k": "v"}, 10); err != nil {
			t.Fatal(err)
		}
	}
	conv, err := db.storedConv(1, "c2c:alice|bob")
	if err != nil {
		t.Fatal(err)
	}
	content := func(conv string, seq int64) []byte {
		var b []byte
		if err := db.read.QueryRowContext(ctx, `SELECT body FROM im_messages WHERE sdkappid = 1 AND conv_id = ? AND seq = ?`,
			conv, seq).Scan(&b); err != nil {
			t.Fatal(err)
		}
		return b
	}
	orig := content(conv, 2)
	set := func(b []byte) {
		t.Helper()
		if _, err := db.write.ExecContext(ctx, `UPDATE im_messages SET body = ? WHERE sdkappid = 1 AND conv_id = ? AND seq = 2`, b, conv); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		name string
		from []byte
	}{
		{"same sender, other seq", content(conv, 1)},
		{"other sender", content(conv, 3)},
		{"other conversation, same seq", content("group:g", 1)},
	} {
		set(c.from)
		if m, err := db.GetIMMessage(ctx, 1, "c2c:alice|bob", 2); !errors.Is(err, keyring.ErrDecrypt) {
			t.Fatalf("%s: read = %+v, %v; want ErrDecrypt", c.name, m, err)
		}
		if _, err := db.ListIMMessages(ctx, 1, "c2c:alice|bob", store.IMRange{Limit: 10}); !errors.Is(err, keyring.ErrDecrypt) {
			t.Fatalf("%s: list = %v; want ErrDecrypt", c.name, err)
		}
	}
	set(orig)
	if m, err := db.GetIMMessage(ctx, 1, "c2c:alice|bob", 2); err != nil || string(m.Body) != "b" {
		t.Fatalf("restored = %+v, %v", m, err)
	}

	// The same for an extension value moved to another message.
	if _, err := db.write.ExecContext(ctx, `UPDATE im_extensions SET value = (SELECT value FROM im_extensions WHERE seq = 1)
		WHERE seq = 2`); err != nil {
		t.Fatal(err)
	}
	if kv, err := db.IMExtensions(ctx, 1, "c2c:alice|bob", 2); !errors.Is(err, keyring.ErrDecrypt) {
		t.Fatalf("moved extension = %v, %v; want ErrDecrypt", kv, err)
	}
}

// The CHECKs of migration 0012 refuse a clear user id in any user-id
// column, so a code path that forgot to translate fails loudly.
func TestIMSchemaRefusesClearIDs(t *testing.T) {
	db := openTest(t)
	ctx := testContext(t)
	ref := db.UserRef(1, "alice")
	for _, q := range []string{
		`INSERT INTO im_groups (sdkappid, group_id, type, owner, created_at) VALUES (1, 'g', 'Work', 'alice', 0)`,
		`INSERT INTO im_cursors (sdkappid, conv_id, user_id) VALUES (1, 'group:g', 'alice')`,
		`INSERT INTO im_cursors (sdkappid, conv_id, user_id) VALUES (1, 'c2c:alice|bob', '` + ref + `')`,
		`INSERT INTO im_conversations (sdkappid, conv_id, last_seq) VALUES (1, 'c2c:alice|bob', 1)`,
		`INSERT INTO im_messages (sdkappid, conv_id, seq, day, at, sender, body) VALUES (1, 'group:g', 1, 0, 0, 'alice', X'')`,
	} {
		if _, err := db.write.ExecContext(ctx, q); err == nil || !strings.Contains(err.Error(), "CHECK constraint failed") {
			t.Errorf("%s: %v, want a CHECK failure", q, err)
		}
	}
}

// A database that holds IM rows from before per-subject keys does not
// open: migration 0012 refuses them with a message saying so, instead of
// leaving clear ids to be misread as references later.
func TestIMLegacyRowsRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "parley.db")
	ctx := testContext(t)
	base, err := fileURI(path)
	if err != nil {
		t.Fatal(err)
	}
	w, err := sql.Open("sqlite", base+"?_pragma=foreign_keys(1)")
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	w.SetMaxOpenConns(1)
	if _, err := w.ExecContext(ctx, `CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL,
		applied_at INTEGER NOT NULL DEFAULT (unixepoch())) STRICT`); err != nil {
		t.Fatal(err)
	}
	ms, err := loadMigrations()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if m.version >= 12 {
			break
		}
		if _, err := applyMigration(ctx, w, m); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := w.ExecContext(ctx, `INSERT INTO im_messages (sdkappid, conv_id, seq, day, at, sender, body)
		VALUES (1, 'c2c:alice|bob', 1, 0, 0, 'alice', CAST('hello' AS BLOB))`); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	_, err = Open(ctx, path, testOptions())
	if err == nil || !strings.Contains(err.Error(), "0012_im_refs.sql") ||
		!strings.Contains(err.Error(), "im tables hold rows from before per-subject keys") {
		t.Fatalf("open with legacy IM rows = %v", err)
	}
	t.Log(err)
}

// Without a key-encryption key no IM call reads or writes user ids.
func TestIMWithoutKEK(t *testing.T) {
	path := filepath.Join(t.TempDir(), "parley.db")
	ctx := testContext(t)
	db, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	calls := map[string]func() error{
		"append": func() error {
			_, _, err := db.AppendIMMessage(ctx, store.IMMessage{SDKAppID: 1, ConvID: "group:g", Sender: "a", At: imT0}, nil)
			return err
		},
		"batch": func() error {
			_, err := db.AppendIMMessages(ctx, []store.IMAppend{{Msg: store.IMMessage{SDKAppID: 1, ConvID: "group:g", Sender: "a"}}})
			return err
		},
		"member": func() error { _, err := db.GetIMMember(ctx, 1, "g", "a"); return err },
		"group": func() error {
			return db.CreateIMGroup(ctx, store.IMGroup{SDKAppID: 1, GroupID: "g", Type: store.IMGroupWork, Owner: "a", CreatedAt: imT0})
		},
		"history": func() error { _, err := db.ListIMMessages(ctx, 1, "c2c:a|b", store.IMRange{Limit: 1}); return err },
		"erase":   func() error { _, err := db.EraseIMUser(ctx, 1, "a"); return err },
	}
	for name, call := range calls {
		if err := call(); !errors.Is(err, ErrNoKEK) {
			t.Errorf("%s: %v, want ErrNoKEK", name, err)
		}
	}
}

// msgContent frames body and cloud custom data so both come back exactly.
func TestIMContentFraming(t *testing.T) {
	for _, c := range []struct {
		body []byte
		ccd  string
	}{{nil, ""}, {[]byte{}, "x"}, {[]byte("body"), ""}, {bytes.Repeat([]byte{0xff}, 300), "ccd\x00"}} {
		b, ccd, err := splitContent(msgContent(c.body, c.ccd))
		if err != nil || !bytes.Equal(b, c.body) || ccd != c.ccd {
			t.Fatalf("%q %q: got %q %q %v", c.body, c.ccd, b, ccd, err)
		}
	}
	for _, bad := range [][]byte{nil, {0x05, 'a'}, {0x80}} {
		if _, _, err := splitContent(bad); !errors.Is(err, keyring.ErrMalformed) {
			t.Fatalf("%q: %v", bad, err)
		}
	}
	if got := string(msgAAD(7, "group:g", 12)); got != "im.msg/7/group:g/12" {
		t.Fatalf("aad = %q", got)
	}
	if got := string(extAAD(7, "group:g", 12, "k")); got != "im.ext/7/group:g/12/k" {
		t.Fatalf("aad = %q", got)
	}
}

// The append hot path (batches as the im committer makes them: several
// senders, several conversations) and a history read, with sealing and
// references. Compare with docs/benchmarks.md for the end-to-end effect.
func BenchmarkIMAppendBatch(b *testing.B) {
	ctx := b.Context()
	db, err := Open(ctx, filepath.Join(b.TempDir(), "parley.db"), testOptions())
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	const size = 64
	body := bytes.Repeat([]byte("x"), 64)
	batch := make([]store.IMAppend, size)
	b.ResetTimer()
	for i := range b.N {
		for j := range batch {
			batch[j] = store.IMAppend{Msg: store.IMMessage{SDKAppID: 1, ConvID: fmt.Sprint("group:g", j%8), Sender: fmt.Sprint("user", j),
				ClientMsgID: fmt.Sprint(i, "-", j), At: imT0, Body: body, CloudCustomData: "1234567890123"}}
		}
		rs, err := db.AppendIMMessages(ctx, batch)
		if err != nil || rs[size-1].Err != nil {
			b.Fatal(err, rs[size-1].Err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*size), "ns/msg")
}

func BenchmarkIMHistory(b *testing.B) {
	ctx := b.Context()
	db, err := Open(ctx, filepath.Join(b.TempDir(), "parley.db"), testOptions())
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	batch := make([]store.IMAppend, 50)
	for j := range batch {
		batch[j] = store.IMAppend{Msg: store.IMMessage{SDKAppID: 1, ConvID: "c2c:a|b", Sender: []string{"a", "b"}[j%2],
			At: imT0, Body: bytes.Repeat([]byte("x"), 64)}, Parties: []string{"a", "b"}}
	}
	if _, err := db.AppendIMMessages(ctx, batch); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		ms, err := db.ListIMMessages(ctx, 1, "c2c:a|b", store.IMRange{Limit: 50, Newest: true})
		if err != nil || len(ms) != 50 {
			b.Fatal(len(ms), err)
		}
	}
}
