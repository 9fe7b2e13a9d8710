package cli

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parley-rtc/parley/internal/app"
	"github.com/parley-rtc/parley/internal/keyring"
	"github.com/parley-rtc/parley/internal/store"
)

func keysRun(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	var out, errb bytes.Buffer
	env := Env{Stdout: &out, Stderr: &errb, Getenv: func(string) string { return "" }, Now: time.Now}
	code := Main(ctx, append([]string{"keys"}, args...), env)
	return code, out.String(), errb.String()
}

// Rotating the KEK reseals app secrets, callback keys and the keystore:
// afterwards the new key opens everything stored before (secrets, a
// user's sealed consent, the same blind index), and the old key opens
// nothing.
func TestKeysRotateKEK(t *testing.T) {
	data := newPolicyApp(t)
	ctx := t.Context()
	if code, _, errOut := appRun(t, nil, "callback", "--data", data, "--sdkappid", "1400000001", "--url", "https://backend.example/cb", "--key", "cbkey1"); code != ExitOK {
		t.Fatalf("callback: %s", errOut)
	}
	db, err := openDataDB(ctx, data)
	if err != nil {
		t.Fatal(err)
	}
	ref := db.UserRef(1400000001, "alice")
	if _, _, err := db.AppendConsent(ctx, store.ConsentEntry{SDKAppID: 1400000001, UserID: "alice", DeviceID: "d1",
		Action: store.ConsentGrant, PolicyVersion: "v1", Purposes: []string{"rtc"}, Method: "sdk", RecordedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	oldKEK, err := os.ReadFile(filepath.Join(data, app.KEKFile))
	if err != nil {
		t.Fatal(err)
	}
	_, before, _ := appRun(t, nil, "show", "--data", data, "--sdkappid", "1400000001", "--json")

	code, out, errOut := keysRun(t, "rotate-kek", "--data", data, "--json")
	if code != ExitOK {
		t.Fatalf("rotate-kek: exit %d: %s", code, errOut)
	}
	var r rotateJSON
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	if r.SecretsResealed != 1 || r.CallbacksResealed != 1 || !r.KeystoreResealed || !r.KEKFileReplaced || r.OldKEKID == r.NewKEKID {
		t.Fatalf("rotation: %+v", r)
	}
	newKEK, _ := os.ReadFile(filepath.Join(data, app.KEKFile))
	if bytes.Equal(newKEK, oldKEK) {
		t.Fatal("the KEK file was not replaced")
	}
	if _, err := os.Stat(filepath.Join(data, app.KEKFile+".new")); err == nil {
		t.Fatal("the staging file was left behind")
	}
	// The new key opens what was stored before, with the same references.
	_, after, _ := appRun(t, nil, "show", "--data", data, "--sdkappid", "1400000001", "--json")
	if !strings.Contains(after, `"secret_key"`) || after != before {
		t.Fatalf("app after rotation:\n%s\nbefore:\n%s", after, before)
	}
	db, err = openDataDB(ctx, data)
	if err != nil {
		t.Fatal(err)
	}
	es, err := db.ExportConsent(ctx, 1400000001, "alice")
	if err != nil || len(es) != 1 || es[0].DeviceID != "d1" || db.UserRef(1400000001, "alice") != ref {
		t.Fatalf("consent after rotation: %+v %v", es, err)
	}
	db.Close()
	// The old key opens nothing any more.
	old, _ := keyring.ParseKEK(string(oldKEK))
	if _, err := app.OpenLocalStores(context.Background(), app.LocalOptions{DataDir: data,
		KEKEnv: base64Std(old)}); !errors.Is(err, keyring.ErrWrongKEK) {
		t.Fatalf("old KEK: %v, want ErrWrongKEK", err)
	}
	if code, out, _ := keysRun(t, "status", "--data", data, "--json"); code != ExitOK || !strings.Contains(out, r.NewKEKID) {
		t.Fatalf("status: %s", out)
	}
}

func base64Std(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
