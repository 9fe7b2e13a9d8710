package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/parley-rtc/parley/internal/privacy/disclosure"
)

// disclosureRun runs `parley disclosure ARGS` in-process.
func disclosureRun(t *testing.T, vars map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	var out, errb bytes.Buffer
	env := Env{
		Stdout: &out,
		Stderr: &errb,
		Getenv: func(k string) string { return vars[k] },
		Now:    func() time.Time { return time.Date(2026, 11, 5, 8, 0, 0, 0, time.UTC) },
	}
	code = Main(ctx, append([]string{"disclosure"}, args...), env)
	return code, out.String(), errb.String()
}

func decodeDisclosure(t *testing.T, s string) disclosure.Document {
	t.Helper()
	var d disclosure.Document
	dec := json.NewDecoder(strings.NewReader(s))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&d); err != nil {
		t.Fatalf("decode disclosure: %v\n%s", err, s)
	}
	return d
}

func findItem(d disclosure.Document, id string) (disclosure.Item, bool) {
	for _, x := range append(append([]disclosure.Item{}, d.Required...), d.Optional...) {
		if x.ID == id {
			return x, true
		}
	}
	return disclosure.Item{}, false
}

// proves DISCLOSE-1: without a store the flags describe the app.
func TestDisclosureFromFlags(t *testing.T) {
	code, out, errOut := disclosureRun(t, nil, "--app", "1400000001", "--platform", "android", "--lang", "en",
		"--format", "json", "--name", "Demo", "--switch", "audio_enable=on", "--switch", "ext.apm=off", "--recording", "on",
		"--policy-url", "https://example.com/p", "--policy-version", "v3")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	d := decodeDisclosure(t, out)
	if d.App.SDKAppID != 1400000001 || d.App.Name != "Demo" || !d.App.Recording || d.Policy.URL != "https://example.com/p" || d.Policy.Version != "v3" {
		t.Errorf("app %+v policy %+v", d.App, d.Policy)
	}
	if x, ok := findItem(d, "media.audio"); !ok || !x.Stored || !x.Recorded {
		t.Errorf("media.audio = %+v, %t; want stored by recording", x, ok)
	}
	if _, ok := findItem(d, "media.video"); ok {
		t.Error("media.video disclosed although streams_config is off")
	}
	if _, ok := findItem(d, "quality.rtt_ms"); ok {
		t.Error("quality.rtt_ms disclosed although ext.apm is off")
	}

	// Default: Chinese text.
	code, out, errOut = disclosureRun(t, nil, "--app", "7", "--platform", "harmony")
	if code != ExitOK || !strings.Contains(out, "第三方 SDK 名称：Parley RTC SDK（HarmonyOS 鸿蒙）") {
		t.Fatalf("exit %d: %s\n%s", code, errOut, out)
	}
}

// proves DISCLOSE-1, COLLECT-3: with --data the name and the recording and
// relay settings come from the store, and a contradicting flag is refused.
func TestDisclosureFromStore(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	code, out, errOut := appRun(t, nil, "create", "--name", "field-app", "--data", data, "--json")
	if code != ExitOK {
		t.Fatalf("create: exit %d: %s", code, errOut)
	}
	a := decodeJSON[appOut](t, out)
	id := strconv.FormatUint(uint64(a.SDKAppID), 10)

	code, out, errOut = disclosureRun(t, nil, "--app", id, "--data", data, "--platform", "ios", "--lang", "en",
		"--format", "json", "--switch", "audio_enable=on", "--switch", "streams_config=on")
	if code != ExitOK {
		t.Fatalf("disclosure: exit %d: %s", code, errOut)
	}
	d := decodeDisclosure(t, out)
	if d.App.Name != "field-app" || d.App.Recording || d.App.Relay {
		t.Errorf("app %+v", d.App)
	}
	if x, _ := findItem(d, "media.video"); x.Stored {
		t.Errorf("media.video stored with recording off: %+v", x)
	}

	if code, _, errOut := appRun(t, nil, "settings", "--sdkappid", id, "--data", data, "--recording", "on", "--relay", "on"); code != ExitOK {
		t.Fatalf("settings: exit %d: %s", code, errOut)
	}
	outFile := filepath.Join(t.TempDir(), "PrivacyInfo.xcprivacy")
	code, out, errOut = disclosureRun(t, nil, "--app", id, "--data", data, "--platform", "ios", "--format", "xcprivacy",
		"--switch", "audio_enable=on", "--switch", "streams_config=on", "--out", outFile)
	if code != ExitOK || out != "" {
		t.Fatalf("disclosure --out: exit %d, stdout %q: %s", code, out, errOut)
	}
	b, err := os.ReadFile(outFile)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "NSPrivacyCollectedDataTypeAudioData") || !strings.Contains(string(b), "cloud recording on") {
		t.Errorf("recording on, but the privacy manifest does not collect audio:\n%s", b)
	}

	// A flag contradicting the store is refused.
	code, _, errOut = disclosureRun(t, nil, "--app", id, "--data", data, "--platform", "ios", "--recording", "off")
	if code != ExitUsage || !strings.Contains(errOut, "has recording on") {
		t.Errorf("contradicting --recording: exit %d: %s", code, errOut)
	}
	// An unknown app.
	code, _, errOut = disclosureRun(t, nil, "--app", "99", "--data", data, "--platform", "ios")
	if code != ExitFailure || !strings.Contains(errOut, "no app with SDKAppID 99") {
		t.Errorf("unknown app: exit %d: %s", code, errOut)
	}
	// A data directory without a database is not created.
	empty := filepath.Join(t.TempDir(), "nothing")
	code, _, errOut = disclosureRun(t, nil, "--app", id, "--data", empty, "--platform", "ios")
	if code != ExitFailure || !strings.Contains(errOut, "no database") {
		t.Errorf("missing store: exit %d: %s", code, errOut)
	}
	if _, err := os.Stat(empty); err == nil {
		t.Error("disclosure created a data directory")
	}
}

func TestDisclosureUsageErrors(t *testing.T) {
	data := t.TempDir()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--platform", "ios"}, "--app is required"},
		{[]string{"--app", "1"}, "--platform is required"},
		{[]string{"--app", "1", "--platform", "symbian"}, "platform"},
		{[]string{"--app", "1", "--platform", "ios", "--format", "pdf"}, "format"},
		{[]string{"--app", "1", "--platform", "ios", "--lang", "fr"}, "lang"},
		{[]string{"--app", "1", "--platform", "ios", "--switch", "field.device.imei=on"}, "not declared"},
		{[]string{"--app", "1", "--platform", "ios", "--switch", "ext.apm"}, "id=on|off"},
		{[]string{"--app", "1", "--platform", "ios", "--switch", "ext.apm=maybe"}, "not on or off"},
		{[]string{"--app", "1", "--platform", "ios", "--data", data, "--name", "x"}, "--name comes from the store"},
		{[]string{"--app", "1", "--platform", "ios", "stray"}, "unexpected argument"},
	} {
		code, _, errOut := disclosureRun(t, nil, c.args...)
		if code != ExitUsage || !strings.Contains(errOut, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want usage error mentioning %q", c.args, code, errOut, c.want)
		}
	}
	if code, _, _ := disclosureRun(t, nil, "--help"); code != ExitOK {
		t.Errorf("--help: exit %d", code)
	}
}
