package cli

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

func TestAppSettingsChangesOnlyNamedFlags(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	code, out, errOut := appRun(t, nil, "create", "--name", "demo", "--data", data, "--json")
	if code != ExitOK {
		t.Fatalf("create: %d %s", code, errOut)
	}
	id := fmt.Sprint(decodeJSON[appOut](t, out).SDKAppID)

	code, out, errOut = appRun(t, nil, "settings", "--data", data, "--sdkappid", id, "--private-map-key", "on", "--recording", "on", "--json")
	if code != ExitOK {
		t.Fatalf("settings: %d %s", code, errOut)
	}
	got := decodeJSON[appOut](t, out)
	if !got.Settings.EnforcePrivateMapKey || !got.Settings.Recording || got.Settings.Relay {
		t.Fatalf("settings after change: %+v", got.Settings)
	}
	if got.SecretKey != "" {
		t.Fatal("settings output must not show the secret key")
	}
	// A second call changing only relay keeps the others.
	code, out, _ = appRun(t, nil, "settings", "--data", data, "--sdkappid", id, "--relay", "on", "--json")
	got = decodeJSON[appOut](t, out)
	if code != ExitOK || !got.Settings.EnforcePrivateMapKey || !got.Settings.Recording || !got.Settings.Relay {
		t.Fatalf("relay change lost other settings: %+v", got.Settings)
	}
	code, _, errOut = appRun(t, nil, "settings", "--data", data, "--sdkappid", id, "--relay", "maybe")
	if code != ExitUsage || !strings.Contains(errOut, `"maybe" is not on or off`) {
		t.Fatalf("bad on/off value: %d %q", code, errOut)
	}
	code, _, errOut = appRun(t, nil, "settings", "--data", data, "--sdkappid", id, "--billing", "free")
	if code != ExitFailure || !strings.Contains(errOut, "billing") {
		t.Fatalf("bad billing mode: %d %q", code, errOut)
	}
}

// --message-retention-days sets the app's own message retention, kept
// with the other settings and shown by later calls; 0 returns to the
// server's im.retention; out-of-range values are refused and change
// nothing. proves RETAIN-3
func TestAppSettingsMessageRetention(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	code, out, errOut := appRun(t, nil, "create", "--name", "demo", "--data", data, "--json")
	if code != ExitOK {
		t.Fatalf("create: %d %s", code, errOut)
	}
	id := fmt.Sprint(decodeJSON[appOut](t, out).SDKAppID)
	type retentionOut struct {
		Settings struct {
			Relay                bool `json:"relay"`
			MessageRetentionDays *int `json:"message_retention_days"`
		} `json:"settings"`
	}
	settings := func(args ...string) (int, retentionOut, string) {
		t.Helper()
		code, out, errOut := appRun(t, nil, append([]string{"settings", "--data", data, "--sdkappid", id, "--json"}, args...)...)
		var got retentionOut
		if code == ExitOK {
			if err := json.Unmarshal([]byte(out), &got); err != nil {
				t.Fatalf("%q: %v", out, err)
			}
		}
		return code, got, errOut
	}
	if code, got, errOut := settings("--message-retention-days", "30", "--relay", "on"); code != ExitOK ||
		got.Settings.MessageRetentionDays == nil || *got.Settings.MessageRetentionDays != 30 || !got.Settings.Relay {
		t.Fatalf("set 30 days: %d %+v %s", code, got, errOut)
	}
	if code, got, _ := settings("--relay", "off"); code != ExitOK || got.Settings.MessageRetentionDays == nil ||
		*got.Settings.MessageRetentionDays != 30 {
		t.Fatalf("a later change lost the retention: %d %+v", code, got)
	}
	// list and show carry it too.
	code, out, _ = appRun(t, nil, "list", "--data", data, "--json")
	if code != ExitOK || !strings.Contains(out, `"message_retention_days": 30`) {
		t.Fatalf("list --json: %d %s", code, out)
	}
	code, out, _ = appRun(t, nil, "list", "--data", data)
	if lines := strings.Split(strings.TrimSpace(out), "\n"); code != ExitOK || len(lines) != 2 ||
		!strings.HasSuffix(lines[0], "MESSAGES KEPT") || !strings.HasSuffix(lines[1], " 30d") {
		t.Fatalf("list: %d %q", code, out)
	}
	code, out, _ = appRun(t, nil, "show", "--data", data, "--sdkappid", id)
	if code != ExitOK || !strings.Contains(out, "Messages kept: 30 days\n") {
		t.Fatalf("show: %d %q", code, out)
	}
	for _, bad := range []string{"3651", "-1"} {
		code, _, errOut := settings("--message-retention-days", bad)
		if code != ExitFailure || !strings.Contains(errOut, "message retention "+bad+" days (want 0 for the server's im.retention, or 1-3650)") {
			t.Fatalf("%s days: %d %q", bad, code, errOut)
		}
	}
	if code, _, errOut := settings("--message-retention-days", "a week"); code != ExitUsage || !strings.Contains(errOut, `"a week" is not a whole number of days`) {
		t.Fatalf("non-number: %d %q", code, errOut)
	}
	code, out, _ = appRun(t, nil, "settings", "--data", data, "--sdkappid", id)
	if code != ExitOK || !strings.Contains(out, "Messages kept: 30 days\n") {
		t.Fatalf("text output after refused changes: %d %q", code, out)
	}
	if code, got, _ := settings("--message-retention-days", "0"); code != ExitOK || got.Settings.MessageRetentionDays != nil {
		t.Fatalf("back to the default: %d %+v (0 is left out of the JSON)", code, got)
	}
	if code, out, _ = appRun(t, nil, "settings", "--data", data, "--sdkappid", id); !strings.Contains(out, "Messages kept: server default (im.retention)\n") {
		t.Fatalf("text output at the default: %d %q", code, out)
	}
}
