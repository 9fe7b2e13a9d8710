// Package test holds Parley's black-box end-to-end tests: a real server
// started in-process (real SQLite files, real UDP on loopback, real
// DTLS-SRTP) and real Go SDK clients talking to it.
package test
