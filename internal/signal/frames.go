package signal

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/parley-rtc/parley/internal/room"
	"github.com/parley-rtc/parley/internal/sfu"
	"github.com/parley-rtc/parley/protocol"
)

// maxDeclaredTracks bounds the tracks one participant may publish: main
// audio, main video, sub-stream video, and one spare.
const maxDeclaredTracks = 4

// telemetryMarker finds telemetry frames cheaply before decoding them in
// one pass; a frame whose type appears elsewhere takes the general path.
const telemetryMarker = `"type":"telemetry"`

func (s *session) handleFrame(ctx context.Context, b []byte) {
	if bytes.Contains(b[:min(len(b), 48)], []byte(telemetryMarker)) {
		if id, rep, ok := protocol.DecodeTelemetryFrame(b); ok {
			s.h.metrics.frames.WithLabelValues(string(protocol.TypeTelemetry)).Inc()
			s.handleTelemetry(ctx, id, &rep)
			return
		}
	}
	env, err := protocol.DecodeEnvelope(b)
	if err != nil {
		code := protocol.ErrCodeBadRequest
		if errors.Is(err, protocol.ErrUnknownType) {
			code = protocol.ErrCodeUnknownType
		}
		s.h.metrics.frames.WithLabelValues("invalid").Inc()
		s.replyError(0, code, err.Error())
		return
	}
	s.h.metrics.frames.WithLabelValues(string(env.Type)).Inc()
	if s.isExiting() {
		return
	}
	switch env.Type {
	case protocol.TypePing:
		s.send(protocol.TypePong, env.ID, nil, false)
	case protocol.TypeJoin:
		s.handleJoin(ctx, env)
	case protocol.TypeLeave:
		s.handleLeave(env)
	case protocol.TypePublish:
		s.handlePublish(env)
	case protocol.TypeUnpublish:
		s.handleUnpublish(env)
	case protocol.TypeOffer:
		s.handleOffer(env)
	case protocol.TypeAnswer:
		s.handleAnswer(env)
	case protocol.TypeCandidate:
		s.handleCandidate(env)
	case protocol.TypeMute:
		s.handleMute(env)
	case protocol.TypeSwitchRole:
		s.handleSwitchRole(env)
	case protocol.TypeSetLayer:
		s.handleSetLayer(env)
	case protocol.TypeTelemetry:
		var rep protocol.TelemetryReport
		if err := protocol.DecodeData(env, &rep); err != nil {
			s.replyError(env.ID, protocol.ErrCodeBadRequest, err.Error())
			return
		}
		s.handleTelemetry(ctx, env.ID, &rep)
	case protocol.TypeWithdraw:
		s.handleWithdraw(ctx, env)
	case protocol.TypeCustomCmd:
		s.handleCustomCmd(env)
	case protocol.TypeRoomChat:
		s.handleRoomChat(env)
	case protocol.TypeIMLogin, protocol.TypeIMLogout, protocol.TypeIMSend, protocol.TypeIMSync, protocol.TypeIMHistory,
		protocol.TypeIMConvs, protocol.TypeIMRead, protocol.TypeIMReadBy, protocol.TypeIMRecall, protocol.TypeIMGroup,
		protocol.TypeIMExt, protocol.TypeIMPushToken, protocol.TypeIMSignal:
		s.handleIM(ctx, env)
	default:
		s.replyError(env.ID, protocol.ErrCodeUnknownType, fmt.Sprintf("%q is a server-to-client frame", env.Type))
	}
}

// joined returns the participant and peer, or replies "not in room".
func (s *session) joined(id uint64) (*room.Participant, *sfu.Peer, bool) {
	s.mu.Lock()
	p, peer := s.participant, s.peer
	s.mu.Unlock()
	if p == nil || peer == nil {
		s.replyError(id, protocol.ErrCodeNotInRoom, "join a room first")
		return nil, nil, false
	}
	return p, peer, true
}

func joinValidationCode(err error) int {
	switch {
	case errors.Is(err, protocol.ErrInvalidUserID):
		return protocol.ErrCodeUserIDInvalid
	case errors.Is(err, protocol.ErrInvalidRoomID):
		return protocol.ErrCodeRoomIDInvalid
	default:
		return protocol.ErrCodeBadRequest
	}
}

func (s *session) handleJoin(ctx context.Context, env protocol.Envelope) {
	start := s.h.cfg.Now()
	var req protocol.JoinRequest
	if err := protocol.DecodeData(env, &req); err != nil {
		s.replyError(env.ID, protocol.ErrCodeBadRequest, err.Error())
		return
	}
	if err := req.Validate(); err != nil {
		code := joinValidationCode(err)
		if req.SDKAppID == 0 {
			code = protocol.ErrCodeSDKAppIDInvalid
		}
		s.replyError(env.ID, code, err.Error())
		return
	}
	s.mu.Lock()
	already := s.participant != nil
	s.mu.Unlock()
	if already {
		s.replyError(env.ID, protocol.ErrCodeAlreadyInRoom, "this connection is already in a room")
		return
	}
	grant, err := s.h.auth.AuthorizeJoin(ctx, &req)
	if err != nil {
		s.replyErr(env.ID, err)
		return
	}
	// Consent comes after authentication (only a verified user's consent
	// is recorded) and before anything else: no room, no media peer, no
	// personal information processed without it (CONSENT-1, CONSENT-6).
	scope, err := s.h.privacy.Consent.AdmitJoin(ctx, &req)
	if err != nil {
		s.replyErr(env.ID, err)
		return
	}
	peer, err := s.h.media.NewPeer(req.UserID, s, sfu.PeerHooks{OnTrack: s.onTrack, OnFailed: s.onMediaFailed})
	if err != nil {
		s.replyError(env.ID, protocol.ErrCodeInternal, "media unavailable")
		s.h.log.Error("new media peer", "err", err)
		return
	}
	s.mu.Lock()
	s.peer, s.grant, s.appID, s.holding = peer, grant, req.SDKAppID, true
	s.deviceID, s.scope = req.DeviceID, scope
	s.mu.Unlock()

	p, others, err := s.h.rooms.Join(req.SDKAppID, req.Room(), req.Scene, req.UserID, req.Role, s)
	if err != nil {
		s.mu.Lock()
		s.peer, s.holding, s.held = nil, false, nil
		s.mu.Unlock()
		_ = peer.Close()
		code := protocol.ErrCodeEnterRoomFailed
		if errors.Is(err, room.ErrRoomFull) {
			code = protocol.ErrCodeRoomFull
		}
		s.replyError(env.ID, code, err.Error())
		return
	}
	ms := s.h.cfg.Now().Sub(start).Milliseconds()
	if ms < 1 {
		ms = 1 // TRTC: result > 0 means success, in ms
	}
	s.send(protocol.TypeJoined, env.ID, protocol.JoinResponse{Result: ms, Room: req.Room(), Role: req.Role, Participants: others}, false)
	s.mu.Lock()
	s.participant = p
	held := s.held
	s.holding, s.held = false, nil
	s.mu.Unlock()
	for _, f := range held {
		s.enqueue(f)
	}
}

func (s *session) handleLeave(env protocol.Envelope) {
	s.mu.Lock()
	p := s.participant
	s.participant = nil
	s.exiting = true
	s.mu.Unlock()
	if p != nil {
		s.h.rooms.Leave(p, protocol.ExitReasonLeft, "")
	}
	s.send(protocol.TypeExitRoom, env.ID, protocol.ExitRoom{Reason: protocol.ExitReasonLeft}, true)
}

func (s *session) handlePublish(env protocol.Envelope) {
	p, peer, ok := s.joined(env.ID)
	if !ok {
		return
	}
	var req protocol.PublishRequest
	if err := protocol.DecodeData(env, &req); err != nil {
		s.replyError(env.ID, protocol.ErrCodeBadRequest, err.Error())
		return
	}
	if err := req.Validate(); err != nil {
		s.replyError(env.ID, protocol.ErrCodeBadRequest, err.Error())
		return
	}
	if !p.Role().CanPublish() {
		s.replyError(env.ID, protocol.ErrCodePublishNotAllowed, "audience cannot publish: switch_role to anchor first")
		return
	}
	info := protocol.TrackInfo{TrackID: req.TrackID, UserID: p.UserID, Kind: req.Kind, StreamType: req.StreamType, Layers: req.Layers}
	if err := s.mediaAllowed(info.Kind); err != nil {
		s.replyErr(env.ID, err)
		return
	}
	s.mu.Lock()
	grant := s.grant
	s.mu.Unlock()
	if !grant.allows(info) {
		s.replyError(env.ID, protocol.ErrCodePublishNotAllowed, "PrivateMapKey does not grant sending this stream")
		return
	}
	s.mu.Lock()
	_, redeclared := s.declared[req.TrackID]
	full := !redeclared && len(s.declared) >= maxDeclaredTracks
	if !full {
		s.declared[req.TrackID] = struct{}{}
	}
	s.mu.Unlock()
	if full {
		s.replyError(env.ID, protocol.ErrCodeBadRequest, fmt.Sprintf("at most %d published tracks", maxDeclaredTracks))
		return
	}
	peer.ExpectTrack(info)
	s.send(protocol.TypeOK, env.ID, nil, false)
}

func (s *session) handleUnpublish(env protocol.Envelope) {
	p, peer, ok := s.joined(env.ID)
	if !ok {
		return
	}
	var req protocol.UnpublishRequest
	if err := protocol.DecodeData(env, &req); err != nil {
		s.replyError(env.ID, protocol.ErrCodeBadRequest, err.Error())
		return
	}
	s.mu.Lock()
	delete(s.declared, req.TrackID)
	s.mu.Unlock()
	if err := p.Room().Unpublish(p, req.TrackID); err != nil {
		// Declared but not yet started: only the media side knows it.
		peer.RemoveTrack(req.TrackID)
	}
	s.send(protocol.TypeOK, env.ID, nil, false)
}

func (s *session) handleOffer(env protocol.Envelope) {
	p, peer, ok := s.joined(env.ID)
	if !ok {
		return
	}
	if !p.Role().CanPublish() {
		s.replyError(env.ID, protocol.ErrCodePublishNotAllowed, "audience cannot publish: the publisher connection is refused")
		return
	}
	if s.isWithdrawn() {
		s.replyError(env.ID, protocol.ErrCodeConsentRequired, "consent withdrawn: no media is accepted from this device")
		return
	}
	var sd protocol.SessionDescription
	if err := protocol.DecodeData(env, &sd); err != nil {
		s.replyError(env.ID, protocol.ErrCodeBadRequest, err.Error())
		return
	}
	if sd.Type != "offer" {
		s.replyError(env.ID, protocol.ErrCodeBadRequest, `offer: type must be "offer"`)
		return
	}
	answer, err := peer.HandleOffer(sd.SDP)
	if err != nil {
		s.replyError(env.ID, protocol.ErrCodeNegotiationFailed, err.Error())
		return
	}
	s.send(protocol.TypeAnswer, env.ID, protocol.SessionDescription{Type: "answer", SDP: answer}, false)
}

func (s *session) handleAnswer(env protocol.Envelope) {
	_, peer, ok := s.joined(env.ID)
	if !ok {
		return
	}
	var sd protocol.SessionDescription
	if err := protocol.DecodeData(env, &sd); err != nil {
		s.replyError(env.ID, protocol.ErrCodeBadRequest, err.Error())
		return
	}
	if sd.Type != "answer" {
		s.replyError(env.ID, protocol.ErrCodeBadRequest, `answer: type must be "answer"`)
		return
	}
	if err := peer.HandleAnswer(sd.SDP); err != nil {
		s.replyError(env.ID, protocol.ErrCodeNegotiationFailed, err.Error())
	}
}

func (s *session) handleCandidate(env protocol.Envelope) {
	_, peer, ok := s.joined(env.ID)
	if !ok {
		return
	}
	var c protocol.Candidate
	if err := protocol.DecodeData(env, &c); err != nil {
		s.replyError(env.ID, protocol.ErrCodeBadRequest, err.Error())
		return
	}
	if c.Target != protocol.TargetPublisher && c.Target != protocol.TargetSubscriber {
		s.replyError(env.ID, protocol.ErrCodeBadRequest, `candidate: target must be "publisher" or "subscriber"`)
		return
	}
	if err := peer.AddCandidate(c); err != nil {
		s.replyError(env.ID, protocol.ErrCodeNegotiationFailed, err.Error())
	}
}

func (s *session) handleMute(env protocol.Envelope) {
	p, _, ok := s.joined(env.ID)
	if !ok {
		return
	}
	var m protocol.Mute
	if err := protocol.DecodeData(env, &m); err != nil {
		s.replyError(env.ID, protocol.ErrCodeBadRequest, err.Error())
		return
	}
	if m.Kind != protocol.KindAudio && m.Kind != protocol.KindVideo {
		s.replyError(env.ID, protocol.ErrCodeBadRequest, `mute: kind must be "audio" or "video"`)
		return
	}
	if err := p.Room().SetMuted(p, m.Kind, m.StreamType, m.Muted); err != nil {
		s.replyErr(env.ID, err)
		return
	}
	s.send(protocol.TypeOK, env.ID, nil, false)
}

func (s *session) handleSwitchRole(env protocol.Envelope) {
	p, _, ok := s.joined(env.ID)
	if !ok {
		return
	}
	var sr protocol.SwitchRole
	if err := protocol.DecodeData(env, &sr); err != nil {
		s.replyError(env.ID, protocol.ErrCodeBadRequest, err.Error())
		return
	}
	if !sr.Role.Valid() {
		s.replyError(env.ID, protocol.ErrCodeBadRequest, fmt.Sprintf("role: %d is not 20 (anchor) or 21 (audience)", sr.Role))
		return
	}
	if err := p.Room().SwitchRole(p, sr.Role); err != nil {
		s.replyError(env.ID, protocol.ErrCodeBadRequest, err.Error())
		return
	}
	s.send(protocol.TypeOK, env.ID, nil, false)
}

func (s *session) handleSetLayer(env protocol.Envelope) {
	p, peer, ok := s.joined(env.ID)
	if !ok {
		return
	}
	var sl protocol.SetLayer
	if err := protocol.DecodeData(env, &sl); err != nil {
		s.replyError(env.ID, protocol.ErrCodeBadRequest, err.Error())
		return
	}
	var pt *sfu.PublishedTrack
	if t, found := p.Room().Track(sl.UserID, sl.TrackID); found {
		pt, _ = t.Media.(*sfu.PublishedTrack)
	}
	if pt == nil {
		s.replyError(env.ID, protocol.ErrCodeBadRequest, "set_layer: no such track in the room")
		return
	}
	if err := peer.SetLayer(pt, sl.Layer); err != nil {
		s.replyError(env.ID, protocol.ErrCodeBadRequest, err.Error())
		return
	}
	s.send(protocol.TypeOK, env.ID, nil, false)
}

// onTrack is called by the media peer when a declared track starts.
func (s *session) onTrack(pt *sfu.PublishedTrack) {
	s.mu.Lock()
	p, peer := s.participant, s.peer
	s.mu.Unlock()
	if p == nil || peer == nil {
		return
	}
	if err := p.Room().Publish(p, &room.Track{Info: pt.Info(), Media: pt}); err != nil {
		peer.RemoveTrack(pt.Info().TrackID)
	}
}

// onMediaFailed ends a session whose media transport failed; the client
// reconnects.
func (s *session) onMediaFailed() {
	s.closeWith(4000, "media transport failed")
}

// isWithdrawn reports whether the user withdrew consent in this session.
func (s *session) isWithdrawn() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.withdrawn
}

// mediaAllowed applies the consent scope and the init-config switches to
// a publish: audio needs audio_enable (SWITCH-1), video needs
// streams_config (SWITCH-2), both need the rtc purpose. A switched-off
// medium that arrives anyway is refused here, before any media flows.
func (s *session) mediaAllowed(kind protocol.Kind) error {
	s.mu.Lock()
	scope, withdrawn := s.scope, s.withdrawn
	s.mu.Unlock()
	switch {
	case withdrawn:
		return Refuse(protocol.ErrCodeConsentRequired, errors.New("consent withdrawn: no media is accepted from this device"))
	case !scope.Purposes[protocol.PurposeRTC]:
		return Refuse(protocol.ErrCodeConsentRequired, errors.New(`consent does not cover purpose "rtc"`))
	case kind == protocol.KindAudio && !scope.Switches["audio_enable"]:
		return Refuse(protocol.ErrCodeFieldRejected, errors.New(`media.audio: switch "audio_enable" is off`))
	case kind == protocol.KindVideo && !scope.Switches["streams_config"]:
		return Refuse(protocol.ErrCodeFieldRejected, errors.New(`media.video: switch "streams_config" is off (no streams configured)`))
	}
	return nil
}

func (s *session) handleTelemetry(ctx context.Context, id uint64, rep *protocol.TelemetryReport) {
	if s.isExiting() {
		return
	}
	p, _, ok := s.joined(id)
	if !ok {
		return
	}
	if s.isWithdrawn() {
		s.replyError(id, protocol.ErrCodeConsentRequired, "consent withdrawn: no telemetry is accepted from this device")
		return
	}
	if len(rep.Streams) > protocol.MaxTelemetryStreams || len(rep.Events) > protocol.MaxTelemetryEvents {
		s.replyError(id, protocol.ErrCodeBadRequest, fmt.Sprintf("telemetry: at most %d streams and %d events per report", protocol.MaxTelemetryStreams, protocol.MaxTelemetryEvents))
		return
	}
	s.mu.Lock()
	info := SessionInfo{SDKAppID: s.appID, Room: p.Room().Ref, UserID: p.UserID, DeviceID: s.deviceID, Scope: s.scope}
	s.mu.Unlock()
	if err := s.h.privacy.Telemetry.Ingest(ctx, info, rep); err != nil {
		s.replyErr(id, err)
		return
	}
	s.send(protocol.TypeOK, id, nil, false)
}

// handleWithdraw records a consent withdrawal (CONSENT-5): from now on the
// session accepts no personal information — no telemetry, no media — and
// the user leaves the room, which stops forwarding their media at once.
func (s *session) handleWithdraw(ctx context.Context, env protocol.Envelope) {
	s.mu.Lock()
	p, st := s.participant, s.im
	appID, userID, deviceID := s.appID, "", s.deviceID
	s.mu.Unlock()
	switch {
	case p != nil:
		userID = p.UserID
	case st != nil:
		appID, userID, deviceID = st.app, st.user, st.device
	default:
		s.replyError(env.ID, protocol.ErrCodeNotInRoom, "join a room or log in to messaging first")
		return
	}
	var w protocol.WithdrawConsent
	if len(env.Data) > 0 {
		if err := protocol.DecodeData(env, &w); err != nil {
			s.replyError(env.ID, protocol.ErrCodeBadRequest, err.Error())
			return
		}
	}
	s.mu.Lock()
	s.withdrawn = true
	s.mu.Unlock()
	if err := s.h.privacy.Consent.Withdraw(ctx, appID, userID, deviceID); err != nil {
		s.h.log.Error("record consent withdrawal", "err", err)
		s.replyError(env.ID, protocol.ErrCodeInternal, "withdrawal not recorded; retry")
		return
	}
	if st != nil {
		// Messaging stops as a logout does: no delivery, no offline push
		// to this device (CONSENT-5).
		s.mu.Lock()
		s.im = nil
		s.mu.Unlock()
		s.h.im.Hub.Detach(st.app, st.user, imConn{s})
		if err := s.h.im.Hub.Logout(ctx, st.app, st.user, st.device); err != nil {
			s.h.log.Error("forget push token after withdrawal", "err", err)
		}
		s.imState(st, StateLogout)
	}
	s.send(protocol.TypeOK, env.ID, nil, false)
	s.mu.Lock()
	s.participant = nil
	s.exiting = true
	s.mu.Unlock()
	if p != nil {
		s.h.rooms.Leave(p, protocol.ExitReasonLeft, "")
	}
	s.send(protocol.TypeExitRoom, 0, protocol.ExitRoom{Reason: protocol.ExitReasonLeft, Detail: "consent withdrawn"}, true)
}

// isExiting reports whether an exit_room was queued: requests are ignored.
func (s *session) isExiting() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.exiting
}
