package server

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"

	"github.com/parley-rtc/parley/internal/audit"
	"github.com/parley-rtc/parley/internal/dsr"
)

// rightsActions are the REST actions of data-subject rights and the audit
// log (issue 5; RIGHTS-1, RIGHTS-7, SEC-2). The app's backend forwards an
// end user's request with its admin UserSig (RIGHTS-7: the developer
// verified the user; Parley verifies the developer).
func (a *restAPI) rightsActions() map[string]restHandler {
	if a.rights == nil {
		return nil
	}
	return map[string]restHandler{
		"SubmitDataSubjectRequest":    a.submitDSR(dsr.SourceREST),
		"DescribeDataSubjectRequest":  a.describeDSR,
		"DescribeDataSubjectRequests": a.describeDSRs,
		"DescribeAuditCheckpoint":     a.describeCheckpoint,
	}
}

// dsrBody is a request's JSON body.
type dsrBody struct {
	SdkAppId    uint32           `json:"SdkAppId,omitempty"`
	Type        string           `json:"Type"`
	UserId      string           `json:"UserId"`
	DeviceId    string           `json:"DeviceId,omitempty"`
	Corrections []dsr.Correction `json:"Corrections,omitempty"`
}

// DSRResponse is a request's outcome in API 3.0 field style (REST
// response and `parley dsr --json` output).
type DSRResponse struct {
	Request       dsr.Request      `json:"Request"`
	Stores        []dsr.StoreCount `json:"Stores,omitempty"`
	Export        *dsr.Bundle      `json:"Export,omitempty"`
	ShredMs       float64          `json:"ShredMs,omitempty"`
	RowDeletionMs float64          `json:"RowDeletionMs,omitempty"`
}

func (a *restAPI) submitDSR(src dsr.Source) restHandler {
	return func(ctx context.Context, appID uint32, body []byte) (any, *restError) {
		var req dsrBody
		if e := decodeStrict(body, &req); e != nil {
			return nil, e
		}
		if req.SdkAppId != 0 && req.SdkAppId != appID {
			return nil, errParam("SdkAppId", "SdkAppId %d does not match the authenticated app", req.SdkAppId)
		}
		return a.runDSR(ctx, appID, req, src)
	}
}

func (a *restAPI) runDSR(ctx context.Context, appID uint32, req dsrBody, src dsr.Source) (any, *restError) {
	t, err := dsr.ParseType(req.Type)
	if err != nil {
		return nil, errParam("Type", "%v", err)
	}
	res, err := a.rights.Engine.Submit(ctx, t, dsr.Subject{SDKAppID: appID, UserID: req.UserId, DeviceID: req.DeviceId}, src, req.Corrections)
	if errors.Is(err, dsr.ErrInvalid) {
		return nil, &restError{Code: "InvalidParameter", Message: err.Error()}
	}
	if err != nil {
		a.log.Error("data-subject request failed", "err", err)
		return nil, &restError{Code: "InternalError", Message: "the request could not be completed; it stays recorded and can be retried"}
	}
	return DSRResponse{Request: res.Request, Stores: res.Stores, Export: res.Export, ShredMs: res.ShredMS, RowDeletionMs: res.RowsMS}, nil
}

// describeDSR returns one request with, for an erasure, an inclusion
// proof of its receipt in the audit log.
func (a *restAPI) describeDSR(ctx context.Context, appID uint32, body []byte) (any, *restError) {
	var req struct {
		SdkAppId  uint32 `json:"SdkAppId,omitempty"`
		RequestId string `json:"RequestId"`
	}
	if e := decodeStrict(body, &req); e != nil {
		return nil, e
	}
	r, err := a.rights.Engine.Get(ctx, req.RequestId)
	if errors.Is(err, dsr.ErrNotFound) || (err == nil && r.SDKAppID != appID) {
		return nil, &restError{Code: "ResourceNotFound.Request", Message: "no data-subject request " + strconv.Quote(req.RequestId) + " in this app"}
	}
	if err != nil {
		return nil, &restError{Code: "InternalError", Message: err.Error()}
	}
	out := map[string]any{"Request": r}
	p, err := receiptProof(ctx, a.rights.Audit, r)
	if err != nil {
		return nil, &restError{Code: "InternalError", Message: err.Error()}
	}
	if p != nil {
		out["ReceiptProof"] = proofJSON(*p)
		out["AuditKey"] = a.rights.AuditKey
	}
	return out, nil
}

// receiptProof returns the inclusion proof of r's receipt record in the
// audit log, or nil when r has none (AuditSeq < 0: not an erasure, or not
// completed). The proof is against a checkpoint covering the whole log,
// signed first if the latest does not cover the record yet. The REST API
// and the console's DSR view both answer with it.
func receiptProof(ctx context.Context, log *audit.Log, r dsr.Request) (*audit.Proof, error) {
	if r.AuditSeq < 0 {
		return nil, nil
	}
	if _, err := log.Checkpoint(ctx); err != nil {
		return nil, err
	}
	p, err := log.Prove(ctx, r.AuditSeq)
	if err != nil {
		return nil, err
	}
	return &p, nil
}

// proofHashes are an inclusion proof's hashes, base64.
func proofHashes(p audit.Proof) []string {
	hashes := make([]string, len(p.Proof))
	for i, h := range p.Proof {
		hashes[i] = base64.StdEncoding.EncodeToString(h[:])
	}
	return hashes
}

// proofJSON is an inclusion proof as REST JSON.
func proofJSON(p audit.Proof) map[string]any {
	return map[string]any{"Seq": p.Seq, "Record": string(p.Record), "Hashes": proofHashes(p), "Checkpoint": string(p.Checkpoint)}
}

func (a *restAPI) describeDSRs(ctx context.Context, appID uint32, body []byte) (any, *restError) {
	var req struct {
		SdkAppId uint32 `json:"SdkAppId,omitempty"`
		Limit    int    `json:"Limit,omitempty"`
	}
	if e := decodeOptional(body, &req); e != nil {
		return nil, e
	}
	rs, err := a.rights.Engine.List(ctx, appID, req.Limit)
	if err != nil {
		return nil, &restError{Code: "InternalError", Message: err.Error()}
	}
	return map[string]any{"Requests": rs}, nil
}

func (a *restAPI) describeCheckpoint(ctx context.Context, appID uint32, body []byte) (any, *restError) {
	if e := decodeOptional(body, &struct {
		SdkAppId uint32 `json:"SdkAppId,omitempty"`
	}{}); e != nil {
		return nil, e
	}
	cp, err := a.rights.Audit.Checkpoint(ctx)
	if errors.Is(err, audit.ErrNoCheckpoint) {
		return map[string]any{"Size": 0, "AuditKey": a.rights.AuditKey}, nil
	}
	if err != nil {
		return nil, &restError{Code: "InternalError", Message: err.Error()}
	}
	return map[string]any{"Size": cp.Size, "Checkpoint": string(cp.Note), "AuditKey": a.rights.AuditKey}, nil
}

// selfDSR serves POST /v1/self/dsr: the signed-in user's request about
// themself, authenticated by their own UserSig (identifier = the user).
func (a *restAPI) selfDSR(verifyUser adminVerifier) http.HandlerFunc {
	return a.serveVerified("self_dsr", verifyUser, func(ctx context.Context, appID uint32, user string, body []byte) (any, *restError) {
		var req dsrBody
		if e := decodeStrict(body, &req); e != nil {
			return nil, e
		}
		if req.UserId != "" && req.UserId != user {
			return nil, errParam("UserId", "a user may only make requests about themself")
		}
		req.UserId = user
		return a.runDSR(ctx, appID, req, dsr.SourceSDK)
	})
}
