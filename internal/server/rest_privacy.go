package server

import (
	"context"
	"time"

	"github.com/parley-rtc/parley/internal/privacy/consent"
	"github.com/parley-rtc/parley/internal/privacy/disclosure"
	"github.com/parley-rtc/parley/internal/telemetry"
	"github.com/parley-rtc/parley/protocol"
)

// privacyActions are the REST actions of the privacy services.
func (a *restAPI) privacyActions() map[string]restHandler {
	return map[string]restHandler{
		"PublishPolicy":         a.publishPolicy,
		"DescribePolicies":      a.describePolicies,
		"DescribeConsentLedger": a.describeConsentLedger,
		"DescribeCallQuality":   a.describeCallQuality,
		"GenerateDisclosure":    a.generateDisclosure,
	}
}

// publishPolicy publishes a privacy-policy version (CONSENT-6,
// DISCLOSE-2): a material version makes older consents insufficient.
func (a *restAPI) publishPolicy(ctx context.Context, appID uint32, body []byte) (any, *restError) {
	var req struct {
		SdkAppId    uint32 `json:"SdkAppId,omitempty"`
		Version     string `json:"Version"`
		Material    bool   `json:"Material"`
		EffectiveAt int64  `json:"EffectiveAt,omitempty"` // Unix seconds; default now
		Summary     string `json:"Summary,omitempty"`
		URL         string `json:"Url,omitempty"`
	}
	if e := decodeStrict(body, &req); e != nil {
		return nil, e
	}
	if req.SdkAppId != 0 && req.SdkAppId != appID {
		return nil, errParam("SdkAppId", "SdkAppId %d does not match the authenticated app", req.SdkAppId)
	}
	p := consent.Policy{Version: req.Version, Material: req.Material, Summary: req.Summary, URL: req.URL}
	if req.EffectiveAt > 0 {
		p.EffectiveAt = time.Unix(req.EffectiveAt, 0)
	}
	out, err := a.privacy.consent.PublishPolicy(ctx, appID, p)
	if err != nil {
		return nil, &restError{Code: "InvalidParameter.Policy", Message: err.Error()}
	}
	return map[string]any{"Policy": out}, nil
}

func (a *restAPI) describePolicies(ctx context.Context, appID uint32, body []byte) (any, *restError) {
	if e := decodeOptional(body, &struct {
		SdkAppId uint32 `json:"SdkAppId,omitempty"`
	}{}); e != nil {
		return nil, e
	}
	ps, err := a.privacy.consent.Policies(ctx, appID)
	if err != nil {
		return nil, &restError{Code: "InternalError", Message: err.Error()}
	}
	return map[string]any{"Total": len(ps), "Policies": ps}, nil
}

// describeConsentLedger is an operator read of personal information
// (user and device ids); the audit log of a later issue records it.
func (a *restAPI) describeConsentLedger(ctx context.Context, appID uint32, body []byte) (any, *restError) {
	var req struct {
		SdkAppId uint32 `json:"SdkAppId,omitempty"`
		UserId   string `json:"UserId,omitempty"`
		DeviceId string `json:"DeviceId,omitempty"`
		Limit    int    `json:"Limit,omitempty"`
	}
	if e := decodeOptional(body, &req); e != nil {
		return nil, e
	}
	entries, err := a.privacy.consent.Ledger(ctx, appID, consent.Filter{UserID: req.UserId, DeviceID: req.DeviceId, Limit: req.Limit})
	if err != nil {
		return nil, &restError{Code: "InvalidParameter", Message: err.Error()}
	}
	if e := a.auditRead(ctx, appID, "DescribeConsentLedger", len(entries)); e != nil {
		return nil, e
	}
	return map[string]any{"Total": len(entries), "Entries": entries}, nil
}

// auditRead logs an app admin's read of personal data (SEC-2) before the
// data is returned; if it cannot be logged, it is not returned.
func (a *restAPI) auditRead(ctx context.Context, appID uint32, action string, records int) *restError {
	if a.rights == nil {
		return nil
	}
	if err := OperatorRead(ctx, a.rights.Audit, appID, "app_admin", action, records); err != nil {
		a.log.Error("audit log append failed", "err", err)
		return &restError{Code: "InternalError", Message: "the read could not be recorded in the audit log; nothing was returned"}
	}
	return nil
}

// describeCallQuality serves the quality dashboard: one app's telemetry
// by room, user and time range (seed 002's dashboard).
func (a *restAPI) describeCallQuality(ctx context.Context, appID uint32, body []byte) (any, *restError) {
	var req struct {
		SdkAppId  uint32 `json:"SdkAppId,omitempty"`
		RoomId    uint32 `json:"RoomId,omitempty"`
		StrRoomId string `json:"StrRoomId,omitempty"`
		UserId    string `json:"UserId,omitempty"`
		Section   string `json:"Section,omitempty"`
		StartTime int64  `json:"StartTime"` // Unix seconds
		EndTime   int64  `json:"EndTime"`   // Unix seconds
		Limit     int    `json:"Limit,omitempty"`
	}
	if e := decodeStrict(body, &req); e != nil {
		return nil, e
	}
	from, to := time.Unix(req.StartTime, 0), time.Unix(req.EndTime, 0)
	if req.StartTime <= 0 || !to.After(from) || to.Sub(from) > 15*24*time.Hour {
		return nil, errParam("Time", "StartTime and EndTime (Unix seconds) must span at most 15 days, end after start")
	}
	q := telemetry.Query{UserID: req.UserId, Section: req.Section, From: from, To: to, Limit: req.Limit}
	if req.RoomId != 0 || req.StrRoomId != "" {
		ref := protocol.RoomRef{ID: req.RoomId, Str: req.StrRoomId}.Normalized()
		if err := ref.Validate(); err != nil {
			return nil, errParam("RoomId", "%v", err)
		}
		q.Room = &ref
	}
	if req.UserId != "" {
		if err := protocol.ValidateUserID(req.UserId); err != nil {
			return nil, errParam("UserId", "%v", err)
		}
	}
	pts, err := a.privacy.telemetry.Query(ctx, appID, q)
	if err != nil {
		return nil, &restError{Code: "InternalError", Message: err.Error()}
	}
	if req.UserId != "" { // one user's data: a read of personal data
		if e := a.auditRead(ctx, appID, "DescribeCallQuality", len(pts)); e != nil {
			return nil, e
		}
	}
	return map[string]any{"Total": len(pts), "Points": pts}, nil
}

// generateDisclosure writes the app's privacy disclosure (DISCLOSE-1)
// from the inventory and the app's actual settings, in any format.
func (a *restAPI) generateDisclosure(ctx context.Context, appID uint32, body []byte) (any, *restError) {
	var req struct {
		SdkAppId      uint32          `json:"SdkAppId,omitempty"`
		Platform      string          `json:"Platform"`
		Lang          string          `json:"Lang"`
		Format        string          `json:"Format"`
		Switches      map[string]bool `json:"Switches,omitempty"`
		PolicyURL     string          `json:"PolicyUrl,omitempty"`
		PolicyVersion string          `json:"PolicyVersion,omitempty"`
	}
	if e := decodeStrict(body, &req); e != nil {
		return nil, e
	}
	app, err := a.apps.Get(ctx, appID)
	if err != nil {
		return nil, &restError{Code: "InternalError", Message: "app lookup failed"}
	}
	out, err := disclosure.Generate(a.privacy.inventory, disclosure.AppConfig{
		SDKAppID: appID, AppName: app.Name, Recording: app.Settings.Recording, Relay: app.Settings.Relay,
		Switches: req.Switches, PolicyURL: req.PolicyURL, PolicyVersion: req.PolicyVersion,
	}, disclosure.Options{Platform: req.Platform, Lang: req.Lang, Format: req.Format})
	if err != nil {
		return nil, &restError{Code: "InvalidParameter", Message: err.Error()}
	}
	return map[string]any{"Format": req.Format, "Content": string(out)}, nil
}

// decodeOptional decodes a body that may be empty.
func decodeOptional(body []byte, v any) *restError {
	for _, c := range body {
		if c != ' ' && c != '\n' && c != '\r' && c != '\t' {
			return decodeStrict(body, v)
		}
	}
	return nil
}
