package im

import (
	"fmt"
	"strings"
)

// Conv identifies a conversation: "c2c:<a>|<b>" with the user ids sorted,
// or "group:<id>".
type Conv string

const (
	c2cPrefix   = "c2c:"
	groupPrefix = "group:"
)

// C2CConv is the conversation between users a and b, in either order.
func C2CConv(a, b string) Conv {
	if b < a {
		a, b = b, a
	}
	return Conv(c2cPrefix + a + "|" + b)
}

// GroupConv is the conversation of a group.
func GroupConv(groupID string) Conv { return Conv(groupPrefix + groupID) }

// Group returns the group id of a group conversation.
func (c Conv) Group() (string, bool) {
	id, ok := strings.CutPrefix(string(c), groupPrefix)
	return id, ok
}

// Peers returns the two users of a C2C conversation.
func (c Conv) Peers() (a, b string, ok bool) {
	rest, ok := strings.CutPrefix(string(c), c2cPrefix)
	if !ok {
		return "", "", false
	}
	return strings.Cut(rest, "|")
}

// ParseConv validates a conversation id received from a client.
func ParseConv(s string) (Conv, error) {
	c := Conv(s)
	if id, ok := c.Group(); ok {
		if checkGroupID(id, true) != nil {
			return "", fmt.Errorf("%w: conversation %q", ErrInvalidArgument, s)
		}
		return c, nil
	}
	a, b, ok := c.Peers()
	if !ok || validUserID(a) != nil || validUserID(b) != nil || a >= b {
		return "", fmt.Errorf("%w: conversation %q", ErrInvalidArgument, s)
	}
	return c, nil
}

// Target is where a message goes: exactly one of User (C2C) or Group.
type Target struct {
	User  string
	Group string
}

// printableASCII reports whether s is 0x20-0x7e only.
func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// validUserID: printable ASCII, 1-32 bytes (TIM UserID rule), and no '|',
// which separates the pair in a C2C conversation id.
func validUserID(u string) error {
	if len(u) == 0 || len(u) > 32 || !printableASCII(u) || strings.Contains(u, "|") {
		return fmt.Errorf("%w: user id %q", ErrInvalidArgument, u)
	}
	return nil
}

// generatedPrefix marks server-generated group ids (REFERENCE §2: custom
// ids may not start with it).
const generatedPrefix = "@TGS#"

// checkGroupID applies REFERENCE §2: printable ASCII ≤48 B, not "@TGS#…"
// unless server-generated.
func checkGroupID(id string, allowGenerated bool) error {
	if len(id) == 0 || len(id) > 48 || !printableASCII(id) {
		return fmt.Errorf("%w: %q must be 1-48 printable ASCII bytes", ErrInvalidGroupID, id)
	}
	if !allowGenerated && strings.HasPrefix(id, generatedPrefix) {
		return fmt.Errorf("%w: %q: the %s prefix is reserved", ErrInvalidGroupID, id, generatedPrefix)
	}
	return nil
}
