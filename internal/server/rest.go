package server

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"sync"

	"golang.org/x/time/rate"

	"github.com/parley-rtc/parley/internal/room"
	"github.com/parley-rtc/parley/protocol"
)

// AdminUser is the identifier whose UserSig authenticates REST calls, as
// the "App admin" of Tencent IM's REST API (REFERENCE.md §2).
const AdminUser = "administrator"

// maxRESTBody bounds a REST request body.
const maxRESTBody = 64 << 10

// restRatePerAction is TRTC's documented RemoveUser limit (20 req/s),
// applied to every action per app.
const restRatePerAction = 20

// adminVerifier checks that sig is a valid UserSig of identifier for the
// app. Errors are reported to the caller as AuthFailure.
type adminVerifier func(ctx context.Context, sdkAppID uint32, identifier, sig string) error

// restAPI serves the room-management REST API under /v1/rest/<Action>.
// Requests and responses follow TRTC's cloud API 3.0 JSON shapes
// (RemoveUser, DismissRoom …; REFERENCE.md §1.4) so existing app backends
// port with a URL change; authentication is an admin UserSig in the query
// (sdkappid, identifier, usersig) as in Tencent IM's REST API.
type restAPI struct {
	rooms   *room.Manager
	apps    *appDirectory
	privacy *privacyServices
	rights  *Rights // nil: no rights actions
	verify  adminVerifier
	log     *slog.Logger

	limiters *limiterSet // by app id + action
}

func newRESTAPI(rooms *room.Manager, apps *appDirectory, privacy *privacyServices, verify adminVerifier, log *slog.Logger) *restAPI {
	return &restAPI{rooms: rooms, apps: apps, privacy: privacy, verify: verify, log: log, limiters: newLimiterSet(restRatePerAction)}
}

// restError is an API 3.0 error: a dotted code and a message.
type restError struct {
	Code    string `json:"Code"`
	Message string `json:"Message"`
}

func (e *restError) Error() string { return e.Code + ": " + e.Message }

func errParam(field, format string, a ...any) *restError {
	return &restError{Code: "InvalidParameter." + field, Message: fmt.Sprintf(format, a...)}
}

type restHandler func(ctx context.Context, appID uint32, body []byte) (any, *restError)

func (a *restAPI) actions() map[string]restHandler {
	return map[string]restHandler{
		"RemoveUser":             a.removeUser(false),
		"RemoveUserByStrRoomId":  a.removeUser(true),
		"DismissRoom":            a.dismissRoom(false),
		"DismissRoomByStrRoomId": a.dismissRoom(true),
		"DescribeRooms":          a.describeRooms,
		"DescribeRoomUsers":      a.describeRoomUsers,
	}
}

func (a *restAPI) register(mux *http.ServeMux) {
	actions := a.actions()
	for name, h := range a.privacyActions() {
		actions[name] = h
	}
	for name, h := range a.rightsActions() {
		actions[name] = h
	}
	for name, h := range actions {
		mux.HandleFunc("POST /v1/rest/"+name, a.serve(name, h))
	}
}

func (a *restAPI) serve(action string, h restHandler) http.HandlerFunc {
	return a.serveVerified(action, a.verify, func(ctx context.Context, appID uint32, _ string, body []byte) (any, *restError) {
		return h(ctx, appID, body)
	})
}

// identifiedHandler is a restHandler that also gets the identifier the
// UserSig authenticated.
type identifiedHandler func(ctx context.Context, appID uint32, identifier string, body []byte) (any, *restError)

// serveVerified is every REST endpoint's preamble: the app from the
// query, the UserSig checked by verify, the per-(app, action) rate limit,
// the bounded body; then h, and the API 3.0 response.
func (a *restAPI) serveVerified(action string, verify adminVerifier, h identifiedHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		reqID := newRequestID()
		q := r.URL.Query()
		appID64, err := strconv.ParseUint(q.Get("sdkappid"), 10, 32)
		if err != nil || appID64 == 0 {
			writeREST(w, reqID, nil, errParam("SdkAppId", "query parameter sdkappid must be a positive 32-bit integer"))
			return
		}
		appID, identifier := uint32(appID64), q.Get("identifier")
		if err := verify(r.Context(), appID, identifier, q.Get("usersig")); err != nil {
			writeREST(w, reqID, nil, &restError{Code: "AuthFailure.SignatureFailure", Message: err.Error()})
			return
		}
		if !a.limiters.get(appID, action).Allow() {
			writeREST(w, reqID, nil, &restError{Code: "RequestLimitExceeded", Message: fmt.Sprintf("at most %d %s requests per second", restRatePerAction, action)})
			return
		}
		body, err := readBody(r)
		if err != nil {
			writeREST(w, reqID, nil, &restError{Code: "InvalidParameter", Message: err.Error()})
			return
		}
		out, rerr := h(r.Context(), appID, identifier, body)
		writeREST(w, reqID, out, rerr)
	}
}

// readBody reads a REST body of at most maxRESTBody bytes.
func readBody(r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxRESTBody+1))
	if err != nil {
		return nil, fmt.Errorf("reading body: %w", err)
	}
	if len(body) > maxRESTBody {
		return nil, fmt.Errorf("body over %d bytes", maxRESTBody)
	}
	return body, nil
}

// limiterSet holds one rate limiter per (app, action), created on first
// use.
type limiterSet struct {
	perSecond int
	mu        sync.Mutex
	m         map[string]*rate.Limiter
}

func newLimiterSet(perSecond int) *limiterSet {
	return &limiterSet{perSecond: perSecond, m: make(map[string]*rate.Limiter)}
}

func (l *limiterSet) get(appID uint32, action string) *rate.Limiter {
	key := strconv.FormatUint(uint64(appID), 10) + "/" + action
	l.mu.Lock()
	defer l.mu.Unlock()
	lim := l.m[key]
	if lim == nil {
		lim = rate.NewLimiter(rate.Limit(l.perSecond), l.perSecond)
		l.m[key] = lim
	}
	return lim
}

// writeREST writes {"Response": {...fields, "RequestId"}} or
// {"Response": {"Error": {...}, "RequestId"}}. HTTP status is 200 for API
// errors, as TRTC's API; only transport problems use other statuses.
func writeREST(w http.ResponseWriter, reqID string, out any, rerr *restError) {
	resp := map[string]any{"RequestId": reqID}
	if rerr != nil {
		resp["Error"] = rerr
	} else if out != nil {
		raw, _ := json.Marshal(out)
		var fields map[string]any
		if json.Unmarshal(raw, &fields) == nil {
			for k, v := range fields {
				resp[k] = v
			}
		}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"Response": resp})
}

func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// decodeStrict decodes a REST body with unknown fields rejected.
func decodeStrict(body []byte, v any) *restError {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return &restError{Code: "InvalidParameter", Message: "body: " + err.Error()}
	}
	if dec.More() {
		return &restError{Code: "InvalidParameter", Message: "body: trailing data after JSON object"}
	}
	return nil
}

// roomParams is the room part of TRTC's requests.
type roomParams struct {
	SdkAppId  uint32 `json:"SdkAppId"`
	RoomId    uint32 `json:"RoomId,omitempty"`
	StrRoomId string `json:"StrRoomId,omitempty"`
}

func (p roomParams) ref(appID uint32, byStr bool) (protocol.RoomRef, *restError) {
	if p.SdkAppId != 0 && p.SdkAppId != appID {
		return protocol.RoomRef{}, errParam("SdkAppId", "SdkAppId %d does not match the authenticated app", p.SdkAppId)
	}
	ref := protocol.RoomRef{ID: p.RoomId}
	if byStr {
		if p.RoomId != 0 {
			return ref, errParam("RoomId", "use StrRoomId with the ByStrRoomId actions")
		}
		ref = protocol.RoomRef{Str: p.StrRoomId}
	} else if p.StrRoomId != "" {
		return ref, errParam("StrRoomId", "use the ByStrRoomId action for string room ids")
	}
	if err := ref.Validate(); err != nil {
		field := "RoomId"
		if byStr {
			field = "StrRoomId"
		}
		return ref, errParam(field, "%v", err)
	}
	return ref, nil
}

func roomErr(err error) *restError {
	if errors.Is(err, room.ErrRoomNotFound) {
		return &restError{Code: "FailedOperation.RoomNotExist", Message: err.Error()}
	}
	return &restError{Code: "InternalError", Message: err.Error()}
}

func (a *restAPI) removeUser(byStr bool) restHandler {
	return func(_ context.Context, appID uint32, body []byte) (any, *restError) {
		var req struct {
			roomParams
			UserIds []string `json:"UserIds"`
		}
		if e := decodeStrict(body, &req); e != nil {
			return nil, e
		}
		ref, e := req.ref(appID, byStr)
		if e != nil {
			return nil, e
		}
		// TRTC limits one call to 10 users.
		if len(req.UserIds) == 0 || len(req.UserIds) > 10 {
			return nil, errParam("UserIds", "1 to 10 user ids required, got %d", len(req.UserIds))
		}
		for _, u := range req.UserIds {
			if err := protocol.ValidateUserID(u); err != nil {
				return nil, errParam("UserIds", "%v", err)
			}
		}
		n, err := a.rooms.RemoveUsers(appID, ref, req.UserIds)
		if err != nil {
			return nil, roomErr(err)
		}
		return map[string]any{"Removed": n}, nil
	}
}

func (a *restAPI) dismissRoom(byStr bool) restHandler {
	return func(_ context.Context, appID uint32, body []byte) (any, *restError) {
		var req roomParams
		if e := decodeStrict(body, &req); e != nil {
			return nil, e
		}
		ref, e := req.ref(appID, byStr)
		if e != nil {
			return nil, e
		}
		if err := a.rooms.Dismiss(appID, ref); err != nil {
			return nil, roomErr(err)
		}
		return nil, nil
	}
}

func (a *restAPI) describeRooms(_ context.Context, appID uint32, body []byte) (any, *restError) {
	var req struct {
		SdkAppId uint32 `json:"SdkAppId"`
	}
	if e := decodeOptional(body, &req); e != nil {
		return nil, e
	}
	rooms := a.rooms.Rooms(appID)
	return map[string]any{"Total": len(rooms), "Rooms": rooms}, nil
}

func (a *restAPI) describeRoomUsers(_ context.Context, appID uint32, body []byte) (any, *restError) {
	var req roomParams
	if e := decodeStrict(body, &req); e != nil {
		return nil, e
	}
	ref := protocol.RoomRef{ID: req.RoomId, Str: req.StrRoomId}.Normalized()
	if err := ref.Validate(); err != nil {
		return nil, errParam("RoomId", "%v", err)
	}
	users, err := a.rooms.Users(appID, ref)
	if err != nil {
		return nil, roomErr(err)
	}
	return map[string]any{"Total": len(users), "Users": users}, nil
}
