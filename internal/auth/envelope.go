package auth

import (
	"bytes"
	"compress/zlib"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
)

// Input bounds. Real tokens are 150–400 bytes; the bounds keep a hostile
// token from costing more than a few microseconds and 16 KiB of memory.
const (
	// MaxTokenBytes bounds the encoded UserSig or PrivateMapKey string.
	MaxTokenBytes = 4 << 10
	// MaxInflatedBytes bounds the JSON document after zlib inflation, so a
	// zip bomb stops at the limit (read through io.LimitReader).
	MaxInflatedBytes = 16 << 10
)

// tlsVersion is the only TLS.ver TLSSigAPIv2 issues (REFERENCE.md §1.1 step 4).
const tlsVersion = "2.0"

// wireDoc is the decoded JSON envelope. Pointers tell a missing field from a
// zero value; typed fields make encoding/json reject wrong JSON types (a
// string time, a fractional or out-of-range sdkappid).
type wireDoc struct {
	Ver        *string `json:"TLS.ver"`
	Identifier *string `json:"TLS.identifier"`
	SDKAppID   *uint32 `json:"TLS.sdkappid"`
	Time       *int64  `json:"TLS.time"`
	Expire     *int64  `json:"TLS.expire"`
	UserBuf    *string `json:"TLS.userbuf"`
	Sig        *string `json:"TLS.sig"`
}

// outDoc is the envelope as Parley writes it, in the field order of the
// official Node and Python libraries. Order is irrelevant to verifiers since
// the HMAC covers only the content lines (REFERENCE.md §1.1 step 4).
type outDoc struct {
	Ver        string  `json:"TLS.ver"`
	Identifier string  `json:"TLS.identifier"`
	SDKAppID   uint32  `json:"TLS.sdkappid"`
	Time       int64   `json:"TLS.time"`
	Expire     int64   `json:"TLS.expire"`
	UserBuf    *string `json:"TLS.userbuf,omitempty"`
	Sig        string  `json:"TLS.sig"`
}

// token is a decoded envelope: the claims plus what the HMAC needs verbatim.
type token struct {
	Claims
	// userBufB64 is TLS.userbuf exactly as it appeared in the JSON: the
	// signer's HMAC covers this string, not a re-encoding of the bytes.
	userBufB64 string
	sig        []byte
}

// decodeToken undoes the Tencent base64, zlib and JSON layers of a token
// (REFERENCE.md §1.1 steps 4–6) and checks that every field is present and
// well typed. It does not verify anything.
func decodeToken(s string) (token, error) {
	if s == "" {
		return token{}, fmt.Errorf("%w: empty token", ErrBadEncoding)
	}
	if len(s) > MaxTokenBytes {
		return token{}, fmt.Errorf("%w: token is %d bytes, at most %d", ErrBadEncoding, len(s), MaxTokenBytes)
	}
	compressed, err := decodeTencentBase64(s)
	if err != nil {
		return token{}, err
	}
	doc, err := inflate(compressed)
	if err != nil {
		return token{}, err
	}
	return parseDoc(doc)
}

// decodeTencentBase64 reverses Tencent's alphabet (REFERENCE.md §1.1 step 6:
// standard base64 with + → *, / → -, = → _, padding kept). Bytes outside
// that alphabet, including the standard '+', '/', '=' and the CR/LF that
// encoding/base64 would silently skip, are rejected.
func decodeTencentBase64(s string) ([]byte, error) {
	std := make([]byte, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9':
			std[i] = c
		case c == '*':
			std[i] = '+'
		case c == '-':
			std[i] = '/'
		case c == '_':
			std[i] = '='
		default:
			return nil, fmt.Errorf("%w: base64: byte %d (%q) is outside Tencent's alphabet [A-Za-z0-9*-_]", ErrBadEncoding, i, c)
		}
	}
	out := make([]byte, base64.StdEncoding.DecodedLen(len(std)))
	n, err := base64.StdEncoding.Strict().Decode(out, std)
	if err != nil {
		return nil, fmt.Errorf("%w: base64: %w", ErrBadEncoding, err)
	}
	return out[:n], nil
}

// encodeTencentBase64 is the inverse of decodeTencentBase64.
func encodeTencentBase64(b []byte) string {
	out := make([]byte, base64.StdEncoding.EncodedLen(len(b)))
	base64.StdEncoding.Encode(out, b)
	for i, c := range out {
		switch c {
		case '+':
			out[i] = '*'
		case '/':
			out[i] = '-'
		case '=':
			out[i] = '_'
		}
	}
	return string(out)
}

// inflate decompresses a zlib stream of any compression level (the Go
// library stores, "eAEA…"; the others deflate, "eJ…") and checks its
// Adler-32 trailer, reading at most MaxInflatedBytes+1 bytes.
func inflate(compressed []byte) ([]byte, error) {
	zr, err := zlib.NewReader(bytes.NewReader(compressed))
	if err != nil {
		return nil, fmt.Errorf("%w: zlib: %w", ErrBadEncoding, err)
	}
	data, err := io.ReadAll(io.LimitReader(zr, MaxInflatedBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%w: zlib: %w", ErrBadEncoding, err)
	}
	if len(data) > MaxInflatedBytes {
		return nil, fmt.Errorf("%w: zlib: inflates to more than %d bytes", ErrBadEncoding, MaxInflatedBytes)
	}
	if err := zr.Close(); err != nil {
		return nil, fmt.Errorf("%w: zlib: %w", ErrBadEncoding, err)
	}
	return data, nil
}

// deflate compresses with zlib at the given level.
func deflate(data []byte, level int) ([]byte, error) {
	var b bytes.Buffer
	zw, err := zlib.NewWriterLevel(&b, level)
	if err != nil {
		return nil, fmt.Errorf("zlib level %d: %w", level, err)
	}
	if _, err := zw.Write(data); err != nil {
		return nil, fmt.Errorf("zlib: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("zlib: %w", err)
	}
	return b.Bytes(), nil
}

// parseDoc decodes the JSON envelope. Unknown fields are ignored, as the
// official verifiers do, so a future library adding one stays compatible.
func parseDoc(data []byte) (token, error) {
	var d wireDoc
	if err := json.Unmarshal(data, &d); err != nil {
		return token{}, fmt.Errorf("%w: json: %w", ErrBadEncoding, err)
	}
	switch {
	case d.Ver == nil:
		return token{}, fmt.Errorf("%w: missing TLS.ver", ErrBadEncoding)
	case d.Identifier == nil:
		return token{}, fmt.Errorf("%w: missing TLS.identifier", ErrBadEncoding)
	case d.SDKAppID == nil:
		return token{}, fmt.Errorf("%w: missing TLS.sdkappid", ErrBadEncoding)
	case d.Time == nil:
		return token{}, fmt.Errorf("%w: missing TLS.time", ErrBadEncoding)
	case d.Expire == nil:
		return token{}, fmt.Errorf("%w: missing TLS.expire", ErrBadEncoding)
	case d.Sig == nil:
		return token{}, fmt.Errorf("%w: missing TLS.sig", ErrBadEncoding)
	}
	if *d.Ver != tlsVersion {
		return token{}, fmt.Errorf("%w: TLS.ver is %q, want %q", ErrBadEncoding, *d.Ver, tlsVersion)
	}
	if *d.Identifier == "" {
		return token{}, fmt.Errorf("%w: empty TLS.identifier", ErrBadEncoding)
	}
	// Negative times come from no issuing library; rejecting them keeps
	// TLS.time+TLS.expire a sum of two non-negative numbers.
	if *d.Time < 0 {
		return token{}, fmt.Errorf("%w: negative TLS.time", ErrBadEncoding)
	}
	if *d.Expire < 0 {
		return token{}, fmt.Errorf("%w: negative TLS.expire", ErrBadEncoding)
	}
	sig, err := base64.StdEncoding.Strict().DecodeString(*d.Sig)
	if err != nil {
		return token{}, fmt.Errorf("%w: TLS.sig: %w", ErrBadEncoding, err)
	}
	t := token{
		Claims: Claims{
			Identifier: *d.Identifier,
			SDKAppID:   *d.SDKAppID,
			Time:       *d.Time,
			Expire:     *d.Expire,
		},
		sig: sig,
	}
	if d.UserBuf != nil {
		ub, err := base64.StdEncoding.Strict().DecodeString(*d.UserBuf)
		if err != nil {
			return token{}, fmt.Errorf("%w: TLS.userbuf: %w", ErrBadEncoding, err)
		}
		if ub == nil {
			// Present but empty ("") is distinct from absent: the HMAC then
			// covers a "TLS.userbuf:\n" line (the Node library signs it so).
			ub = []byte{}
		}
		t.UserBuf = ub
		t.userBufB64 = *d.UserBuf
	}
	return t, nil
}
