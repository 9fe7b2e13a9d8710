package server

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/parley-rtc/parley/internal/app"
	"github.com/parley-rtc/parley/internal/audit"
	"github.com/parley-rtc/parley/internal/incident"
	"github.com/parley-rtc/parley/internal/operator"
	"github.com/parley-rtc/parley/internal/privacy/consent"
	"github.com/parley-rtc/parley/internal/privacy/inventory"
	"github.com/parley-rtc/parley/internal/retention"
	"github.com/parley-rtc/parley/internal/room"
	"github.com/parley-rtc/parley/internal/store"
	"github.com/parley-rtc/parley/internal/store/sqlite"
	"github.com/parley-rtc/parley/internal/telemetry"
)

// consoleDeps are what the operator console API is built from.
type consoleDeps struct {
	Local     *app.Local
	Consent   *consent.Service
	Inventory *inventory.Inventory
	// Audit is the process's audit log; nil opens one over Local. There
	// must be one *audit.Log per process: appends are serialised per
	// Log.
	Audit     *audit.Log
	Notifier  incident.Notifier // the webhook dispatcher
	Retention *retention.Engine
	// Rooms, Telemetry and Rights feed the console's live rooms, quality
	// dashboard and DSR queue; nil leaves those endpoints unavailable.
	Rooms     *room.Manager
	Live      *liveRooms // usage meter and media state of Rooms
	Telemetry *telemetry.Service
	Rights    *Rights
	// QualityRowLimit overrides the quality dashboard's rows read per
	// telemetry section (tests); 0 means qualityRowLimit.
	QualityRowLimit int
	Logger          *slog.Logger
	Now             func() time.Time
	// Iterations of new password hashes (tests); 0 means the default.
	Iterations int
}

// consoleAPI serves /v1/console/…: operator sessions, and the console's
// reads, each behind a permission (docs/operators.md, SEC-2).
type consoleAPI struct {
	con       *operator.Console
	ops       *operator.Service
	apps      *app.Service
	consent   *consent.Service
	audit     *audit.Log
	incidents *incident.Service
	retention *retention.Engine
	inv       *inventory.Inventory
	log       *slog.Logger
	deps      consoleDeps // everything it was built from (console_*.go use it)
}

func newConsoleAPI(d consoleDeps) (*consoleAPI, error) {
	if d.Local == nil || d.Consent == nil || d.Inventory == nil || d.Notifier == nil {
		return nil, errors.New("console: local stores, consent, inventory and notifier are required")
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Audit == nil {
		d.Audit = d.Local.Audit
	}
	ops := operator.New(d.Local.DB, operator.Options{Now: d.Now, Logger: d.Logger, Iterations: d.Iterations})
	con, err := operator.NewConsole(ops, d.Audit, d.Logger)
	if err != nil {
		return nil, err
	}
	inc, err := incident.New(incident.Config{Store: d.Local.DB, Inventory: d.Inventory, Notifier: d.Notifier,
		Audit: d.Audit, Now: d.Now, Logger: d.Logger})
	if err != nil {
		return nil, err
	}
	return &consoleAPI{con: con, ops: ops, apps: d.Local.Apps, consent: d.Consent, audit: d.Audit,
		incidents: inc, retention: d.Retention, inv: d.Inventory, log: d.Logger, deps: d}, nil
}

// registerConsole mounts the console API on mux (Start calls it once).
// With no operator yet it logs how to create the first one.
func (s *Server) registerConsole(ctx context.Context, mux *http.ServeMux, d consoleDeps) error {
	api, err := newConsoleAPI(d)
	if err != nil {
		return err
	}
	api.register(mux)
	n, err := api.ops.Count(ctx)
	if err != nil {
		return err
	}
	if n == 0 {
		// A new data directory gets its first operator, so the console
		// works right after `parley serve`; the password is printed
		// once by the caller (FirstOperator), never logged.
		pw := operator.NewPassword()
		if _, err := api.ops.Create(ctx, FirstOperatorName, operator.RoleOwner, pw); err != nil {
			return fmt.Errorf("first operator: %w", err)
		}
		s.firstOperator = FirstOperator{Name: FirstOperatorName, Password: pw, Created: true}
		s.log.Info("console: created the first operator (owner); its password was printed to the terminal")
	}
	return nil
}

// FirstOperatorName names the owner account a new data directory gets.
const FirstOperatorName = "owner"

// FirstOperator is the console account this start created, if any.
type FirstOperator struct {
	Name, Password string
	Created        bool
}

// FirstOperator returns the operator created by this start: on a new
// data directory, "owner" with a random password, to be shown once.
func (s *Server) FirstOperator() FirstOperator { return s.firstOperator }

func (a *consoleAPI) register(mux *http.ServeMux) {
	need := a.con.RequireRole
	mux.Handle("POST /v1/console/login", a.con.Login())
	mux.Handle("POST /v1/console/logout", need(operator.PermSession)(a.con.Logout()))
	mux.Handle("GET /v1/console/me", need(operator.PermSession)(a.con.Me()))
	mux.Handle("GET /v1/console/operators", need(operator.PermOperatorsManage)(http.HandlerFunc(a.listOperators)))
	mux.Handle("GET /v1/console/apps", need(operator.PermAppsRead)(http.HandlerFunc(a.listApps)))
	const ledger = "GET /v1/console/apps/{sdkappid}/consent-ledger"
	mux.Handle(ledger, need(operator.PermPersonalDataRead)(a.con.Audited(ledger, a.readConsentLedger)))
	mux.Handle("GET /v1/console/audit/checkpoint", need(operator.PermAuditRead)(http.HandlerFunc(a.auditCheckpoint)))
	mux.Handle("GET /v1/console/retention", need(operator.PermRetentionRead)(http.HandlerFunc(a.retentionStatus)))
	mux.Handle("GET /v1/console/incidents", need(operator.PermIncidentsRead)(http.HandlerFunc(a.listIncidents)))
	mux.Handle("POST /v1/console/incidents", need(operator.PermIncidentsDeclare)(http.HandlerFunc(a.declareIncident)))
	a.registerManage(mux)  // console_manage.go: apps, UserSig, live rooms, usage
	a.registerPrivacy(mux) // console_privacy.go: policies, disclosure, consent statistics, DSR queue
	a.registerQuality(mux) // console_quality.go: the quality dashboard
}

func internalError(w http.ResponseWriter, log *slog.Logger, what string, err error) {
	log.Error("console: "+what+" failed", "err", err)
	operator.WriteError(w, operator.Errorf(http.StatusInternalServerError, "internal", "%s failed; retry", what))
}

func (a *consoleAPI) listOperators(w http.ResponseWriter, r *http.Request) {
	ops, err := a.ops.List(r.Context())
	if err != nil {
		internalError(w, a.log, "listing operators", err)
		return
	}
	out := make([]any, len(ops))
	for i, o := range ops {
		out[i] = o.JSON()
	}
	operator.WriteJSON(w, http.StatusOK, map[string]any{"operators": out})
}

type consoleAppJSON struct {
	SDKAppID  uint32             `json:"sdkappid"`
	Name      string             `json:"name"`
	CreatedAt time.Time          `json:"created_at"`
	Settings  manageSettingsJSON `json:"settings"`
}

// listApps returns the apps and their settings, never secrets.
func (a *consoleAPI) listApps(w http.ResponseWriter, r *http.Request) {
	apps, err := a.apps.List(r.Context())
	if err != nil {
		internalError(w, a.log, "listing apps", err)
		return
	}
	out := make([]consoleAppJSON, len(apps))
	for i, ap := range apps {
		out[i] = consoleAppJSON{SDKAppID: ap.SDKAppID, Name: ap.Name, CreatedAt: ap.CreatedAt.UTC(), Settings: toManageSettings(ap.Settings)}
	}
	operator.WriteJSON(w, http.StatusOK, map[string]any{"apps": out})
}

// pathApp parses {sdkappid} and checks the app exists.
func (a *consoleAPI) pathApp(r *http.Request) (uint32, error) {
	raw := r.PathValue("sdkappid")
	n, err := strconv.ParseUint(raw, 10, 32)
	if err != nil || n == 0 {
		return 0, operator.Errorf(http.StatusBadRequest, "invalid_parameter", "sdkappid %q: want 1-4294967295", raw)
	}
	if _, err := a.apps.Get(r.Context(), uint32(n)); errors.Is(err, store.ErrNotFound) {
		return 0, operator.Errorf(http.StatusNotFound, "app_not_found", "no app with SDKAppID %d", n)
	} else if err != nil {
		return 0, err
	}
	return uint32(n), nil
}

// ledgerEntryJSON is a consent-ledger entry: personal data (user and
// device ids, guardian reference).
type ledgerEntryJSON struct {
	ID              int64      `json:"id"`
	UserID          string     `json:"user_id"`
	DeviceID        string     `json:"device_id"`
	Action          string     `json:"action"`
	PolicyVersion   string     `json:"policy_version"`
	Purposes        []string   `json:"purposes"`
	Method          string     `json:"method"`
	AgeBand         string     `json:"age_band"`
	GuardianRef     string     `json:"guardian_ref"`
	RecordedAt      time.Time  `json:"recorded_at"`
	DeviceGrantedAt *time.Time `json:"device_granted_at,omitempty"`
}

// readConsentLedger is the audited read of an app's consent ledger:
// query user, device, since (RFC 3339) and limit narrow it.
func (a *consoleAPI) readConsentLedger(r *http.Request, _ operator.Operator) (operator.Read, error) {
	app, err := a.pathApp(r)
	if err != nil {
		return operator.Read{}, err
	}
	q := r.URL.Query()
	f := consent.Filter{UserID: q.Get("user"), DeviceID: q.Get("device")}
	var filters []string
	for _, k := range []string{"user", "device", "since", "limit"} {
		if q.Has(k) {
			filters = append(filters, k)
		}
	}
	if s := q.Get("since"); s != "" {
		if f.Since, err = time.Parse(time.RFC3339, s); err != nil {
			return operator.Read{}, operator.Errorf(http.StatusBadRequest, "invalid_parameter", "since: want RFC 3339, e.g. 2026-12-01T00:00:00Z")
		}
	}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > sqlite.MaxConsentListLimit {
			return operator.Read{}, operator.Errorf(http.StatusBadRequest, "invalid_parameter", "limit: want 1-%d", sqlite.MaxConsentListLimit)
		}
		f.Limit = n
	}
	entries, err := a.consent.Ledger(r.Context(), app, f)
	if err != nil {
		return operator.Read{}, err
	}
	out := make([]ledgerEntryJSON, len(entries))
	for i, e := range entries {
		o := ledgerEntryJSON{ID: e.ID, UserID: e.UserID, DeviceID: e.DeviceID, Action: string(e.Action),
			PolicyVersion: e.PolicyVersion, Purposes: e.Purposes, Method: e.Method, AgeBand: e.AgeBand,
			GuardianRef: e.GuardianRef, RecordedAt: e.RecordedAt.UTC()}
		if o.Purposes == nil {
			o.Purposes = []string{}
		}
		if !e.DeviceGrantedAt.IsZero() {
			t := e.DeviceGrantedAt.UTC()
			o.DeviceGrantedAt = &t
		}
		out[i] = o
	}
	return operator.Read{SDKAppID: app, Records: len(out), Filters: filters,
		Body: map[string]any{"sdkappid": app, "entries": out}}, nil
}

// auditCheckpoint returns the latest signed checkpoint of the audit log.
func (a *consoleAPI) auditCheckpoint(w http.ResponseWriter, r *http.Request) {
	cp, err := a.audit.Checkpoint(r.Context())
	if errors.Is(err, audit.ErrNoCheckpoint) {
		operator.WriteError(w, operator.Errorf(http.StatusNotFound, "empty_log", "the audit log has no records yet"))
		return
	}
	if err != nil {
		internalError(w, a.log, "audit checkpoint", err)
		return
	}
	operator.WriteJSON(w, http.StatusOK, map[string]any{
		"size": cp.Size, "hash": base64.StdEncoding.EncodeToString(cp.Hash[:]), "note": string(cp.Note), "at": cp.At.UTC(),
	})
}

// retentionStatus reports each store's oldest record against its limit.
func (a *consoleAPI) retentionStatus(w http.ResponseWriter, r *http.Request) {
	if a.retention == nil {
		operator.WriteError(w, operator.Errorf(http.StatusServiceUnavailable, "unavailable", "the retention engine is not running in this process"))
		return
	}
	st, err := a.retention.Status(r.Context())
	if err != nil {
		// Per-store errors are in the statuses; report them with 200.
		a.log.Warn("console: retention status incomplete", "err", err)
	}
	operator.WriteJSON(w, http.StatusOK, map[string]any{"stores": st})
}

func (a *consoleAPI) listIncidents(w http.ResponseWriter, r *http.Request) {
	reps, err := a.incidents.List(r.Context(), 100)
	if err != nil {
		internalError(w, a.log, "listing incidents", err)
		return
	}
	operator.WriteJSON(w, http.StatusOK, map[string]any{"incidents": reps})
}

// declareRequest is the body of POST /v1/console/incidents; the fields
// are those of `parley incident declare`.
type declareRequest struct {
	Apps         string `json:"apps"`       // "all" or comma-separated SDKAppIDs
	Categories   string `json:"categories"` // comma-separated inventory element ids
	Since        string `json:"since,omitempty"`
	WhatHappened string `json:"what_happened"`
	Impact       string `json:"impact"`
	Measures     string `json:"measures_taken"`
	Advice       string `json:"advice"`
	Remedies     string `json:"remedies"`
	Contact      string `json:"contact"`
}

// maxDeclareBody bounds the declaration body (six texts of at most 4000
// bytes, escaped, plus lists).
const maxDeclareBody = 64 << 10

// declareIncident declares an incident through the server's own webhook
// dispatcher (owner only).
func (a *consoleAPI) declareIncident(w http.ResponseWriter, r *http.Request) {
	bad := func(format string, args ...any) {
		operator.WriteError(w, operator.Errorf(http.StatusBadRequest, "invalid_body", format, args...))
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxDeclareBody+1))
	if err != nil || len(body) > maxDeclareBody {
		bad("body unreadable or over %d bytes", maxDeclareBody)
		return
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	var req declareRequest
	if err := dec.Decode(&req); err != nil || dec.More() {
		bad("want one JSON object with apps, categories, what_happened, impact, measures_taken, advice, remedies, contact and optional since")
		return
	}
	d := incident.Declaration{WhatHappened: req.WhatHappened, Impact: req.Impact, Measures: req.Measures,
		Advice: req.Advice, Remedies: req.Remedies, Contact: req.Contact}
	if d.AllApps, d.Apps, err = incident.ParseApps(req.Apps); err != nil {
		bad("%v", err)
		return
	}
	if d.Categories, err = incident.ParseCategories(req.Categories, a.inv); err != nil {
		bad("%v", err)
		return
	}
	if req.Since != "" {
		if d.Since, err = time.Parse(time.RFC3339, req.Since); err != nil {
			bad("since: want RFC 3339")
			return
		}
	}
	rep, err := a.incidents.Declare(r.Context(), d)
	switch {
	case rep.ID == 0 && (errors.Is(err, incident.ErrInvalid) || errors.Is(err, incident.ErrUnknownCategory)):
		bad("%v", err)
	case rep.ID == 0 && errors.Is(err, incident.ErrUnknownApp):
		operator.WriteError(w, operator.Errorf(http.StatusNotFound, "app_not_found", "%v", err))
	case rep.ID == 0:
		internalError(w, a.log, "declaring the incident", err)
	case err != nil:
		a.log.Error("console: incident recorded, notification incomplete", "incident", rep.ID, "err", err)
		operator.WriteJSON(w, http.StatusAccepted, map[string]any{"incident": rep,
			"warning": "recorded, but some apps are not notified yet; retry with 'parley incident notify --id " + strconv.FormatInt(rep.ID, 10) + "'"})
	default:
		operator.WriteJSON(w, http.StatusCreated, map[string]any{"incident": rep})
	}
}
