package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parley-rtc/parley/internal/privacy/consent"
	"github.com/parley-rtc/parley/protocol"
)

// policyNow is the injected clock of every `parley policy` test run; it
// matches appRun's.
var policyNow = time.Date(2026, 11, 5, 8, 0, 0, 0, time.UTC)

// policyRun runs `parley policy ARGS` in-process.
func policyRun(t *testing.T, vars map[string]string, args ...string) (code int, stdout, stderr string) {
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
	code = Main(ctx, append([]string{"policy"}, args...), env)
	return code, out.String(), errb.String()
}

// newPolicyApp makes a data directory holding app 1400000001.
func newPolicyApp(t *testing.T) string {
	t.Helper()
	data := filepath.Join(t.TempDir(), "data")
	if code, _, errOut := appRun(t, nil, "create", "--name", "demo", "--data", data); code != ExitOK {
		t.Fatalf("app create: exit %d: %s", code, errOut)
	}
	return data
}

type policyOut struct {
	SDKAppID    uint32    `json:"sdkappid"`
	Version     string    `json:"version"`
	Material    bool      `json:"material"`
	EffectiveAt time.Time `json:"effective_at"`
	Summary     string    `json:"summary"`
	URL         string    `json:"url"`
	PublishedAt time.Time `json:"published_at"`
	Seq         int64     `json:"seq"`
}

// proves DISCLOSE-2, CONSENT-6: versions are published with an effective
// date, listed in order, and never republished.
func TestPolicyPublishAndList(t *testing.T) {
	data := newPolicyApp(t)

	code, out, errOut := policyRun(t, nil, "publish", "--sdkappid", "1400000001", "--version", "2026-11",
		"--material", "--summary", "We collect your IP for routing.", "--url", "https://example.com/p/2026-11",
		"--data", data, "--json")
	if code != ExitOK {
		t.Fatalf("publish: exit %d: %s", code, errOut)
	}
	p := decodeJSON[policyOut](t, out)
	if p.SDKAppID != 1400000001 || p.Version != "2026-11" || !p.Material || p.Seq == 0 ||
		!p.EffectiveAt.Equal(policyNow) || !p.PublishedAt.Equal(policyNow) ||
		p.URL != "https://example.com/p/2026-11" || p.Summary != "We collect your IP for routing." {
		t.Fatalf("publish output %+v", p)
	}

	// Resolved through PARLEY_DATA like `parley app`.
	vars := map[string]string{"PARLEY_DATA": data}
	code, out, errOut = policyRun(t, vars, "publish", "--sdkappid", "1400000001", "--version", "2026-12",
		"--effective", "2026-12-01T00:00:00+08:00")
	if code != ExitOK || !strings.Contains(out, "Published policy 2026-12 for app 1400000001 (non-material), effective 2026-11-30T16:00:00Z") {
		t.Fatalf("publish human: exit %d: %s%s", code, out, errOut)
	}

	code, _, errOut = policyRun(t, vars, "publish", "--sdkappid", "1400000001", "--version", "2026-11", "--summary", "rewritten")
	if code != ExitFailure || !strings.Contains(errOut, "never change") {
		t.Fatalf("republish: exit %d: %s", code, errOut)
	}

	code, out, errOut = policyRun(t, vars, "list", "--sdkappid", "1400000001", "--json")
	if code != ExitOK {
		t.Fatalf("list: exit %d: %s", code, errOut)
	}
	list := decodeJSON[struct {
		Policies []policyOut `json:"policies"`
	}](t, out)
	if len(list.Policies) != 2 || list.Policies[0] != p || list.Policies[1].Version != "2026-12" || list.Policies[1].Material {
		t.Fatalf("list = %+v", list)
	}

	code, out, errOut = policyRun(t, vars, "list", "--sdkappid", "1400000001")
	if code != ExitOK || !strings.Contains(out, "VERSION") ||
		!strings.Contains(out, "2026-11  yes") || !strings.Contains(out, "We collect your IP for routing.") {
		t.Fatalf("list human: exit %d:\n%s%s", code, out, errOut)
	}
}

func TestPolicyListEmpty(t *testing.T) {
	data := newPolicyApp(t)
	code, out, errOut := policyRun(t, nil, "list", "--sdkappid", "1400000001", "--data", data)
	if code != ExitOK || !strings.Contains(out, "has published no policy") {
		t.Fatalf("exit %d: %s%s", code, out, errOut)
	}
	code, out, _ = policyRun(t, nil, "list", "--sdkappid", "1400000001", "--data", data, "--json")
	if code != ExitOK || strings.TrimSpace(out) != "{\n  \"policies\": []\n}" {
		t.Fatalf("empty JSON list: %q", out)
	}
}

type entryOut struct {
	ID              int64      `json:"id"`
	UserID          string     `json:"user_id"`
	DeviceID        string     `json:"device_id"`
	Action          string     `json:"action"`
	PolicyVersion   string     `json:"policy_version"`
	Purposes        []string   `json:"purposes"`
	Method          string     `json:"method"`
	AgeBand         string     `json:"age_band"`
	GuardianRef     string     `json:"guardian_ref"`
	RecordedAt      time.Time  `json:"recorded_at"`
	DeviceGrantedAt *time.Time `json:"device_granted_at"`
}

// proves CONSENT-3: the operator sees who consented to which version and
// purposes, how and when, and withdrawals, newest first.
func TestPolicyLedger(t *testing.T) {
	data := newPolicyApp(t)
	if code, _, errOut := policyRun(t, nil, "publish", "--sdkappid", "1400000001", "--version", "v1", "--data", data); code != ExitOK {
		t.Fatalf("publish: %s", errOut)
	}

	// Record decisions the way the server will, through the same file.
	ctx := t.Context()
	db, err := openDataDB(ctx, data)
	if err != nil {
		t.Fatal(err)
	}
	now := policyNow
	svc := consent.New(db, db, consent.Options{Now: func() time.Time { return now }})
	for _, u := range []string{"alice", "bob"} {
		d, err := svc.CheckJoin(ctx, 1400000001, u, "dev-"+u, &protocol.ConsentClaim{
			PolicyVersion: "v1", Purposes: []string{"rtc", "quality"}, Method: protocol.ConsentMethodPopup,
			GrantedAt: policyNow.UnixMilli(), AgeBand: protocol.AgeBandAdult,
		})
		if err != nil || !d.Allowed {
			t.Fatalf("join %s: %+v, %v", u, d, err)
		}
		now = now.Add(time.Minute)
	}
	if err := svc.Withdraw(ctx, 1400000001, "alice", "dev-alice"); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	code, out, errOut := policyRun(t, nil, "ledger", "--sdkappid", "1400000001", "--data", data, "--json")
	if code != ExitOK {
		t.Fatalf("ledger: exit %d: %s", code, errOut)
	}
	all := decodeJSON[struct {
		Entries []entryOut `json:"entries"`
	}](t, out).Entries
	if len(all) != 3 || all[0].Action != "withdraw" || all[0].UserID != "alice" || all[0].DeviceGrantedAt == nil ||
		all[2].UserID != "alice" || all[2].Action != "grant" || all[2].Method != "popup" ||
		strings.Join(all[2].Purposes, ",") != "quality,rtc" || all[2].PolicyVersion != "v1" ||
		!all[2].RecordedAt.Equal(policyNow) || !all[2].DeviceGrantedAt.Equal(policyNow) {
		t.Fatalf("ledger = %+v", all)
	}

	code, out, _ = policyRun(t, nil, "ledger", "--sdkappid", "1400000001", "--data", data, "--json", "--user", "bob")
	if code != ExitOK || strings.Count(out, `"user_id"`) != 1 || !strings.Contains(out, `"bob"`) {
		t.Fatalf("--user bob: exit %d: %s", code, out)
	}
	code, out, _ = policyRun(t, nil, "ledger", "--sdkappid", "1400000001", "--data", data, "--json", "--device", "dev-alice", "--limit", "1")
	if code != ExitOK || strings.Count(out, `"id"`) != 1 || !strings.Contains(out, `"withdraw"`) {
		t.Fatalf("--device --limit: exit %d: %s", code, out)
	}
	code, out, _ = policyRun(t, nil, "ledger", "--sdkappid", "1400000001", "--data", data, "--since", "2026-11-05T08:01:00Z")
	if code != ExitOK || strings.Count(out, "\n") != 3 || !strings.Contains(out, "ACTION") || !strings.Contains(out, "withdraw") {
		t.Fatalf("--since, human: exit %d:\n%s", code, out)
	}
	code, out, _ = policyRun(t, nil, "ledger", "--sdkappid", "1400000001", "--data", data, "--user", "carol")
	if code != ExitOK || !strings.Contains(out, "No consent entries match") {
		t.Fatalf("no match: exit %d: %s", code, out)
	}
}

func TestPolicyUsageErrors(t *testing.T) {
	data := newPolicyApp(t)
	cases := []struct {
		args []string
		code int
		want string
	}{
		{nil, ExitUsage, "Usage: parley policy"},
		{[]string{"--help"}, ExitOK, "audit log"},
		{[]string{"frobnicate"}, ExitUsage, `unknown subcommand "frobnicate"`},
		{[]string{"publish", "--help"}, ExitOK, "-material"},
		{[]string{"publish", "--version", "v1", "--data", data}, ExitUsage, "--sdkappid is required"},
		{[]string{"publish", "--sdkappid", "1400000001", "--data", data}, ExitUsage, "--version: consent: invalid policy"},
		{[]string{"publish", "--sdkappid", "1400000001", "--version", "v 1", "--data", data}, ExitUsage, "not printable ASCII"},
		{[]string{"publish", "--sdkappid", "1400000001", "--version", "v1", "--url", "example.com", "--data", data}, ExitUsage, "url"},
		{[]string{"publish", "--sdkappid", "1400000001", "--version", "v1", "--effective", "2026-01-01T00:00:00Z", "--data", data}, ExitUsage, "in the past"},
		{[]string{"publish", "--sdkappid", "1400000001", "--version", "v1", "--effective", "tomorrow", "--data", data}, ExitUsage, "RFC 3339"},
		{[]string{"publish", "--sdkappid", "1400000009", "--version", "v1", "--data", data}, ExitFailure, "no app with SDKAppID 1400000009"},
		{[]string{"list", "--sdkappid", "1400000001", "extra"}, ExitUsage, `unexpected argument "extra"`},
		{[]string{"list", "--sdkappid", "1400000001", "--data", filepath.Join(data, "nope")}, ExitFailure, "no database at"},
		{[]string{"ledger", "--sdkappid", "1400000001", "--limit", "0", "--data", data}, ExitUsage, "--limit must be"},
		{[]string{"ledger", "--sdkappid", "1400000001", "--since", "yesterday", "--data", data}, ExitUsage, "RFC 3339"},
	}
	for _, c := range cases {
		code, _, errOut := policyRun(t, nil, c.args...)
		if code != c.code || !strings.Contains(errOut, c.want) {
			t.Errorf("policy %v: exit %d, stderr %q; want exit %d containing %q", c.args, code, errOut, c.code, c.want)
		}
	}
	if _, err := os.Stat(filepath.Join(data, "nope")); !os.IsNotExist(err) {
		t.Error("list created a data directory")
	}
	// Nothing was published by the refused commands.
	code, out, _ := policyRun(t, nil, "list", "--sdkappid", "1400000001", "--data", data)
	if code != ExitOK || !strings.Contains(out, "has published no policy") {
		t.Fatalf("after refused commands: %s", out)
	}
}
