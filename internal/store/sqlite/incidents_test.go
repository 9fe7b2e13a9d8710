package sqlite

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/parley-rtc/parley/internal/store"
)

// seedIncidentData stores, for app 7 (and a little for app 8):
//   - consent: alice, bob (2 devices), carol — carol recorded late
//   - messages: alice, dave, and erin whose messages are then erased
//   - push tokens: bob, frank
//   - telemetry: three pseudonyms on two days, one of them on both
func seedIncidentData(t *testing.T, ctx context.Context, db *DB, t0 time.Time) {
	t.Helper()
	for _, g := range []store.ConsentEntry{
		grant(7, "alice", "a1", "v1", t0, "rtc"),
		grant(7, "bob", "b1", "v1", t0, "rtc"),
		grant(7, "bob", "b2", "v1", t0.Add(time.Minute), "rtc"),
		grant(7, "carol", "c1", "v1", t0.Add(48*time.Hour), "rtc"),
		grant(8, "alice", "a1", "v1", t0, "rtc"),
	} {
		if _, _, err := db.AppendConsent(ctx, g); err != nil {
			t.Fatal(err)
		}
	}
	for _, m := range []store.IMMessage{
		{SDKAppID: 7, ConvID: "c2c:alice|dave", Sender: "alice", At: t0, Body: []byte("x")},
		{SDKAppID: 7, ConvID: "c2c:alice|dave", Sender: "dave", At: t0.Add(time.Second), Body: []byte("y")},
		{SDKAppID: 7, ConvID: "c2c:alice|dave", Sender: "alice", At: t0.Add(2 * time.Second), Body: []byte("z")},
		{SDKAppID: 7, ConvID: "c2c:erin|dave", Sender: "erin", At: t0, Body: []byte("w")},
	} {
		if _, _, err := db.AppendIMMessage(ctx, m, nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.EraseIMUser(ctx, 7, "erin"); err != nil {
		t.Fatal(err)
	}
	for _, p := range []store.IMPushToken{
		{SDKAppID: 7, UserID: "bob", DeviceID: "b1", Vendor: "fcm", Token: "tok1", RegisteredAt: t0},
		{SDKAppID: 7, UserID: "frank", DeviceID: "f1", Vendor: "apns", Token: "tok2", RegisteredAt: t0},
	} {
		if err := db.PutIMPushToken(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	ref := func(b byte) []byte { r := make([]byte, 16); r[0] = b; return r }
	if err := db.InsertTelemetry(ctx, []store.TelemetryRecord{
		{At: t0, SDKAppID: 7, RoomKey: "r", UserRef: ref(1), DeviceRef: ref(9), Section: "quality", Data: []byte(`{}`)},
		{At: t0, SDKAppID: 7, RoomKey: "r", UserRef: ref(1), DeviceRef: ref(9), Section: "device", Data: []byte(`{}`)},
		{At: t0.Add(24 * time.Hour), SDKAppID: 7, RoomKey: "r", UserRef: ref(1), DeviceRef: ref(9), Section: "quality", Data: []byte(`{}`)},
		{At: t0.Add(24 * time.Hour), SDKAppID: 7, RoomKey: "r", UserRef: ref(2), DeviceRef: ref(9), Section: "quality", Data: []byte(`{}`)},
		{At: t0.Add(48 * time.Hour), SDKAppID: 7, RoomKey: "r", UserRef: ref(3), DeviceRef: ref(9), Section: "quality", Data: []byte(`{}`)},
		{At: t0, SDKAppID: 8, RoomKey: "r", UserRef: ref(4), DeviceRef: ref(9), Section: "quality", Data: []byte(`{}`)},
	}); err != nil {
		t.Fatal(err)
	}
}

// proves SEC-3: affected users are distinct per store, deduplicated
// across stores that share an identifier form, bounded by the window, and
// erased messages do not count.
func TestCountIncidentUsers(t *testing.T) {
	db := openTest(t)
	ctx := testContext(t)
	t0 := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	seedIncidentData(t, ctx, db, t0)
	all := []store.UserSource{store.UserSourceConsent, store.UserSourceMessages, store.UserSourcePushTokens, store.UserSourceTelemetry}
	for _, tc := range []struct {
		name    string
		q       store.IncidentUserQuery
		by      map[store.UserSource]int64
		linked  int64
		wantErr bool
	}{
		{name: "everything", q: store.IncidentUserQuery{SDKAppID: 7, Sources: all, Until: t0.Add(72 * time.Hour)},
			// consent alice bob carol; messages alice dave (erin erased); push bob frank
			by:     map[store.UserSource]int64{store.UserSourceConsent: 3, store.UserSourceMessages: 2, store.UserSourcePushTokens: 2, store.UserSourceTelemetry: 3},
			linked: 5}, // alice bob carol dave frank
		{name: "until excludes later rows", q: store.IncidentUserQuery{SDKAppID: 7, Sources: all, Until: t0.Add(time.Hour)},
			by:     map[store.UserSource]int64{store.UserSourceConsent: 2, store.UserSourceMessages: 2, store.UserSourcePushTokens: 2, store.UserSourceTelemetry: 1},
			linked: 4},
		{name: "since excludes earlier rows", q: store.IncidentUserQuery{SDKAppID: 7, Sources: all, Since: t0.Add(time.Hour), Until: t0.Add(72 * time.Hour)},
			by:     map[store.UserSource]int64{store.UserSourceConsent: 1, store.UserSourceMessages: 0, store.UserSourcePushTokens: 0, store.UserSourceTelemetry: 3},
			linked: 1},
		{name: "one source", q: store.IncidentUserQuery{SDKAppID: 7, Sources: []store.UserSource{store.UserSourceMessages}},
			by: map[store.UserSource]int64{store.UserSourceMessages: 2}, linked: 2},
		{name: "telemetry only", q: store.IncidentUserQuery{SDKAppID: 7, Sources: []store.UserSource{store.UserSourceTelemetry}},
			by: map[store.UserSource]int64{store.UserSourceTelemetry: 3}, linked: 0},
		{name: "other app", q: store.IncidentUserQuery{SDKAppID: 8, Sources: all},
			by:     map[store.UserSource]int64{store.UserSourceConsent: 1, store.UserSourceMessages: 0, store.UserSourcePushTokens: 0, store.UserSourceTelemetry: 1},
			linked: 1},
		{name: "unknown source", q: store.IncidentUserQuery{SDKAppID: 7, Sources: []store.UserSource{"whiteboards"}}, wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := db.CountIncidentUsers(ctx, tc.q)
			if tc.wantErr {
				if err == nil {
					t.Fatal("no error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Linked != tc.linked || len(got.BySource) != len(tc.by) {
				t.Fatalf("got %+v, want linked %d by %v", got, tc.linked, tc.by)
			}
			for k, v := range tc.by {
				if got.BySource[k] != v {
					t.Errorf("%s: %d users, want %d", k, got.BySource[k], v)
				}
			}
		})
	}
}

func TestIncidentRecord(t *testing.T) {
	db := openTest(t)
	ctx := testContext(t)
	t0 := time.Date(2026, 11, 20, 12, 0, 0, 123456789, time.UTC)
	inc, err := db.CreateIncident(ctx, store.Incident{
		DeclaredAt: t0, Since: t0.Add(-time.Hour), WhatHappened: "w", Impact: "i", Measures: "m", Advice: "a",
		Remedies: "r", Contact: "c", Categories: []string{"identity.user_id", "im.message"},
		Apps: []store.IncidentApp{
			{SDKAppID: 7, AffectedUsers: 8, AffectedUsersMin: 5, UsersBySource: map[store.UserSource]int64{store.UserSourceConsent: 5, store.UserSourceTelemetry: 3}},
			{SDKAppID: 8, UsersBySource: map[store.UserSource]int64{}},
		},
	})
	if err != nil || inc.ID == 0 {
		t.Fatalf("create: %+v %v", inc, err)
	}
	if _, err := db.CreateIncident(ctx, store.Incident{DeclaredAt: t0, WhatHappened: "w", Impact: "i", Measures: "m", Advice: "a",
		Remedies: "r", Contact: "c", Categories: []string{"x"}, Apps: []store.IncidentApp{{SDKAppID: 7}, {SDKAppID: 7}}}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("app twice: %v", err)
	}
	if err := db.SetIncidentAppNotice(ctx, inc.ID, 7, store.IncidentNoticeWebhook, 41, t0); err != nil {
		t.Fatal(err)
	}
	if err := db.SetIncidentAppNotice(ctx, inc.ID, 9, store.IncidentNoticeWebhook, 1, t0); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("notice of an unaffected app: %v", err)
	}
	got, err := db.GetIncident(ctx, inc.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !got.DeclaredAt.Equal(t0.Truncate(time.Millisecond)) || !got.Since.Equal(t0.Add(-time.Hour).Truncate(time.Millisecond)) ||
		len(got.Categories) != 2 || len(got.Apps) != 2 {
		t.Fatalf("got %+v", got)
	}
	a7, a8 := got.Apps[0], got.Apps[1]
	if a7.SDKAppID != 7 || a7.Notice != store.IncidentNoticeWebhook || a7.AuditSeq != 41 || a7.AffectedUsers != 8 ||
		a7.AffectedUsersMin != 5 || a7.UsersBySource[store.UserSourceTelemetry] != 3 {
		t.Fatalf("app 7: %+v", a7)
	}
	if a8.Notice != store.IncidentNoticePending || a8.AuditSeq != -1 || !a8.NotifiedAt.IsZero() {
		t.Fatalf("app 8: %+v", a8)
	}
	// Counts are fixed; the incident itself is append-only.
	if _, err := db.write.ExecContext(ctx, `UPDATE incident_apps SET affected_users = 0`); err == nil {
		t.Fatal("counts changed")
	}
	if _, err := db.write.ExecContext(ctx, `UPDATE incidents SET impact = 'none'`); err == nil {
		t.Fatal("incident changed")
	}
	list, err := db.ListIncidents(ctx, 10)
	if err != nil || len(list) != 1 || list[0].ID != inc.ID || len(list[0].Apps) != 2 {
		t.Fatalf("list: %+v %v", list, err)
	}
	if _, err := db.GetIncident(ctx, 999); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("missing: %v", err)
	}

	// The outbox row of an event is found by (app, event id).
	if _, err := db.EnqueueWebhook(ctx, store.Webhook{SDKAppID: 7, EventID: "incident-1", URL: "http://x/", Body: []byte("{}"), CreatedAt: t0, NextAttemptAt: t0}); err != nil {
		t.Fatal(err)
	}
	if w, err := db.WebhookByEventID(ctx, 7, "incident-1"); err != nil || w.State != store.WebhookPending {
		t.Fatalf("by event id: %+v %v", w, err)
	}
	if _, err := db.WebhookByEventID(ctx, 8, "incident-1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("other app's event: %v", err)
	}
}
