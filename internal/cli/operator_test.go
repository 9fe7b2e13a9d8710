package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parley-rtc/parley/internal/operator"
)

func operatorRun(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	var out, errb bytes.Buffer
	env := Env{Stdout: &out, Stderr: &errb, Getenv: func(string) string { return "" },
		Now: func() time.Time { return policyNow }}
	code = Main(ctx, append([]string{"operator"}, args...), env)
	return code, out.String(), errb.String()
}

func writePasswordFile(t *testing.T, pw string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(p, []byte(pw+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// loginWorks opens the data directory and logs in as name.
func loginWorks(t *testing.T, data, name, pw string) error {
	t.Helper()
	db, err := openDataDB(t.Context(), data)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	_, err = operator.New(db, operator.Options{}).Login(t.Context(), name, pw)
	return err
}

// proves SEC-2: operators are created with a role (the first an owner),
// listed without passwords, disabled (never the last owner) and given new
// passwords from the CLI.
func TestOperatorCommands(t *testing.T) {
	data := newPolicyApp(t)
	code, _, errOut := operatorRun(t, "create", "--data", data, "--name", "dev", "--role", "developer")
	if code != ExitFailure || !strings.Contains(errOut, "the first operator must have role owner") {
		t.Fatalf("first operator a developer: %d %s", code, errOut)
	}
	code, out, errOut := operatorRun(t, "create", "--data", data, "--name", "owner", "--role", "owner", "--json")
	if code != ExitOK {
		t.Fatalf("create owner: %d %s", code, errOut)
	}
	owner := decodeJSON[operatorJSON](t, out)
	if owner.ID != 1 || owner.Role != "owner" || len(owner.Password) != 32 {
		t.Fatalf("owner %+v", owner)
	}
	if err := loginWorks(t, data, "owner", owner.Password); err != nil {
		t.Fatalf("login with the printed password: %v", err)
	}

	pwFile := writePasswordFile(t, "support-password-123456")
	code, out, errOut = operatorRun(t, "create", "--data", data, "--name", "sup", "--role", "support", "--password-file", pwFile)
	if code != ExitOK || !strings.Contains(out, `Operator "sup" (id 2) created with role support.`) || strings.Contains(out, "Password") {
		t.Fatalf("create support: %d %q %s", code, out, errOut)
	}
	if err := loginWorks(t, data, "sup", "support-password-123456"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"create", "--name", "x", "--role", "admin"}, ExitUsage, `role "admin": want one of owner, developer, support, auditor`},
		{[]string{"create", "--name", "bad name", "--role", "support"}, ExitUsage, "--name: operator: invalid: name must be ASCII"},
		{[]string{"create", "--name", "x", "--role", "support", "--password-file", writePasswordFile(t, "short")}, ExitUsage, "password must be 15-1024 characters"},
		{[]string{"create", "--name", "sup", "--role", "auditor"}, ExitFailure, `name already taken: "sup"`},
		{[]string{"disable", "--name", "owner"}, ExitFailure, "cannot disable the last active owner"},
		{[]string{"disable", "--name", "nobody"}, ExitFailure, `not found: "nobody"`},
		{[]string{"passwd", "--name", "nobody"}, ExitFailure, `not found: "nobody"`},
	} {
		code, _, errOut := operatorRun(t, append(tc.args, "--data", data)...)
		if code != tc.code || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: %d %q, want %d %q", tc.args, code, errOut, tc.code, tc.want)
		}
	}

	code, out, _ = operatorRun(t, "passwd", "--data", data, "--name", "sup", "--json")
	np := decodeJSON[operatorJSON](t, out).Password
	if code != ExitOK || len(np) != 32 {
		t.Fatalf("passwd: %d %s", code, out)
	}
	if err := loginWorks(t, data, "sup", np); err != nil {
		t.Fatalf("new password: %v", err)
	}
	if code, out, _ = operatorRun(t, "disable", "--data", data, "--name", "sup"); code != ExitOK || !strings.Contains(out, "disabled") {
		t.Fatalf("disable: %d %s", code, out)
	}
	if err := loginWorks(t, data, "sup", np); err == nil {
		t.Fatal("a disabled operator logged in")
	}
	code, out, _ = operatorRun(t, "list", "--data", data)
	if code != ExitOK || !strings.Contains(out, "owner  owner") || !strings.Contains(out, "disabled 2026-11-05T08:00:00Z") || strings.Contains(out, "pbkdf2") {
		t.Fatalf("list:\n%s", out)
	}
	code, out, _ = operatorRun(t, "list", "--data", data, "--json")
	if code != ExitOK || strings.Contains(out, "password") || !strings.Contains(out, `"disabled_at"`) {
		t.Fatalf("list json: %s", out)
	}
}

func TestOperatorListEmptyAndMissingData(t *testing.T) {
	data := newPolicyApp(t)
	if code, out, _ := operatorRun(t, "list", "--data", data); code != ExitOK || !strings.Contains(out, "parley operator create --name owner --role owner") {
		t.Fatalf("empty list: %d %s", code, out)
	}
	if code, _, errOut := operatorRun(t, "list", "--data", filepath.Join(t.TempDir(), "none")); code != ExitFailure || !strings.Contains(errOut, "no database") {
		t.Fatalf("missing data dir: %d %s", code, errOut)
	}
}
