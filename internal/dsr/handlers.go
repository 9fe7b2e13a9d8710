package dsr

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"time"

	"github.com/parley-rtc/parley/internal/store"
)

// Stores is what the built-in handlers need of the store; the SQLite
// store implements it.
type Stores interface {
	// messages
	ExportIMSubject(ctx context.Context, sdkAppID uint32, userID string) ([]store.IMMessage, error)
	EraseIMUser(ctx context.Context, sdkAppID uint32, userID string) (int64, error)
	EraseIMMemberships(ctx context.Context, sdkAppID uint32, userID string) (int64, error)
	CountIMSubject(ctx context.Context, sdkAppID uint32, userID string) (int64, error)
	// quality_logs
	ExportTelemetrySubject(ctx context.Context, sdkAppID uint32, userID string) ([]store.TelemetryRecord, error)
	EraseTelemetrySubject(ctx context.Context, sdkAppID uint32, userID, deviceID string) (int64, error)
	CountTelemetrySubject(ctx context.Context, sdkAppID uint32, userID, deviceID string) (int64, error)
	// consent_ledger
	ExportConsent(ctx context.Context, sdkAppID uint32, userID string) ([]store.ConsentEntry, error)
	EraseConsentSubject(ctx context.Context, sdkAppID uint32, userID string) (int64, error)
	EraseConsentDevice(ctx context.Context, sdkAppID uint32, userID, deviceID string) (int64, error)
	// im_sessions
	ExportPushTokens(ctx context.Context, sdkAppID uint32, userID string) ([]store.IMPushToken, error)
	ErasePushTokens(ctx context.Context, sdkAppID uint32, userID string) (int64, error)
	ErasePushTokensDevice(ctx context.Context, sdkAppID uint32, userID, deviceID string) (int64, error)
	// pending callbacks (not an inventory store: transient copies)
	EraseWebhooksMentioning(ctx context.Context, sdkAppID uint32, userID string) (int64, error)
	CountWebhooksMentioning(ctx context.Context, sdkAppID uint32, userID string) (int64, error)
	// keystore
	SubjectKeyID(ctx context.Context, sdkAppID uint32, userID string) (string, error)
	ShredSubject(ctx context.Context, sdkAppID uint32, userID string) ([]string, error)
}

// BuiltinHandlers covers every store of the default inventory.
func BuiltinHandlers(st Stores) []Handler {
	return []Handler{
		messagesHandler{st},
		qualityHandler{st},
		consentHandler{st},
		sessionsHandler{st},
		keystoreHandler{st},
		callbacksHandler{st},
		// The inventory declares these stores, and this server version
		// keeps no end-user rows in them: troubleshooting uploads and
		// whiteboards are not implemented server-side, and the console
		// keeps operators' data (apps, secrets), not end users'.
		nothingStored("troubleshooting"),
		nothingStored("whiteboards"),
		nothingStored("app_console"),
	}
}

type messagesHandler struct{ st Stores }

func (messagesHandler) Store() string { return "messages" }

// exportedMessage is one message in an export: the user's own content.
type exportedMessage struct {
	Conversation string          `json:"conversation"`
	Seq          int64           `json:"seq"`
	At           time.Time       `json:"at"`
	Body         json.RawMessage `json:"body"`
	CloudCustom  string          `json:"cloud_custom_data,omitempty"`
	Recalled     bool            `json:"recalled,omitempty"`
}

func (h messagesHandler) Export(ctx context.Context, s Subject) ([]any, error) {
	ms, err := h.st.ExportIMSubject(ctx, s.SDKAppID, s.UserID)
	if err != nil {
		return nil, err
	}
	out := make([]any, 0, len(ms))
	for _, m := range ms {
		body := json.RawMessage(m.Body)
		if !json.Valid(body) {
			b, _ := json.Marshal(base64.StdEncoding.EncodeToString(m.Body))
			body = b
		}
		out = append(out, exportedMessage{Conversation: m.ConvID, Seq: m.Seq, At: m.At.UTC(), Body: body,
			CloudCustom: m.CloudCustomData, Recalled: m.Recalled})
	}
	return out, nil
}

// Erase tombstones the user's messages (peers keep the seq, see a
// tombstone) and removes their memberships, cursors and extensions.
func (h messagesHandler) Erase(ctx context.Context, s Subject) (int64, error) {
	n, err := h.st.EraseIMUser(ctx, s.SDKAppID, s.UserID)
	if err != nil {
		return n, err
	}
	m, err := h.st.EraseIMMemberships(ctx, s.SDKAppID, s.UserID)
	return n + m, err
}

// EraseDevice: messages belong to the user, not to a device.
func (messagesHandler) EraseDevice(context.Context, Subject) (int64, error) { return 0, nil }

func (h messagesHandler) Readable(ctx context.Context, s Subject) (int64, error) {
	return h.st.CountIMSubject(ctx, s.SDKAppID, s.UserID)
}

type qualityHandler struct{ st Stores }

func (qualityHandler) Store() string { return "quality_logs" }

type exportedTelemetry struct {
	At      time.Time       `json:"at"`
	Room    string          `json:"room"`
	Device  string          `json:"device_ref"`
	Section string          `json:"section"`
	Data    json.RawMessage `json:"data"`
}

func (h qualityHandler) Export(ctx context.Context, s Subject) ([]any, error) {
	recs, err := h.st.ExportTelemetrySubject(ctx, s.SDKAppID, s.UserID)
	if err != nil {
		return nil, err
	}
	out := make([]any, 0, len(recs))
	for _, r := range recs {
		out = append(out, exportedTelemetry{At: r.At, Room: r.RoomKey, Device: base64.RawURLEncoding.EncodeToString(r.DeviceRef),
			Section: r.Section, Data: json.RawMessage(r.Data)})
	}
	return out, nil
}

func (h qualityHandler) Erase(ctx context.Context, s Subject) (int64, error) {
	return h.st.EraseTelemetrySubject(ctx, s.SDKAppID, s.UserID, "")
}

func (h qualityHandler) EraseDevice(ctx context.Context, s Subject) (int64, error) {
	return h.st.EraseTelemetrySubject(ctx, s.SDKAppID, s.UserID, s.DeviceID)
}

func (h qualityHandler) Readable(ctx context.Context, s Subject) (int64, error) {
	return h.st.CountTelemetrySubject(ctx, s.SDKAppID, s.UserID, "")
}

type consentHandler struct{ st Stores }

func (consentHandler) Store() string { return "consent_ledger" }

func (h consentHandler) Export(ctx context.Context, s Subject) ([]any, error) {
	es, err := h.st.ExportConsent(ctx, s.SDKAppID, s.UserID)
	if err != nil {
		return nil, err
	}
	out := make([]any, 0, len(es))
	for _, e := range es {
		out = append(out, e)
	}
	return out, nil
}

func (h consentHandler) Erase(ctx context.Context, s Subject) (int64, error) {
	return h.st.EraseConsentSubject(ctx, s.SDKAppID, s.UserID)
}

func (h consentHandler) EraseDevice(ctx context.Context, s Subject) (int64, error) {
	return h.st.EraseConsentDevice(ctx, s.SDKAppID, s.UserID, s.DeviceID)
}

func (h consentHandler) Readable(ctx context.Context, s Subject) (int64, error) {
	es, err := h.st.ExportConsent(ctx, s.SDKAppID, s.UserID)
	return int64(len(es)), err
}

type sessionsHandler struct{ st Stores }

func (sessionsHandler) Store() string { return "im_sessions" }

func (h sessionsHandler) Export(ctx context.Context, s Subject) ([]any, error) {
	ts, err := h.st.ExportPushTokens(ctx, s.SDKAppID, s.UserID)
	if err != nil {
		return nil, err
	}
	out := make([]any, 0, len(ts))
	for _, t := range ts {
		out = append(out, t)
	}
	return out, nil
}

func (h sessionsHandler) Erase(ctx context.Context, s Subject) (int64, error) {
	return h.st.ErasePushTokens(ctx, s.SDKAppID, s.UserID)
}

func (h sessionsHandler) EraseDevice(ctx context.Context, s Subject) (int64, error) {
	return h.st.ErasePushTokensDevice(ctx, s.SDKAppID, s.UserID, s.DeviceID)
}

func (h sessionsHandler) Readable(ctx context.Context, s Subject) (int64, error) {
	ts, err := h.st.ExportPushTokens(ctx, s.SDKAppID, s.UserID)
	return int64(len(ts)), err
}

// keystoreHandler is the subject's data key: never exported, destroyed
// by erasure (the engine shreds first; this reports and re-checks).
type keystoreHandler struct{ st Stores }

func (keystoreHandler) Store() string { return "keystore" }

func (keystoreHandler) Export(context.Context, Subject) ([]any, error) { return nil, nil }

func (h keystoreHandler) Erase(ctx context.Context, s Subject) (int64, error) {
	ids, err := h.st.ShredSubject(ctx, s.SDKAppID, s.UserID)
	return int64(len(ids)), err
}

// EraseDevice: the key is the user's, not a device's.
func (keystoreHandler) EraseDevice(context.Context, Subject) (int64, error) { return 0, nil }

func (h keystoreHandler) Readable(ctx context.Context, s Subject) (int64, error) {
	id, err := h.st.SubjectKeyID(ctx, s.SDKAppID, s.UserID)
	if err != nil || id == "" {
		return 0, err
	}
	return 1, nil
}

// callbacksHandler covers pending event callbacks to the app's backend:
// transient copies (of messages, state changes) waiting for delivery,
// which would carry the user's data out after an erasure. Delivered
// rows keep no body. Not exported: they are copies of the other stores.
type callbacksHandler struct{ st Stores }

func (callbacksHandler) Store() string { return "webhook_outbox" }

func (callbacksHandler) Export(context.Context, Subject) ([]any, error) { return nil, nil }

func (h callbacksHandler) Erase(ctx context.Context, s Subject) (int64, error) {
	return h.st.EraseWebhooksMentioning(ctx, s.SDKAppID, s.UserID)
}

// EraseDevice: callbacks name users, not devices.
func (callbacksHandler) EraseDevice(context.Context, Subject) (int64, error) { return 0, nil }

func (h callbacksHandler) Readable(ctx context.Context, s Subject) (int64, error) {
	return h.st.CountWebhooksMentioning(ctx, s.SDKAppID, s.UserID)
}

// nothingStored is a store this server keeps no end-user rows in.
type nothingStored string

func (n nothingStored) Store() string                                     { return string(n) }
func (nothingStored) Export(context.Context, Subject) ([]any, error)      { return nil, nil }
func (nothingStored) Erase(context.Context, Subject) (int64, error)       { return 0, nil }
func (nothingStored) EraseDevice(context.Context, Subject) (int64, error) { return 0, nil }
func (nothingStored) Readable(context.Context, Subject) (int64, error)    { return 0, nil }
