package server

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/parley-rtc/parley/internal/app"
	"github.com/parley-rtc/parley/internal/audit"
	"github.com/parley-rtc/parley/internal/dsr"
	"github.com/parley-rtc/parley/internal/privacy/consent"
	"github.com/parley-rtc/parley/internal/privacy/inventory"
	"github.com/parley-rtc/parley/internal/privacy/workdays"
	"github.com/parley-rtc/parley/internal/room"
	"github.com/parley-rtc/parley/internal/signal"
	"github.com/parley-rtc/parley/internal/store/sqlite"
)

// receiptLabel is the keyring.Derive purpose of the DSR receipt key.
const receiptLabel = "dsr-receipt/v1"

// Rights is the data-subject-rights engine with the audit log it writes
// to, built the same way by `parley serve` and by `parley dsr --data`.
type Rights struct {
	Engine  *dsr.Engine
	Audit   *audit.Log
	Consent *consent.Service
	// AuditKey is the checkpoint verifier key (publishable).
	AuditKey string
}

// RightsOptions are the optional parts of NewRights.
type RightsOptions struct {
	Logger *slog.Logger
	Now    func() time.Time
	// Kick ends a user's live sessions on delete and cancel.
	Kick func(sdkAppID uint32, userID string)
	// Flush writes out queued telemetry before an erasure.
	Flush func(ctx context.Context) error
}

// NewRights opens the audit log and builds the rights engine over the
// local stores. The consent service it returns reports every ledger
// entry to the audit log.
func NewRights(local *app.Local, inv *inventory.Inventory, o RightsOptions) (*Rights, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	log, vkey := local.Audit, local.AuditKey
	seed, err := local.DB.DeriveKey(receiptLabel)
	if err != nil {
		return nil, err
	}
	cal, err := workdays.Default()
	if err != nil {
		return nil, err
	}
	for _, w := range cal.Warnings(o.Now()) {
		o.Logger.Warn(w)
	}
	consentSvc := AuditedConsent(local, log, o.Logger, o.Now)
	eng, err := dsr.New(dsr.Config{
		Inventory:  inv,
		Handlers:   dsr.BuiltinHandlers(local.DB),
		Keys:       local.DB,
		Requests:   local.DB,
		Audit:      log,
		Holds:      holdChecker{local.DB, o.Now},
		Consent:    consentSvc,
		Corrector:  declaredCorrector{consentSvc},
		Kick:       o.Kick,
		Flush:      o.Flush,
		Calendar:   cal,
		ReceiptKey: ed25519.NewKeyFromSeed(seed),
		Now:        o.Now,
		Logger:     o.Logger,
	})
	if err != nil {
		return nil, err
	}
	return &Rights{Engine: eng, Audit: log, Consent: consentSvc, AuditKey: vkey}, nil
}

// AuditedConsent is the consent service whose ledger entries and policy
// publications are appended to the audit log (SEC-2).
func AuditedConsent(local *app.Local, log *audit.Log, logger *slog.Logger, now func() time.Time) *consent.Service {
	return consent.New(local.DB, local.DB, consent.Options{Logger: logger, Now: now,
		Recorded: consentAuditor(local.DB, log), Published: policyAuditor(log)})
}

// OperatorRead appends an operator's read of personal data to the audit
// log (SEC-2): who read (a role or channel), what, and how many records —
// never the data.
func OperatorRead(ctx context.Context, log *audit.Log, sdkAppID uint32, actor, what string, records int) error {
	_, err := log.Append(ctx, audit.Entry{Kind: audit.KindOperatorRead, SDKAppID: sdkAppID,
		Detail: map[string]string{"actor": actor, "endpoint": what, "records": strconv.Itoa(records)}})
	return err
}

// consentAuditor appends every consent-ledger entry to the audit log as a
// commitment under the user's key (SEC-2): the log proves the decision
// and its version without naming the user.
func consentAuditor(db *sqlite.DB, log *audit.Log) func(ctx context.Context, e consent.Entry) error {
	return func(ctx context.Context, e consent.Entry) error {
		key, err := db.SubjectCommitKey(ctx, e.SDKAppID, e.UserID)
		if err != nil {
			return err
		}
		if key == nil {
			return fmt.Errorf("consent entry recorded without a subject key")
		}
		kind := audit.KindConsentGrant
		if e.Action != "grant" {
			kind = audit.KindConsentWithdraw
		}
		detail := map[string]string{"policy": e.PolicyVersion, "purposes": strconv.Itoa(len(e.Purposes))}
		if e.Method != "" {
			detail["method"] = e.Method
		}
		if e.AgeBand != "" {
			detail["age_band"] = e.AgeBand
		}
		_, err = log.Append(ctx, audit.Entry{At: e.RecordedAt, Kind: kind, SDKAppID: e.SDKAppID,
			SubjectKey: key, Subject: e.UserID, Detail: detail})
		return err
	}
}

// policyAuditor appends a policy publication to the audit log.
func policyAuditor(log *audit.Log) func(ctx context.Context, p consent.Policy) error {
	return func(ctx context.Context, p consent.Policy) error {
		_, err := log.Append(ctx, audit.Entry{At: p.PublishedAt, Kind: audit.KindPolicyPublish, SDKAppID: p.SDKAppID,
			Detail: map[string]string{"version": p.Version, "material": strconv.FormatBool(p.Material),
				"effective_at": p.EffectiveAt.UTC().Format(time.RFC3339)}})
		return err
	}
}

// declaredCorrector corrects the user-declared consent fields.
type declaredCorrector struct{ svc *consent.Service }

func (c declaredCorrector) Correct(ctx context.Context, sdkAppID uint32, userID string, cs []dsr.Correction) (int64, error) {
	var d consent.Declared
	for _, x := range cs {
		v := x.Value
		switch x.Field {
		case "age_band":
			d.AgeBand = &v
		case "guardian_ref":
			d.GuardianRef = &v
		default:
			return 0, fmt.Errorf("%w: %q is not a correctable field (age_band, guardian_ref)", consent.ErrCorrection, x.Field)
		}
	}
	n, err := c.svc.CorrectDeclared(ctx, sdkAppID, userID, d)
	return int64(n), err
}

// erasedSessionNotice is what an erased user's open messaging
// connections are told before they close.
const erasedSessionNotice = "this user's account was cancelled or their data deleted; log in again only after fresh consent"

// endUserSessions ends the user's live sessions (RightsOptions.Kick):
// removed from every room of the app (exit_room reason 1, then the
// connection closes), and every messaging login ended and its connection
// closed, so nothing more reaches a deleted user's devices. signaling is
// read when called: the handler is built after the rights service.
func endUserSessions(rooms *room.Manager, signaling func() *signal.Handler) func(uint32, string) {
	return func(sdkAppID uint32, userID string) {
		for _, r := range rooms.Rooms(sdkAppID) {
			_, _ = rooms.RemoveUsers(sdkAppID, r.Room, []string{userID})
		}
		if h := signaling(); h != nil {
			h.EndIMLogins(sdkAppID, userID, erasedSessionNotice)
		}
	}
}

// holdChecker reports a legal hold on the user or their whole app
// (RETAIN-4): erasure is refused with the legal ground while it lasts.
type holdChecker struct {
	db  *sqlite.DB
	now func() time.Time
}

func (h holdChecker) Held(ctx context.Context, sdkAppID uint32, userID string) (bool, error) {
	holds, err := h.db.ListLegalHolds(ctx, sdkAppID, false, h.now())
	if err != nil {
		return false, err
	}
	ref := h.db.UserRef(sdkAppID, userID)
	for _, x := range holds {
		if x.Subject == "" || x.Subject == ref {
			return true, nil
		}
	}
	return false, nil
}

// EraseUnguardedMinor erases what is stored about a user who turned out
// to be a minor without guardian consent (MINOR-1: "PI of a minor
// received without it is deleted promptly"), unless the user holds a
// guardian-backed consent on some device (then the refused claim alone
// is dropped, and the rest was collected lawfully). Nothing is done for
// a user with nothing stored.
func (r *Rights) EraseUnguardedMinor(db *sqlite.DB, log *slog.Logger) func(ctx context.Context, sdkAppID uint32, userID string) {
	return func(ctx context.Context, sdkAppID uint32, userID string) {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if id, err := db.SubjectKeyID(ctx, sdkAppID, userID); err != nil || id == "" {
			return
		}
		if ok, err := r.Consent.HasGuardianConsent(ctx, sdkAppID, userID); err != nil || ok {
			return
		}
		res, err := r.Engine.Submit(ctx, dsr.TypeDelete, dsr.Subject{SDKAppID: sdkAppID, UserID: userID}, dsr.SourceSystem, nil)
		if err != nil {
			log.Error("erasing a minor's data received without guardian consent failed", "err", err)
			return
		}
		log.Info("erased a minor's data received without guardian consent", "request", res.Request.ID, "state", res.Request.State)
	}
}
