package cli

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

func TestAppCallbackCommand(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	code, out, errOut := appRun(t, nil, "create", "--name", "demo", "--data", data, "--json")
	if code != ExitOK {
		t.Fatalf("create: %d %s", code, errOut)
	}
	id := fmt.Sprint(decodeJSON[appOut](t, out).SDKAppID)
	code, out, errOut = appRun(t, nil, "callback", "--data", data, "--sdkappid", id, "--url", "https://backend.example/cb", "--key", "Secret123", "--json")
	if code != ExitOK || !strings.Contains(out, `"key_set": true`) || strings.Contains(out, "Secret123") {
		t.Fatalf("set: %d %q %q", code, out, errOut)
	}
	code, out, _ = appRun(t, nil, "callback", "--data", data, "--sdkappid", id)
	if code != ExitOK || !strings.Contains(out, "https://backend.example/cb") || strings.Contains(out, "Secret123") {
		t.Fatalf("show: %d %q", code, out)
	}
	if code, _, errOut = appRun(t, nil, "callback", "--data", data, "--sdkappid", id, "--url", "https://x/y", "--key", "bad key!"); code != ExitUsage || !strings.Contains(errOut, "letters and digits") {
		t.Fatalf("bad key: %d %q", code, errOut)
	}
	if code, _, _ = appRun(t, nil, "callback", "--data", data, "--sdkappid", id, "--url", "https://x/y"); code != ExitUsage {
		t.Fatal("--url without --key accepted")
	}
	code, out, _ = appRun(t, nil, "callback", "--data", data, "--sdkappid", id, "--clear", "--json")
	if code != ExitOK || !strings.Contains(out, `"key_set": false`) {
		t.Fatalf("clear: %d %q", code, out)
	}
}
