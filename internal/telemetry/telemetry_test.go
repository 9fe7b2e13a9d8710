package telemetry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/parley-rtc/parley/internal/privacy/inventory"
	"github.com/parley-rtc/parley/internal/store"
	"github.com/parley-rtc/parley/internal/store/sqlite"
	"github.com/parley-rtc/parley/internal/store/sqlite/sqlitetest"
	"github.com/parley-rtc/parley/protocol"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func newTestService(t *testing.T) (*Service, *sqlite.DB) {
	t.Helper()
	return newBenchService(t)
}

func newBenchService(t testing.TB) (*Service, *sqlite.DB) {
	t.Helper()
	inv, err := inventory.Default()
	if err != nil {
		t.Fatal(err)
	}
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "t.db"), sqlitetest.Options())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	svc, err := New(Config{Inventory: inv, Store: db, PseudonymKey: bytes.Repeat([]byte{1}, 32), FlushInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = svc.Close() })
	return svc, db
}

func fullScope() Scope {
	return Scope{Platform: "go",
		Purposes: map[string]bool{protocol.PurposeRTC: true, protocol.PurposeQuality: true},
		Switches: map[string]bool{"ext.apm": true, "field.device.model": true}}
}

func report(t *testing.T, js string) *protocol.TelemetryReport {
	t.Helper()
	var r protocol.TelemetryReport
	if err := json.Unmarshal([]byte(js), &r); err != nil {
		t.Fatal(err)
	}
	return &r
}

var session = Session{SDKAppID: 1400000001, Room: protocol.RoomRef{ID: 5}, UserID: "alice", DeviceID: "dev-1"}

// TestIngestStrictAgainstInventory: each way a field can be wrong is
// refused with its name and reason, stores nothing and is audited
// (proves COLLECT-1, COLLECT-5, SWITCH-3).
func TestIngestStrictAgainstInventory(t *testing.T) {
	svc, db := newTestService(t)
	ctx := context.Background()
	cases := []struct {
		name, js, field, reason string
		scope                   func(*Scope)
	}{
		{"undeclared", `{"quality":{"quality.heart_rate":70}}`, "quality.heart_rate", ReasonUndeclared, nil},
		{"wrong section", `{"quality":{"device.model":"X1"}}`, "device.model", ReasonUndeclared, nil},
		{"switched off", `{"device":{"device.cpu":"x86"}}`, "device.cpu", ReasonSwitchedOff, nil},
		{"platform", `{"device":{"device.battery_pct":80}}`, "device.battery_pct", ReasonPlatform, nil},
		{"extension off", `{"quality":{"quality.rtt_ms":20}}`, "quality.rtt_ms", ReasonSwitchedOff, func(s *Scope) { s.Switches["ext.apm"] = false }},
		{"not consented", `{"quality":{"quality.rtt_ms":20}}`, "quality.rtt_ms", ReasonNotConsented, func(s *Scope) { delete(s.Purposes, protocol.PurposeQuality) }},
		{"out of range", `{"quality":{"quality.up_loss_pct":101}}`, "quality.up_loss_pct", ReasonBadValue, nil},
		{"wrong type", `{"quality":{"quality.rtt_ms":"20"}}`, "quality.rtt_ms", ReasonBadValue, nil},
		{"full ip address", `{"device":{"network.ip_address":"203.0.113.7/32"}}`, "network.ip_address", ReasonBadValue, nil},
		{"bad enum", `{"streams":[{"stream.kind":"smell"}]}`, "stream.kind", ReasonBadValue, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sc := fullScope()
			if c.scope != nil {
				c.scope(&sc)
			}
			s := session
			s.Scope = sc
			err := svc.Ingest(ctx, s, report(t, c.js))
			var rej *RejectError
			if !errors.As(err, &rej) || rej.Field != c.field || rej.Reason != c.reason {
				t.Fatalf("err = %v, want field %s reason %s", err, c.field, c.reason)
			}
		})
	}
	if err := svc.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if parts, _ := db.TelemetryPartitions(ctx); len(parts) != 0 {
		t.Fatalf("rejected reports stored something: %+v", parts)
	}
	audits, err := db.ListAudit(ctx, session.SDKAppID, "telemetry_rejected", 100)
	if err != nil || len(audits) != len(cases) {
		t.Fatalf("%d audit entries, %v; want %d", len(audits), err, len(cases))
	}
	for _, a := range audits {
		if bytes.Contains(a.Detail, []byte("203.0.113")) {
			t.Fatal("an audit entry holds a submitted value")
		}
	}
}

// TestIngestStoresPseudonymisedTruncated: an accepted report is stored
// with the user as a per-app pseudonym and the IP as a /24 prefix
// (proves COLLECT-2, COLLECT-7), and the dashboard query finds it by user
// id and room.
func TestIngestStoresPseudonymisedTruncated(t *testing.T) {
	svc, db := newTestService(t)
	ctx := context.Background()
	s := session
	s.Scope = fullScope()
	rep := report(t, `{"seq":1,"at":1,"quality":{"quality.rtt_ms":42,"quality.up_loss_pct":0},
		"streams":[{"stream.direction":"recv","stream.kind":"video","stream.type":"main","stream.width":640,"stream.height":360}],
		"device":{"network.ip_address":"198.51.100.0/24","device.model":"Rugged-T1","device.os":"linux","sdk.version":"parley-go/0.1"}}`)
	if err := svc.Ingest(ctx, s, rep); err != nil {
		t.Fatal(err)
	}
	if err := svc.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	pts, err := svc.Query(ctx, s.SDKAppID, Query{UserID: "alice", Room: &s.Room, From: time.Now().Add(-time.Hour), To: time.Now().Add(time.Hour)})
	if err != nil || len(pts) != 3 {
		t.Fatalf("query: %d points, %v; want quality, stream, device", len(pts), err)
	}
	var sawIP bool
	for _, p := range pts {
		if p.Section == protocol.SectionQuality && p.Fields["quality.rtt_ms"] != float64(42) {
			t.Fatalf("quality fields %v", p.Fields)
		}
		if ip, ok := p.Fields["network.ip_address"]; ok {
			sawIP = ip == "198.51.100.0/24"
		}
	}
	if !sawIP {
		t.Fatal("the IP prefix was not stored as sent")
	}
	if other, _ := svc.Query(ctx, s.SDKAppID, Query{UserID: "bob", From: time.Now().Add(-time.Hour), To: time.Now().Add(time.Hour)}); len(other) != 0 {
		t.Fatal("query for another user returned alice's records")
	}
	// The stored rows carry no user or device id in clear.
	recs, _ := db.QueryTelemetry(ctx, storeQuery(s.SDKAppID))
	for _, r := range recs {
		if bytes.Contains(r.UserRef, []byte("alice")) || bytes.Contains(r.Data, []byte("alice")) || bytes.Contains(r.DeviceRef, []byte("dev-1")) {
			t.Fatal("a stored record holds the user or device id")
		}
	}
	if !bytes.Equal(svc.Pseudonym(1, "user", "alice"), svc.Pseudonym(1, "user", "alice")) || bytes.Equal(svc.Pseudonym(1, "user", "alice"), svc.Pseudonym(2, "user", "alice")) {
		t.Fatal("pseudonyms must be stable within an app and differ across apps")
	}
}

func TestServerTruncatesIPAgain(t *testing.T) {
	d := decoder{ipv4Bits: 16, ipv6Bits: 32}
	for in, want := range map[string]string{"198.51.100.0/24": "198.51.0.0/16", "2001:db8:1234::/48": "2001:db8::/32", "10.1.0.0/16": "10.1.0.0/16"} {
		got, err := d.truncateIP(in)
		if err != nil || got != want {
			t.Errorf("truncateIP(%s) = %v, %v; want %s", in, got, err, want)
		}
	}
}

// FuzzIngest feeds arbitrary telemetry data through the strict decoder:
// it must never panic, and what it accepts must contain only declared ids.
func FuzzIngest(f *testing.F) {
	inv, err := inventory.Default()
	if err != nil {
		f.Fatal(err)
	}
	d := decoder{inv: inv, ipv4Bits: 24, ipv6Bits: 48}
	for _, s := range []string{
		`{"quality":{"quality.rtt_ms":1}}`, `{"device":{"network.ip_address":"1.2.3.0/24"}}`,
		`{"streams":[{"stream.kind":"audio"}],"events":[{"event.type":"mute_audio","event.at":1}]}`, `{}`, `[]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var rep protocol.TelemetryReport
		if json.Unmarshal(b, &rep) != nil {
			return
		}
		dr, err := d.report(&rep, fullScope())
		if err != nil {
			return
		}
		for _, s := range dr.sections {
			var m map[string]any
			if err := json.Unmarshal(s.data, &m); err != nil {
				t.Fatalf("stored section is not JSON: %v", err)
			}
			for k := range m {
				if _, ok := inv.Element(k); !ok || strings.TrimSpace(k) == "" {
					t.Fatalf("accepted undeclared field %q", k)
				}
			}
		}
	})
}

func storeQuery(app uint32) store.TelemetryQuery {
	return store.TelemetryQuery{SDKAppID: app, From: time.Now().Add(-time.Hour), To: time.Now().Add(time.Hour)}
}
