package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/parley-rtc/parley/internal/store"
)

func dsrRun(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	var out, errb bytes.Buffer
	env := Env{Stdout: &out, Stderr: &errb, Getenv: func(string) string { return "" }, Now: time.Now}
	code := Main(ctx, append([]string{"dsr"}, args...), env)
	return code, out.String(), errb.String()
}

// The operators' script contract on a stopped server's data directory:
// every subcommand with --json, and precise usage errors.
// proves RIGHTS-1, RIGHTS-2, RIGHTS-6
func TestDSRCommandsOnDataDir(t *testing.T) {
	data := newPolicyApp(t)
	ctx := t.Context()
	db, err := openDataDB(ctx, data)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{"ann", "ben"} {
		for _, dev := range []string{"phone", "laptop"} {
			if _, _, err := db.AppendConsent(ctx, store.ConsentEntry{SDKAppID: 1400000001, UserID: u, DeviceID: u + "-" + dev,
				Action: store.ConsentGrant, PolicyVersion: "v1", Purposes: []string{"rtc"}, Method: "sdk", RecordedAt: time.Now()}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	type result struct {
		Request struct{ State, Type string }
		Stores  []struct {
			Store string
			Rows  int64
		}
	}
	run := func(args ...string) result {
		t.Helper()
		code, out, errOut := dsrRun(t, append(args, "--data", data, "--sdkappid", "1400000001", "--json")...)
		if code != ExitOK {
			t.Fatalf("dsr %v: exit %d: %s", args, code, errOut)
		}
		var r result
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatalf("dsr %v: %v: %s", args, err, out)
		}
		return r
	}
	rows := func(r result, store string) int64 {
		for _, s := range r.Stores {
			if s.Store == store {
				return s.Rows
			}
		}
		return -1
	}
	if r := run("delete-device", "--user", "ann", "--device", "ann-phone"); r.Request.State != "completed" || rows(r, "consent_ledger") != 1 {
		t.Fatalf("delete-device: %+v", r)
	}
	if r := run("access", "--user", "ann"); rows(r, "consent_ledger") != 1 {
		t.Fatalf("after delete-device ann has %d ledger entries, want 1", rows(r, "consent_ledger"))
	}
	if r := run("withdraw", "--user", "ann"); r.Request.State != "completed" {
		t.Fatalf("withdraw: %+v", r)
	}
	// The withdrawal is recorded: the ledger grows, nothing else is left.
	if r := run("access", "--user", "ann"); rows(r, "consent_ledger") != 2 {
		t.Fatalf("after withdraw: %+v", r)
	}
	if r := run("cancel", "--user", "ben"); r.Request.State != "completed" || r.Request.Type != "cancel" {
		t.Fatalf("cancel: %+v", r)
	}
	if r := run("access", "--user", "ben"); rows(r, "consent_ledger") != 0 || rows(r, "keystore") != 0 {
		t.Fatalf("after cancel: %+v", r)
	}
	code, out, _ := dsrRun(t, "list", "--data", data, "--sdkappid", "1400000001", "--json")
	if code != ExitOK || strings.Count(out, `"state": "completed"`) < 6 {
		t.Fatalf("list: %s", out)
	}
	for _, bad := range [][]string{
		{"delete", "--data", data, "--sdkappid", "1400000001"},                       // no --user
		{"delete-device", "--data", data, "--sdkappid", "1400000001", "--user", "x"}, // no --device
		{"correct", "--data", data, "--sdkappid", "1400000001", "--user", "x", "--set", "nofield"},
	} {
		if code, _, errOut := dsrRun(t, bad...); code == ExitOK || errOut == "" {
			t.Errorf("dsr %v: exit %d, stderr %q", bad, code, errOut)
		}
	}
}
