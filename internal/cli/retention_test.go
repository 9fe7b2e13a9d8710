package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
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
		if !s.Within || !s.Empty {
			t.Errorf("after the sweep: %+v", s)
		}
	}
	if code, _, _ := retentionRun(t, policyNow, "status", "--data", filepath.Join(t.TempDir(), "none")); code != ExitFailure {
		t.Fatalf("status of a missing data dir: exit %d", code)
	}
}
