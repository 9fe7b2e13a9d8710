package incident

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/parley-rtc/parley/internal/audit"
	"github.com/parley-rtc/parley/internal/privacy/inventory"
	"github.com/parley-rtc/parley/internal/store"
)

// Store is what the service reads and writes; *sqlite.DB implements it.
type Store interface {
	GetApp(ctx context.Context, sdkAppID uint32) (store.App, error)
	ListApps(ctx context.Context) ([]store.App, error)
	store.IncidentStore
}

// Notifier enqueues a signed callback; *webhook.Dispatcher implements it.
// ok is false when the app has no callback configured.
type Notifier interface {
	Enqueue(ctx context.Context, app uint32, eventID string, body []byte) (ok bool, err error)
}

// Auditor appends audit-log records; *audit.Log implements it.
type Auditor interface {
	Append(ctx context.Context, e audit.Entry) (int64, error)
}

// Config configures a Service.
type Config struct {
	Store     Store                // required
	Inventory *inventory.Inventory // required
	Notifier  Notifier             // required
	Audit     Auditor              // required
	Now       func() time.Time     // nil: time.Now
	Logger    *slog.Logger         // nil: discard
}

// Service declares incidents and reports their notification state.
type Service struct {
	st    Store
	inv   *inventory.Inventory
	notif Notifier
	audit Auditor
	now   func() time.Time
	log   *slog.Logger
}

// New builds the service.
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil || cfg.Inventory == nil || cfg.Notifier == nil || cfg.Audit == nil {
		return nil, errors.New("incident: service needs a store, the inventory, a notifier and the audit log")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Service{st: cfg.Store, inv: cfg.Inventory, notif: cfg.Notifier, audit: cfg.Audit, now: cfg.Now,
		log: cfg.Logger.With("component", "incident")}, nil
}

// Declare validates d, counts each affected app's users, records the
// incident and then notifies (see Notify). The incident is recorded
// before any app is notified, so an interrupted declaration is visible
// (apps "pending") and Notify finishes it. A notification failure of
// one app does not stop the others; the report is returned with the
// joined errors.
func (s *Service) Declare(ctx context.Context, d Declaration) (Report, error) {
	now := s.now()
	if err := d.Validate(s.inv, now); err != nil {
		return Report{}, err
	}
	apps, err := s.affectedApps(ctx, d)
	if err != nil {
		return Report{}, err
	}
	sources := sourcesOf(s.inv, d.Categories)
	inc := store.Incident{
		DeclaredAt: now, Since: d.Since, WhatHappened: d.WhatHappened, Impact: d.Impact,
		Measures: d.Measures, Advice: d.Advice, Remedies: d.Remedies, Contact: d.Contact,
		Categories: d.Categories,
	}
	for _, app := range apps {
		a := store.IncidentApp{SDKAppID: app, UsersBySource: map[store.UserSource]int64{}}
		if len(sources) > 0 {
			c, err := s.st.CountIncidentUsers(ctx, store.IncidentUserQuery{SDKAppID: app, Sources: sources, Since: d.Since, Until: now})
			if err != nil {
				return Report{}, fmt.Errorf("incident: count users of app %d: %w", app, err)
			}
			tel := c.BySource[store.UserSourceTelemetry]
			a.UsersBySource = c.BySource
			a.AffectedUsers, a.AffectedUsersMin = c.Linked+tel, max(c.Linked, tel)
		}
		inc.Apps = append(inc.Apps, a)
	}
	inc, err = s.st.CreateIncident(ctx, inc)
	if err != nil {
		return Report{}, fmt.Errorf("incident: record: %w", err)
	}
	s.log.Info("incident declared", "incident", inc.ID, "apps", len(inc.Apps), "categories", len(inc.Categories))
	return s.Notify(ctx, inc.ID)
}

// affectedApps resolves the declaration's apps: every app, or the listed
// ones, each of which must exist.
func (s *Service) affectedApps(ctx context.Context, d Declaration) ([]uint32, error) {
	if d.AllApps {
		all, err := s.st.ListApps(ctx)
		if err != nil {
			return nil, fmt.Errorf("incident: list apps: %w", err)
		}
		if len(all) == 0 {
			return nil, fmt.Errorf("%w: there are no apps to notify", ErrInvalid)
		}
		out := make([]uint32, len(all))
		for i, a := range all {
			out[i] = a.SDKAppID
		}
		return out, nil
	}
	for _, id := range d.Apps {
		if _, err := s.st.GetApp(ctx, id); errors.Is(err, store.ErrNotFound) {
			return nil, fmt.Errorf("%w: no app with SDKAppID %d", ErrUnknownApp, id)
		} else if err != nil {
			return nil, fmt.Errorf("incident: app %d: %w", id, err)
		}
	}
	return d.Apps, nil
}

// Notify finishes an incident's notifications: for every app still
// pending, or without a callback when it was declared, it enqueues the
// signed notification (idempotent: the event id is fixed per incident
// and app), appends the app's audit-log record (codes and counts only)
// and records the outcome. Apps already notified by webhook are left
// alone. Run it again after configuring an app's callback.
func (s *Service) Notify(ctx context.Context, id int64) (Report, error) {
	inc, err := s.st.GetIncident(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return Report{}, fmt.Errorf("%w: %d", ErrNotFound, id)
	}
	if err != nil {
		return Report{}, fmt.Errorf("incident: %w", err)
	}
	var errs []error
	for _, a := range inc.Apps {
		if a.Notice == store.IncidentNoticeWebhook {
			continue
		}
		if err := s.notifyApp(ctx, inc, a); err != nil {
			errs = append(errs, err)
		}
	}
	rep, err := s.Get(ctx, id)
	if err != nil {
		errs = append(errs, err)
	}
	return rep, errors.Join(errs...)
}

func (s *Service) notifyApp(ctx context.Context, inc store.Incident, a store.IncidentApp) error {
	body, err := NotificationFor(inc, a, s.inv).Body()
	if err != nil {
		return err
	}
	eid := EventID(inc, a.SDKAppID)
	sent, err := s.notif.Enqueue(ctx, a.SDKAppID, eid, body)
	if err != nil {
		return fmt.Errorf("incident %d: notify app %d: %w", inc.ID, a.SDKAppID, err)
	}
	notice := store.IncidentNoticeNoCallback
	if sent {
		notice = store.IncidentNoticeWebhook
	}
	if notice == a.Notice && a.AuditSeq >= 0 {
		return nil // still no callback: nothing new to record
	}
	seq, err := appendRetry(ctx, s.audit, audit.Entry{Kind: audit.KindIncident, SDKAppID: a.SDKAppID, Detail: auditDetail(inc, a, notice, eid)})
	if err != nil {
		return fmt.Errorf("incident %d: audit record of app %d: %w", inc.ID, a.SDKAppID, err)
	}
	if err := s.st.SetIncidentAppNotice(ctx, inc.ID, a.SDKAppID, notice, seq, s.now()); err != nil {
		return fmt.Errorf("incident %d: app %d: %w", inc.ID, a.SDKAppID, err)
	}
	s.log.Info("incident notice", "incident", inc.ID, "sdkappid", a.SDKAppID, "notice", notice, "audit_seq", seq)
	return nil
}

// auditDetail is an app's audit record: codes and counts, no text the
// operator wrote and no identifier.
func auditDetail(inc store.Incident, a store.IncidentApp, notice store.IncidentNotice, eventID string) map[string]string {
	d := map[string]string{
		"incident":           strconv.FormatInt(inc.ID, 10),
		"declared_at":        strconv.FormatInt(inc.DeclaredAt.UnixMilli(), 10),
		"affected_users":     strconv.FormatInt(a.AffectedUsers, 10),
		"affected_users_min": strconv.FormatInt(a.AffectedUsersMin, 10),
		"notice":             string(notice),
		"event_id":           eventID,
	}
	if !inc.Since.IsZero() {
		d["since"] = strconv.FormatInt(inc.Since.UnixMilli(), 10)
	}
	cats := strings.Join(inc.Categories, ",")
	if len(cats) <= audit.MaxDetailValueLen {
		d["categories"] = cats
	} else {
		sum := sha256.Sum256([]byte(cats))
		d["categories_count"] = strconv.Itoa(len(inc.Categories))
		d["categories_sha256"] = hex.EncodeToString(sum[:])
	}
	for src, n := range a.UsersBySource {
		d["users."+string(src)] = strconv.FormatInt(n, 10)
	}
	return d
}

// appendRetry appends e, retrying when another process appended the
// same seq first (the server also appends).
func appendRetry(ctx context.Context, a Auditor, e audit.Entry) (int64, error) {
	var err error
	for range 3 {
		var seq int64
		if seq, err = a.Append(ctx, e); !errors.Is(err, store.ErrConflict) {
			return seq, err
		}
	}
	return 0, err
}
