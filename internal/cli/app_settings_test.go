package cli

import (
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
