package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/parley-rtc/parley/internal/auth"
	"github.com/parley-rtc/parley/protocol"
)

// usSecretKeyEnv lets scripts pass the SecretKey without putting it on the
// command line, where other local users can read it (ps, shell history).
const usSecretKeyEnv = "PARLEY_SECRET_KEY"

// usDefaultPMKExpire is the lifetime the official libraries
// recommend for a PrivateMapKey (REFERENCE.md §1.1).
const usDefaultPMKExpire = 300

const usersigUsage = `Usage: parley usersig <command> [flags]

Commands:
  gen                 generate a UserSig
  verify              verify a UserSig (exit 0 if valid, 1 if not)
  privatemapkey gen   generate a PrivateMapKey for one room
  privatemapkey verify
                      verify a PrivateMapKey for one room

The SecretKey is read from --key or, if that is empty, $PARLEY_SECRET_KEY.
Run 'parley usersig <command> --help' for its flags.
`

// UserSig generates and verifies TRTC-compatible UserSigs and
// PrivateMapKeys (TLSSigAPIv2, REFERENCE.md §1.1).
func UserSig(_ context.Context, args []string, env Env) int {
	if len(args) == 0 {
		io.WriteString(env.Stderr, usersigUsage)
		return ExitUsage
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		io.WriteString(env.Stderr, usersigUsage)
		return ExitOK
	case "gen":
		return usersigGen(args[1:], env)
	case "verify":
		return usersigVerify(args[1:], env)
	case "privatemapkey":
		if len(args) > 1 && args[1] == "gen" {
			return usersigPMKGen(args[2:], env)
		}
		if len(args) > 1 && args[1] == "verify" {
			return usersigPMKVerify(args[2:], env)
		}
		fmt.Fprintln(env.Stderr, "parley usersig privatemapkey: want 'gen' or 'verify'")
		io.WriteString(env.Stderr, usersigUsage)
		return ExitUsage
	default:
		fmt.Fprintf(env.Stderr, "parley usersig: unknown command %q\n\n", args[0])
		io.WriteString(env.Stderr, usersigUsage)
		return ExitUsage
	}
}

// usUint32Value is a flag.Value for a uint32 that remembers whether it was set.
type usUint32Value struct {
	v   uint32
	set bool
}

func (u *usUint32Value) String() string {
	if u == nil || !u.set {
		return ""
	}
	return strconv.FormatUint(uint64(u.v), 10)
}

func (u *usUint32Value) Set(s string) error {
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return errors.New("want an integer 0-4294967295")
	}
	u.v, u.set = uint32(n), true
	return nil
}

// usFlags are the flags every subcommand shares.
type usFlags struct {
	fs       *flag.FlagSet
	sdkAppID usUint32Value
	key      string
	user     string
	json     bool
}

func newUSFlags(name, synopsis string, env Env) *usFlags {
	f := &usFlags{fs: flag.NewFlagSet("parley usersig "+name, flag.ContinueOnError)}
	f.fs.SetOutput(env.Stderr)
	f.fs.Usage = func() {
		fmt.Fprintf(env.Stderr, "Usage: parley usersig %s %s\n\nFlags:\n", name, synopsis)
		f.fs.PrintDefaults()
	}
	f.fs.Var(&f.sdkAppID, "sdkappid", "the app's `SDKAppID` (required)")
	f.fs.StringVar(&f.key, "key", "", "the app's SecretKey (default $"+usSecretKeyEnv+")")
	f.fs.StringVar(&f.user, "user", "", "the `UserID` (required)")
	f.fs.BoolVar(&f.json, "json", false, "print a JSON object")
	return f
}

// parse parses args and checks the shared required flags. It returns -1 to
// continue, or the exit code to return.
func (f *usFlags) parse(args []string, env Env) int {
	if err := f.fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return ExitOK
		}
		return ExitUsage
	}
	if f.key == "" && env.Getenv != nil {
		f.key = env.Getenv(usSecretKeyEnv)
	}
	switch {
	case f.fs.NArg() > 0:
		return f.usageErr(env, "unexpected argument %q", f.fs.Arg(0))
	case !f.sdkAppID.set || f.sdkAppID.v == 0:
		return f.usageErr(env, "--sdkappid is required (1-4294967295)")
	case f.key == "":
		return f.usageErr(env, "--key or $%s is required", usSecretKeyEnv)
	case f.user == "":
		return f.usageErr(env, "--user is required")
	}
	return -1
}

func (f *usFlags) usageErr(env Env, format string, a ...any) int {
	fmt.Fprintf(env.Stderr, "%s: %s\n", f.fs.Name(), fmt.Sprintf(format, a...))
	f.fs.Usage()
	return ExitUsage
}

// usExpireFlag registers --expire in seconds.
func usExpireFlag(fs *flag.FlagSet, def int64) *int64 {
	return fs.Int64("expire", def, "lifetime in `SECONDS`")
}

func usCheckExpire(f *usFlags, env Env, expire int64) int {
	if expire <= 0 || expire > int64(time.Duration(1<<63-1)/time.Second) {
		return f.usageErr(env, "--expire must be a positive number of seconds")
	}
	return -1
}

func usNow(env Env) time.Time {
	if env.Now == nil {
		return time.Now()
	}
	return env.Now()
}

// usGenFailed reports a generation error: bad input is a usage error.
func usGenFailed(env Env, name string, err error) int {
	if errors.Is(err, auth.ErrInvalidArgument) {
		fmt.Fprintf(env.Stderr, "parley usersig %s: %v\n", name, err)
		return ExitUsage
	}
	return fail(env, "usersig %s: %v", name, err)
}

func usersigGen(args []string, env Env) int {
	f := newUSFlags("gen", "--sdkappid N --key KEY --user U [--expire SECONDS] [--json]", env)
	expire := usExpireFlag(f.fs, int64(auth.DefaultUserSigExpire/time.Second))
	if rc := f.parse(args, env); rc >= 0 {
		return rc
	}
	if rc := usCheckExpire(f, env, *expire); rc >= 0 {
		return rc
	}
	t := usNow(env)
	sig, err := auth.GenerateUserSig(f.sdkAppID.v, f.key, f.user, time.Duration(*expire)*time.Second, t)
	if err != nil {
		return usGenFailed(env, "gen", err)
	}
	if f.json {
		return writeJSON(env, map[string]any{
			"usersig":    sig,
			"sdkappid":   f.sdkAppID.v,
			"user":       f.user,
			"expire":     *expire,
			"expires_at": time.Unix(t.Unix()+*expire, 0).UTC().Format(time.RFC3339),
		})
	}
	fmt.Fprintln(env.Stdout, sig)
	return ExitOK
}

// usReasonCode names a verification failure for --json output.
func usReasonCode(err error) string {
	for _, r := range []struct {
		err  error
		code string
	}{
		{auth.ErrBadEncoding, "bad_encoding"},
		{auth.ErrWrongApp, "wrong_app"},
		{auth.ErrWrongUser, "wrong_user"},
		{auth.ErrExpired, "expired"},
		{auth.ErrBadSignature, "bad_signature"},
		{auth.ErrUserBufMismatch, "userbuf_mismatch"},
		{auth.ErrWrongRoom, "wrong_room"},
		{auth.ErrInvalidArgument, "invalid_argument"},
	} {
		if errors.Is(err, r.err) {
			return r.code
		}
	}
	return "error"
}

// usVerifyFailed prints why a token is invalid, as JSON or on stderr.
func usVerifyFailed(env Env, name string, asJSON bool, err error) int {
	if asJSON {
		if rc := writeJSON(env, map[string]any{"valid": false, "reason": usReasonCode(err), "error": err.Error()}); rc != ExitOK {
			return rc
		}
		return ExitFailure
	}
	return fail(env, "usersig %s: %v", name, err)
}

func usersigVerify(args []string, env Env) int {
	f := newUSFlags("verify", "--sdkappid N --key KEY --user U --sig SIG [--json]", env)
	sig := f.fs.String("sig", "", "the `UserSig` to verify (required)")
	if rc := f.parse(args, env); rc >= 0 {
		return rc
	}
	if *sig == "" {
		return f.usageErr(env, "--sig is required")
	}
	c, err := auth.VerifyUserSig(f.sdkAppID.v, f.key, f.user, *sig, usNow(env))
	if err != nil {
		return usVerifyFailed(env, "verify", f.json, err)
	}
	exp := c.ExpiresAt().Format(time.RFC3339)
	if f.json {
		return writeJSON(env, map[string]any{
			"valid":      true,
			"sdkappid":   c.SDKAppID,
			"user":       c.Identifier,
			"issued_at":  c.IssuedAt().Format(time.RFC3339),
			"expires_at": exp,
		})
	}
	fmt.Fprintf(env.Stdout, "valid: expires at %s\n", exp)
	return ExitOK
}

// usRoomFlags registers --room and --str-room.
type usRoomFlags struct {
	id  usUint32Value
	str string
}

func newUSRoomFlags(fs *flag.FlagSet) *usRoomFlags {
	r := &usRoomFlags{}
	fs.Var(&r.id, "room", "numeric room `ID` (1-4294967295); or --str-room")
	fs.StringVar(&r.str, "str-room", "", "string room `ID`; or --room")
	return r
}

// room returns the chosen room, or an exit code if the flags are unusable.
func (r *usRoomFlags) room(f *usFlags, env Env) (protocol.RoomRef, int) {
	if r.id.set == (r.str != "") {
		return protocol.RoomRef{}, f.usageErr(env, "give exactly one of --room and --str-room")
	}
	ref := protocol.RoomRef{ID: r.id.v, Str: r.str}
	if r.id.set && r.id.v == 0 {
		return protocol.RoomRef{}, f.usageErr(env, "--room must be 1-4294967295")
	}
	if err := ref.Validate(); err != nil {
		return protocol.RoomRef{}, f.usageErr(env, "%v", err)
	}
	return ref, -1
}

func usRoomJSON(m map[string]any, r protocol.RoomRef) map[string]any {
	if r.ID != 0 {
		m["room_id"] = r.ID
	} else {
		m["str_room_id"] = r.Str
	}
	return m
}

func usersigPMKGen(args []string, env Env) int {
	f := newUSFlags("privatemapkey gen", "--sdkappid N --key KEY --user U (--room N | --str-room S) --privileges BITS [--expire SECONDS] [--json]", env)
	rf := newUSRoomFlags(f.fs)
	var priv usUint32Value
	f.fs.Var(&priv, "privileges", "privilege `BITS` (required): 1 create, 2 enter, 4 send audio, 8 recv audio, 16 send video, 32 recv video, 64 send sub, 128 recv sub; 255 all, 42 audience")
	expire := usExpireFlag(f.fs, usDefaultPMKExpire)
	if rc := f.parse(args, env); rc >= 0 {
		return rc
	}
	room, rc := rf.room(f, env)
	if rc >= 0 {
		return rc
	}
	if !priv.set {
		return f.usageErr(env, "--privileges is required")
	}
	if rc := usCheckExpire(f, env, *expire); rc >= 0 {
		return rc
	}
	t := usNow(env)
	key, err := auth.GeneratePrivateMapKey(f.sdkAppID.v, f.key, f.user, room, auth.Privileges(priv.v), time.Duration(*expire)*time.Second, t)
	if err != nil {
		return usGenFailed(env, "privatemapkey gen", err)
	}
	if f.json {
		return writeJSON(env, usRoomJSON(map[string]any{
			"privatemapkey": key,
			"sdkappid":      f.sdkAppID.v,
			"user":          f.user,
			"privileges":    priv.v,
			"expire":        *expire,
			"expires_at":    time.Unix(t.Unix()+*expire, 0).UTC().Format(time.RFC3339),
		}, room))
	}
	fmt.Fprintln(env.Stdout, key)
	return ExitOK
}

func usersigPMKVerify(args []string, env Env) int {
	f := newUSFlags("privatemapkey verify", "--sdkappid N --key KEY --user U (--room N | --str-room S) --sig PRIVATEMAPKEY [--json]", env)
	rf := newUSRoomFlags(f.fs)
	sig := f.fs.String("sig", "", "the `PrivateMapKey` to verify (required)")
	if rc := f.parse(args, env); rc >= 0 {
		return rc
	}
	room, rc := rf.room(f, env)
	if rc >= 0 {
		return rc
	}
	if *sig == "" {
		return f.usageErr(env, "--sig is required")
	}
	c, err := auth.VerifyPrivateMapKey(f.sdkAppID.v, f.key, f.user, room, *sig, usNow(env))
	if err != nil {
		return usVerifyFailed(env, "privatemapkey verify", f.json, err)
	}
	// The key is valid until the earlier of its two expiries.
	exp := c.ExpiresAt()
	if abs := time.Unix(int64(c.Map.ExpiresAt), 0).UTC(); abs.Before(exp) {
		exp = abs
	}
	if f.json {
		return writeJSON(env, usRoomJSON(map[string]any{
			"valid":      true,
			"sdkappid":   c.SDKAppID,
			"user":       c.Identifier,
			"privileges": uint32(c.Map.Privileges),
			"expires_at": exp.Format(time.RFC3339),
		}, c.Map.Room))
	}
	fmt.Fprintf(env.Stdout, "valid: privileges %s (%d), expires at %s\n",
		strings.ReplaceAll(c.Map.Privileges.String(), "|", ", "), uint32(c.Map.Privileges), exp.Format(time.RFC3339))
	return ExitOK
}
