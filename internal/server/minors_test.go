package server

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/parley-rtc/parley/internal/app"
	"github.com/parley-rtc/parley/internal/privacy/consent"
	"github.com/parley-rtc/parley/internal/privacy/inventory"
	"github.com/parley-rtc/parley/internal/signal"
	"github.com/parley-rtc/parley/protocol"
)

// An app that declares its users under 14 makes every user a minor: an
// adult claim without a guardian reference is refused, one with it is
// admitted as a minor with every optional switch off. proves MINOR-1
func TestMinorAudienceApp(t *testing.T) {
	ctx := t.Context()
	now := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	local, err := app.OpenLocalStores(ctx, app.LocalOptions{DataDir: t.TempDir(), Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	defer local.Close()
	a, err := local.Apps.Create(ctx, "kids")
	if err != nil {
		t.Fatal(err)
	}
	s := a.Settings
	s.MinorAudience = true
	if err := local.Apps.UpdateSettings(ctx, a.SDKAppID, s); err != nil {
		t.Fatal(err)
	}
	inv, err := inventory.Default()
	if err != nil {
		t.Fatal(err)
	}
	rights, err := NewRights(local, inv, RightsOptions{Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rights.Consent.PublishPolicy(ctx, a.SDKAppID, consent.Policy{Version: "v1"}); err != nil {
		t.Fatal(err)
	}
	var refused []string
	gate := consentGate{svc: rights.Consent, apps: &appDirectory{local.Apps},
		minorRefused: func(_ context.Context, _ uint32, user string) { refused = append(refused, user) }}
	join := func(user, ageBand, guardian string) (signal.Scope, error) {
		return gate.AdmitJoin(ctx, &protocol.JoinRequest{SDKAppID: a.SDKAppID, UserID: user, DeviceID: user + "-dev", Platform: "go",
			Switches: map[string]bool{"ext.apm": true, "field.device.model": true},
			Consent: &protocol.ConsentClaim{PolicyVersion: "v1", Purposes: []string{protocol.PurposeRTC, protocol.PurposeQuality},
				Method: protocol.ConsentMethodSDK, GrantedAt: now.UnixMilli(), AgeBand: ageBand, GuardianRef: guardian}})
	}
	var ref *signal.Refusal
	if _, err := join("claims-adult", protocol.AgeBandAdult, ""); !errors.As(err, &ref) || ref.Code != protocol.ErrCodeGuardianRequired {
		t.Fatalf("adult claim in a minors app: %v", err)
	}
	if len(refused) != 1 || refused[0] != "claims-adult" {
		t.Fatalf("refusals reported: %v", refused)
	}
	sc, err := join("with-guardian", "", "guardian-form-9")
	if err != nil {
		t.Fatalf("claim with a guardian reference: %v", err)
	}
	if !sc.Minor || sc.Switches["field.device.model"] {
		t.Fatalf("scope %+v: want minor mode with optional fields off", sc)
	}
}
