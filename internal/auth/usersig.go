package auth

import (
	"compress/zlib"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/parley-rtc/parley/protocol"
)

// Claims are the fields of a UserSig or PrivateMapKey envelope.
type Claims struct {
	// Identifier is TLS.identifier, the UserID. Personal information:
	// never log it.
	Identifier string
	// SDKAppID is TLS.sdkappid.
	SDKAppID uint32
	// Time is TLS.time, the issue time in Unix seconds.
	Time int64
	// Expire is TLS.expire, the lifetime in seconds counted from Time
	// (a duration, not an instant: REFERENCE.md §1.1 step 1).
	Expire int64
	// UserBuf is the decoded TLS.userbuf; nil when the token has none.
	// A present but empty userbuf is a non-nil empty slice.
	UserBuf []byte
}

// HasUserBuf reports whether the token carries a TLS.userbuf.
func (c Claims) HasUserBuf() bool { return c.UserBuf != nil }

// IssuedAt returns TLS.time as a UTC time.
func (c Claims) IssuedAt() time.Time { return time.Unix(c.Time, 0).UTC() }

// ExpiresAt returns the last instant (to the second) at which the token is
// valid: TLS.time+TLS.expire, saturating instead of overflowing.
func (c Claims) ExpiresAt() time.Time { return time.Unix(c.expiresUnix(), 0).UTC() }

func (c Claims) expiresUnix() int64 {
	// Both are non-negative (parseDoc and generation enforce it).
	if c.Expire > math.MaxInt64-c.Time {
		return math.MaxInt64
	}
	return c.Time + c.Expire
}

// expired applies the official rule "expired if now > time + expire" at
// one-second resolution, so now == time+expire is still valid
// (REFERENCE.md §1.1, Verify).
func (c Claims) expired(now time.Time) bool { return now.Unix() > c.expiresUnix() }

// DefaultUserSigExpire is the official libraries' suggested lifetime
// (Python default, the Node example): 180 days.
const DefaultUserSigExpire = 180 * 24 * time.Hour

// GenerateUserSig issues a UserSig for userID in app sdkAppID, valid from
// now for expire (whole seconds, at least one).
func GenerateUserSig(sdkAppID uint32, secretKey, userID string, expire time.Duration, now time.Time) (string, error) {
	return generate(sdkAppID, secretKey, userID, expire, nil, now, zlib.DefaultCompression)
}

// GenerateUserSigWithUserBuf issues a UserSig carrying userBuf as
// TLS.userbuf (the official genSig/GenUserSigWithBuf). A non-nil empty
// userBuf is carried as an empty TLS.userbuf, exactly as the Node library
// does.
func GenerateUserSigWithUserBuf(sdkAppID uint32, secretKey, userID string, expire time.Duration, userBuf []byte, now time.Time) (string, error) {
	if userBuf == nil {
		userBuf = []byte{}
	}
	return generate(sdkAppID, secretKey, userID, expire, userBuf, now, zlib.DefaultCompression)
}

// generate builds, signs and encodes an envelope. Parley compresses at zlib's
// default level, as the Node, Python and Java libraries do ("eJ…"); the
// level is a parameter so tests can produce the Go library's stored
// ("eAEA…") form.
func generate(sdkAppID uint32, secretKey, userID string, expire time.Duration, userBuf []byte, now time.Time, level int) (string, error) {
	if err := checkIssueArgs(sdkAppID, secretKey, userID, expire, now); err != nil {
		return "", err
	}
	c := Claims{
		Identifier: userID,
		SDKAppID:   sdkAppID,
		Time:       now.Unix(),
		Expire:     int64(expire / time.Second),
		UserBuf:    userBuf,
	}
	doc := outDoc{
		Ver:        tlsVersion,
		Identifier: c.Identifier,
		SDKAppID:   c.SDKAppID,
		Time:       c.Time,
		Expire:     c.Expire,
	}
	var ub string
	if userBuf != nil {
		ub = base64.StdEncoding.EncodeToString(userBuf)
		doc.UserBuf = &ub
	}
	doc.Sig = base64.StdEncoding.EncodeToString(sign(secretKey, c, ub))
	js, err := json.Marshal(doc)
	if err != nil {
		return "", fmt.Errorf("encode usersig: %w", err)
	}
	z, err := deflate(js, level)
	if err != nil {
		return "", fmt.Errorf("encode usersig: %w", err)
	}
	return encodeTencentBase64(z), nil
}

// checkIssueArgs rejects parameters that would yield a token no verifier
// accepts or that this package could not parse back.
func checkIssueArgs(sdkAppID uint32, secretKey, userID string, expire time.Duration, now time.Time) error {
	if sdkAppID == 0 {
		return fmt.Errorf("%w: sdkappid 0", ErrInvalidArgument)
	}
	if secretKey == "" {
		return fmt.Errorf("%w: empty secret key", ErrInvalidArgument)
	}
	// Parley's identity rule (REFERENCE.md §1.1) also rules out the "\n" that
	// could shift the signed content lines.
	if err := protocol.ValidateUserID(userID); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidArgument, err)
	}
	if expire < time.Second || expire%time.Second != 0 {
		return fmt.Errorf("%w: expire %v is not a positive whole number of seconds", ErrInvalidArgument, expire)
	}
	if now.Unix() < 0 {
		return fmt.Errorf("%w: now %v is before the Unix epoch", ErrInvalidArgument, now)
	}
	return nil
}

// sign computes TLS.sig: HMAC-SHA256 keyed with the SecretKey's bytes over
// the content lines of REFERENCE.md §1.1 step 2. userBufB64 is the
// TLS.userbuf string, used only when c carries a userbuf.
func sign(secretKey string, c Claims, userBufB64 string) []byte {
	var arr [256]byte
	b := arr[:0]
	b = append(b, "TLS.identifier:"...)
	b = append(b, c.Identifier...)
	b = append(b, "\nTLS.sdkappid:"...)
	b = strconv.AppendUint(b, uint64(c.SDKAppID), 10)
	b = append(b, "\nTLS.time:"...)
	b = strconv.AppendInt(b, c.Time, 10)
	b = append(b, "\nTLS.expire:"...)
	b = strconv.AppendInt(b, c.Expire, 10)
	b = append(b, '\n')
	if c.UserBuf != nil {
		b = append(b, "TLS.userbuf:"...)
		b = append(b, userBufB64...)
		b = append(b, '\n')
	}
	mac := hmac.New(sha256.New, []byte(secretKey))
	mac.Write(b)
	return mac.Sum(nil)
}

// ParseUserSig decodes a UserSig or PrivateMapKey without verifying it, so
// a server can read TLS.sdkappid to look up the app's key before calling
// VerifyUserSig. Nothing in the result is trustworthy until verified.
func ParseUserSig(sig string) (Claims, error) {
	t, err := decodeToken(sig)
	if err != nil {
		return Claims{}, err
	}
	return t.Claims, nil
}

// VerifyUserSig checks that sig is a UserSig without userbuf for userID in
// app sdkAppID, signed with secretKey and valid at now, and returns its
// claims. A token carrying a userbuf (such as a PrivateMapKey) fails with
// ErrUserBufMismatch, as in the official Go verifier.
func VerifyUserSig(sdkAppID uint32, secretKey, userID, sig string, now time.Time) (Claims, error) {
	t, err := verifyEnvelope(sdkAppID, secretKey, userID, sig, now)
	if err != nil {
		return Claims{}, err
	}
	if t.HasUserBuf() {
		return Claims{}, fmt.Errorf("%w: token has a TLS.userbuf, none expected", ErrUserBufMismatch)
	}
	if err := checkSig(secretKey, t); err != nil {
		return Claims{}, err
	}
	return t.Claims, nil
}

// VerifyUserSigWithUserBuf is VerifyUserSig for a token that must carry
// exactly userBuf as TLS.userbuf (official VerifyUserSigWithBuf). A nil
// userBuf means none is expected, as in VerifyUserSig.
func VerifyUserSigWithUserBuf(sdkAppID uint32, secretKey, userID, sig string, userBuf []byte, now time.Time) (Claims, error) {
	if userBuf == nil {
		return VerifyUserSig(sdkAppID, secretKey, userID, sig, now)
	}
	t, err := verifyEnvelope(sdkAppID, secretKey, userID, sig, now)
	if err != nil {
		return Claims{}, err
	}
	if !t.HasUserBuf() {
		return Claims{}, fmt.Errorf("%w: token has no TLS.userbuf, one expected", ErrUserBufMismatch)
	}
	// Checked before the HMAC, in the official order; a userbuf is not a
	// secret, so a plain comparison leaks nothing.
	if string(t.UserBuf) != string(userBuf) {
		return Claims{}, fmt.Errorf("%w: token carries a different TLS.userbuf", ErrUserBufMismatch)
	}
	if err := checkSig(secretKey, t); err != nil {
		return Claims{}, err
	}
	return t.Claims, nil
}

// verifyEnvelope decodes sig and applies the checks that precede the
// userbuf and HMAC checks, in the official order (REFERENCE.md §1.1,
// Verify): app, identifier, expiry.
func verifyEnvelope(sdkAppID uint32, secretKey, userID, sig string, now time.Time) (token, error) {
	if secretKey == "" {
		return token{}, fmt.Errorf("%w: empty secret key", ErrInvalidArgument)
	}
	t, err := decodeToken(sig)
	if err != nil {
		return token{}, err
	}
	if t.SDKAppID != sdkAppID {
		return token{}, fmt.Errorf("%w: token is for sdkappid %d, want %d", ErrWrongApp, t.SDKAppID, sdkAppID)
	}
	if t.Identifier != userID {
		return token{}, ErrWrongUser
	}
	if t.expired(now) {
		return token{}, fmt.Errorf("%w at %s", ErrExpired, t.ExpiresAt().Format(time.RFC3339))
	}
	return t, nil
}

// checkSig compares TLS.sig with the expected HMAC in constant time.
func checkSig(secretKey string, t token) error {
	if !hmac.Equal(sign(secretKey, t.Claims, t.userBufB64), t.sig) {
		return ErrBadSignature
	}
	return nil
}
