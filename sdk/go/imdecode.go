package parley

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"

	"github.com/parley-rtc/parley/protocol"
)

// fastIMPush decodes the messages of an im_message frame as the server
// writes them, without reflection: under message fan-out this decode was
// a third of the SDK's CPU. It accepts only the plain shape the server
// produces (known keys, strings without escapes, integer numbers) and
// reports false for anything else, which then takes encoding/json; a
// differential fuzz test holds the two to the same result.
func fastIMPush(b []byte) ([]protocol.IMMessage, bool) {
	if !bytes.HasPrefix(b, imPushPrefix) {
		return nil, false
	}
	p := imParser{b: b, i: len(imPushPrefix)}
	var out []protocol.IMMessage
	p.ws()
	if p.peek() == ']' {
		p.i++
	} else {
		for {
			var m protocol.IMMessage
			if !p.message(&m) {
				return nil, false
			}
			out = append(out, m)
			p.ws()
			c := p.next()
			if c == ']' {
				break
			}
			if c != ',' {
				return nil, false
			}
			p.ws()
		}
	}
	for _, want := range []byte("}}") {
		p.ws()
		if p.next() != want {
			return nil, false
		}
	}
	p.ws()
	if p.i != len(p.b) {
		return nil, false
	}
	if out == nil {
		out = []protocol.IMMessage{}
	}
	return out, true
}

type imParser struct {
	b []byte
	i int
}

func (p *imParser) peek() byte {
	if p.i < len(p.b) {
		return p.b[p.i]
	}
	return 0
}

func (p *imParser) next() byte {
	c := p.peek()
	p.i++
	return c
}

func (p *imParser) ws() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

// message parses one object into m.
func (p *imParser) message(m *protocol.IMMessage) bool {
	if p.next() != '{' {
		return false
	}
	p.ws()
	if p.peek() == '}' {
		p.i++
		return true
	}
	for {
		key, ok := p.str()
		if !ok {
			return false
		}
		p.ws()
		if p.next() != ':' {
			return false
		}
		p.ws()
		if !p.field(m, key) {
			return false
		}
		p.ws()
		switch p.next() {
		case ',':
			p.ws()
		case '}':
			return true
		default:
			return false
		}
	}
}

func (p *imParser) field(m *protocol.IMMessage, key string) bool {
	var ok bool
	switch key {
	case "conv":
		m.Conv, ok = p.str()
	case "sender":
		m.Sender, ok = p.str()
	case "client_msg_id":
		m.ClientMsgID, ok = p.str()
	case "cloud_custom_data":
		m.CloudCustomData, ok = p.str()
	case "recalled_by":
		m.RecalledBy, ok = p.str()
	case "seq":
		m.Seq, ok = p.int()
	case "at":
		m.At, ok = p.int()
	case "need_read_receipt":
		m.NeedReadReceipt, ok = p.boolean()
	case "recalled":
		m.Recalled, ok = p.boolean()
	case "erased":
		m.Erased, ok = p.boolean()
	case "live":
		m.Live, ok = p.boolean()
	case "elements":
		m.Elements, ok = p.raw()
	}
	return ok // an unknown key is left to encoding/json
}

// str reads a string without escapes: valid UTF-8, no control bytes.
func (p *imParser) str() (string, bool) {
	if p.next() != '"' {
		return "", false
	}
	start := p.i
	for p.i < len(p.b) {
		c := p.b[p.i]
		switch {
		case c == '"':
			s := p.b[start:p.i]
			p.i++
			if !utf8.Valid(s) {
				return "", false
			}
			return string(s), true
		case c == '\\' || c < 0x20:
			return "", false
		}
		p.i++
	}
	return "", false
}

// int reads -?(0|[1-9][0-9]*) into an int64 without overflow.
func (p *imParser) int() (int64, bool) {
	neg := p.peek() == '-'
	if neg {
		p.i++
	}
	start := p.i
	var n uint64
	for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
		d := uint64(p.b[p.i] - '0')
		if n > (1<<63-1)/10 {
			return 0, false
		}
		n = n*10 + d
		p.i++
	}
	digits := p.i - start
	switch c := p.peek(); {
	case digits == 0, digits > 1 && p.b[start] == '0':
		return 0, false
	case c == '.' || c == 'e' || c == 'E':
		return 0, false // encoding/json refuses these for an int64 too
	case n > 1<<63-1 && !(neg && n == 1<<63):
		return 0, false
	}
	if neg {
		return -int64(n), true
	}
	return int64(n), true
}

func (p *imParser) boolean() (bool, bool) {
	switch {
	case bytes.HasPrefix(p.b[p.i:], []byte("true")):
		p.i += 4
		return true, true
	case bytes.HasPrefix(p.b[p.i:], []byte("false")):
		p.i += 5
		return false, true
	}
	return false, false
}

// raw returns a copy of the next JSON array or object (elements is a
// MsgBody array), checked to be valid JSON.
func (p *imParser) raw() (json.RawMessage, bool) {
	start := p.i
	depth, inStr := 0, false
	for p.i < len(p.b) {
		c := p.b[p.i]
		p.i++
		switch {
		case inStr && c == '\\':
			p.i++
		case c == '"':
			inStr = !inStr
		case inStr:
		case c == '[' || c == '{':
			depth++
		case c == ']' || c == '}':
			depth--
			if depth == 0 {
				v := p.b[start:p.i]
				if !json.Valid(v) {
					return nil, false
				}
				return append(json.RawMessage(nil), v...), true
			}
			if depth < 0 {
				return nil, false
			}
		case depth == 0:
			return nil, false // not an array or object
		}
	}
	return nil, false
}
