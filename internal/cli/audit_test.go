package cli

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/parley-rtc/parley/internal/app"
	"github.com/parley-rtc/parley/internal/audit"
)

// auditRun runs `parley audit ARGS` in-process.
func auditRun(t *testing.T, vars map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	var out, errb bytes.Buffer
	env := Env{
		Stdout: &out,
		Stderr: &errb,
		Getenv: func(k string) string { return vars[k] },
		Now:    func() time.Time { return policyNow },
	}
	code = Main(ctx, append([]string{"audit"}, args...), env)
	return code, out.String(), errb.String()
}

// newAuditData makes a data directory whose audit log holds n entries,
// signed with the key derived from its key-encryption key.
func newAuditData(t *testing.T, n int) (data, vkey string) {
	t.Helper()
	data = newPolicyApp(t)
	db, err := openDataDB(t.Context(), data)
	if err != nil {
		t.Fatal(err)
	}
	signer, vkey, err := audit.SignerFromRoot(db.RootKey(), audit.DefaultName)
	if err != nil {
		t.Fatal(err)
	}
	ver, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
	}()
	l, err := audit.Open(db, signer, ver, func() time.Time { return policyNow })
	if err != nil {
		t.Fatal(err)
	}
	key := bytes.Repeat([]byte{3}, 32)
	for i := range n {
		if _, err := l.Append(t.Context(), audit.Entry{
			Kind: audit.KindConsentGrant, SDKAppID: 1400000001,
			SubjectKey: key, Subject: "cli-test-user", Detail: map[string]string{"policy": "v1"},
		}); err != nil {
			t.Fatalf("append %d: %v", i, err)
		}
	}
	return data, vkey
}

type auditVerifyOut struct {
	OK          bool   `json:"ok"`
	Records     int64  `json:"records"`
	Checkpoints int64  `json:"checkpoints"`
	Key         string `json:"key"`
	Error       string `json:"error"`
	Seq         *int64 `json:"seq"`
	Checkpoint  *int64 `json:"checkpoint"`
}

func TestAuditVerifyAndKey(t *testing.T) {
	data, vkey := newAuditData(t, 40)

	code, out, errOut := auditRun(t, nil, "key", "--data", data)
	if code != ExitOK || strings.TrimSpace(out) != vkey {
		t.Fatalf("audit key: exit %d, %q (want %q): %s", code, out, vkey, errOut)
	}

	code, out, errOut = auditRun(t, nil, "verify", "--data", data, "--json")
	if code != ExitOK {
		t.Fatalf("audit verify: exit %d: %s%s", code, out, errOut)
	}
	var v auditVerifyOut
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if !v.OK || v.Records != 40 || v.Checkpoints != 40 || v.Key != vkey || v.Error != "" {
		t.Errorf("verify = %+v", v)
	}
	if !strings.Contains(errOut, "80/80 checked (100%)") {
		t.Errorf("no progress on stderr: %q", errOut)
	}

	// A published key verifies without the key-encryption key.
	if err := os.Remove(filepath.Join(data, app.KEKFile)); err != nil {
		t.Fatal(err)
	}
	if code, out, errOut := auditRun(t, nil, "verify", "--data", data, "--key", vkey); code != ExitOK || !strings.Contains(out, "Audit log OK: 40 records") {
		t.Errorf("verify --key: exit %d: %s%s", code, out, errOut)
	}
	// Without either, nothing is created and the command fails.
	if code, _, errOut := auditRun(t, nil, "key", "--data", data); code != ExitFailure || !strings.Contains(errOut, "no key-encryption key") {
		t.Errorf("key without a KEK: exit %d: %s", code, errOut)
	}
	if _, err := os.Stat(filepath.Join(data, app.KEKFile)); err == nil {
		t.Error("audit key created a key-encryption key")
	}

	// Tamper with record 17 directly.
	db, err := sql.Open("sqlite", "file:"+filepath.Join(data, app.DBFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`DROP TRIGGER audit_log_records_no_update`,
		`UPDATE audit_log_records SET data = CAST(replace(CAST(data AS TEXT), '"v1"', '"v2"') AS BLOB) WHERE seq = 17`,
	} {
		if _, err := db.Exec(q); err != nil {
			db.Close()
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = auditRun(t, nil, "verify", "--data", data, "--key", vkey, "--json")
	if code != ExitFailure {
		t.Fatalf("verify of a tampered log: exit %d: %s%s", code, out, errOut)
	}
	v = auditVerifyOut{}
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if v.OK || v.Seq == nil || *v.Seq != 17 || !strings.Contains(v.Error, "record 17") {
		t.Errorf("verify of a tampered log = %+v", v)
	}

	if code, _, _ := auditRun(t, nil, "verify", "--data", data, "--key", "not-a-key"); code != ExitUsage {
		t.Errorf("bad --key: exit %d, want %d", code, ExitUsage)
	}
	if code, _, _ := auditRun(t, nil, "verify", "--data", filepath.Join(t.TempDir(), "none"), "--key", vkey); code != ExitFailure {
		t.Errorf("missing data dir: exit %d, want %d", code, ExitFailure)
	}
}
