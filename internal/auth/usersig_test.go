package auth

import (
	"bytes"
	"compress/zlib"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestUserSigRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name    string
		level   int
		userBuf []byte
		prefix  string
	}{
		{"default level", zlib.DefaultCompression, nil, "eJ"},
		{"stored like the Go library", zlib.NoCompression, nil, "eAEA"},
		{"default level with userbuf", zlib.DefaultCompression, []byte("hello\x00\xff"), "eJ"},
		{"stored with userbuf", zlib.NoCompression, []byte("hello"), "eAEA"},
		{"empty userbuf", zlib.DefaultCompression, []byte{}, "eJ"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sig := mustGen(t, tc.userBuf, tc.level)
			if !strings.HasPrefix(sig, tc.prefix) {
				t.Fatalf("token %q does not start with %q", sig, tc.prefix)
			}
			c, err := VerifyUserSigWithUserBuf(testApp, testKey, testUser, sig, tc.userBuf, unix(testT0+10))
			if err != nil {
				t.Fatalf("verify: %v", err)
			}
			want := Claims{Identifier: testUser, SDKAppID: testApp, Time: testT0, Expire: 3600, UserBuf: tc.userBuf}
			if c.Identifier != want.Identifier || c.SDKAppID != want.SDKAppID || c.Time != want.Time ||
				c.Expire != want.Expire || !bytes.Equal(c.UserBuf, want.UserBuf) || c.HasUserBuf() != (tc.userBuf != nil) {
				t.Fatalf("claims %+v, want %+v", c, want)
			}
			if got := c.ExpiresAt(); !got.Equal(unix(testT0 + 3600)) {
				t.Fatalf("ExpiresAt %v", got)
			}
			if got := c.IssuedAt(); !got.Equal(unix(testT0)) {
				t.Fatalf("IssuedAt %v", got)
			}
			p, err := ParseUserSig(sig)
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			if p.Identifier != c.Identifier || p.Time != c.Time || !bytes.Equal(p.UserBuf, c.UserBuf) {
				t.Fatalf("parse %+v, verify %+v", p, c)
			}
		})
	}
}

func TestPublicGenerators(t *testing.T) {
	sig, err := GenerateUserSig(testApp, testKey, testUser, DefaultUserSigExpire, unix(testT0))
	if err != nil {
		t.Fatal(err)
	}
	c, err := VerifyUserSig(testApp, testKey, testUser, sig, unix(testT0))
	if err != nil {
		t.Fatal(err)
	}
	if c.Expire != 86400*180 || c.HasUserBuf() {
		t.Fatalf("claims %+v", c)
	}
	sig, err = GenerateUserSigWithUserBuf(testApp, testKey, testUser, time.Minute, nil, unix(testT0))
	if err != nil {
		t.Fatal(err)
	}
	// A nil userbuf is issued as an empty one, which VerifyUserSig refuses.
	if _, err := VerifyUserSigWithUserBuf(testApp, testKey, testUser, sig, []byte{}, unix(testT0)); err != nil {
		t.Fatal(err)
	}
	_, err = VerifyUserSig(testApp, testKey, testUser, sig, unix(testT0))
	wantOnly(t, err, ErrUserBufMismatch)
}

func TestVerifyUserSigRejects(t *testing.T) {
	plain := mustGen(t, nil, zlib.DefaultCompression)
	withBuf := mustGen(t, []byte("abc"), zlib.DefaultCompression)
	now := unix(testT0 + 1)
	for _, tc := range []struct {
		name    string
		app     uint32
		key     string
		user    string
		sig     string
		userBuf []byte
		now     time.Time
		want    error
		msg     string
	}{
		{"wrong app", testApp + 1, testKey, testUser, plain, nil, now, ErrWrongApp, "wrong app: token is for sdkappid 1400000000, want 1400000001"},
		{"wrong user", testApp, testKey, "other", plain, nil, now, ErrWrongUser, "wrong user"},
		{"user differs in case", testApp, testKey, "XiaoJun", plain, nil, now, ErrWrongUser, "wrong user"},
		{"expired", testApp, testKey, testUser, plain, nil, unix(testT0 + 3601), ErrExpired, "expired at 2026-01-01T01:00:00Z"},
		{"wrong key", testApp, testKey + "x", testUser, plain, nil, now, ErrBadSignature, "bad signature"},
		{"unexpected userbuf", testApp, testKey, testUser, withBuf, nil, now, ErrUserBufMismatch, "none expected"},
		{"missing userbuf", testApp, testKey, testUser, plain, []byte("abc"), now, ErrUserBufMismatch, "one expected"},
		{"different userbuf", testApp, testKey, testUser, withBuf, []byte("abd"), now, ErrUserBufMismatch, "different"},
		{"empty key", testApp, "", testUser, plain, nil, now, ErrInvalidArgument, "empty secret key"},
		{"garbage", testApp, testKey, testUser, "not a token", nil, now, ErrBadEncoding, "bad encoding: base64"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := VerifyUserSigWithUserBuf(tc.app, tc.key, tc.user, tc.sig, tc.userBuf, tc.now)
			wantOnly(t, err, tc.want)
			if !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("error %q does not contain %q", err, tc.msg)
			}
			if strings.Contains(err.Error(), testUser) || strings.Contains(err.Error(), testKey) {
				t.Fatalf("error %q leaks the user ID or key", err)
			}
		})
	}
}

func TestExpiryBoundary(t *testing.T) {
	sig := mustGen(t, nil, zlib.DefaultCompression) // time testT0, expire 3600
	for _, tc := range []struct {
		now   time.Time
		valid bool
	}{
		{unix(testT0 - 10), true}, // issued slightly in the future: clock skew is the issuer's business
		{unix(testT0), true},
		{unix(testT0 + 3600), true}, // now == time+expire is valid
		{unix(testT0 + 3600).Add(999 * time.Millisecond), true},
		{unix(testT0 + 3601), false}, // +1 s is expired
	} {
		_, err := VerifyUserSig(testApp, testKey, testUser, sig, tc.now)
		if tc.valid && err != nil {
			t.Errorf("now %v: %v", tc.now, err)
		}
		if !tc.valid {
			wantOnly(t, err, ErrExpired)
		}
	}
}

func TestExpirySaturates(t *testing.T) {
	c := Claims{Time: 1 << 62, Expire: 1 << 62}
	if c.expired(unix(1 << 40)) {
		t.Fatal("overflowing expiry treated as expired")
	}
}

// rawToken encodes an arbitrary JSON document as a token.
func rawToken(t testing.TB, doc string, level int) string {
	t.Helper()
	z, err := deflate([]byte(doc), level)
	if err != nil {
		t.Fatal(err)
	}
	return encodeTencentBase64(z)
}

// signedDoc returns a valid JSON document for testUser with the given
// extra or replaced fields.
func signedDoc(t testing.TB, edit func(m map[string]any)) string {
	t.Helper()
	c := Claims{Identifier: testUser, SDKAppID: testApp, Time: testT0, Expire: 3600}
	m := map[string]any{
		"TLS.ver": "2.0", "TLS.identifier": c.Identifier, "TLS.sdkappid": c.SDKAppID,
		"TLS.time": c.Time, "TLS.expire": c.Expire,
		"TLS.sig": sign(testKey, c, ""),
	}
	if edit != nil {
		edit(m)
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestGoLibraryStyleToken(t *testing.T) {
	// tencentyun/tls-sig-api-v2-golang: field order ver, identifier,
	// sdkappid, expire, time, sig; json.Encoder's trailing newline; stored.
	c := Claims{Identifier: testUser, SDKAppID: testApp, Time: testT0, Expire: 3600}
	doc := fmt.Sprintf(`{"TLS.ver":"2.0","TLS.identifier":%q,"TLS.sdkappid":%d,"TLS.expire":%d,"TLS.time":%d,"TLS.sig":%q}`+"\n",
		c.Identifier, c.SDKAppID, c.Expire, c.Time, base64.StdEncoding.EncodeToString(sign(testKey, c, "")))
	sig := rawToken(t, doc, zlib.NoCompression)
	if !strings.HasPrefix(sig, "eAEA") {
		t.Fatalf("token %q", sig)
	}
	if _, err := VerifyUserSig(testApp, testKey, testUser, sig, unix(testT0)); err != nil {
		t.Fatal(err)
	}
	// Unknown fields are ignored.
	sig = rawToken(t, signedDoc(t, func(m map[string]any) { m["TLS.future"] = []int{1} }), zlib.BestCompression)
	if _, err := VerifyUserSig(testApp, testKey, testUser, sig, unix(testT0)); err != nil {
		t.Fatal(err)
	}
}

func TestParseRejects(t *testing.T) {
	valid := mustGen(t, nil, zlib.DefaultCompression)
	bomb := rawToken(t, `{"TLS.ver":"2.0","pad":"`+strings.Repeat("a", MaxInflatedBytes)+`"}`, zlib.BestCompression)
	if len(bomb) > MaxTokenBytes {
		t.Fatalf("bomb is %d bytes, exceeds the token bound before inflating", len(bomb))
	}
	withDoc := func(edit func(m map[string]any)) string {
		return rawToken(t, signedDoc(t, edit), zlib.DefaultCompression)
	}
	del := func(k string) func(map[string]any) { return func(m map[string]any) { delete(m, k) } }
	set := func(k string, v any) func(map[string]any) { return func(m map[string]any) { m[k] = v } }
	for _, tc := range []struct {
		name, sig, msg string
	}{
		{"empty", "", "empty token"},
		{"too long", strings.Repeat("A", MaxTokenBytes+4), "at most 4096"},
		{"standard base64 plus", strings.Replace(valid, "e", "+", 1), "outside Tencent's alphabet"},
		{"standard base64 padding", valid[:len(valid)-1] + "=", "outside Tencent's alphabet"},
		{"embedded newline", valid[:8] + "\n" + valid[8:], "outside Tencent's alphabet"},
		{"bad base64 length", valid[:len(valid)-3], "base64"},
		{"not zlib", encodeTencentBase64([]byte("hello world")), "zlib"},
		{"bad adler32", encodeTencentBase64(flipLast(mustDecode(t, valid))), "zlib"},
		{"zip bomb", bomb, "inflates to more than 16384 bytes"},
		{"json syntax", rawToken(t, `{"TLS.ver":`, zlib.DefaultCompression), "json"},
		{"json array", rawToken(t, `["TLS.ver"]`, zlib.DefaultCompression), "json"},
		{"json trailing data", rawToken(t, signedDoc(t, nil)+"{}", zlib.DefaultCompression), "json"},
		{"json null", rawToken(t, `null`, zlib.DefaultCompression), "missing TLS.ver"},
		{"time as string", withDoc(set("TLS.time", "1767225600")), "json"},
		{"expire as float", withDoc(set("TLS.expire", 3600.5)), "json"},
		{"sdkappid overflows uint32", withDoc(set("TLS.sdkappid", uint64(1)<<32)), "json"},
		{"sdkappid negative", withDoc(set("TLS.sdkappid", -1)), "json"},
		{"identifier as number", withDoc(set("TLS.identifier", 7)), "json"},
		{"ver as number", withDoc(set("TLS.ver", 2.0)), "json"},
		{"missing ver", withDoc(del("TLS.ver")), "missing TLS.ver"},
		{"missing identifier", withDoc(del("TLS.identifier")), "missing TLS.identifier"},
		{"missing sdkappid", withDoc(del("TLS.sdkappid")), "missing TLS.sdkappid"},
		{"missing time", withDoc(del("TLS.time")), "missing TLS.time"},
		{"missing expire", withDoc(del("TLS.expire")), "missing TLS.expire"},
		{"missing sig", withDoc(del("TLS.sig")), "missing TLS.sig"},
		{"null sig", withDoc(set("TLS.sig", nil)), "missing TLS.sig"},
		{"version 1.0", withDoc(set("TLS.ver", "1.0")), `TLS.ver is "1.0"`},
		{"empty identifier", withDoc(set("TLS.identifier", "")), "empty TLS.identifier"},
		{"negative time", withDoc(set("TLS.time", -1)), "negative TLS.time"},
		{"negative expire", withDoc(set("TLS.expire", -1)), "negative TLS.expire"},
		{"sig not base64", withDoc(set("TLS.sig", "!!")), "TLS.sig"},
		{"userbuf not base64", withDoc(set("TLS.userbuf", "a")), "TLS.userbuf"},
		{"userbuf non-canonical base64", withDoc(set("TLS.userbuf", "YR==")), "TLS.userbuf"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseUserSig(tc.sig)
			wantOnly(t, err, ErrBadEncoding)
			if !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("error %q does not contain %q", err, tc.msg)
			}
			_, err = VerifyUserSig(testApp, testKey, testUser, tc.sig, unix(testT0))
			wantOnly(t, err, ErrBadEncoding)
		})
	}
}

func mustDecode(t testing.TB, s string) []byte {
	t.Helper()
	b, err := decodeTencentBase64(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func flipLast(b []byte) []byte {
	c := bytes.Clone(b)
	c[len(c)-1] ^= 1
	return c
}

// TestTamperedTokenNeverVerifies changes each character of valid tokens. A
// change must fail verification unless it only touches bits deflate
// ignores (the padding after a stored-block header), in which case the
// signed document is byte-identical: encoding malleability, not forgery.
func TestTamperedTokenNeverVerifies(t *testing.T) {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789*-_"
	for _, level := range []int{zlib.NoCompression, zlib.DefaultCompression} {
		for _, ub := range [][]byte{nil, []byte("room-grant")} {
			sig := mustGen(t, ub, level)
			doc, err := inflate(mustDecode(t, sig))
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; i < len(sig); i++ {
				for _, k := range []int{1, 17, 40} {
					c := alphabet[(strings.IndexByte(alphabet, sig[i])+k)%len(alphabet)]
					bad := sig[:i] + string(c) + sig[i+1:]
					if _, err := VerifyUserSigWithUserBuf(testApp, testKey, testUser, bad, ub, unix(testT0)); err != nil {
						continue
					}
					if got, err := inflate(mustDecode(t, bad)); err != nil || !bytes.Equal(got, doc) {
						t.Fatalf("level %d: token with byte %d changed to %q verified with different content", level, i, c)
					}
				}
			}
		}
	}
}

func TestTamperedContentIsBadSignature(t *testing.T) {
	// A document with one field changed, still carrying the original TLS.sig.
	for _, tc := range []struct {
		name    string
		edit    func(m map[string]any)
		userBuf []byte
	}{
		{"longer expire", func(m map[string]any) { m["TLS.expire"] = 86400 }, nil},
		{"later time", func(m map[string]any) { m["TLS.time"] = testT0 + 1 }, nil},
		{"added userbuf", func(m map[string]any) { m["TLS.userbuf"] = "" }, []byte{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sig := rawToken(t, signedDoc(t, tc.edit), zlib.DefaultCompression)
			_, err := VerifyUserSigWithUserBuf(testApp, testKey, testUser, sig, tc.userBuf, unix(testT0+2))
			wantOnly(t, err, ErrBadSignature)
		})
	}
}

func TestTruncatedTokenIsBadEncoding(t *testing.T) {
	for _, level := range []int{zlib.NoCompression, zlib.DefaultCompression} {
		sig := mustGen(t, []byte("x"), level)
		for n := 0; n < len(sig); n++ {
			_, err := ParseUserSig(sig[:n])
			wantOnly(t, err, ErrBadEncoding)
		}
	}
}

func TestTencentBase64Alphabet(t *testing.T) {
	all := make([]byte, 256*3)
	for i := range all {
		all[i] = byte(i * 7)
	}
	enc := encodeTencentBase64(all)
	for _, c := range []string{"*", "-"} {
		if !strings.Contains(enc, c) {
			t.Fatalf("encoding %q lacks %q", enc, c)
		}
	}
	if strings.ContainsAny(enc, "+/=") {
		t.Fatalf("encoding %q has standard base64 characters", enc)
	}
	dec, err := decodeTencentBase64(enc)
	if err != nil || !bytes.Equal(dec, all) {
		t.Fatalf("round trip: %v", err)
	}
	// Padding is kept as '_'.
	if got := encodeTencentBase64([]byte{0xfb, 0xff}); got != "*-8_" {
		t.Fatalf("encode = %q, want *-8_", got)
	}
	if got := encodeTencentBase64([]byte{0xfb}); got != "*w__" {
		t.Fatalf("encode = %q, want *w__", got)
	}
}

func TestGenerateRejects(t *testing.T) {
	now := unix(testT0)
	for _, tc := range []struct {
		name   string
		app    uint32
		key    string
		user   string
		expire time.Duration
		now    time.Time
	}{
		{"app 0", 0, testKey, testUser, time.Hour, now},
		{"empty key", testApp, "", testUser, time.Hour, now},
		{"empty user", testApp, testKey, "", time.Hour, now},
		{"user with newline", testApp, testKey, "a\nTLS.sdkappid:1", time.Hour, now},
		{"user too long", testApp, testKey, strings.Repeat("a", 33), time.Hour, now},
		{"zero expire", testApp, testKey, testUser, 0, now},
		{"negative expire", testApp, testKey, testUser, -time.Hour, now},
		{"fractional expire", testApp, testKey, testUser, 1500 * time.Millisecond, now},
		{"before epoch", testApp, testKey, testUser, time.Hour, unix(-5)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := GenerateUserSig(tc.app, tc.key, tc.user, tc.expire, tc.now)
			wantOnly(t, err, ErrInvalidArgument)
		})
	}
}

func BenchmarkVerifyUserSig(b *testing.B) {
	for _, level := range []int{zlib.DefaultCompression, zlib.NoCompression} {
		sig := mustGen(b, nil, level)
		now := unix(testT0)
		b.Run(fmt.Sprintf("level=%d", level), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := VerifyUserSig(testApp, testKey, testUser, sig, now); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkVerifyPrivateMapKey(b *testing.B) {
	room := roomN(10000)
	key, err := GeneratePrivateMapKey(testApp, testKey, testUser, room, PrivAll, time.Hour, unix(testT0))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := VerifyPrivateMapKey(testApp, testKey, testUser, room, key, unix(testT0)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkGenerateUserSig(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := GenerateUserSig(testApp, testKey, testUser, time.Hour, unix(testT0)); err != nil {
			b.Fatal(err)
		}
	}
}
