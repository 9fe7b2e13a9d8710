package telemetry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/parley-rtc/parley/internal/keyring"
	"github.com/parley-rtc/parley/internal/store"
)

// TestQueryPointsCarryUserPseudonym: a room query tells participants
// apart by their per-app pseudonym (the blind-index reference the DSR
// erasure also finds), never by user id, and the same user has an
// unrelated reference in another app.
func TestQueryPointsCarryUserPseudonym(t *testing.T) {
	svc, _ := newTestService(t)
	ctx := context.Background()
	sessions := map[string]Session{}
	for _, u := range []string{"alice", "bob"} {
		s := session
		s.UserID, s.DeviceID, s.Scope = u, u+"-dev", fullScope()
		sessions[u] = s
		if err := svc.Ingest(ctx, s, report(t, `{"quality":{"quality.rtt_ms":7},"events":[{"event.type":"enter_room","event.at":1}]}`)); err != nil {
			t.Fatal(err)
		}
	}
	other := sessions["alice"]
	other.SDKAppID++
	if err := svc.Ingest(ctx, other, report(t, `{"quality":{"quality.rtt_ms":9}}`)); err != nil {
		t.Fatal(err)
	}
	if err := svc.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	span := Query{From: time.Now().Add(-time.Hour), To: time.Now().Add(time.Hour)}
	room := span
	room.Room = &session.Room
	pts, err := svc.Query(ctx, session.SDKAppID, room)
	if err != nil || len(pts) != 4 {
		t.Fatalf("room query: %d points, %v; want 2 users × (quality, event)", len(pts), err)
	}
	want := map[string]string{}
	for u := range sessions {
		want[keyring.RefText(svc.Pseudonym(session.SDKAppID, "user", u))] = u
	}
	seen := map[string]int{}
	for _, p := range pts {
		if _, ok := keyring.RefBytes(p.User); !ok {
			t.Fatalf("point user %q is not a reference", p.User)
		}
		if _, ok := want[p.User]; !ok {
			t.Fatalf("point user %q is neither participant's pseudonym", p.User)
		}
		seen[p.User]++
	}
	if len(seen) != 2 {
		t.Fatalf("points name %d participants, want 2", len(seen))
	}
	raw, _ := json.Marshal(pts)
	if strings.Contains(string(raw), "alice") || strings.Contains(string(raw), "bob") {
		t.Fatalf("points hold a user id: %s", raw)
	}
	if !strings.Contains(string(raw), `"user":"~`) {
		t.Fatalf("points JSON lacks the user reference: %s", raw)
	}
	// Other app: same user id, another reference.
	op, err := svc.Query(ctx, other.SDKAppID, span)
	if err != nil || len(op) != 1 {
		t.Fatalf("other app: %d points, %v", len(op), err)
	}
	if _, same := want[op[0].User]; same || op[0].User == "" {
		t.Fatalf("alice has the same reference %q in two apps", op[0].User)
	}
	// A query by user id finds exactly that reference.
	byUser := span
	byUser.UserID = "bob"
	bp, err := svc.Query(ctx, session.SDKAppID, byUser)
	if err != nil || len(bp) != 2 || want[bp[0].User] != "bob" || want[bp[1].User] != "bob" {
		t.Fatalf("user query: %+v, %v", bp, err)
	}
}

// TestScanPagesThroughEverything: Scan returns every point of a range
// that spans two day tables and many pages, in order, with rows sharing
// one millisecond split across page boundaries; Limit caps it and fn's
// error ends it.
func TestScanPagesThroughEverything(t *testing.T) {
	svc, db := newTestService(t)
	ctx := context.Background()
	midnight := time.Now().UTC().Truncate(24 * time.Hour)
	start := midnight.Add(-time.Hour)
	const n = 3*scanPage + 77
	recs := make([]store.TelemetryRecord, n)
	for i := range recs {
		// Five rows per millisecond, crossing midnight half way.
		at := start.Add(time.Duration(i/5) * (2 * time.Hour / (n / 5)))
		recs[i] = store.TelemetryRecord{At: at, SDKAppID: 7, RoomKey: "n:1", UserRef: []byte("u"), DeviceRef: []byte("d"), Section: "quality",
			Data: []byte(fmt.Sprintf(`{"quality.rtt_ms":%d}`, i))}
	}
	if err := db.InsertTelemetry(ctx, recs); err != nil {
		t.Fatal(err)
	}
	q := Query{From: start, To: start.Add(3 * time.Hour)}
	var got []int
	if err := svc.Scan(ctx, 7, q, func(p Point) error {
		got = append(got, int(p.Fields["quality.rtt_ms"].(float64)))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != n {
		t.Fatalf("scanned %d points, want %d", len(got), n)
	}
	for i, v := range got {
		if v != i {
			t.Fatalf("point %d is row %d: order or paging broken", i, v)
		}
	}
	q.Limit = scanPage + 3
	count := 0
	if err := svc.Scan(ctx, 7, q, func(Point) error { count++; return nil }); err != nil || count != q.Limit {
		t.Fatalf("with Limit %d: %d points, %v", q.Limit, count, err)
	}
	stop := errors.New("enough")
	q.Limit, count = 0, 0
	if err := svc.Scan(ctx, 7, q, func(Point) error {
		if count++; count == 10 {
			return stop
		}
		return nil
	}); !errors.Is(err, stop) || count != 10 {
		t.Fatalf("fn's error: %v after %d points", err, count)
	}
}
