package sqlite

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parley-rtc/parley/internal/store"
)

func TestTelemetryPartitionsQueryAndDrop(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "p.db"), testOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	day1 := time.Date(2026, 11, 20, 23, 59, 0, 0, time.UTC)
	day2 := day1.Add(2 * time.Minute) // next UTC day
	alice, bob := []byte("ref-alice"), []byte("ref-bob")
	var recs []store.TelemetryRecord
	for i := 0; i < 10; i++ {
		at, user := day1, alice
		if i%2 == 1 {
			at, user = day2, bob
		}
		recs = append(recs, store.TelemetryRecord{At: at.Add(time.Duration(i) * time.Millisecond), SDKAppID: 7, RoomKey: "n:1",
			UserRef: user, DeviceRef: []byte("dev"), Section: "quality", Data: []byte(fmt.Sprintf(`{"quality.rtt_ms":%d}`, i))})
	}
	recs = append(recs, store.TelemetryRecord{At: day1, SDKAppID: 8, RoomKey: "n:1", UserRef: alice, DeviceRef: []byte("d"), Section: "quality", Data: []byte(`{}`)})
	if err := db.InsertTelemetry(ctx, recs); err != nil {
		t.Fatal(err)
	}
	parts, err := db.TelemetryPartitions(ctx)
	if err != nil || len(parts) != 2 || parts[0].Rows != 6 || parts[1].Rows != 5 {
		t.Fatalf("partitions = %+v, %v; want day 1 with 6 rows, day 2 with 5", parts, err)
	}
	got, err := db.QueryTelemetry(ctx, store.TelemetryQuery{SDKAppID: 7, From: day1.Add(-time.Hour), To: day2.Add(time.Hour)})
	if err != nil || len(got) != 10 {
		t.Fatalf("query app 7: %d records, %v; want 10 (other apps excluded)", len(got), err)
	}
	for i := 1; i < len(got); i++ {
		if got[i].At.Before(got[i-1].At) {
			t.Fatal("records not in time order")
		}
	}
	got, _ = db.QueryTelemetry(ctx, store.TelemetryQuery{SDKAppID: 7, UserRef: bob, From: day1.Add(-time.Hour), To: day2.Add(time.Hour)})
	if len(got) != 5 || !bytes.Equal(got[0].UserRef, bob) {
		t.Fatalf("query by user: %d records", len(got))
	}
	if err := db.DropTelemetryPartition(ctx, day1); err != nil {
		t.Fatal(err)
	}
	got, _ = db.QueryTelemetry(ctx, store.TelemetryQuery{SDKAppID: 7, From: day1.Add(-time.Hour), To: day2.Add(time.Hour)})
	if len(got) != 5 {
		t.Fatalf("after dropping day 1: %d records, want 5", len(got))
	}
	if parts, _ := db.TelemetryPartitions(ctx); len(parts) != 1 {
		t.Fatalf("partitions after drop: %+v", parts)
	}
}

func TestAuditAppendOnly(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "a.db"), testOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.AppendAudit(ctx, store.AuditEvent{At: time.Now(), SDKAppID: 1, Kind: "telemetry_rejected", Detail: []byte(`{"field":"x"}`)}); err != nil {
		t.Fatal(err)
	}
	evs, err := db.ListAudit(ctx, 1, "telemetry_rejected", 10)
	if err != nil || len(evs) != 1 || string(evs[0].Detail) != `{"field":"x"}` {
		t.Fatalf("audit = %+v, %v", evs, err)
	}
	if _, err := db.write.ExecContext(ctx, `UPDATE audit_events SET kind = 'x'`); err == nil {
		t.Fatal("audit_events accepted an UPDATE")
	}
}

// BenchmarkInsertTelemetry measures batched inserts (records/s).
func BenchmarkInsertTelemetry(b *testing.B) {
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(b.TempDir(), "b.db"), testOptions())
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	batch := make([]store.TelemetryRecord, 1000)
	now := time.Now()
	for i := range batch {
		batch[i] = store.TelemetryRecord{At: now, SDKAppID: 1, RoomKey: "n:1", UserRef: []byte("0123456789abcdef"), DeviceRef: []byte("fedcba9876543210"),
			Section: "quality", Data: []byte(`{"quality.rtt_ms":12,"quality.up_loss_pct":0,"quality.down_loss_pct":1,"quality.jitter_ms":3,"quality.cpu_app_pct":7}`)}
	}
	b.ResetTimer()
	for b.Loop() {
		if err := db.InsertTelemetry(ctx, batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*len(batch))/b.Elapsed().Seconds(), "records/s")
}

// Device facts are sealed under the user's key: not in the file in clear,
// readable through the store, and gone with the key. proves RIGHTS-3
func TestTelemetryDeviceFactsSealed(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	db, err := Open(ctx, filepath.Join(dir, "t.db"), testOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	uref := db.telemetryRef(1, "user", "devfacts-user")
	at := time.Now()
	recs := []store.TelemetryRecord{
		{At: at, SDKAppID: 1, RoomKey: "n:1", UserRef: uref, DeviceRef: []byte("d"), Section: "device", Data: []byte(`{"device.model":"Zeta-Phone-9000"}`), UserID: "devfacts-user"},
		{At: at, SDKAppID: 1, RoomKey: "n:1", UserRef: uref, DeviceRef: []byte("d"), Section: "quality", Data: []byte(`{"quality.rtt_ms":21}`), UserID: "devfacts-user"},
	}
	if err := db.InsertTelemetry(ctx, recs); err != nil {
		t.Fatal(err)
	}
	got, err := db.QueryTelemetry(ctx, store.TelemetryQuery{SDKAppID: 1, UserRef: uref, From: at.Add(-time.Hour), To: at.Add(time.Hour)})
	if err != nil || len(got) != 2 || !strings.Contains(string(got[0].Data)+string(got[1].Data), "Zeta-Phone-9000") {
		t.Fatalf("query: %d records, %v", len(got), err)
	}
	if _, err := db.write.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "t.db"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(raw), "Zeta-Phone-9000") {
		t.Fatal("device facts stored in clear")
	}
	if _, err := db.ShredSubject(ctx, 1, "devfacts-user"); err != nil {
		t.Fatal(err)
	}
	got, err = db.QueryTelemetry(ctx, store.TelemetryQuery{SDKAppID: 1, UserRef: uref, From: at.Add(-time.Hour), To: at.Add(time.Hour)})
	if err != nil || len(got) != 1 || got[0].Section != "quality" {
		t.Fatalf("after the shred: %+v, %v; want only the quality record", got, err)
	}
	// A pager asks for the erased rows too, to move its cursor past
	// them: they come with nil Data, in id order.
	got, err = db.QueryTelemetry(ctx, store.TelemetryQuery{SDKAppID: 1, UserRef: uref, From: at.Add(-time.Hour), To: at.Add(time.Hour), KeepErased: true})
	if err != nil || len(got) != 2 || got[0].Data != nil || got[0].Section != "device" || got[1].Data == nil || got[0].ID >= got[1].ID {
		t.Fatalf("KeepErased: %+v, %v; want the device record without data, then the quality one", got, err)
	}
	got, err = db.QueryTelemetry(ctx, store.TelemetryQuery{SDKAppID: 1, UserRef: uref, From: at.Add(-time.Hour), To: at.Add(time.Hour), After: got[0].ID})
	if err != nil || len(got) != 1 || got[0].Section != "quality" {
		t.Fatalf("After the first id: %+v, %v", got, err)
	}
}
