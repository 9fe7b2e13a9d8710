package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/parley-rtc/parley/internal/keyring"
	"github.com/parley-rtc/parley/internal/privacy/consent"
	"github.com/parley-rtc/parley/internal/privacy/inventory"
	"github.com/parley-rtc/parley/internal/signal"
	"github.com/parley-rtc/parley/internal/store/sqlite"
	"github.com/parley-rtc/parley/internal/telemetry"
	"github.com/parley-rtc/parley/protocol"
)

// privacyServices are the consent ledger, the inventory and telemetry.
type privacyServices struct {
	inventory *inventory.Inventory
	consent   *consent.Service
	telemetry *telemetry.Service
}

func newPrivacyServices(db *sqlite.DB, kek []byte, log *slog.Logger, now func() time.Time) (*privacyServices, error) {
	inv, err := inventory.Default()
	if err != nil {
		return nil, fmt.Errorf("inventory: %w", err)
	}
	// The same key as the store's blind index (keyring.IndexLabel), so a
	// user's telemetry reference is their reference in every store.
	pseudo, err := db.DeriveKey(keyring.IndexLabel)
	if err != nil {
		return nil, fmt.Errorf("pseudonym key: %w", err)
	}
	tel, err := telemetry.New(telemetry.Config{Inventory: inv, Store: db, PseudonymKey: pseudo, Logger: log, Now: now})
	if err != nil {
		return nil, err
	}
	return &privacyServices{
		inventory: inv,
		consent:   consent.New(db, db, consent.Options{Logger: log, Now: now}),
		telemetry: tel,
	}, nil
}

func (p *privacyServices) close() error { return p.telemetry.Close() }

// signalPrivacy adapts the services to the signaling session's interfaces.
// minorRefused is told of a minor refused for want of guardian consent.
func (p *privacyServices) signalPrivacy(apps AppDirectory, minorRefused func(ctx context.Context, sdkAppID uint32, userID string)) signal.Privacy {
	return signal.Privacy{Consent: consentGate{svc: p.consent, apps: apps, minorRefused: minorRefused}, Telemetry: telemetrySink{p.telemetry}}
}

// consentGate admits joins against the consent ledger (CONSENT-1, 3, 5, 6;
// MINOR-1).
type consentGate struct {
	svc          *consent.Service
	apps         AppDirectory
	minorRefused func(ctx context.Context, sdkAppID uint32, userID string)
}

func (g consentGate) AdmitJoin(ctx context.Context, req *protocol.JoinRequest) (signal.Scope, error) {
	settings, err := g.apps.Settings(ctx, req.SDKAppID)
	if err != nil {
		return signal.Scope{}, signal.Refuse(protocol.ErrCodeInternal, errors.New("app settings lookup failed; retry"))
	}
	claim := req.Consent
	if settings.MinorAudience && claim != nil && claim.AgeBand != protocol.AgeBandMinor {
		// The app declared its users under 14: whatever the claim says,
		// the user is a minor (MINOR-1).
		c := *claim
		c.AgeBand = protocol.AgeBandMinor
		claim = &c
	}
	d, err := g.svc.CheckJoin(ctx, req.SDKAppID, req.UserID, req.DeviceID, claim)
	if err != nil {
		return signal.Scope{}, signal.Refuse(protocol.ErrCodeInternal, errors.New("consent check failed; retry"))
	}
	if d.Allowed && settings.MinorAudience && !d.Minor {
		d.Allowed, d.Code, d.Reason = false, protocol.ErrCodeGuardianRequired,
			"guardian consent required: this app's users are under 14 and the consent on record has no guardian reference"
	}
	if !d.Allowed {
		if d.Code == protocol.ErrCodeGuardianRequired && g.minorRefused != nil {
			g.minorRefused(ctx, req.SDKAppID, req.UserID)
		}
		return signal.Scope{}, signal.Refuse(d.Code, errors.New(d.Reason))
	}
	return signal.NewScope(d.Purposes, req.Switches, req.Platform, d.Minor || settings.MinorAudience), nil
}

func (g consentGate) Withdraw(ctx context.Context, sdkAppID uint32, userID, deviceID string) error {
	return g.svc.Withdraw(ctx, sdkAppID, userID, deviceID)
}

// telemetrySink maps telemetry errors to protocol codes.
type telemetrySink struct{ svc *telemetry.Service }

func (t telemetrySink) Ingest(ctx context.Context, s signal.SessionInfo, rep *protocol.TelemetryReport) error {
	err := t.svc.Ingest(ctx, telemetry.Session{
		SDKAppID: s.SDKAppID, Room: s.Room, UserID: s.UserID, DeviceID: s.DeviceID,
		Scope: telemetry.Scope{Platform: s.Scope.Platform, Purposes: s.Scope.Purposes, Switches: s.Scope.Switches},
	}, rep)
	var rej *telemetry.RejectError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &rej):
		return signal.Refuse(protocol.ErrCodeFieldRejected, rej)
	case errors.Is(err, telemetry.ErrOverload):
		return signal.Refuse(protocol.ErrCodeRateLimited, err)
	default:
		return signal.Refuse(protocol.ErrCodeInternal, errors.New("telemetry not stored; retry"))
	}
}
