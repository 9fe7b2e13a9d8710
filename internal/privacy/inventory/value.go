package inventory

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Truncation limits for IP prefixes (COLLECT-2; docs/inventory.md: the SDK
// truncates on the device to IPv4 /24, IPv6 /48; REFERENCE §6.6).
const (
	MaxIPv4PrefixBits = 24
	MaxIPv6PrefixBits = 48
)

// ValidateValue checks one telemetry value against the element's wire type,
// strictly (REFERENCE §6.2 C6), and returns it normalised for storage:
//
//   - int: a JSON integer literal (no fraction, no exponent, not a string)
//     within [Min, Max], as int64;
//   - float: a finite JSON number within [Min, Max], as float64;
//   - string: a JSON string of valid UTF-8 without control characters or
//     lone surrogates, at most MaxLen bytes, as string;
//   - enum: a JSON string among Enum, as string;
//   - prefix: a JSON string netip.ParsePrefix accepts, already masked and
//     truncated (IPv4 at most /24, IPv6 at most /48), as its canonical
//     string.
//
// Errors wrap ErrBadValue and say what was wrong without echoing the value.
func (e *Element) ValidateValue(raw json.RawMessage) (any, error) {
	if e.Wire == nil {
		return nil, fmt.Errorf("%w: %s is not telemetry", ErrBadValue, e.ID)
	}
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return nil, fmt.Errorf("%w: %s: empty value", ErrBadValue, e.ID)
	}
	if !json.Valid(raw) {
		return nil, fmt.Errorf("%w: %s: not a JSON value", ErrBadValue, e.ID)
	}
	w := e.Wire
	switch w.Type {
	case TypeInt:
		return e.intValue(raw)
	case TypeFloat:
		return e.floatValue(raw)
	case TypeString, TypeEnum, TypePrefix:
		s, err := e.stringValue(raw)
		if err != nil {
			return nil, err
		}
		switch w.Type {
		case TypeEnum:
			if !slices.Contains(w.Enum, s) {
				return nil, fmt.Errorf("%w: %s: not one of %s", ErrBadValue, e.ID, strings.Join(w.Enum, "|"))
			}
		case TypePrefix:
			return e.prefixValue(s)
		default:
			if len(s) > w.MaxLen {
				return nil, fmt.Errorf("%w: %s: %d bytes, at most %d", ErrBadValue, e.ID, len(s), w.MaxLen)
			}
		}
		return s, nil
	default:
		return nil, fmt.Errorf("%w: %s: unknown wire type %q", ErrBadValue, e.ID, w.Type)
	}
}

// kindOf names a JSON value's kind for error messages.
func kindOf(raw []byte) string {
	switch raw[0] {
	case '"':
		return "a string"
	case '{':
		return "an object"
	case '[':
		return "an array"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	default:
		return "a number"
	}
}

func isNumber(raw []byte) bool { return raw[0] == '-' || (raw[0] >= '0' && raw[0] <= '9') }

func (e *Element) intValue(raw []byte) (any, error) {
	w := e.Wire
	if !isNumber(raw) {
		return nil, fmt.Errorf("%w: %s: want an integer, got %s", ErrBadValue, e.ID, kindOf(raw))
	}
	if bytes.ContainsAny(raw, ".eE") {
		return nil, fmt.Errorf("%w: %s: want an integer, got a number with a fraction or exponent", ErrBadValue, e.ID)
	}
	v, err := strconv.ParseInt(string(raw), 10, 64)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: integer out of range [%d,%d]", ErrBadValue, e.ID, w.Min, w.Max)
	}
	if v < w.Min || v > w.Max {
		return nil, fmt.Errorf("%w: %s: %d out of range [%d,%d]", ErrBadValue, e.ID, v, w.Min, w.Max)
	}
	return v, nil
}

func (e *Element) floatValue(raw []byte) (any, error) {
	w := e.Wire
	if !isNumber(raw) {
		return nil, fmt.Errorf("%w: %s: want a number, got %s", ErrBadValue, e.ID, kindOf(raw))
	}
	v, err := strconv.ParseFloat(string(raw), 64)
	if err != nil || math.IsInf(v, 0) || math.IsNaN(v) {
		return nil, fmt.Errorf("%w: %s: number out of range [%d,%d]", ErrBadValue, e.ID, w.Min, w.Max)
	}
	if v < float64(w.Min) || v > float64(w.Max) {
		return nil, fmt.Errorf("%w: %s: out of range [%d,%d]", ErrBadValue, e.ID, w.Min, w.Max)
	}
	return v, nil
}

// stringValue decodes a JSON string strictly: encoding/json would replace
// invalid UTF-8 and lone surrogate escapes with U+FFFD, so both are
// refused here, as are control characters (they have no place in a device
// fact and would corrupt logs and dashboards).
func (e *Element) stringValue(raw []byte) (string, error) {
	if raw[0] != '"' {
		return "", fmt.Errorf("%w: %s: want a string, got %s", ErrBadValue, e.ID, kindOf(raw))
	}
	if !utf8.Valid(raw) {
		return "", fmt.Errorf("%w: %s: not valid UTF-8", ErrBadValue, e.ID)
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", fmt.Errorf("%w: %s: not a JSON string", ErrBadValue, e.ID)
	}
	if strings.ContainsRune(s, utf8.RuneError) {
		return "", fmt.Errorf("%w: %s: invalid UTF-8 or a lone surrogate escape", ErrBadValue, e.ID)
	}
	if strings.IndexFunc(s, unicode.IsControl) >= 0 {
		return "", fmt.Errorf("%w: %s: contains control characters", ErrBadValue, e.ID)
	}
	return s, nil
}

// prefixValue accepts only an IP prefix the device already truncated
// (COLLECT-2): a host address (203.0.113.7/32) or an unmasked prefix
// (203.0.113.7/24) is refused, so a full address never reaches a store.
func (e *Element) prefixValue(s string) (any, error) {
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: not an IP prefix (a.b.c.0/24 or x:y:z::/48)", ErrBadValue, e.ID)
	}
	if p != p.Masked() {
		return nil, fmt.Errorf("%w: %s: host bits set; the prefix must be masked", ErrBadValue, e.ID)
	}
	if p.Addr().Is4() && p.Bits() > MaxIPv4PrefixBits {
		return nil, fmt.Errorf("%w: %s: IPv4 /%d is not truncated (at most /%d)", ErrBadValue, e.ID, p.Bits(), MaxIPv4PrefixBits)
	}
	if p.Addr().Is6() && p.Bits() > MaxIPv6PrefixBits {
		return nil, fmt.Errorf("%w: %s: IPv6 /%d is not truncated (at most /%d)", ErrBadValue, e.ID, p.Bits(), MaxIPv6PrefixBits)
	}
	return p.String(), nil
}
