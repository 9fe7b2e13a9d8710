package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/parley-rtc/parley/internal/app"
	"github.com/parley-rtc/parley/internal/audit"
	"github.com/parley-rtc/parley/internal/auth"
	"github.com/parley-rtc/parley/internal/operator"
	"github.com/parley-rtc/parley/internal/store"
	"github.com/parley-rtc/parley/protocol"
)

// registerManage mounts the console's management endpoints (see
// docs/console.md): apps, UserSig, live rooms and usage.
func (a *consoleAPI) registerManage(mux *http.ServeMux) {
	need := a.con.RequireRole
	read, write := need(operator.PermAppsRead), need(operator.PermAppsWrite)
	mux.Handle("POST /v1/console/apps", write(http.HandlerFunc(a.createApp)))
	mux.Handle("GET /v1/console/apps/{sdkappid}", read(http.HandlerFunc(a.getApp)))
	mux.Handle("PATCH /v1/console/apps/{sdkappid}/settings", write(http.HandlerFunc(a.patchAppSettings)))
	mux.Handle("POST /v1/console/apps/{sdkappid}/rotate-secret", write(http.HandlerFunc(a.rotateAppSecret)))
	// apps.write, not apps.read: a UserSig is signed with the secret key
	// and lets its holder into the app's rooms as that user.
	mux.Handle("POST /v1/console/apps/{sdkappid}/usersig", write(http.HandlerFunc(a.issueUserSig)))
	mux.Handle("GET /v1/console/apps/{sdkappid}/rooms", read(http.HandlerFunc(a.listLiveRooms)))
	const users = "GET /v1/console/apps/{sdkappid}/rooms/{room}/users"
	mux.Handle(users, need(operator.PermPersonalDataRead)(a.con.Audited(users, a.readRoomUsers)))
	mux.Handle("GET /v1/console/apps/{sdkappid}/usage", read(http.HandlerFunc(a.readUsage)))
}

// --- request bodies ---

// maxManageBody bounds a management request body (docs/console.md,
// "Conventions"); the largest real one is a few hundred bytes.
const maxManageBody = 64 << 10

// decodeManageBody decodes r's body into dst strictly: one JSON object
// of at most maxManageBody bytes, no unknown field, nothing after it.
// With emptyOK an empty body leaves dst as it is. want names the fields
// for the error messages.
func decodeManageBody(r *http.Request, dst any, emptyOK bool, want string) ([]byte, *operator.Error) {
	bad := func(format string, args ...any) *operator.Error {
		return operator.Errorf(http.StatusBadRequest, "invalid_body", format, args...)
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxManageBody+1))
	if err != nil {
		return nil, bad("body unreadable: %v", err)
	}
	if len(body) > maxManageBody {
		return nil, bad("body over %d bytes", maxManageBody)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		if emptyOK {
			return body, nil
		}
		return nil, bad("empty body; want a JSON object with %s", want)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	err = dec.Decode(dst)
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case err == nil && dec.More():
		return nil, bad("data after the JSON object; send one object")
	case err == nil:
		return body, nil
	case errors.As(err, &syntax):
		return nil, bad("not valid JSON at byte %d: %v", syntax.Offset, err)
	case errors.As(err, &typ) && typ.Field == "":
		return nil, bad("want a JSON object with %s, not a JSON %s", want, typ.Value)
	case errors.As(err, &typ):
		return nil, bad("%s: want %s, not a JSON %s", typ.Field, manageJSONType(typ.Type.String()), typ.Value)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return nil, bad("unknown field %s; want %s", strings.TrimPrefix(err.Error(), "json: unknown field "), want)
	default:
		return nil, bad("want a JSON object with %s: %v", want, err)
	}
}

// manageJSONType names a Go field type in JSON terms for error messages.
func manageJSONType(goType string) string {
	switch strings.TrimPrefix(goType, "*") {
	case "bool":
		return "true or false"
	case "string":
		return "a string"
	case "int", "int64", "uint32":
		return "a whole number"
	}
	return goType
}

// --- apps ---

// manageAppJSON is an app as the console shows it: settings, never the
// secret key. minor_audience is also at the top (docs/console.md).
type manageAppJSON struct {
	SDKAppID      uint32             `json:"sdkappid"`
	Name          string             `json:"name"`
	CreatedAt     time.Time          `json:"created_at"`
	Settings      manageSettingsJSON `json:"settings"`
	MinorAudience bool               `json:"minor_audience"`
	Callback      manageCallbackJSON `json:"callback"`
}

type manageSettingsJSON struct {
	Recording            bool   `json:"recording"`
	Relay                bool   `json:"relay"`
	BillingMode          string `json:"billing_mode"`
	EnforcePrivateMapKey bool   `json:"enforce_private_map_key"`
	MessageRetentionDays int    `json:"message_retention_days"` // 0: the server's im.retention
	MinorAudience        bool   `json:"minor_audience"`
}

// manageCallbackJSON shows where callbacks go, never their signing key.
type manageCallbackJSON struct {
	URL        string `json:"url"`
	Configured bool   `json:"configured"`
}

func toManageSettings(s store.AppSettings) manageSettingsJSON {
	return manageSettingsJSON{Recording: s.Recording, Relay: s.Relay, BillingMode: string(s.BillingMode),
		EnforcePrivateMapKey: s.EnforcePrivateMapKey, MessageRetentionDays: s.MessageRetentionDays, MinorAudience: s.MinorAudience}
}

func (a *consoleAPI) appView(ctx context.Context, ap app.App) (manageAppJSON, error) {
	v := manageAppJSON{SDKAppID: ap.SDKAppID, Name: ap.Name, CreatedAt: ap.CreatedAt.UTC(), MinorAudience: ap.Settings.MinorAudience,
		Settings: toManageSettings(ap.Settings)}
	if cbs := a.deps.Local.Callbacks; cbs != nil {
		cb, ok, err := cbs.Get(ctx, ap.SDKAppID)
		if err != nil {
			return manageAppJSON{}, err
		}
		v.Callback = manageCallbackJSON{URL: cb.URL, Configured: ok}
	}
	return v, nil
}

// writeApp answers {"app": view} (plus extra fields) with status.
func (a *consoleAPI) writeApp(w http.ResponseWriter, r *http.Request, status int, ap app.App, extra map[string]any) {
	v, err := a.appView(r.Context(), ap)
	if err != nil {
		internalError(w, a.log, "reading the app's callback", err)
		return
	}
	out := map[string]any{"app": v}
	for k, x := range extra {
		out[k] = x
	}
	operator.WriteJSON(w, status, out)
}

// appFailure answers an app service error: a missing app is 404, an
// invalid value 400, anything else 500.
func (a *consoleAPI) appFailure(w http.ResponseWriter, id uint32, what string, err error) {
	switch {
	case errors.Is(err, store.ErrNotFound):
		operator.WriteError(w, operator.Errorf(http.StatusNotFound, "app_not_found", "no app with SDKAppID %d", id))
	case errors.Is(err, app.ErrInvalidSettings), errors.Is(err, app.ErrInvalidName):
		operator.WriteError(w, operator.Errorf(http.StatusBadRequest, "invalid_parameter", "%v", err))
	default:
		internalError(w, a.log, what, err)
	}
}

// pathAppOrError is pathApp that answers its error itself.
func (a *consoleAPI) pathAppOrError(w http.ResponseWriter, r *http.Request) (uint32, bool) {
	id, err := a.pathApp(r)
	var e *operator.Error
	switch {
	case errors.As(err, &e):
		operator.WriteError(w, e)
	case err != nil:
		internalError(w, a.log, "looking up the app", err)
	default:
		return id, true
	}
	return 0, false
}

// auditOperatorAction appends an app.settings record of an operator's
// action on an app through the console: the change, the operator's id
// and role, and non-personal detail — never a user id or a secret. It
// retries when another process (the CLI) took the same sequence number.
func (a *consoleAPI) auditOperatorAction(ctx context.Context, op operator.Operator, sdkAppID uint32, change string, detail map[string]string) error {
	d := map[string]string{"change": change}
	for k, v := range detail {
		d[k] = v
	}
	op.Actor().AddTo(d)
	var err error
	for range 3 {
		if _, err = a.audit.Append(ctx, audit.Entry{Kind: audit.KindAppSettings, SDKAppID: sdkAppID, Detail: d}); !errors.Is(err, store.ErrConflict) {
			break
		}
	}
	return err
}

// createApp makes an app and shows its secret key this once.
func (a *consoleAPI) createApp(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Name *string `json:"name"`
	}
	if _, e := decodeManageBody(r, &req, false, `"name"`); e != nil {
		operator.WriteError(w, e)
		return
	}
	if req.Name == nil {
		operator.WriteError(w, operator.Errorf(http.StatusBadRequest, "invalid_body", `"name" is required (1-%d characters)`, app.MaxNameLength))
		return
	}
	if err := app.ValidateName(strings.TrimSpace(*req.Name)); err != nil {
		operator.WriteError(w, operator.Errorf(http.StatusBadRequest, "invalid_parameter", "name: %v", err))
		return
	}
	ap, err := a.apps.Create(r.Context(), *req.Name)
	if err != nil {
		a.appFailure(w, 0, "creating the app", err)
		return
	}
	extra := map[string]any{"secret_key": ap.SecretKey}
	op, _ := operator.FromContext(r.Context())
	// The app service records settings, rotations and deletions, not
	// creations; the console records who created the app. The app
	// exists either way, and its secret is shown only now, so a failed
	// record is reported beside it rather than losing the secret.
	if err := a.auditOperatorAction(r.Context(), op, ap.SDKAppID, "created", nil); err != nil {
		a.log.Error("console: app created but not recorded in the audit log", "sdkappid", ap.SDKAppID, "operator_id", op.ID, "err", err)
		extra["warning"] = "the app was created but its creation could not be recorded in the audit log"
	}
	a.writeApp(w, r, http.StatusCreated, ap, extra)
}

func (a *consoleAPI) getApp(w http.ResponseWriter, r *http.Request) {
	id, ok := a.pathAppOrError(w, r)
	if !ok {
		return
	}
	ap, err := a.apps.Get(r.Context(), id)
	if err != nil {
		a.appFailure(w, id, "reading the app", err)
		return
	}
	a.writeApp(w, r, http.StatusOK, ap, nil)
}

// appSettingsPatch is the body of PATCH …/settings: the settings to change,
// as `parley app settings` flags; absent ones keep their value.
type appSettingsPatch struct {
	Recording            *bool   `json:"recording"`
	Relay                *bool   `json:"relay"`
	BillingMode          *string `json:"billing_mode"`
	EnforcePrivateMapKey *bool   `json:"enforce_private_map_key"`
	MessageRetentionDays *int    `json:"message_retention_days"`
	MinorAudience        *bool   `json:"minor_audience"`
}

const appSettingsFields = "any of recording, relay, billing_mode, enforce_private_map_key, message_retention_days, minor_audience"

// patchAppSettings changes the named settings through the app service,
// which validates them and records the change as app.settings in the
// audit log, as `parley app settings` does.
func (a *consoleAPI) patchAppSettings(w http.ResponseWriter, r *http.Request) {
	id, ok := a.pathAppOrError(w, r)
	if !ok {
		return
	}
	var p appSettingsPatch
	body, e := decodeManageBody(r, &p, false, appSettingsFields)
	if e != nil {
		operator.WriteError(w, e)
		return
	}
	// A null would decode as "absent" and silently change nothing.
	var raw map[string]json.RawMessage
	_ = json.Unmarshal(body, &raw) // decoded once already
	if len(raw) == 0 {
		operator.WriteError(w, operator.Errorf(http.StatusBadRequest, "invalid_body", "no setting given; want %s", appSettingsFields))
		return
	}
	for _, k := range slices.Sorted(maps.Keys(raw)) {
		if string(bytes.TrimSpace(raw[k])) == "null" {
			operator.WriteError(w, operator.Errorf(http.StatusBadRequest, "invalid_body", "%s: null is not a value; leave the field out to keep it", k))
			return
		}
	}
	ap, err := a.apps.Get(r.Context(), id)
	if err != nil {
		a.appFailure(w, id, "reading the app", err)
		return
	}
	s := ap.Settings
	set := func(dst *bool, v *bool) {
		if v != nil {
			*dst = *v
		}
	}
	set(&s.Recording, p.Recording)
	set(&s.Relay, p.Relay)
	set(&s.EnforcePrivateMapKey, p.EnforcePrivateMapKey)
	set(&s.MinorAudience, p.MinorAudience)
	if p.BillingMode != nil {
		s.BillingMode = store.BillingMode(*p.BillingMode)
	}
	if p.MessageRetentionDays != nil {
		s.MessageRetentionDays = *p.MessageRetentionDays
	}
	if err := a.apps.UpdateSettings(r.Context(), id, s); err != nil {
		a.appFailure(w, id, "changing the settings", err)
		return
	}
	ap.Settings = s
	a.writeApp(w, r, http.StatusOK, ap, nil)
}

// decodeManageNoBody accepts an empty body or {} for a POST that takes no
// parameters, and refuses anything else.
func decodeManageNoBody(w http.ResponseWriter, r *http.Request) bool {
	var none struct{}
	if _, e := decodeManageBody(r, &none, true, "no fields"); e != nil {
		operator.WriteError(w, e)
		return false
	}
	return true
}

// rotateAppSecret replaces the secret key (the app service records it in
// the audit log) and shows the new one this once.
func (a *consoleAPI) rotateAppSecret(w http.ResponseWriter, r *http.Request) {
	id, ok := a.pathAppOrError(w, r)
	if !ok || !decodeManageNoBody(w, r) {
		return
	}
	ap, err := a.apps.RotateSecret(r.Context(), id)
	if err != nil {
		a.appFailure(w, id, "rotating the secret key", err)
		return
	}
	operator.WriteJSON(w, http.StatusOK, map[string]any{"secret_key": ap.SecretKey})
}

// UserSig lifetimes the console issues: a day by default, at most the
// 180 days the official libraries suggest (auth.DefaultUserSigExpire).
const (
	consoleUserSigDefault = 24 * time.Hour
	consoleUserSigMax     = auth.DefaultUserSigExpire
)

// issueUserSig signs a UserSig with the app's secret key, as `parley
// usersig gen` does. The audit record names the operator and the app,
// never the user id (a UserSig is a credential for that user, and the
// log keeps no identifiers); if it cannot be written the UserSig is not
// returned.
func (a *consoleAPI) issueUserSig(w http.ResponseWriter, r *http.Request) {
	id, ok := a.pathAppOrError(w, r)
	if !ok {
		return
	}
	var req struct {
		UserID        *string `json:"user_id"`
		ExpireSeconds *int64  `json:"expire_seconds"`
	}
	if _, e := decodeManageBody(r, &req, false, `"user_id" and optional "expire_seconds"`); e != nil {
		operator.WriteError(w, e)
		return
	}
	bad := func(format string, args ...any) {
		operator.WriteError(w, operator.Errorf(http.StatusBadRequest, "invalid_parameter", format, args...))
	}
	if req.UserID == nil {
		operator.WriteError(w, operator.Errorf(http.StatusBadRequest, "invalid_body", `"user_id" is required`))
		return
	}
	if err := protocol.ValidateUserID(*req.UserID); err != nil {
		bad("user_id: %v", err)
		return
	}
	expire := consoleUserSigDefault
	if req.ExpireSeconds != nil {
		n := *req.ExpireSeconds
		if n < 1 || n > int64(consoleUserSigMax/time.Second) {
			bad("expire_seconds: want 1-%d (180 days), not %d", int64(consoleUserSigMax/time.Second), n)
			return
		}
		expire = time.Duration(n) * time.Second
	}
	key, err := a.apps.SecretKey(r.Context(), id)
	if err != nil {
		a.appFailure(w, id, "reading the secret key", err)
		return
	}
	now := a.deps.Now()
	sig, err := auth.GenerateUserSig(id, key, *req.UserID, expire, now)
	if errors.Is(err, auth.ErrInvalidArgument) {
		bad("%v", err)
		return
	}
	if err != nil {
		internalError(w, a.log, "signing the UserSig", err)
		return
	}
	op, _ := operator.FromContext(r.Context())
	if err := a.auditOperatorAction(r.Context(), op, id, "usersig_issued",
		map[string]string{"expire_seconds": strconv.FormatInt(int64(expire/time.Second), 10)}); err != nil {
		a.log.Error("console: UserSig not recorded in the audit log; refused", "sdkappid", id, "operator_id", op.ID, "err", err)
		operator.WriteError(w, operator.Errorf(http.StatusServiceUnavailable, "audit_unavailable",
			"the UserSig could not be recorded in the audit log, so it is not returned; retry"))
		return
	}
	operator.WriteJSON(w, http.StatusOK, map[string]any{
		"user_sig":  sig,
		"expire_at": time.Unix(now.Unix()+int64(expire/time.Second), 0).UTC(),
	})
}
