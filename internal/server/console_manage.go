package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parley-rtc/parley/internal/app"
	"github.com/parley-rtc/parley/internal/audit"
	"github.com/parley-rtc/parley/internal/auth"
	"github.com/parley-rtc/parley/internal/operator"
	"github.com/parley-rtc/parley/internal/room"
	"github.com/parley-rtc/parley/internal/store"
	"github.com/parley-rtc/parley/internal/store/sqlite"
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

func (a *consoleAPI) appView(ctx context.Context, ap app.App) (manageAppJSON, error) {
	s := ap.Settings
	v := manageAppJSON{SDKAppID: ap.SDKAppID, Name: ap.Name, CreatedAt: ap.CreatedAt.UTC(), MinorAudience: s.MinorAudience,
		Settings: manageSettingsJSON{Recording: s.Recording, Relay: s.Relay, BillingMode: string(s.BillingMode),
			EnforcePrivateMapKey: s.EnforcePrivateMapKey, MessageRetentionDays: s.MessageRetentionDays, MinorAudience: s.MinorAudience}}
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
	d := map[string]string{"change": change, "operator": strconv.FormatInt(op.ID, 10), "role": string(op.Role)}
	for k, v := range detail {
		d[k] = v
	}
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

// --- live rooms ---

// errLiveRoomsUnavailable answers when this process has no room manager.
var errLiveRoomsUnavailable = operator.Errorf(http.StatusServiceUnavailable, "unavailable", "live rooms are not served by this process")

// liveRoomRef renders a room for a path: "1234" or "s:" + string id.
func liveRoomRef(ref protocol.RoomRef) string {
	if ref.ID != 0 {
		return strconv.FormatUint(uint64(ref.ID), 10)
	}
	return "s:" + ref.Str
}

// parseConsoleRoom parses a room as the console names it (a path's
// {room}, the quality dashboard's room=): "1234", a numeric id
// 1-4294967295, or "s:lobby", a string id; the two are distinct
// namespaces (123 is not "123").
func parseConsoleRoom(raw string) (protocol.RoomRef, error) {
	var ref protocol.RoomRef
	if s, ok := strings.CutPrefix(raw, "s:"); ok {
		ref.Str = s
	} else {
		n, err := strconv.ParseUint(raw, 10, 32)
		if err != nil || n == 0 {
			return ref, operator.Errorf(http.StatusBadRequest, "invalid_parameter",
				"room %q: want a numeric room id 1-4294967295, or s: and a string room id", raw)
		}
		ref.ID = uint32(n)
	}
	if err := ref.Validate(); err != nil {
		return ref, operator.Errorf(http.StatusBadRequest, "invalid_parameter", "room: %v", err)
	}
	return ref, nil
}

var liveSceneNames = map[protocol.Scene]string{protocol.SceneVideoCall: "videocall", protocol.SceneLive: "live",
	protocol.SceneAudioCall: "audiocall", protocol.SceneVoiceChatRoom: "voicechatroom"}

func liveRoleName(r protocol.Role) string {
	if r == protocol.RoleAudience {
		return "audience"
	}
	return "anchor"
}

// liveRoomJSON is a room as the room list shows it: counts only.
type liveRoomJSON struct {
	Room         uint32    `json:"room"`     // 0 for a string room
	StrRoom      string    `json:"str_room"` // "" for a numeric room
	Ref          string    `json:"ref"`      // {room} in …/rooms/{room}/users
	Scene        string    `json:"scene"`
	Participants int       `json:"participants"`
	CreatedAt    time.Time `json:"created_at"`
}

// listLiveRooms lists the app's open rooms with their participant
// counts: no user ids, so apps.read suffices.
func (a *consoleAPI) listLiveRooms(w http.ResponseWriter, r *http.Request) {
	id, ok := a.pathAppOrError(w, r)
	if !ok {
		return
	}
	if a.deps.Rooms == nil {
		operator.WriteError(w, errLiveRoomsUnavailable)
		return
	}
	sums := a.deps.Rooms.Rooms(id)
	out := make([]liveRoomJSON, len(sums))
	for i, s := range sums {
		out[i] = liveRoomJSON{Room: s.Room.ID, StrRoom: s.Room.Str, Ref: liveRoomRef(s.Room), Scene: liveSceneNames[s.Scene],
			Participants: s.Participants, CreatedAt: s.CreatedAt.UTC()}
	}
	operator.WriteJSON(w, http.StatusOK, map[string]any{"rooms": out})
}

type liveUserJSON struct {
	UserID   string    `json:"user_id"`
	Role     string    `json:"role"`
	JoinedAt time.Time `json:"joined_at"`
	Audio    bool      `json:"audio"`
	Video    bool      `json:"video"`
	Screen   bool      `json:"screen"`
}

// readRoomUsers is the audited read of one room's participants (user ids
// are personal data, SEC-2). The audit record names the room filter,
// not its value; an unknown room returns nothing and records nothing.
func (a *consoleAPI) readRoomUsers(r *http.Request, _ operator.Operator) (operator.Read, error) {
	id, err := a.pathApp(r)
	if err != nil {
		return operator.Read{}, err
	}
	if a.deps.Rooms == nil {
		return operator.Read{}, errLiveRoomsUnavailable
	}
	ref, err := parseConsoleRoom(r.PathValue("room"))
	if err != nil {
		return operator.Read{}, err
	}
	users, err := a.deps.Rooms.Users(id, ref)
	if errors.Is(err, room.ErrRoomNotFound) {
		return operator.Read{}, operator.Errorf(http.StatusNotFound, "not_found", "no open room %s in app %d", liveRoomRef(ref), id)
	}
	if err != nil {
		return operator.Read{}, err
	}
	// By entry, then user id: participants who entered at the same
	// instant keep one order from read to read.
	slices.SortFunc(users, func(x, y room.UserSummary) int {
		if c := x.JoinedAt.Compare(y.JoinedAt); c != 0 {
			return c
		}
		return strings.Compare(x.UserID, y.UserID)
	})
	live := a.deps.Live
	out := make([]liveUserJSON, len(users))
	for i, u := range users {
		o := liveUserJSON{UserID: u.UserID, Role: liveRoleName(u.Role), JoinedAt: u.JoinedAt.UTC()}
		if live != nil {
			f := live.media.flags(id, ref, u.UserID)
			o.Audio, o.Video, o.Screen = f.audio, f.video, f.screen
		}
		out[i] = o
	}
	return operator.Read{SDKAppID: id, Records: len(out), Filters: []string{"room"},
		Body: map[string]any{"room": liveRoomRef(ref), "users": out}}, nil
}

// --- usage for billing ---

const usageDayLen = 24 * time.Hour

// maxUsageDays bounds a usage query: what usage_daily keeps.
const maxUsageDays = int(sqlite.UsageRetention / usageDayLen)

// parseUsageDay parses from or to: a date (2026-11-23), an RFC 3339
// time or Unix seconds, as its UTC day.
func parseUsageDay(name, v string) (time.Time, *operator.Error) {
	if t, err := time.Parse(time.DateOnly, v); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return usageUTCDay(t), nil
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil && n >= 0 && n < 1<<40 {
		return usageUTCDay(time.Unix(n, 0)), nil
	}
	return time.Time{}, operator.Errorf(http.StatusBadRequest, "invalid_parameter",
		"%s %q: want a date (2026-11-23), an RFC 3339 time or Unix seconds", name, v)
}

func usageUTCDay(t time.Time) time.Time {
	u := t.UTC()
	return time.Date(u.Year(), u.Month(), u.Day(), 0, 0, 0, 0, time.UTC)
}

type usageDayJSON struct {
	Day                string  `json:"day"`
	ParticipantMinutes float64 `json:"participant_minutes"`
	PeakRooms          int     `json:"peak_rooms"`
}

// usageMinutes renders participant time in minutes to the hundredth.
func usageMinutes(ms int64) float64 { return math.Round(float64(ms)/600) / 100 }

// readUsage reports the app's participant-minutes and peak rooms per UTC
// day from from to to (both included; default the last 30 days), every
// day listed, sessions still open counted up to now.
func (a *consoleAPI) readUsage(w http.ResponseWriter, r *http.Request) {
	id, ok := a.pathAppOrError(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	to := usageUTCDay(a.deps.Now())
	var e *operator.Error
	if v := q.Get("to"); v != "" {
		if to, e = parseUsageDay("to", v); e != nil {
			operator.WriteError(w, e)
			return
		}
	}
	from := to.AddDate(0, 0, -29)
	if v := q.Get("from"); v != "" {
		if from, e = parseUsageDay("from", v); e != nil {
			operator.WriteError(w, e)
			return
		}
	}
	span := int(to.Sub(from)/usageDayLen) + 1
	if span < 1 || span > maxUsageDays {
		operator.WriteError(w, operator.Errorf(http.StatusBadRequest, "invalid_parameter",
			"from %s to %s: want from on or before to, at most %d days (what usage_daily keeps)",
			from.Format(time.DateOnly), to.Format(time.DateOnly), maxUsageDays))
		return
	}
	var rows []sqlite.UsageDay
	var err error
	if live := a.deps.Live; live != nil {
		rows, err = live.usage.read(r.Context(), id, from, to)
	} else {
		rows, err = a.deps.Local.DB.Usage(r.Context(), id, from, to)
	}
	if err != nil {
		internalError(w, a.log, "reading usage", err)
		return
	}
	byDay := make(map[int64]sqlite.UsageDay, len(rows)) // by Unix time of the day
	for _, u := range rows {
		byDay[u.Day.Unix()] = u
	}
	days := make([]usageDayJSON, span)
	var total int64
	for i := range days {
		d := from.AddDate(0, 0, i)
		u := byDay[d.Unix()]
		days[i] = usageDayJSON{Day: d.Format(time.DateOnly), ParticipantMinutes: usageMinutes(u.ParticipantMS), PeakRooms: u.PeakRooms}
		total += u.ParticipantMS
	}
	operator.WriteJSON(w, http.StatusOK, map[string]any{"sdkappid": id, "from": from.Format(time.DateOnly),
		"to": to.Format(time.DateOnly), "total_participant_minutes": usageMinutes(total), "days": days})
}

// --- what the console knows of live rooms beyond the room manager ---

// liveRooms observes a room manager for the console: the usage meter and
// the participants' media. It is one of the manager's observers (beside
// the webhooks, roomObservers); the console reaches it as consoleDeps.Live.
type liveRooms struct {
	usage *usageMeter
	media *liveMedia
}

func newLiveRooms(st usageStore, now func() time.Time, log *slog.Logger) *liveRooms {
	return &liveRooms{usage: newUsageMeter(st, now, log), media: newLiveMedia()}
}

// RoomEvent implements room.Observer: called with the room lock held, so
// both only update memory under their own short locks.
func (l *liveRooms) RoomEvent(ev room.Event) {
	l.usage.RoomEvent(ev)
	l.media.RoomEvent(ev)
}

// roomObservers gives every event to each observer in turn: the room
// manager takes one Observer.
type roomObservers []room.Observer

func (o roomObservers) RoomEvent(ev room.Event) {
	for _, x := range o {
		if x != nil {
			x.RoomEvent(ev)
		}
	}
}

// liveMedia is each participant's media as the room's events tell it
// (webhooks 201-206): in memory only, dropped at exit.
type liveMedia struct {
	mu sync.Mutex
	m  map[liveMediaKey]liveMediaFlags
}

type liveMediaKey struct {
	app  uint32
	room string // protocol.RoomRef.Key
	user string
}

type liveMediaFlags struct{ audio, video, screen bool }

func newLiveMedia() *liveMedia { return &liveMedia{m: map[liveMediaKey]liveMediaFlags{}} }

func (s *liveMedia) RoomEvent(ev room.Event) {
	k := liveMediaKey{ev.SDKAppID, ev.Room.Normalized().Key(), ev.UserID}
	s.mu.Lock()
	defer s.mu.Unlock()
	f, in := s.m[k]
	switch ev.Type {
	case room.EventEnterRoom:
		s.m[k] = liveMediaFlags{}
		return
	case room.EventExitRoom:
		delete(s.m, k)
		return
	case room.EventStartAudio, room.EventStopAudio:
		f.audio = ev.Type == room.EventStartAudio
	case room.EventStartVideo, room.EventStopVideo:
		f.video = ev.Type == room.EventStartVideo
	case room.EventStartAssist, room.EventStopAssist:
		f.screen = ev.Type == room.EventStartAssist
	default:
		return
	}
	if in { // a late event for someone who left must not bring them back
		s.m[k] = f
	}
}

func (s *liveMedia) flags(app uint32, ref protocol.RoomRef, user string) liveMediaFlags {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m[liveMediaKey{app, ref.Normalized().Key(), user}]
}

// --- the usage meter ---

// usageStore is where the meter keeps usage (the SQLite usage_daily).
type usageStore interface {
	AddUsage(ctx context.Context, deltas []sqlite.UsageDay) error
	Usage(ctx context.Context, sdkAppID uint32, from, to time.Time) ([]sqlite.UsageDay, error)
}

// usageFlushInterval is how often the meter writes to the store: a crash
// loses at most this much usage.
const usageFlushInterval = time.Minute

// usageMeter counts participant time per app per UTC day from the room
// manager's enter and exit events (TRTC bills audio/video minutes per
// participant) and the most rooms with a participant open at once. It
// keeps counts only: per app the number of participants and of
// participants per room, never a user id. Participant time accrues as
// participants × elapsed time at every event, flush and read, split at
// each UTC midnight, so a session crossing midnight counts on both days
// and an open session counts up to now.
type usageMeter struct {
	store usageStore
	now   func() time.Time
	log   *slog.Logger

	// flushMu is held for writing by a flush from taking the pending
	// counts to storing them, and for reading by a read of store and
	// memory, so a read never sees a batch both in memory and stored,
	// or in neither.
	flushMu sync.RWMutex

	mu      sync.Mutex
	live    map[uint32]*usageAppLive
	pending map[usageKey]usageDelta

	stop    chan struct{}
	done    chan struct{}
	once    sync.Once
	running atomic.Bool
}

type usageAppLive struct {
	participants int64
	rooms        map[string]int64 // room key → participants
	since        time.Time        // participant time has accrued up to here
}

type usageKey struct {
	app uint32
	day time.Time // 00:00 UTC
}

type usageDelta struct {
	ms   int64
	peak int
}

func newUsageMeter(st usageStore, now func() time.Time, log *slog.Logger) *usageMeter {
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &usageMeter{store: st, now: now, log: log, live: map[uint32]*usageAppLive{}, pending: map[usageKey]usageDelta{},
		stop: make(chan struct{}), done: make(chan struct{})}
}

// clock is now to the millisecond, the unit usage_daily counts in, so
// accrual loses nothing to rounding.
func (m *usageMeter) clock() time.Time { return m.now().UTC().Truncate(time.Millisecond) }

// RoomEvent implements room.Observer: it only updates memory.
func (m *usageMeter) RoomEvent(ev room.Event) {
	if ev.Type != room.EventEnterRoom && ev.Type != room.EventExitRoom {
		return
	}
	now := m.clock()
	key := ev.Room.Normalized().Key()
	m.mu.Lock()
	defer m.mu.Unlock()
	l := m.live[ev.SDKAppID]
	if l == nil {
		if ev.Type == room.EventExitRoom {
			return // entered before the meter existed: nothing to close
		}
		l = &usageAppLive{rooms: map[string]int64{}, since: now}
		m.live[ev.SDKAppID] = l
	}
	m.accrueLocked(ev.SDKAppID, l, now)
	if ev.Type == room.EventEnterRoom {
		l.participants++
		l.rooms[key]++
		m.peakLocked(usageKey{ev.SDKAppID, usageUTCDay(now)}, len(l.rooms))
	} else if l.rooms[key] > 0 {
		l.participants--
		if l.rooms[key]--; l.rooms[key] == 0 {
			delete(l.rooms, key)
		}
	}
	if l.participants == 0 {
		delete(m.live, ev.SDKAppID)
	}
}

func (m *usageMeter) peakLocked(k usageKey, rooms int) {
	d := m.pending[k]
	if rooms > d.peak {
		d.peak = rooms
		m.pending[k] = d
	}
}

// accrueLocked adds l's participant time from l.since to now, one UTC
// day at a time, with the rooms open meanwhile as each day's peak
// candidate. A clock that went back accrues nothing until it passes
// since again, so no time counts twice.
func (m *usageMeter) accrueLocked(app uint32, l *usageAppLive, now time.Time) {
	for t := l.since; t.Before(now); {
		day := usageUTCDay(t)
		end := day.Add(usageDayLen)
		if now.Before(end) {
			end = now
		}
		k := usageKey{app, day}
		d := m.pending[k]
		d.ms += l.participants * end.Sub(t).Milliseconds()
		d.peak = max(d.peak, len(l.rooms))
		m.pending[k] = d
		t = end
	}
	if now.After(l.since) {
		l.since = now
	}
}

// accrueAllLocked brings every open session up to now.
func (m *usageMeter) accrueAllLocked(now time.Time) {
	for app, l := range m.live {
		m.accrueLocked(app, l, now)
	}
}

// flush writes the pending counts, open sessions counted up to now, to
// the store in one transaction; on failure they go back to memory for
// the next flush.
func (m *usageMeter) flush(ctx context.Context) error {
	m.flushMu.Lock()
	defer m.flushMu.Unlock()
	now := m.clock()
	m.mu.Lock()
	m.accrueAllLocked(now)
	batch := m.pending
	m.pending = map[usageKey]usageDelta{}
	m.mu.Unlock()
	if len(batch) == 0 {
		return nil
	}
	rows := make([]sqlite.UsageDay, 0, len(batch))
	for k, d := range batch {
		rows = append(rows, sqlite.UsageDay{SDKAppID: k.app, Day: k.day, ParticipantMS: d.ms, PeakRooms: d.peak})
	}
	if err := m.store.AddUsage(ctx, rows); err != nil {
		m.mu.Lock()
		for k, d := range batch {
			p := m.pending[k]
			m.pending[k] = usageDelta{ms: p.ms + d.ms, peak: max(p.peak, d.peak)}
		}
		m.mu.Unlock()
		return fmt.Errorf("usage: flush %d rows: %w", len(rows), err)
	}
	return nil
}

// read returns the app's usage from from to to (UTC days, included):
// what is stored plus what is pending, open sessions up to now.
func (m *usageMeter) read(ctx context.Context, app uint32, from, to time.Time) ([]sqlite.UsageDay, error) {
	m.flushMu.RLock()
	defer m.flushMu.RUnlock()
	stored, err := m.store.Usage(ctx, app, from, to)
	if err != nil {
		return nil, err
	}
	byDay := make(map[int64]sqlite.UsageDay, len(stored)) // by Unix time of the day
	for _, u := range stored {
		byDay[u.Day.Unix()] = u
	}
	now := m.clock()
	m.mu.Lock()
	if l := m.live[app]; l != nil {
		m.accrueLocked(app, l, now)
	}
	for k, d := range m.pending {
		if k.app != app || k.day.Before(from) || k.day.After(to) {
			continue
		}
		u := byDay[k.day.Unix()]
		u.SDKAppID, u.Day = app, k.day
		u.ParticipantMS += d.ms
		u.PeakRooms = max(u.PeakRooms, d.peak)
		byDay[k.day.Unix()] = u
	}
	m.mu.Unlock()
	out := make([]sqlite.UsageDay, 0, len(byDay))
	for _, u := range byDay {
		out = append(out, u)
	}
	slices.SortFunc(out, func(a, b sqlite.UsageDay) int { return a.Day.Compare(b.Day) })
	return out, nil
}

// start flushes every interval until close; call it once.
func (m *usageMeter) start(interval time.Duration) {
	m.running.Store(true)
	go func() {
		defer close(m.done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				ctx, cancel := context.WithTimeout(context.Background(), interval)
				if err := m.flush(ctx); err != nil {
					m.log.Warn("usage flush failed; kept for the next one", "err", err)
				}
				cancel()
			case <-m.stop:
				return
			}
		}
	}()
}

// close stops the periodic flush and flushes what is left (the server
// has closed every room first, so every session is counted).
func (m *usageMeter) close() error {
	m.once.Do(func() { close(m.stop) })
	if m.running.Load() {
		<-m.done
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return m.flush(ctx)
}
