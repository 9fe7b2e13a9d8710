package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

const (
	usKey = "5bd2850fff3ecb11d7c805251c51ee463a25727bddc2385f3fa8bfee1bb93b5e"
	usT0  = 1767225600 // 2026-01-01T00:00:00Z
)

// usRun runs UserSig with captured output, the clock at unix second
// now and the given environment variables.
func usRun(t *testing.T, now int64, vars map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	env := Env{
		Stdout: &out,
		Stderr: &errb,
		Getenv: func(k string) string { return vars[k] },
		Now:    func() time.Time { return time.Unix(now, 0) },
	}
	code = UserSig(context.Background(), args, env)
	return code, out.String(), errb.String()
}

func usGen(t *testing.T, args ...string) string {
	t.Helper()
	code, out, errs := usRun(t, usT0, nil, append([]string{"gen", "--sdkappid", "1400000000", "--key", usKey, "--user", "alice"}, args...)...)
	if code != ExitOK {
		t.Fatalf("gen: exit %d: %s", code, errs)
	}
	return strings.TrimSpace(out)
}

func TestUserSigGenVerify(t *testing.T) {
	sig := usGen(t, "--expire", "3600")
	if !strings.HasPrefix(sig, "eJ") {
		t.Fatalf("sig %q", sig)
	}
	code, out, errs := usRun(t, usT0+3600, nil, "verify", "--sdkappid", "1400000000", "--key", usKey, "--user", "alice", "--sig", sig)
	if code != ExitOK || out != "valid: expires at 2026-01-01T01:00:00Z\n" {
		t.Fatalf("verify: exit %d, stdout %q, stderr %q", code, out, errs)
	}
	code, out, _ = usRun(t, usT0, nil, "verify", "--sdkappid=1400000000", "--key", usKey, "--user", "alice", "--sig", sig, "--json")
	var v map[string]any
	if err := json.Unmarshal([]byte(out), &v); code != ExitOK || err != nil || v["valid"] != true || v["expires_at"] != "2026-01-01T01:00:00Z" {
		t.Fatalf("verify --json: exit %d, %q", code, out)
	}
}

func TestUserSigGenJSONAndDefaults(t *testing.T) {
	code, out, errs := usRun(t, usT0, map[string]string{usSecretKeyEnv: usKey}, "gen", "--sdkappid", "1400000000", "--user", "alice", "--json")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var v struct {
		UserSig  string `json:"usersig"`
		SDKAppID uint32 `json:"sdkappid"`
		User     string `json:"user"`
		Expire   int64  `json:"expire"`
	}
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatal(err)
	}
	if v.SDKAppID != 1400000000 || v.User != "alice" || v.Expire != 86400*180 || v.UserSig == "" {
		t.Fatalf("json %+v", v)
	}
	// The key came from the environment; verify with it on the command line.
	code, _, errs = usRun(t, usT0+86400*180, nil, "verify", "--sdkappid", "1400000000", "--key", usKey, "--user", "alice", "--sig", v.UserSig)
	if code != ExitOK {
		t.Fatalf("verify: exit %d: %s", code, errs)
	}
}

func TestUserSigVerifyFailures(t *testing.T) {
	sig := usGen(t, "--expire", "60")
	for _, tc := range []struct {
		name   string
		now    int64
		args   []string
		stderr string
		reason string
	}{
		{"wrong app", usT0, []string{"--sdkappid", "1400000001", "--key", usKey, "--user", "alice", "--sig", sig}, "wrong app", "wrong_app"},
		{"wrong user", usT0, []string{"--sdkappid", "1400000000", "--key", usKey, "--user", "bob", "--sig", sig}, "wrong user", "wrong_user"},
		{"expired", usT0 + 61, []string{"--sdkappid", "1400000000", "--key", usKey, "--user", "alice", "--sig", sig}, "expired at 2026-01-01T00:01:00Z", "expired"},
		{"bad signature", usT0, []string{"--sdkappid", "1400000000", "--key", "other", "--user", "alice", "--sig", sig}, "bad signature", "bad_signature"},
		{"bad encoding", usT0, []string{"--sdkappid", "1400000000", "--key", usKey, "--user", "alice", "--sig", sig[:len(sig)-4]}, "bad encoding: zlib", "bad_encoding"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errs := usRun(t, tc.now, nil, append([]string{"verify"}, tc.args...)...)
			if code != ExitFailure || out != "" || !strings.Contains(errs, "usersig verify: "+tc.stderr) {
				t.Fatalf("exit %d, stdout %q, stderr %q; want %q", code, out, errs, tc.stderr)
			}
			code, out, _ = usRun(t, tc.now, nil, append([]string{"verify", "--json"}, tc.args...)...)
			var v map[string]any
			if err := json.Unmarshal([]byte(out), &v); code != ExitFailure || err != nil || v["valid"] != false || v["reason"] != tc.reason {
				t.Fatalf("--json: exit %d, %q", code, out)
			}
		})
	}
}

func TestUserSigVerifyOfficialVector(t *testing.T) {
	data, err := os.ReadFile("../../testdata/usersig/vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var vf struct {
		Official []struct {
			Kind     string `json:"kind"`
			SDKAppID uint32 `json:"sdkappid"`
			Key      string `json:"key"`
			User     string `json:"user"`
			Time     int64  `json:"time"`
			Token    string `json:"token"`
			RoomID   uint32 `json:"room_id"`
			Priv     uint32 `json:"privileges"`
		} `json:"official"`
	}
	if err := json.Unmarshal(data, &vf); err != nil {
		t.Fatal(err)
	}
	var sigs, keys int
	for _, v := range vf.Official {
		common := []string{"--sdkappid", strconv.FormatUint(uint64(v.SDKAppID), 10), "--key", v.Key, "--user", v.User, "--sig", v.Token}
		switch {
		case v.Kind == "usersig":
			sigs++
			if code, _, errs := usRun(t, v.Time, nil, append([]string{"verify"}, common...)...); code != ExitOK {
				t.Fatalf("official usersig: exit %d: %s", code, errs)
			}
		case v.Kind == "privatemapkey" && v.RoomID != 0:
			keys++
			args := append([]string{"privatemapkey", "verify", "--room", strconv.FormatUint(uint64(v.RoomID), 10)}, common...)
			code, out, errs := usRun(t, v.Time, nil, args...)
			if code != ExitOK || !strings.Contains(out, "("+strconv.FormatUint(uint64(v.Priv), 10)+")") {
				t.Fatalf("official privatemapkey: exit %d, %q, %s", code, out, errs)
			}
		}
	}
	if sigs == 0 || keys == 0 {
		t.Fatalf("checked %d usersigs and %d privatemapkeys", sigs, keys)
	}
}

func TestUserSigPrivateMapKey(t *testing.T) {
	base := []string{"--sdkappid", "1400000000", "--key", usKey, "--user", "alice"}
	code, out, errs := usRun(t, usT0, nil, append([]string{"privatemapkey", "gen", "--str-room", "team-1", "--privileges", "42"}, base...)...)
	if code != ExitOK {
		t.Fatalf("gen: exit %d: %s", code, errs)
	}
	key := strings.TrimSpace(out)
	verify := func(now int64, room ...string) (int, string, string) {
		args := append(append([]string{"privatemapkey", "verify"}, room...), append(base, "--sig", key)...)
		return usRun(t, now, nil, args...)
	}
	code, out, errs = verify(usT0+300, "--str-room", "team-1")
	if code != ExitOK || out != "valid: privileges enter, recv-audio, recv-video (42), expires at 2026-01-01T00:05:00Z\n" {
		t.Fatalf("verify: exit %d, %q, %s", code, out, errs)
	}
	code, _, errs = verify(usT0, "--str-room", "team-2")
	if code != ExitFailure || !strings.Contains(errs, "wrong room") {
		t.Fatalf("other room: exit %d, %s", code, errs)
	}
	code, _, errs = verify(usT0+301, "--str-room", "team-1")
	if code != ExitFailure || !strings.Contains(errs, "expired at 2026-01-01T00:05:00Z") {
		t.Fatalf("expired: exit %d, %s", code, errs)
	}
	// A PrivateMapKey is not a UserSig.
	code, _, errs = usRun(t, usT0, nil, append([]string{"verify", "--sig", key}, base...)...)
	if code != ExitFailure || !strings.Contains(errs, "userbuf mismatch") {
		t.Fatalf("as usersig: exit %d, %s", code, errs)
	}
	code, out, _ = usRun(t, usT0, nil, append([]string{"privatemapkey", "gen", "--room", "10000", "--privileges", "255", "--json"}, base...)...)
	var v map[string]any
	if err := json.Unmarshal([]byte(out), &v); code != ExitOK || err != nil || v["room_id"] != float64(10000) || v["expire"] != float64(300) {
		t.Fatalf("gen --json: exit %d, %q", code, out)
	}
}

func TestUserSigUsage(t *testing.T) {
	base := []string{"--sdkappid", "1400000000", "--key", usKey, "--user", "alice"}
	for _, tc := range []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"no command", nil, ExitUsage, "Usage: parley usersig"},
		{"help", []string{"--help"}, ExitOK, "privatemapkey gen"},
		{"unknown command", []string{"mint"}, ExitUsage, `unknown command "mint"`},
		{"gen help", []string{"gen", "--help"}, ExitOK, "-expire SECONDS"},
		{"verify help", []string{"verify", "-h"}, ExitOK, "-sig UserSig"},
		{"privatemapkey help", []string{"privatemapkey", "gen", "--help"}, ExitOK, "-privileges BITS"},
		{"privatemapkey no verb", []string{"privatemapkey"}, ExitUsage, "want 'gen' or 'verify'"},
		{"missing sdkappid", []string{"gen", "--key", usKey, "--user", "alice"}, ExitUsage, "--sdkappid is required"},
		{"sdkappid too big", []string{"gen", "--sdkappid", "4294967296", "--key", usKey, "--user", "alice"}, ExitUsage, "invalid value"},
		{"sdkappid not a number", []string{"gen", "--sdkappid", "x", "--key", usKey, "--user", "alice"}, ExitUsage, "invalid value"},
		{"missing key", []string{"gen", "--sdkappid", "1", "--user", "alice"}, ExitUsage, "PARLEY_SECRET_KEY is required"},
		{"missing user", []string{"gen", "--sdkappid", "1", "--key", "k"}, ExitUsage, "--user is required"},
		{"invalid user", append([]string{"gen"}, append(base[:4], "--user", "a b")...), ExitUsage, "invalid user id"},
		{"zero expire", append([]string{"gen", "--expire", "0"}, base...), ExitUsage, "--expire must be"},
		{"unknown flag", append([]string{"gen", "--ttl", "5"}, base...), ExitUsage, "flag provided but not defined"},
		{"stray argument", append([]string{"gen"}, append(base, "extra")...), ExitUsage, `unexpected argument "extra"`},
		{"verify without sig", append([]string{"verify"}, base...), ExitUsage, "--sig is required"},
		{"both rooms", append([]string{"privatemapkey", "gen", "--room", "1", "--str-room", "a", "--privileges", "1"}, base...), ExitUsage, "exactly one of --room and --str-room"},
		{"no room", append([]string{"privatemapkey", "gen", "--privileges", "1"}, base...), ExitUsage, "exactly one of --room and --str-room"},
		{"room zero", append([]string{"privatemapkey", "gen", "--room", "0", "--privileges", "1"}, base...), ExitUsage, "--room must be"},
		{"bad string room", append([]string{"privatemapkey", "gen", "--str-room", "a/b", "--privileges", "1"}, base...), ExitUsage, "invalid room id"},
		{"no privileges", append([]string{"privatemapkey", "gen", "--room", "1"}, base...), ExitUsage, "--privileges is required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errs := usRun(t, usT0, nil, tc.args...)
			if code != tc.code || !strings.Contains(errs, tc.stderr) {
				t.Fatalf("exit %d (want %d), stderr %q lacks %q", code, tc.code, errs, tc.stderr)
			}
			if tc.code != ExitOK && out != "" {
				t.Fatalf("stdout %q on a usage error", out)
			}
		})
	}
}
