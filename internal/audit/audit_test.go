package audit_test

import (
	"bytes"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/parley-rtc/parley/internal/audit"
	"github.com/parley-rtc/parley/internal/store/sqlite"
	"github.com/parley-rtc/parley/internal/store/sqlite/sqlitetest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var testKEK = bytes.Repeat([]byte{0x42}, 32)

const subjectPrefix = "user-secret-identifier-"

var t0 = time.Date(2026, 11, 5, 8, 0, 0, 0, time.UTC)

// subjectKey is a stand-in for a subject's per-subject key.
func subjectKey(subject string) []byte {
	k := sha256.Sum256([]byte("test subject key/" + subject))
	return k[:]
}

type testLog struct {
	db  *sqlite.DB
	log *audit.Log
	ver note.Verifier
	sig note.Signer
}

func openLog(t *testing.T, path string) *testLog {
	t.Helper()
	db, err := sqlite.Open(t.Context(), path, sqlitetest.Options())
	if err != nil {
		t.Fatal(err)
	}
	signer, vkey, err := audit.SignerFromRoot(testKEK, audit.DefaultName)
	if err != nil {
		t.Fatal(err)
	}
	ver, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	now := t0
	clock := func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		now = now.Add(time.Second)
		return now
	}
	l, err := audit.Open(db, signer, ver, clock)
	if err != nil {
		db.Close()
		t.Fatal(err)
	}
	return &testLog{db: db, log: l, ver: ver, sig: signer}
}

func (tl *testLog) close(t *testing.T) {
	t.Helper()
	if err := tl.db.Close(); err != nil {
		t.Fatal(err)
	}
}

var kinds = []audit.Kind{
	audit.KindConsentGrant, audit.KindConsentWithdraw, audit.KindDSRState, audit.KindDSRReceipt,
	audit.KindRetentionSweep, audit.KindAppSettings, audit.KindPolicyPublish, audit.KindOperatorRead, audit.KindIncident,
}

func entry(i int) audit.Entry {
	e := audit.Entry{
		Kind:     kinds[i%len(kinds)],
		SDKAppID: 1400000001 + uint32(i%2),
		Detail:   map[string]string{"n": strconv.Itoa(i), "code": "c" + strconv.Itoa(i%7)},
	}
	if i%3 != 0 {
		e.Subject = fmt.Sprintf("%s%04d", subjectPrefix, i%50)
		e.SubjectKey = subjectKey(e.Subject)
	}
	return e
}

const logSize = 1000

// buildLog makes a closed database holding logSize entries and returns
// its path.
func buildLog(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "parley.db")
	tl := openLog(t, path)
	defer tl.close(t)
	for i := range logSize {
		seq, err := tl.log.Append(t.Context(), entry(i))
		if err != nil {
			t.Fatalf("append %d: %v", i, err)
		}
		if seq != int64(i) {
			t.Fatalf("append %d: seq %d", i, seq)
		}
	}
	return path
}

// copyDB copies a closed database file into a new directory.
func copyDB(t *testing.T, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "parley.db")
	for _, suffix := range []string{"", "-wal"} {
		in, err := os.Open(src + suffix)
		if errors.Is(err, os.ErrNotExist) && suffix != "" {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		out, err := os.Create(dst + suffix)
		if err != nil {
			in.Close()
			t.Fatal(err)
		}
		_, err = io.Copy(out, in)
		in.Close()
		if err := errors.Join(err, out.Close()); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// tamper runs SQL against the file directly, as someone with the disk
// would, after dropping the append-only triggers.
func tamper(t *testing.T, path string, fn func(db *sql.DB)) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, tr := range []string{"records", "hashes", "checkpoints"} {
		for _, op := range []string{"update", "delete"} {
			if _, err := db.Exec("DROP TRIGGER audit_log_" + tr + "_no_" + op); err != nil {
				t.Fatal(err)
			}
		}
	}
	fn(db)
}

func mustExec(t *testing.T, db *sql.DB, q string, args ...any) {
	t.Helper()
	res, err := db.Exec(q, args...)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		t.Fatalf("%s: %d rows affected", q, n)
	}
}

func verify(t *testing.T, path string) error {
	t.Helper()
	tl := openLog(t, path)
	defer tl.close(t)
	return tl.log.Verify(t.Context(), nil)
}

func TestAppendVerifyAndTamper(t *testing.T) {
	golden := buildLog(t)

	t.Run("intact", func(t *testing.T) {
		tl := openLog(t, copyDB(t, golden))
		defer tl.close(t)
		var last [2]int64
		calls := 0
		if err := tl.log.Verify(t.Context(), func(done, total int64) {
			calls++
			last = [2]int64{done, total}
		}); err != nil {
			t.Fatalf("verify: %v", err)
		}
		if last != [2]int64{2 * logSize, 2 * logSize} || calls < 3 {
			t.Errorf("progress: last %v after %d calls, want [%d %d]", last, calls, 2*logSize, 2*logSize)
		}
		recs, cps, err := tl.log.Stats(t.Context())
		if err != nil || recs != logSize || cps != logSize {
			t.Errorf("stats = %d, %d, %v; want %d, %d", recs, cps, err, logSize, logSize)
		}
		// A restarted log keeps its identity and appends after the end.
		seq, err := tl.log.Append(t.Context(), entry(logSize))
		if err != nil || seq != logSize {
			t.Fatalf("append after reopen = %d, %v", seq, err)
		}
		if err := tl.log.Verify(t.Context(), nil); err != nil {
			t.Fatalf("verify after append: %v", err)
		}
	})

	leafOf := func(seq int64) int64 { return tlog.StoredHashIndex(0, seq) }
	nodeIdx := tlog.StoredHashIndex(1, 100) // covers records 200-201, stored with 201

	cases := []struct {
		name    string
		do      func(t *testing.T, db *sql.DB)
		wantSeq int64 // -1: not about a record
		wantIdx int64
		wantCP  int64
		reason  string
	}{
		{
			name: "record byte flipped",
			do: func(t *testing.T, db *sql.DB) {
				var data []byte
				if err := db.QueryRow(`SELECT data FROM audit_log_records WHERE seq = 500`).Scan(&data); err != nil {
					t.Fatal(err)
				}
				// Flip a hex digit of the commitment: still valid JSON.
				i := bytes.Index(data, []byte(`"subject":"`)) + len(`"subject":"`) + 3
				data[i] ^= 0x01
				mustExec(t, db, `UPDATE audit_log_records SET data = ? WHERE seq = 500`, data)
			},
			wantSeq: 500, wantIdx: leafOf(500), wantCP: -1, reason: "leaf hash",
		},
		{
			name: "record byte flipped to bad json",
			do: func(t *testing.T, db *sql.DB) {
				var data []byte
				if err := db.QueryRow(`SELECT data FROM audit_log_records WHERE seq = 42`).Scan(&data); err != nil {
					t.Fatal(err)
				}
				data[0] ^= 0xff
				mustExec(t, db, `UPDATE audit_log_records SET data = ? WHERE seq = 42`, data)
			},
			wantSeq: 42, wantIdx: -1, wantCP: -1, reason: "bad record data",
		},
		{
			name: "leaf hash changed",
			do: func(t *testing.T, db *sql.DB) {
				mustExec(t, db, `UPDATE audit_log_hashes SET hash = randomblob(32) WHERE idx = ?`, leafOf(700))
			},
			wantSeq: 700, wantIdx: leafOf(700), wantCP: -1, reason: "leaf hash",
		},
		{
			name: "interior hash changed",
			do: func(t *testing.T, db *sql.DB) {
				mustExec(t, db, `UPDATE audit_log_hashes SET hash = randomblob(32) WHERE idx = ?`, nodeIdx)
			},
			wantSeq: 201, wantIdx: nodeIdx, wantCP: -1, reason: "recomputed",
		},
		{
			name: "checkpoint note changed",
			do: func(t *testing.T, db *sql.DB) {
				var text string
				if err := db.QueryRow(`SELECT note FROM audit_log_checkpoints WHERE size = 600`).Scan(&text); err != nil {
					t.Fatal(err)
				}
				lines := strings.Split(text, "\n")
				h := []byte(lines[2]) // the tree hash
				h[5] = map[bool]byte{true: 'B', false: 'A'}[h[5] == 'A']
				lines[2] = string(h)
				mustExec(t, db, `UPDATE audit_log_checkpoints SET note = ? WHERE size = 600`, strings.Join(lines, "\n"))
			},
			wantSeq: -1, wantIdx: -1, wantCP: 600, reason: "signature",
		},
		{
			name: "checkpoint re-signed over another tree",
			do: func(t *testing.T, db *sql.DB) {
				signer, _, err := audit.SignerFromRoot(testKEK, audit.DefaultName)
				if err != nil {
					t.Fatal(err)
				}
				msg, err := note.Sign(&note.Note{Text: string(tlog.FormatTree(tlog.Tree{N: 300, Hash: tlog.RecordHash([]byte("forged"))}))}, signer)
				if err != nil {
					t.Fatal(err)
				}
				mustExec(t, db, `UPDATE audit_log_checkpoints SET note = ? WHERE size = 300`, string(msg))
			},
			wantSeq: -1, wantIdx: -1, wantCP: 300, reason: "tree hash",
		},
		{
			name: "record deleted",
			do: func(t *testing.T, db *sql.DB) {
				mustExec(t, db, `DELETE FROM audit_log_records WHERE seq = 300`)
			},
			wantSeq: 300, wantIdx: -1, wantCP: -1, reason: "missing",
		},
		{
			name: "last record deleted",
			do: func(t *testing.T, db *sql.DB) {
				mustExec(t, db, `DELETE FROM audit_log_records WHERE seq = ?`, logSize-1)
			},
			wantSeq: logSize - 1, wantIdx: -1, wantCP: -1, reason: "missing",
		},
		{
			name: "latest checkpoint deleted",
			do: func(t *testing.T, db *sql.DB) {
				mustExec(t, db, `DELETE FROM audit_log_checkpoints WHERE size = ?`, logSize)
			},
			wantSeq: logSize - 1, wantIdx: -1, wantCP: -1, reason: "no checkpoint",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := copyDB(t, golden)
			tamper(t, path, func(db *sql.DB) { c.do(t, db) })
			err := verify(t, path)
			var ve *audit.VerifyError
			if !errors.As(err, &ve) || !errors.Is(err, audit.ErrInconsistent) {
				t.Fatalf("verify = %v, want a *VerifyError", err)
			}
			if ve.Seq != c.wantSeq || ve.HashIndex != c.wantIdx || ve.Checkpoint != c.wantCP || !strings.Contains(ve.Reason, c.reason) {
				t.Errorf("verify = %v\n(seq %d, hash %d, checkpoint %d); want seq %d, hash %d, checkpoint %d, reason containing %q",
					err, ve.Seq, ve.HashIndex, ve.Checkpoint, c.wantSeq, c.wantIdx, c.wantCP, c.reason)
			}
		})
	}

	t.Run("inclusion proof", func(t *testing.T) {
		tl := openLog(t, copyDB(t, golden))
		defer tl.close(t)
		for _, seq := range []int64{0, 1, 123, 511, 512, logSize - 1} {
			p, err := tl.log.Prove(t.Context(), seq)
			if err != nil {
				t.Fatalf("prove %d: %v", seq, err)
			}
			if err := audit.CheckProof(p, tl.ver); err != nil {
				t.Fatalf("check proof %d: %v", seq, err)
			}
			tree, err := audit.OpenCheckpoint(p.Checkpoint, tl.ver)
			if err != nil || tree.N != logSize {
				t.Fatalf("proof checkpoint = %+v, %v; want size %d", tree, err, logSize)
			}
			if err := tlog.CheckRecord(p.Proof, tree.N, tree.Hash, seq, tlog.RecordHash(p.Record)); err != nil {
				t.Fatalf("tlog.CheckRecord %d: %v", seq, err)
			}
		}
		p, err := tl.log.Prove(t.Context(), 77)
		if err != nil {
			t.Fatal(err)
		}
		bad := p
		bad.Record = bytes.Replace(p.Record, []byte(`"n":"77"`), []byte(`"n":"78"`), 1)
		if err := audit.CheckProof(bad, tl.ver); err == nil {
			t.Error("proof of an altered record checked")
		}
		bad = p
		bad.Seq = 78
		if err := audit.CheckProof(bad, tl.ver); err == nil {
			t.Error("proof for another seq checked")
		}
		_, otherKey, err := audit.SignerFromRoot(bytes.Repeat([]byte{7}, 32), audit.DefaultName)
		if err != nil {
			t.Fatal(err)
		}
		other, err := note.NewVerifier(otherKey)
		if err != nil {
			t.Fatal(err)
		}
		if err := audit.CheckProof(p, other); err == nil {
			t.Error("proof checked under another log's key")
		}
		if _, err := tl.log.Prove(t.Context(), logSize); !errors.Is(err, audit.ErrNoCheckpoint) {
			t.Errorf("prove past the end = %v, want ErrNoCheckpoint", err)
		}
		cp, err := tl.log.Checkpoint(t.Context())
		if err != nil || cp.Size != logSize || !bytes.Equal(cp.Note, p.Checkpoint) {
			t.Errorf("checkpoint = %d, %v; want the proof's, size %d", cp.Size, err, logSize)
		}
	})

	t.Run("no identifier stored", func(t *testing.T) {
		dir := filepath.Dir(copyDB(t, golden))
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			b, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(b, []byte(subjectPrefix)) {
				t.Errorf("%s contains a subject identifier", e.Name())
			}
		}
		c, err := audit.Commit(subjectKey(subjectPrefix+"0001"), subjectPrefix+"0001")
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(golden)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(b, []byte(c)) {
			t.Error("the subject's commitment is not in the database")
		}
	})
}

func TestCommit(t *testing.T) {
	k1, k2 := subjectKey("a"), subjectKey("b")
	c1, err := audit.Commit(k1, "alice")
	if err != nil {
		t.Fatal(err)
	}
	again, _ := audit.Commit(k1, "alice")
	other, _ := audit.Commit(k2, "alice")
	bob, _ := audit.Commit(k1, "bob")
	if c1 != again {
		t.Errorf("commitment not stable: %s, %s", c1, again)
	}
	if c1 == other || c1 == bob {
		t.Errorf("commitments collide: %s %s %s", c1, other, bob)
	}
	if strings.Contains(c1, "alice") || len(c1) != 64 {
		t.Errorf("commitment %q", c1)
	}
	if _, err := audit.Commit(k1[:16], "alice"); !errors.Is(err, audit.ErrInvalidEntry) {
		t.Errorf("short key: %v", err)
	}
}

func TestSignerFromRoot(t *testing.T) {
	s1, v1, err := audit.SignerFromRoot(testKEK, audit.DefaultName)
	if err != nil {
		t.Fatal(err)
	}
	_, v2, err := audit.SignerFromRoot(testKEK, audit.DefaultName)
	if err != nil {
		t.Fatal(err)
	}
	_, v3, err := audit.SignerFromRoot(bytes.Repeat([]byte{1}, 32), audit.DefaultName)
	if err != nil {
		t.Fatal(err)
	}
	if v1 != v2 || v1 == v3 || !strings.HasPrefix(v1, audit.DefaultName+"+") {
		t.Errorf("verifier keys %q %q %q", v1, v2, v3)
	}
	ver, err := note.NewVerifier(v1)
	if err != nil {
		t.Fatal(err)
	}
	msg, err := note.Sign(&note.Note{Text: "hello\n"}, s1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := note.Open(msg, note.VerifierList(ver)); err != nil {
		t.Errorf("signature does not verify: %v", err)
	}
	if _, _, err := audit.SignerFromRoot(testKEK[:8], audit.DefaultName); err == nil {
		t.Error("short KEK accepted")
	}
	if _, _, err := audit.SignerFromRoot(testKEK, "bad name"); err == nil {
		t.Error("name with a space accepted")
	}
}

func TestEntryValidation(t *testing.T) {
	tl := openLog(t, filepath.Join(t.TempDir(), "parley.db"))
	defer tl.close(t)
	ctx := t.Context()
	for name, e := range map[string]audit.Entry{
		"unknown kind":        {Kind: "consent.maybe"},
		"subject without key": {Kind: audit.KindIncident, Subject: "alice"},
		"key without subject": {Kind: audit.KindIncident, SubjectKey: subjectKey("x")},
		"short key":           {Kind: audit.KindIncident, Subject: "alice", SubjectKey: []byte("short")},
		"long detail":         {Kind: audit.KindIncident, Detail: map[string]string{"k": strings.Repeat("x", audit.MaxDetailValueLen+1)}},
	} {
		if _, err := tl.log.Append(ctx, e); !errors.Is(err, audit.ErrInvalidEntry) {
			t.Errorf("%s: append = %v, want ErrInvalidEntry", name, err)
		}
	}
	if _, err := tl.log.Checkpoint(ctx); !errors.Is(err, audit.ErrNoCheckpoint) {
		t.Errorf("checkpoint of an empty log = %v", err)
	}
	if err := tl.log.Verify(ctx, nil); err != nil {
		t.Errorf("verify empty log: %v", err)
	}
	at := time.Date(2026, 1, 2, 3, 4, 5, 6_000_000, time.UTC)
	if _, err := tl.log.Append(ctx, audit.Entry{At: at, Kind: audit.KindPolicyPublish, SDKAppID: 7, Detail: map[string]string{"version": "v2", "material": "true"}}); err != nil {
		t.Fatal(err)
	}
	p, err := tl.log.Prove(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf(`{"seq":0,"at":%d,"kind":"policy.publish","sdkappid":7,"subject":"","detail":{"material":"true","version":"v2"}}`, at.UnixMilli())
	if string(p.Record) != want {
		t.Errorf("record\n got %s\nwant %s", p.Record, want)
	}
}

func TestConcurrentAppends(t *testing.T) {
	tl := openLog(t, filepath.Join(t.TempDir(), "parley.db"))
	defer tl.close(t)
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for g := range 4 {
		wg.Go(func() {
			for i := range 25 {
				if _, err := tl.log.Append(t.Context(), entry(g*25+i)); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if err := tl.log.Verify(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	if n, _, _ := tl.log.Stats(t.Context()); n != 100 {
		t.Errorf("size %d, want 100", n)
	}
}

func TestOpenRejectsMismatchedKeys(t *testing.T) {
	tl := openLog(t, filepath.Join(t.TempDir(), "parley.db"))
	defer tl.close(t)
	_, otherKey, err := audit.SignerFromRoot(bytes.Repeat([]byte{9}, 32), audit.DefaultName)
	if err != nil {
		t.Fatal(err)
	}
	other, err := note.NewVerifier(otherKey)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := audit.Open(tl.db, tl.sig, other, nil); err == nil {
		t.Error("signer and verifier of different keys accepted")
	}
	ro, err := audit.Open(tl.db, nil, tl.ver, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ro.Append(t.Context(), entry(0)); !errors.Is(err, audit.ErrReadOnly) {
		t.Errorf("read-only append = %v", err)
	}
}
