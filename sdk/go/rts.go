package parley

import (
	"context"
	"fmt"

	"github.com/parley-rtc/parley/protocol"
)

// SendCustomCmdMsg sends a custom message to everyone else in the room,
// as TRTC's sendCustomCmdMsg: cmdID 1–10, at most 1 KB, at most 30
// messages and 8 KB per second. It needs the "ext.rts" switch in the init
// config and consent to the "signaling" purpose (SWITCH-3); the message
// rides the signaling connection, so it is always reliable and ordered.
// The server relays it and never stores it.
func (c *Client) SendCustomCmdMsg(ctx context.Context, cmdID int, data []byte, reliable, ordered bool) error {
	if !c.switchOn(SwitchRTS) {
		return fmt.Errorf("%w: custom messages need the %q switch", ErrSwitchOff, SwitchRTS)
	}
	cmd := protocol.CustomCmd{CmdID: cmdID, Data: data, Reliable: reliable, Ordered: ordered}
	if err := cmd.Validate(); err != nil {
		return fmt.Errorf("parley: %w", err)
	}
	s, err := c.session()
	if err != nil {
		return err
	}
	_, err = s.sig.request(ctx, protocol.TypeCustomCmd, cmd)
	return err
}

// handleCustomCmd delivers a relayed custom message.
func (s *session) handleCustomCmd(env protocol.Envelope) error {
	var ev protocol.CustomCmdEvent
	if err := protocol.DecodeData(env, &ev); err != nil {
		return fmt.Errorf("%w: %w", ErrProtocol, err)
	}
	s.c.emit(func(l *Listener) {
		if l.OnRecvCustomCmdMsg != nil {
			l.OnRecvCustomCmdMsg(ev.UserID, ev.CmdID, ev.Seq, ev.Data)
		}
	})
	return nil
}
