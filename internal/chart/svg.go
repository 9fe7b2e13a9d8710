package chart

import (
	"math"
	"strconv"
	"unicode/utf8"
)

// appendEscaped appends s as XML character data that is also safe inside
// a double- or single-quoted attribute: & < > " ' become references, and
// what XML 1.0 cannot carry (control characters, invalid UTF-8,
// surrogates, U+FFFE/U+FFFF) becomes U+FFFD, so the document always
// parses. Newlines and tabs become spaces: a label is one line.
func appendEscaped(dst []byte, s string) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '&':
				dst = append(dst, "&amp;"...)
			case c == '<':
				dst = append(dst, "&lt;"...)
			case c == '>':
				dst = append(dst, "&gt;"...)
			case c == '"':
				dst = append(dst, "&quot;"...)
			case c == '\'':
				dst = append(dst, "&#39;"...)
			case c == '\t' || c == '\n' || c == '\r':
				dst = append(dst, ' ')
			case c < 0x20 || c == 0x7f:
				dst = append(dst, "\uFFFD"...)
			default:
				dst = append(dst, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && size == 1) || !xmlChar(r) || (r >= 0x80 && r <= 0x9f) {
			dst = append(dst, "\uFFFD"...)
		} else {
			dst = append(dst, s[i:i+size]...)
		}
		i += size
	}
	return dst
}

// xmlChar reports whether r is a Char of XML 1.0 (above U+007F).
func xmlChar(r rune) bool {
	return r <= 0xD7FF || (r >= 0xE000 && r <= 0xFFFD) || (r >= 0x10000 && r <= 0x10FFFF)
}

// clip shortens s to at most n runes, ending in "…" when cut, so one long
// label cannot push the legend or the markers off the chart.
func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	i, k := 0, 0
	for i < len(s) && k < n-1 {
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
		k++
	}
	return s[:i] + "…"
}

// textWidth estimates the rendered width of s at size px: about 0.6 em
// for Latin letters and digits, 1 em for wide (CJK) characters. Good
// enough to lay out legends and skip overlapping labels.
func textWidth(s string, size float64) float64 {
	var em float64
	for _, r := range s {
		if r >= 0x1100 {
			em += 1
		} else {
			em += 0.6
		}
	}
	return em * size
}

// appendCoord appends f with at most one decimal (a tenth of a pixel is
// below what any screen shows), with integer arithmetic: it runs for
// every vertex.
func appendCoord(dst []byte, f float64) []byte {
	n := int64(math.Round(f * 10))
	if n < 0 {
		dst = append(dst, '-')
		n = -n
	}
	dst = strconv.AppendInt(dst, n/10, 10)
	if d := n % 10; d != 0 {
		dst = append(dst, '.', byte('0'+d))
	}
	return dst
}

func appendInt(dst []byte, n int) []byte { return strconv.AppendInt(dst, int64(n), 10) }
