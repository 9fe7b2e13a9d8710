// Package audit is Parley's append-only transparency log: consent changes,
// DSR steps and receipts, retention sweeps, settings changes, policy
// publications, operator reads of personal data and incidents are
// appended as records to an RFC 6962 Merkle tree
// (golang.org/x/mod/sumdb/tlog) whose heads are signed checkpoints
// (golang.org/x/mod/sumdb/note, ed25519).
//
// # No personal data
//
// A record holds no personal information. The subject of an event (a
// user, a device) appears only as a commitment: HMAC-SHA256 over the
// subject identifier under a per-subject key the caller holds (see
// [Commit]). The identifier itself is never written. Detail fields are
// codes, versions and counts. When a subject is erased, their key is
// destroyed: their records stay in the tree, so the log still proves that,
// when and in what order the events happened, but nobody can link them to
// the person any more, and no record has to be removed (which would break
// every later checkpoint).
//
// # Records
//
// A record is one line of canonical JSON, fields in this order:
//
//	{"seq":0,"at":1767225600000,"kind":"consent.grant","sdkappid":1400000001,"subject":"<hex HMAC>","detail":{"policy":"v3"}}
//
// seq is the record's index in the tree (from 0), at is Unix milliseconds,
// subject is empty for events without a subject, and detail keys are
// sorted. The record hash is tlog.RecordHash of exactly these bytes.
package audit

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"
)

// Kind names what an entry records.
type Kind string

// Entry kinds.
const (
	KindConsentGrant    Kind = "consent.grant"
	KindConsentWithdraw Kind = "consent.withdraw"
	KindDSRState        Kind = "dsr.state"
	KindDSRReceipt      Kind = "dsr.receipt"
	KindRetentionSweep  Kind = "retention.sweep"
	KindAppSettings     Kind = "app.settings"
	KindPolicyPublish   Kind = "policy.publish"
	KindOperatorRead    Kind = "operator.read"
	KindIncident        Kind = "incident"
)

// Valid reports whether k is a known kind.
func (k Kind) Valid() bool {
	switch k {
	case KindConsentGrant, KindConsentWithdraw, KindDSRState, KindDSRReceipt, KindRetentionSweep,
		KindAppSettings, KindPolicyPublish, KindOperatorRead, KindIncident:
		return true
	}
	return false
}

// Limits on an entry's detail: it is a handful of codes, not a payload.
const (
	MaxDetailFields   = 32
	MaxDetailKeyLen   = 64
	MaxDetailValueLen = 256
	// SubjectKeySize is the length of a per-subject commitment key.
	SubjectKeySize = 32
)

// ErrInvalidEntry means an entry cannot be logged as given.
var ErrInvalidEntry = errors.New("audit: invalid entry")

// Entry is an event to append.
type Entry struct {
	// At is when the event happened; zero means the log's clock.
	At       time.Time
	Kind     Kind
	SDKAppID uint32
	// SubjectKey is the subject's 32-byte commitment key, or nil for an
	// event without a subject (a retention sweep, a policy).
	SubjectKey []byte
	// Subject is the subject identifier (a user or device id). It is
	// only ever used as HMAC input and never stored; it must be empty
	// when SubjectKey is nil.
	Subject string
	// Detail holds non-personal fields: codes, versions, counts.
	Detail map[string]string
}

// Record is the stored form of an entry.
type Record struct {
	Seq      int64             `json:"seq"`
	At       int64             `json:"at"` // Unix ms
	Kind     Kind              `json:"kind"`
	SDKAppID uint32            `json:"sdkappid"`
	Subject  string            `json:"subject"` // hex commitment or ""
	Detail   map[string]string `json:"detail"`
}

// Commit returns the commitment to a subject identifier under the
// subject's key: hex HMAC-SHA256(key, subject). The same key and
// identifier always give the same commitment, so a subject's records can
// be found while the key exists; once it is destroyed the commitment
// reveals nothing.
func Commit(key []byte, subject string) (string, error) {
	if len(key) != SubjectKeySize {
		return "", fmt.Errorf("%w: subject key is %d bytes, want %d", ErrInvalidEntry, len(key), SubjectKeySize)
	}
	if subject == "" {
		return "", fmt.Errorf("%w: empty subject with a subject key", ErrInvalidEntry)
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte("parley/audit-subject/v1\x00"))
	m.Write([]byte(subject))
	return hex.EncodeToString(m.Sum(nil)), nil
}

// record turns an entry into its record, checking it.
func (e Entry) record(seq, atMS int64) (Record, error) {
	if !e.Kind.Valid() {
		return Record{}, fmt.Errorf("%w: unknown kind %q", ErrInvalidEntry, e.Kind)
	}
	r := Record{Seq: seq, At: atMS, Kind: e.Kind, SDKAppID: e.SDKAppID, Detail: map[string]string{}}
	if e.SubjectKey != nil {
		c, err := Commit(e.SubjectKey, e.Subject)
		if err != nil {
			return Record{}, err
		}
		r.Subject = c
	} else if e.Subject != "" {
		return Record{}, fmt.Errorf("%w: subject without a subject key (identifiers are never logged)", ErrInvalidEntry)
	}
	if len(e.Detail) > MaxDetailFields {
		return Record{}, fmt.Errorf("%w: %d detail fields, at most %d", ErrInvalidEntry, len(e.Detail), MaxDetailFields)
	}
	for k, v := range e.Detail {
		if k == "" || len(k) > MaxDetailKeyLen || len(v) > MaxDetailValueLen || !utf8.ValidString(k) || !utf8.ValidString(v) {
			return Record{}, fmt.Errorf("%w: detail field %q: keys 1-%d bytes, values at most %d bytes, UTF-8",
				ErrInvalidEntry, k, MaxDetailKeyLen, MaxDetailValueLen)
		}
		r.Detail[k] = v
	}
	return r, nil
}

// Marshal returns the canonical encoding of r.
func (r Record) Marshal() ([]byte, error) {
	if r.Detail == nil {
		r.Detail = map[string]string{}
	}
	// encoding/json writes struct fields in order and map keys sorted,
	// so equal records always encode to equal bytes.
	b, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("audit: encode record: %w", err)
	}
	return b, nil
}

// ParseRecord decodes stored record data and checks that it is in
// canonical form.
func ParseRecord(data []byte) (Record, error) {
	var r Record
	if err := json.Unmarshal(data, &r); err != nil {
		return Record{}, fmt.Errorf("not a record: %w", err)
	}
	again, err := r.Marshal()
	if err != nil {
		return Record{}, err
	}
	if string(again) != string(data) {
		return Record{}, errors.New("record is not in canonical form")
	}
	if !r.Kind.Valid() {
		return Record{}, fmt.Errorf("unknown kind %q", r.Kind)
	}
	return r, nil
}
