package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/parley-rtc/parley/internal/store"
)

func retentionRun(t *testing.T, now time.Time, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	var out, errb bytes.Buffer
	env := Env{Stdout: &out, Stderr: &errb, Getenv: func(string) string { return "" }, Now: func() time.Time { return now }}
	code := Main(ctx, append([]string{"retention"}, args...), env)
	return code, out.String(), errb.String()
}

// `parley retention status` shows an over-limit store; `run` deletes it;
// status then shows every store within its limit. proves RETAIN-1
func TestRetentionCommands(t *testing.T) {
	data := newPolicyApp(t)
	ctx := t.Context()
	db, err := openDataDB(ctx, data)
	if err != nil {
		t.Fatal(err)
	}
	old := policyNow.Add(-20 * 24 * time.Hour)
	if err := db.InsertTelemetry(ctx, []store.TelemetryRecord{{At: old, SDKAppID: 1400000001, RoomKey: "n:1",
		UserRef: []byte("u"), DeviceRef: []byte("d"), Section: "quality", Data: []byte(`{}`)}}); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	type status struct {
		Stores []struct {
			Store  string `json:"store"`
			Within bool   `json:"within_limit"`
			Empty  bool   `json:"empty"`
		} `json:"stores"`
	}
	read := func() status {
		t.Helper()
		code, out, errOut := retentionRun(t, policyNow, "status", "--data", data, "--json")
		if code != ExitOK {
			t.Fatalf("status: exit %d: %s", code, errOut)
		}
		var s status
		if err := json.Unmarshal([]byte(out), &s); err != nil {
			t.Fatalf("status --json: %v: %s", err, out)
		}
		return s
	}
	if s := read(); s.Stores[0].Store != "quality_logs" || s.Stores[0].Within {
		t.Fatalf("before the sweep: %+v", s)
	}
	code, out, errOut := retentionRun(t, policyNow, "run", "--data", data, "--json")
	if code != ExitOK {
		t.Fatalf("run: exit %d: %s", code, errOut)
	}
	var res struct {
		Results []struct {
			Store   string `json:"store"`
			Deleted int64  `json:"deleted_rows"`
		} `json:"results"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil || res.Results[0].Deleted != 1 {
		t.Fatalf("run --json = %s (%v)", out, err)
	}
	for _, s := range read().Stores {
		// The keystore always holds its current epoch key.
		if !s.Within || (!s.Empty && s.Store != "keystore") {
			t.Errorf("after the sweep: %+v", s)
		}
	}
	if code, _, _ := retentionRun(t, policyNow, "status", "--data", filepath.Join(t.TempDir(), "none")); code != ExitFailure {
		t.Fatalf("status of a missing data dir: exit %d", code)
	}
}

type holdOut struct {
	ID         int64  `json:"id"`
	SDKAppID   uint32 `json:"sdkappid"`
	Scope      string `json:"scope"`
	SubjectRef string `json:"subject_ref"`
	Reason     string `json:"reason"`
	Note       string `json:"note"`
	CreatedAt  string `json:"created_at"`
	ExpiresAt  string `json:"expires_at"`
	ReleasedAt string `json:"released_at"`
	Active     bool   `json:"active"`
}

func holdRun(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	return retentionRun(t, policyNow, append([]string{"hold"}, args...)...)
}

// `parley retention hold add|list|release --json`: a user hold stores
// the user's blind-index reference, never the id; a hold needs a legal
// ground and an end within 3 years; status counts the holds in force.
// proves RETAIN-4
func TestRetentionHoldCommands(t *testing.T) {
	data := newPolicyApp(t)
	const app = "1400000001"
	db, err := openDataDB(t.Context(), data)
	if err != nil {
		t.Fatal(err)
	}
	aliceRef := db.UserRef(1400000001, "alice")
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	code, out, errOut := holdRun(t, "add", "--data", data, "--sdkappid", app, "--user", "alice", "--reason", "court",
		"--for", "90d", "--note", "case 12", "--json")
	if code != ExitOK {
		t.Fatalf("hold add --user: exit %d: %s", code, errOut)
	}
	if strings.Contains(out, "alice") {
		t.Fatalf("the hold shows the user id: %s", out)
	}
	user := decodeJSON[holdOut](t, out)
	if user.Scope != "user" || user.SubjectRef != aliceRef || user.Reason != "court" || !user.Active ||
		user.ExpiresAt != policyNow.Add(90*24*time.Hour).Format(time.RFC3339) {
		t.Fatalf("user hold = %+v", user)
	}
	code, out, errOut = holdRun(t, "add", "--data", data, "--sdkappid", app, "--reason", "law", "--until", "2027-01-31", "--json")
	if code != ExitOK {
		t.Fatalf("hold add: exit %d: %s", code, errOut)
	}
	whole := decodeJSON[holdOut](t, out)
	if whole.Scope != "app" || whole.SubjectRef != "" || whole.ExpiresAt != "2027-02-01T00:00:00Z" {
		t.Fatalf("app hold = %+v", whole)
	}

	for _, bad := range []struct {
		code int
		want string
		args []string
	}{
		{ExitUsage, "--reason", []string{"--reason", "curiosity", "--for", "9d"}},
		{ExitUsage, "expiry is mandatory", []string{"--reason", "law"}},
		{ExitFailure, "more than 1095 days", []string{"--reason", "law", "--for", "1200d"}},
		{ExitFailure, "at most 200", []string{"--reason", "law", "--for", "9d", "--note", strings.Repeat("n", 201)}},
	} {
		code, _, errOut := holdRun(t, append([]string{"add", "--data", data, "--sdkappid", app}, bad.args...)...)
		if code != bad.code || !strings.Contains(errOut, bad.want) {
			t.Errorf("hold add %v: exit %d, %q; want %d and %q", bad.args, code, errOut, bad.code, bad.want)
		}
	}
	if code, _, errOut := holdRun(t, "add", "--data", data, "--sdkappid", "1499999999", "--reason", "law", "--for", "9d"); code != ExitFailure {
		t.Errorf("hold on an unknown app: exit %d: %s", code, errOut)
	}

	list := func(args ...string) []holdOut {
		t.Helper()
		code, out, errOut := holdRun(t, append([]string{"list", "--data", data, "--json"}, args...)...)
		if code != ExitOK {
			t.Fatalf("hold list: exit %d: %s", code, errOut)
		}
		return decodeJSON[struct {
			Holds []holdOut `json:"holds"`
		}](t, out).Holds
	}
	if hs := list(); len(hs) != 2 || hs[0].ID != user.ID || hs[1].ID != whole.ID {
		t.Fatalf("hold list = %+v", hs)
	}
	code, out, errOut = holdRun(t, "release", "--data", data, "--id", strconv.FormatInt(user.ID, 10), "--json")
	if code != ExitOK {
		t.Fatalf("hold release: exit %d: %s", code, errOut)
	}
	if rel := decodeJSON[holdOut](t, out); rel.Active || rel.ReleasedAt != policyNow.Format(time.RFC3339) {
		t.Fatalf("released hold = %+v", rel)
	}
	if hs := list(); len(hs) != 1 || hs[0].ID != whole.ID {
		t.Fatalf("hold list after release = %+v", hs)
	}
	if hs := list("--all"); len(hs) != 2 || hs[0].ReleasedAt == "" {
		t.Fatalf("hold list --all = %+v", hs)
	}
	if code, _, errOut := holdRun(t, "release", "--data", data, "--id", strconv.FormatInt(user.ID, 10)); code != ExitFailure ||
		!strings.Contains(errOut, "already ended") {
		t.Errorf("release twice: exit %d: %s", code, errOut)
	}
	if code, _, errOut := holdRun(t, "release", "--data", data, "--id", "999"); code != ExitFailure || !strings.Contains(errOut, "no legal hold") {
		t.Errorf("release unknown: exit %d: %s", code, errOut)
	}

	code, out, errOut = retentionRun(t, policyNow, "status", "--data", data, "--json")
	if code != ExitOK {
		t.Fatalf("status: exit %d: %s", code, errOut)
	}
	var st struct {
		Stores []struct {
			Store string `json:"store"`
		} `json:"stores"`
		ActiveHolds int `json:"active_holds"`
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("status --json: %v: %s", err, out)
	}
	var terminated bool
	for _, s := range st.Stores {
		terminated = terminated || s.Store == "terminated_apps"
	}
	if st.ActiveHolds != 1 || !terminated {
		t.Fatalf("status = %+v; want 1 active hold and the terminated_apps target", st)
	}
}
