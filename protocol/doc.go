// Package protocol defines Parley's public wire types: the JSON signaling
// protocol spoken over WebSocket between the SDKs and the server, its result
// and reason codes, and the validation rules for identifiers.
//
// The server and the Go SDK share this package so that both ends decode the
// same frames with the same limits. Codes follow TRTC where TRTC documents
// them (REFERENCE.md §1.3); Parley-specific codes are listed in codes.go.
package protocol
