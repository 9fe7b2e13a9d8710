// Package auth verifies and issues the credentials TRTC clients present:
// UserSig (TLSSigAPIv2) and PrivateMapKey (REFERENCE.md §1.1).
//
// Both are the same signed envelope: a JSON document with the fields
// TLS.ver, TLS.identifier, TLS.sdkappid, TLS.time, TLS.expire, an optional
// TLS.userbuf and TLS.sig, zlib-compressed (RFC 1950) and encoded with
// Tencent's base64 variant. TLS.sig is HMAC-SHA256 over a fixed set of
// "TLS.<name>:<value>\n" lines keyed with the app's console SecretKey, so
// the JSON field order and the compression level do not matter.
// A PrivateMapKey carries a big-endian binary userbuf that binds the token
// to one room, an absolute expiry and a privilege bit map.
//
// Tokens are byte-compatible with Tencent's official libraries: a migrating
// app keeps its token server unchanged. testdata/usersig/vectors.json holds
// tokens made by tls-sig-api-v2 (Node) that the tests verify, and Parley
// tokens that the official library reproduces (testdata/usersig/README.md).
//
// Every function takes the current time as a parameter so callers and tests
// control the clock. Errors wrap the sentinels in errors.go; messages never
// contain user IDs (personal information) or keys.
package auth
