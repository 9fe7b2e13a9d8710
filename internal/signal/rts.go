package signal

import (
	"errors"

	"golang.org/x/time/rate"

	"github.com/parley-rtc/parley/internal/room"
	"github.com/parley-rtc/parley/protocol"
)

// rtsElement is the inventory element of custom signaling messages: its
// switch is ext.rts and its purpose "signaling" (SWITCH-3).
const rtsElement = "rts.message"

// rtsLimits are one connection's custom-message budgets (REFERENCE §1.3:
// ≤30 messages and ≤8 KB per second per client).
type rtsLimits struct {
	msgs, bytes *rate.Limiter
	seq         uint64
}

func newRTSLimits() *rtsLimits {
	return &rtsLimits{
		msgs:  rate.NewLimiter(protocol.CustomCmdPerSecond, protocol.CustomCmdPerSecond),
		bytes: rate.NewLimiter(protocol.CustomCmdBytesPerSecond, protocol.CustomCmdBytesPerSecond),
	}
}

// handleCustomCmd relays a custom message to the room. It is personal
// information in transit only: never stored, never logged.
func (s *session) handleCustomCmd(env protocol.Envelope) {
	p, _, ok := s.joined(env.ID)
	if !ok {
		return
	}
	var cmd protocol.CustomCmd
	if err := protocol.DecodeData(env, &cmd); err != nil {
		s.replyError(env.ID, protocol.ErrCodeBadRequest, err.Error())
		return
	}
	if err := cmd.Validate(); err != nil {
		s.replyError(env.ID, protocol.ErrCodeBadRequest, err.Error())
		return
	}
	s.mu.Lock()
	scope, withdrawn := s.scope, s.withdrawn
	if s.rts == nil {
		s.rts = newRTSLimits()
	}
	lim := s.rts
	s.mu.Unlock()
	switch {
	case withdrawn:
		s.replyError(env.ID, protocol.ErrCodeConsentRequired, "consent withdrawn: no custom messages are accepted from this device")
		return
	case !scope.Switches["ext.rts"]:
		s.replyError(env.ID, protocol.ErrCodeFieldRejected, rtsElement+`: switch "ext.rts" is off`)
		return
	case !scope.Purposes[protocol.PurposeSignaling]:
		s.replyError(env.ID, protocol.ErrCodeConsentRequired, rtsElement+`: consent does not cover purpose "signaling"`)
		return
	}
	if !lim.msgs.Allow() || !lim.bytes.AllowN(s.h.cfg.Now(), len(cmd.Data)) {
		s.replyError(env.ID, protocol.ErrCodeRateLimited, "custom messages: at most 30 per second and 8 KB per second")
		return
	}
	s.mu.Lock()
	lim.seq++
	seq := lim.seq
	s.mu.Unlock()
	ev := protocol.CustomCmdEvent{UserID: p.UserID, CmdID: cmd.CmdID, Seq: seq, Data: cmd.Data}
	if err := p.Room().Relay(p, protocol.TypeCustomCmd, ev); err != nil {
		code := protocol.ErrCodeNotInRoom
		if errors.Is(err, room.ErrPublishForbidden) {
			code = protocol.ErrCodePublishNotAllowed
		}
		s.replyError(env.ID, code, "custom messages: "+err.Error())
		return
	}
	s.send(protocol.TypeOK, env.ID, nil, false)
}
