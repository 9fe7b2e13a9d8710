package protocol

import (
	"errors"
	"fmt"
)

// Custom signaling (RTS) in a room, as TRTC's sendCustomCmdMsg
// (REFERENCE.md §1.3): a command id 1–10 and at most 1 KB of data, at most
// 30 messages and 8 KB per second per client. Messages are relayed to
// the other participants and never stored (inventory element
// rts.message). They ride the signaling WebSocket, so they are always
// delivered reliably and in order; the reliable/ordered flags are accepted
// for TRTC compatibility.
const (
	TypeCustomCmd Type = "custom_cmd" // client → server CustomCmd; server → client CustomCmdEvent

	MinCustomCmdID          = 1
	MaxCustomCmdID          = 10
	MaxCustomCmdBytes       = 1024
	CustomCmdPerSecond      = 30
	CustomCmdBytesPerSecond = 8 << 10
)

// CustomCmd is a custom message a client sends to its room.
type CustomCmd struct {
	CmdID    int    `json:"cmd_id"`
	Data     []byte `json:"data"` // base64 in JSON
	Reliable bool   `json:"reliable,omitempty"`
	Ordered  bool   `json:"ordered,omitempty"`
}

// ErrInvalidCustomCmd reports a malformed custom message.
var ErrInvalidCustomCmd = errors.New("invalid custom message")

// Validate checks the command id and size limits.
func (c *CustomCmd) Validate() error {
	if c.CmdID < MinCustomCmdID || c.CmdID > MaxCustomCmdID {
		return fmt.Errorf("%w: cmd_id %d is not %d-%d", ErrInvalidCustomCmd, c.CmdID, MinCustomCmdID, MaxCustomCmdID)
	}
	if len(c.Data) == 0 || len(c.Data) > MaxCustomCmdBytes {
		return fmt.Errorf("%w: data is %d bytes, want 1-%d", ErrInvalidCustomCmd, len(c.Data), MaxCustomCmdBytes)
	}
	return nil
}

// CustomCmdEvent delivers a custom message (onRecvCustomCmdMsg). Seq
// counts the sender's messages in this session, from 1.
type CustomCmdEvent struct {
	UserID string `json:"user_id"`
	CmdID  int    `json:"cmd_id"`
	Seq    uint64 `json:"seq"`
	Data   []byte `json:"data"`
}
