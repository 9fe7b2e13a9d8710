package incident

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/parley-rtc/parley/internal/store"
)

// Delivery states of an app's notification, as reported.
const (
	DeliveryNoCallback = "not_notified_no_callback" // console notice only
	DeliveryNotSent    = "not_sent"                 // declaration interrupted; run Notify
	DeliveryPending    = "pending"                  // in the outbox, being retried
	DeliveryDelivered  = "delivered"
	DeliveryFailed     = "failed"  // retry budget spent
	DeliveryExpired    = "expired" // outbox row removed by retention (14 days)
)

// Delivery is an app's notification state, read from the webhook outbox.
type Delivery struct {
	State     string `json:"state"`
	Attempts  int    `json:"attempts"`
	LastError string `json:"last_error,omitempty"` // a fixed phrase, e.g. "http status 500"
	// Summary is one human line, e.g. "not notified: no callback configured".
	Summary string `json:"summary"`
}

// AppReport is one affected app with its delivery state.
type AppReport struct {
	SDKAppID         uint32           `json:"sdkappid"`
	AffectedUsers    int64            `json:"affected_users"`
	AffectedUsersMin int64            `json:"affected_users_min"`
	UsersByStore     map[string]int64 `json:"users_by_store"`
	Notice           string           `json:"notice"`
	AuditSeq         *int64           `json:"audit_seq,omitempty"`
	EventID          string           `json:"event_id"`
	Delivery         Delivery         `json:"delivery"`
}

// Report is an incident as the console and the CLI show it.
type Report struct {
	ID           int64       `json:"id"`
	DeclaredAt   time.Time   `json:"declared_at"`
	Since        *time.Time  `json:"since,omitempty"`
	WhatHappened string      `json:"what_happened"`
	Impact       string      `json:"impact"`
	Measures     string      `json:"measures_taken"`
	Advice       string      `json:"advice"`
	Remedies     string      `json:"remedies"`
	Contact      string      `json:"contact"`
	Categories   []Category  `json:"categories"`
	Apps         []AppReport `json:"apps"`
}

// Get returns an incident with each app's delivery state.
func (s *Service) Get(ctx context.Context, id int64) (Report, error) {
	inc, err := s.st.GetIncident(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return Report{}, fmt.Errorf("%w: %d", ErrNotFound, id)
	}
	if err != nil {
		return Report{}, fmt.Errorf("incident: %w", err)
	}
	return s.report(ctx, inc)
}

// List returns up to limit incidents, newest first, with delivery states.
func (s *Service) List(ctx context.Context, limit int) ([]Report, error) {
	incs, err := s.st.ListIncidents(ctx, limit)
	if err != nil {
		return nil, fmt.Errorf("incident: list: %w", err)
	}
	out := make([]Report, 0, len(incs))
	for _, inc := range incs {
		r, err := s.report(ctx, inc)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

func (s *Service) report(ctx context.Context, inc store.Incident) (Report, error) {
	r := Report{
		ID: inc.ID, DeclaredAt: inc.DeclaredAt.UTC(), WhatHappened: inc.WhatHappened, Impact: inc.Impact,
		Measures: inc.Measures, Advice: inc.Advice, Remedies: inc.Remedies, Contact: inc.Contact,
		Categories: categories(s.inv, inc.Categories), Apps: []AppReport{},
	}
	if !inc.Since.IsZero() {
		t := inc.Since.UTC()
		r.Since = &t
	}
	for _, a := range inc.Apps {
		ar := AppReport{
			SDKAppID: a.SDKAppID, AffectedUsers: a.AffectedUsers, AffectedUsersMin: a.AffectedUsersMin,
			UsersByStore: map[string]int64{}, Notice: string(a.Notice), EventID: EventID(inc, a.SDKAppID),
		}
		for k, v := range a.UsersBySource {
			ar.UsersByStore[string(k)] = v
		}
		if a.AuditSeq >= 0 {
			seq := a.AuditSeq
			ar.AuditSeq = &seq
		}
		d, err := s.delivery(ctx, a, ar.EventID)
		if err != nil {
			return Report{}, err
		}
		ar.Delivery = d
		r.Apps = append(r.Apps, ar)
	}
	return r, nil
}

func (s *Service) delivery(ctx context.Context, a store.IncidentApp, eventID string) (Delivery, error) {
	switch a.Notice {
	case store.IncidentNoticeNoCallback:
		return Delivery{State: DeliveryNoCallback, Summary: "not notified: no callback configured (console notice only; set one with 'parley app callback', then 'parley incident notify')"}, nil
	case store.IncidentNoticePending:
		return Delivery{State: DeliveryNotSent, Summary: "not sent yet: the declaration was interrupted; run 'parley incident notify'"}, nil
	}
	w, err := s.st.WebhookByEventID(ctx, a.SDKAppID, eventID)
	if errors.Is(err, store.ErrNotFound) {
		return Delivery{State: DeliveryExpired, Summary: "outbox record removed by retention (finished over 14 days ago)"}, nil
	}
	if err != nil {
		return Delivery{}, fmt.Errorf("incident: delivery to app %d: %w", a.SDKAppID, err)
	}
	d := Delivery{Attempts: w.Attempts, LastError: w.LastError}
	switch w.State {
	case store.WebhookDelivered:
		d.State, d.Summary = DeliveryDelivered, fmt.Sprintf("delivered (%d attempt(s))", w.Attempts)
	case store.WebhookFailed:
		d.State, d.Summary = DeliveryFailed, fmt.Sprintf("failed after %d attempt(s): %s", w.Attempts, w.LastError)
	default:
		d.State = DeliveryPending
		d.Summary = fmt.Sprintf("pending: %d attempt(s) so far", w.Attempts)
		if w.LastError != "" {
			d.Summary += ", last: " + w.LastError
		}
	}
	return d, nil
}
