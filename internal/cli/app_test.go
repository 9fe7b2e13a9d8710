package cli

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parley-rtc/parley/internal/app"
	"github.com/parley-rtc/parley/internal/keyring"
	"github.com/parley-rtc/parley/internal/store/sqlite"
)

// appRun runs `parley app ARGS` in-process with the given environment.
func appRun(t *testing.T, vars map[string]string, args ...string) (code int, stdout, stderr string) {
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
	code = Main(ctx, append([]string{"app"}, args...), env)
	return code, out.String(), errb.String()
}

type appOut struct {
	SDKAppID  uint32    `json:"sdkappid"`
	Name      string    `json:"name"`
	SecretKey string    `json:"secret_key"`
	CreatedAt time.Time `json:"created_at"`
	Settings  struct {
		Recording            bool   `json:"recording"`
		Relay                bool   `json:"relay"`
		BillingMode          string `json:"billing_mode"`
		EnforcePrivateMapKey bool   `json:"enforce_private_map_key"`
		MinorAudience        bool   `json:"minor_audience"`
	} `json:"settings"`
}

func decodeJSON[T any](t *testing.T, s string) T {
	t.Helper()
	var v T
	dec := json.NewDecoder(strings.NewReader(s))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("decode %q: %v", s, err)
	}
	return v
}

func TestAppLifecycleJSON(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")

	code, out, errOut := appRun(t, nil, "create", "--name", "demo", "--data", data, "--json")
	if code != ExitOK {
		t.Fatalf("create: exit %d: %s", code, errOut)
	}
	created := decodeJSON[appOut](t, out)
	if created.SDKAppID != 1400000001 || created.Name != "demo" || len(created.SecretKey) != 64 {
		t.Fatalf("create output %+v", created)
	}
	if created.Settings.BillingMode != "participant_minutes" {
		t.Errorf("billing_mode = %q", created.Settings.BillingMode)
	}
	if !created.CreatedAt.Equal(time.Date(2026, 11, 5, 8, 0, 0, 0, time.UTC)) {
		t.Errorf("created_at = %v (injected clock not used)", created.CreatedAt)
	}
	for _, f := range []string{"parley.db", "kek"} {
		if _, err := os.Stat(filepath.Join(data, f)); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}

	code, out, errOut = appRun(t, nil, "show", "--sdkappid", "1400000001", "--data", data, "--json")
	if code != ExitOK {
		t.Fatalf("show: exit %d: %s", code, errOut)
	}
	if shown := decodeJSON[appOut](t, out); shown.SecretKey != created.SecretKey || shown.Name != "demo" {
		t.Fatalf("show output %+v", shown)
	}

	if code, _, errOut := appRun(t, nil, "create", "--name", "second", "--data", data); code != ExitOK {
		t.Fatalf("create second: exit %d: %s", code, errOut)
	}
	code, out, _ = appRun(t, nil, "list", "--data", data, "--json")
	if code != ExitOK {
		t.Fatalf("list: exit %d", code)
	}
	list := decodeJSON[struct {
		Apps []appOut `json:"apps"`
	}](t, out)
	if len(list.Apps) != 2 || list.Apps[0].SDKAppID != 1400000001 || list.Apps[1].SDKAppID != 1400000002 {
		t.Fatalf("list %+v", list)
	}
	if strings.Contains(out, created.SecretKey) || list.Apps[0].SecretKey != "" {
		t.Fatal("list prints secrets")
	}

	code, out, errOut = appRun(t, nil, "rotate", "--sdkappid", "1400000001", "--data", data, "--json")
	if code != ExitOK {
		t.Fatalf("rotate: exit %d: %s", code, errOut)
	}
	if rotated := decodeJSON[appOut](t, out); rotated.SecretKey == created.SecretKey || len(rotated.SecretKey) != 64 {
		t.Fatalf("rotate output %+v", rotated)
	}

	code, out, errOut = appRun(t, nil, "delete", "--sdkappid", "1400000001", "--data", data, "--json")
	if code != ExitOK {
		t.Fatalf("delete: exit %d: %s", code, errOut)
	}
	if d := decodeJSON[struct {
		SDKAppID uint32 `json:"sdkappid"`
		Deleted  bool   `json:"deleted"`
	}](t, out); d.SDKAppID != 1400000001 || !d.Deleted {
		t.Fatalf("delete output %s", out)
	}
	code, _, errOut = appRun(t, nil, "show", "--sdkappid", "1400000001", "--data", data)
	if code != ExitFailure || !strings.Contains(errOut, "no app with SDKAppID 1400000001") {
		t.Fatalf("show deleted: exit %d: %s", code, errOut)
	}
	code, _, errOut = appRun(t, nil, "delete", "--sdkappid", "1400000001", "--data", data)
	if code != ExitFailure || !strings.Contains(errOut, "no app with SDKAppID") {
		t.Fatalf("delete twice: exit %d: %s", code, errOut)
	}
}

func TestAppHumanOutput(t *testing.T) {
	data := t.TempDir()
	code, out, errOut := appRun(t, map[string]string{"PARLEY_DATA": data}, "create", "--name", "demo")
	if code != ExitOK {
		t.Fatalf("create: exit %d: %s", code, errOut)
	}
	for _, want := range []string{"Created app \"demo\".", "SDKAppID:      1400000001", "SecretKey:     ", "Keep the secret key private"} {
		if !strings.Contains(out, want) {
			t.Errorf("create output lacks %q:\n%s", want, out)
		}
	}
	code, out, _ = appRun(t, map[string]string{"PARLEY_DATA": data}, "list")
	if code != ExitOK {
		t.Fatalf("list: exit %d", code)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "SDKAPPID") || !strings.HasPrefix(lines[1], "1400000001  demo") {
		t.Fatalf("list output:\n%s", out)
	}
	// Columns line up: NAME starts where the name does.
	if strings.Index(lines[0], "NAME") != strings.Index(lines[1], "demo") {
		t.Errorf("columns not aligned:\n%s", out)
	}
	code, out, _ = appRun(t, map[string]string{"PARLEY_DATA": data}, "show", "--sdkappid", "1400000001")
	if code != ExitOK || !strings.Contains(out, "Billing:       participant_minutes") {
		t.Fatalf("show: exit %d:\n%s", code, out)
	}
}

func TestAppKEKFromEnv(t *testing.T) {
	data := t.TempDir()
	kek := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{5}, 32))
	vars := map[string]string{"PARLEY_KEK": kek}
	if code, _, errOut := appRun(t, vars, "create", "--name", "x", "--data", data); code != ExitOK {
		t.Fatalf("create: exit %d: %s", code, errOut)
	}
	if _, err := os.Stat(filepath.Join(data, "kek")); !os.IsNotExist(err) {
		t.Fatalf("kek file written although PARLEY_KEK is set: %v", err)
	}
	if code, _, errOut := appRun(t, vars, "show", "--sdkappid", "1400000001", "--data", data); code != ExitOK {
		t.Fatalf("show with same KEK: exit %d: %s", code, errOut)
	}
	// Without PARLEY_KEK a new file key is made, which did not seal the
	// secret: the error says so instead of printing garbage.
	code, _, errOut := appRun(t, nil, "show", "--sdkappid", "1400000001", "--data", data)
	if code != ExitFailure || !strings.Contains(errOut, "another key-encryption key") {
		t.Fatalf("show with other KEK: exit %d: %s", code, errOut)
	}
	if strings.Contains(errOut, kek) {
		t.Fatal("KEK printed")
	}
}

func TestAppConfigFile(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "from-config")
	kekFile := filepath.Join(dir, "keys", "kek")
	cfg := filepath.Join(dir, "parley.yaml")
	if err := os.WriteFile(cfg, []byte("data_dir: "+data+"\nkek_file: "+kekFile+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := appRun(t, nil, "create", "--name", "x", "--config", cfg); code != ExitOK {
		t.Fatalf("create: exit %d: %s", code, errOut)
	}
	for _, p := range []string{filepath.Join(data, "parley.db"), kekFile} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
	if code, _, errOut := appRun(t, map[string]string{"PARLEY_CONFIG": cfg}, "show", "--sdkappid", "1400000001"); code != ExitOK {
		t.Fatalf("show via PARLEY_CONFIG: exit %d: %s", code, errOut)
	}
	if err := os.WriteFile(cfg, []byte("data_dri: x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := appRun(t, nil, "list", "--config", cfg)
	if code != ExitFailure || !strings.Contains(errOut, `unknown key "data_dri"`) {
		t.Fatalf("bad config: exit %d: %s", code, errOut)
	}
}

func TestAppUsageErrors(t *testing.T) {
	data := t.TempDir()
	cases := []struct {
		args []string
		code int
		want string
	}{
		{nil, ExitUsage, "Usage: parley app"},
		{[]string{"--help"}, ExitOK, "Usage: parley app"},
		{[]string{"frobnicate"}, ExitUsage, `unknown subcommand "frobnicate"`},
		{[]string{"create", "--data", data}, ExitUsage, "--name: app: invalid name: empty"},
		{[]string{"create", "--name", strings.Repeat("x", 65), "--data", data}, ExitUsage, "longer than 64"},
		{[]string{"create", "--help"}, ExitOK, "-name"},
		{[]string{"create", "--name", "a", "extra"}, ExitUsage, `unexpected argument "extra"`},
		{[]string{"show", "--data", data}, ExitUsage, "--sdkappid is required"},
		{[]string{"show", "--sdkappid", "4294967296", "--data", data}, ExitUsage, "--sdkappid is required and must be 1-4294967295"},
		{[]string{"delete", "--sdkappid", "x"}, ExitUsage, "invalid value"},
		{[]string{"list", "--bogus"}, ExitUsage, "flag provided but not defined"},
		{[]string{"list", "--data", filepath.Join(data, "nope")}, ExitFailure, "no database at"},
	}
	for _, c := range cases {
		code, _, errOut := appRun(t, nil, c.args...)
		if code != c.code || !strings.Contains(errOut, c.want) {
			t.Errorf("app %v: exit %d, stderr %q; want exit %d containing %q", c.args, code, errOut, c.code, c.want)
		}
	}
	if _, err := os.Stat(filepath.Join(data, "nope")); !os.IsNotExist(err) {
		t.Error("list created a data directory")
	}
}

// openDataDB opens the database of a data directory made by the CLI, with
// the key the CLI created there, as the server would.
func openDataDB(ctx context.Context, data string) (*sqlite.DB, error) {
	kek, err := keyring.LoadOrCreateKEK(filepath.Join(data, app.KEKFile), "")
	if err != nil {
		return nil, err
	}
	return sqlite.Open(ctx, filepath.Join(data, app.DBFile), sqlite.Options{KEK: kek})
}
