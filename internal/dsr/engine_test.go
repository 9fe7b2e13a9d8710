package dsr_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/parley-rtc/parley/internal/app"
	"github.com/parley-rtc/parley/internal/dsr"
	"github.com/parley-rtc/parley/internal/keyring"
	"github.com/parley-rtc/parley/internal/privacy/inventory"
	"github.com/parley-rtc/parley/internal/server"
	"github.com/parley-rtc/parley/internal/store"
)

const testApp = 1400000001

type fixture struct {
	local  *app.Local
	rights *server.Rights
	now    time.Time
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{now: time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)}
	local, err := app.OpenLocalStores(t.Context(), app.LocalOptions{DataDir: t.TempDir(), Now: f.clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { local.Close() })
	inv, err := inventory.Default()
	if err != nil {
		t.Fatal(err)
	}
	r, err := server.NewRights(local, inv, server.RightsOptions{Now: f.clock})
	if err != nil {
		t.Fatal(err)
	}
	f.local, f.rights = local, r
	a, err := local.Apps.Create(t.Context(), "dsr test")
	if err != nil || a.SDKAppID != testApp {
		t.Fatalf("app %d: %v", a.SDKAppID, err)
	}
	return f
}

func (f *fixture) clock() time.Time { return f.now }

// seed stores, for user, messages to peer, two devices' consent, a push
// token and telemetry.
func (f *fixture) seed(t *testing.T, user, peer, text string) {
	t.Helper()
	ctx := t.Context()
	db := f.local.DB
	conv := "c2c:" + min(user, peer) + "|" + max(user, peer)
	for i := range 3 {
		body, _ := json.Marshal([]map[string]any{{"MsgType": "TIMTextElem", "MsgContent": map[string]string{"Text": text + string(rune('a'+i))}}})
		if _, _, err := db.AppendIMMessage(ctx, store.IMMessage{SDKAppID: testApp, ConvID: conv, Sender: user, At: f.now, Body: body}, []string{peer}); err != nil {
			t.Fatal(err)
		}
	}
	for _, dev := range []string{user + "-dev1", user + "-dev2"} {
		if _, _, err := db.AppendConsent(ctx, store.ConsentEntry{SDKAppID: testApp, UserID: user, DeviceID: dev, Action: store.ConsentGrant,
			PolicyVersion: "v1", Purposes: []string{"im", "rtc"}, Method: "sdk", RecordedAt: f.now}); err != nil {
			t.Fatal(err)
		}
		// The telemetry pseudonyms are the store's blind-index references.
		uref, _ := keyring.RefBytes(db.UserRef(testApp, user))
		dref, _ := keyring.RefBytes(db.DeviceRef(testApp, dev))
		if err := db.InsertTelemetry(ctx, []store.TelemetryRecord{{At: f.now, SDKAppID: testApp, RoomKey: "n:1",
			UserRef: uref, DeviceRef: dref, Section: "quality", Data: []byte(`{"rtt":20}`)}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.PutIMPushToken(ctx, store.IMPushToken{SDKAppID: testApp, UserID: user, DeviceID: user + "-dev1", Vendor: "fcm",
		Token: "tok-" + user, RegisteredAt: f.now}); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) submit(t *testing.T, typ dsr.Type, s dsr.Subject, c ...dsr.Correction) dsr.Result {
	t.Helper()
	res, err := f.rights.Engine.Submit(t.Context(), typ, s, dsr.SourceCLI, c)
	if err != nil {
		t.Fatalf("%s: %v", typ, err)
	}
	return res
}

func counts(res dsr.Result) map[string]int64 {
	m := map[string]int64{}
	for _, s := range res.Stores {
		m[s.Store] = s.Rows
	}
	return m
}

// proves RIGHTS-1: export returns everything stored about the user, by
// store with the inventory labels, readable.
func TestExportBundle(t *testing.T) {
	f := newFixture(t)
	f.seed(t, "alice", "bob", "hello from alice ")
	f.seed(t, "bob", "alice", "bob says ")
	res := f.submit(t, dsr.TypeExport, dsr.Subject{SDKAppID: testApp, UserID: "alice"})
	if res.Request.State != dsr.StateCompleted || res.Export == nil {
		t.Fatalf("state %s", res.Request.State)
	}
	raw, _ := json.Marshal(res.Export)
	for _, want := range []string{"hello from alice a", "hello from alice c", "alice-dev2", "tok-alice", `"rtt":20`} {
		if !bytes.Contains(raw, []byte(want)) {
			t.Errorf("export lacks %q", want)
		}
	}
	if bytes.Contains(raw, []byte("bob says")) || bytes.Contains(raw, []byte("tok-bob")) {
		t.Error("export contains another user's data")
	}
	c := counts(res)
	if c["messages"] != 3 || c["consent_ledger"] != 2 || c["im_sessions"] != 1 || c["quality_logs"] != 2 {
		t.Errorf("counts %v", c)
	}
	for _, s := range res.Export.Stores {
		if s.Label == "" || (s.Store == "messages" && len(s.Elements) == 0) {
			t.Errorf("store %s lacks its label or elements", s.Store)
		}
	}
	r := res.Request
	if r.VerifiedAt.IsZero() || r.ProcessingAt.IsZero() || r.FinishedAt.IsZero() || !r.DueAt.After(r.ReceivedAt.Add(14*24*time.Hour)) {
		t.Errorf("lifecycle timestamps %+v", r)
	}
}

// proves RIGHTS-3: delete crypto-shreds, deletes every store's rows,
// verifies nothing readable remains and signs a receipt; the peer's data
// stays and the peer sees tombstones.
func TestDeleteVerifiedAndSigned(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	f.seed(t, "alice", "bob", "secret text ")
	f.seed(t, "bob", "alice", "bob says ")
	res := f.submit(t, dsr.TypeDelete, dsr.Subject{SDKAppID: testApp, UserID: "alice"})
	if res.Request.State != dsr.StateCompleted {
		t.Fatalf("state %s %s", res.Request.State, res.Request.Message)
	}
	for _, s := range res.Stores {
		if s.Readable != 0 {
			t.Errorf("%s readable after: %d", s.Store, s.Readable)
		}
	}
	rc, err := dsr.VerifyReceipt(res.Request.Receipt, f.rights.Engine.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	if len(rc.DestroyedKeys) != 1 || rc.RequestID != res.Request.ID || rc.Subject != res.Request.Subject {
		t.Errorf("receipt %+v", rc)
	}
	tampered := bytes.Replace(res.Request.Receipt, []byte(`\"type\":\"delete\"`), []byte(`\"type\":\"access\"`), 1)
	if bytes.Equal(tampered, res.Request.Receipt) {
		t.Fatal("receipt does not name its type")
	}
	if _, err := dsr.VerifyReceipt(tampered, f.rights.Engine.PublicKey()); !errors.Is(err, dsr.ErrBadReceipt) {
		t.Errorf("tampered receipt: %v", err)
	}
	// The peer still has their own data; alice's messages are tombstones.
	after := f.submit(t, dsr.TypeAccess, dsr.Subject{SDKAppID: testApp, UserID: "bob"})
	if c := counts(after); c["messages"] < 3 || c["consent_ledger"] != 2 || c["im_sessions"] != 1 {
		t.Errorf("bob's data after alice's deletion: %v", c)
	}
	msgs, err := f.local.DB.ListIMMessages(ctx, testApp, "c2c:alice|bob", store.IMRange{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var tomb, readable int
	for _, m := range msgs {
		if strings.Contains(string(m.Body), "secret text") {
			t.Fatal("alice's text still readable")
		}
		if m.Erased {
			tomb++
		} else {
			readable++
		}
	}
	if tomb != 3 || readable != 3 {
		t.Errorf("conversation after deletion: %d tombstones, %d readable; want 3 and 3", tomb, readable)
	}
	// The state changes and the receipt are in a log that verifies.
	if err := f.rights.Audit.Verify(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if res.Request.AuditSeq < 0 {
		t.Fatal("no audit record of the receipt")
	}
}

// proves RIGHTS-2: delete_device erases what that device reported and
// nothing of the user's other device.
func TestDeleteDevice(t *testing.T) {
	f := newFixture(t)
	f.seed(t, "alice", "bob", "x")
	res := f.submit(t, dsr.TypeDeleteDevice, dsr.Subject{SDKAppID: testApp, UserID: "alice", DeviceID: "alice-dev1"})
	if c := counts(res); c["consent_ledger"] != 1 || c["quality_logs"] != 1 || c["im_sessions"] != 1 || c["messages"] != 0 {
		t.Errorf("device erasure counts %v", c)
	}
	left := counts(f.submit(t, dsr.TypeAccess, dsr.Subject{SDKAppID: testApp, UserID: "alice"}))
	// messages: the 3 messages and the read cursor of their conversation.
	if left["consent_ledger"] != 1 || left["quality_logs"] != 1 || left["messages"] != 4 {
		t.Errorf("after device erasure: %v", left)
	}
}

// proves CONSENT-5 and RETAIN-3: withdrawal records the withdrawal on
// every device and erases the content the consent covered.
func TestWithdrawKeepsTheLedger(t *testing.T) {
	f := newFixture(t)
	f.seed(t, "alice", "bob", "x")
	f.submit(t, dsr.TypeWithdraw, dsr.Subject{SDKAppID: testApp, UserID: "alice"})
	for _, dev := range []string{"alice-dev1", "alice-dev2"} {
		e, err := f.local.DB.LatestConsent(t.Context(), testApp, "alice", dev)
		if err != nil || e.Action != store.ConsentWithdraw {
			t.Errorf("%s: latest %v %v", dev, e.Action, err)
		}
	}
	c := counts(f.submit(t, dsr.TypeAccess, dsr.Subject{SDKAppID: testApp, UserID: "alice"}))
	if c["messages"] != 0 || c["quality_logs"] != 0 || c["im_sessions"] != 0 || c["consent_ledger"] != 4 {
		t.Errorf("after withdrawal: %v", c)
	}
}

// proves RIGHTS-5 and RETAIN-4: a legal hold refuses erasure with the
// legal ground and a message; repeated access is refused as such.
func TestRefusalGrounds(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	f.seed(t, "alice", "bob", "x")
	if _, err := f.local.DB.AddLegalHold(ctx, store.LegalHold{SDKAppID: testApp, Subject: f.local.DB.UserRef(testApp, "alice"),
		Reason: store.HoldCourt, CreatedAt: f.now, ExpiresAt: f.now.Add(30 * 24 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	res := f.submit(t, dsr.TypeDelete, dsr.Subject{SDKAppID: testApp, UserID: "alice"})
	if res.Request.State != dsr.StateRefused || res.Request.Ground != dsr.GroundLegal || res.Request.Message == "" {
		t.Fatalf("held delete: %+v", res.Request)
	}
	if c := counts(f.submit(t, dsr.TypeAccess, dsr.Subject{SDKAppID: testApp, UserID: "alice"})); c["messages"] != 4 || c["keystore"] != 1 {
		t.Errorf("held data touched: %v", c)
	}
	var last dsr.Result
	for range dsr.RepeatLimit + 1 {
		last = f.submit(t, dsr.TypeAccess, dsr.Subject{SDKAppID: testApp, UserID: "bob"})
	}
	if last.Request.State != dsr.StateRefused || last.Request.Ground != dsr.GroundRepeated {
		t.Fatalf("repeated access: %+v", last.Request)
	}
	if _, err := f.rights.Engine.Submit(ctx, dsr.TypeDeleteDevice, dsr.Subject{SDKAppID: testApp, UserID: "bob"}, dsr.SourceCLI, nil); !errors.Is(err, dsr.ErrInvalid) {
		t.Errorf("delete_device without device: %v", err)
	}
}

// proves MINOR-1 (correction): a minor's age band needs a guardian
// reference; with one, the correction is a new ledger entry.
func TestCorrectDeclaredFields(t *testing.T) {
	f := newFixture(t)
	f.seed(t, "carol", "bob", "x")
	bad := f.submit(t, dsr.TypeCorrect, dsr.Subject{SDKAppID: testApp, UserID: "carol"}, dsr.Correction{Field: "age_band", Value: "minor"})
	if bad.Request.State != dsr.StateRefused {
		t.Fatalf("minor without guardian: %+v", bad.Request)
	}
	ok := f.submit(t, dsr.TypeCorrect, dsr.Subject{SDKAppID: testApp, UserID: "carol"},
		dsr.Correction{Field: "age_band", Value: "minor"}, dsr.Correction{Field: "guardian_ref", Value: "guardian-form-77"})
	if ok.Request.State != dsr.StateCompleted || counts(ok)["consent_ledger"] != 2 {
		t.Fatalf("correction: %+v %v", ok.Request, counts(ok))
	}
	e, err := f.local.DB.LatestConsent(t.Context(), testApp, "carol", "carol-dev1")
	if err != nil || e.AgeBand != "minor" || e.GuardianRef != "guardian-form-77" {
		t.Errorf("latest after correction: %+v %v", e, err)
	}
}

var _ = context.Background
