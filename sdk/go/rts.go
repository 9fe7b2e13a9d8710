package parley

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

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

// SendRoomChat sends a chat message to everyone else in the room (the
// room's chat channel): relayed, never stored, like an AVChatRoom. It
// needs consent to the "im" purpose. Elements is Tencent IM's MsgBody
// (TextElements, CustomElements).
func (c *Client) SendRoomChat(ctx context.Context, elements []protocol.IMElement, cloudCustomData string) (protocol.IMSent, error) {
	c.mu.Lock()
	ok := c.consent != nil && slices.Contains(c.consent.Purposes, protocol.PurposeIM)
	c.mu.Unlock()
	if !ok {
		return protocol.IMSent{}, fmt.Errorf("%w: room chat needs purpose %q", ErrConsentRequired, protocol.PurposeIM)
	}
	els, err := json.Marshal(elements)
	if err != nil {
		return protocol.IMSent{}, fmt.Errorf("parley: elements: %w", err)
	}
	s, err := c.session()
	if err != nil {
		return protocol.IMSent{}, err
	}
	env, err := s.sig.request(ctx, protocol.TypeRoomChat, protocol.RoomChat{Elements: els, CloudCustomData: cloudCustomData})
	if err != nil {
		return protocol.IMSent{}, err
	}
	var out protocol.IMSent
	if err := protocol.DecodeData(env, &out); err != nil {
		return protocol.IMSent{}, fmt.Errorf("%w: %w", ErrProtocol, err)
	}
	return out, nil
}

// handleRoomChat delivers a room chat message.
func (s *session) handleRoomChat(env protocol.Envelope) error {
	var ev protocol.RoomChatEvent
	if err := protocol.DecodeData(env, &ev); err != nil {
		return fmt.Errorf("%w: %w", ErrProtocol, err)
	}
	s.c.emit(func(l *Listener) {
		if l.OnRecvRoomChat != nil {
			l.OnRecvRoomChat(ev)
		}
	})
	return nil
}
