package parley

// VP8 helpers for statistics: a subscriber learns a remote stream's
// resolution from keyframe headers because no decoder runs in the SDK.

// vp8FramePayload strips the RFC 7741 §4.2 payload descriptor from an RTP
// payload. start reports whether the packet begins a frame (S=1, PID=0).
func vp8FramePayload(p []byte) (frame []byte, start bool) {
	if len(p) < 1 {
		return nil, false
	}
	i := 1
	start = p[0]&0x10 != 0 && p[0]&0x0f == 0
	if p[0]&0x80 != 0 { // X: extension byte follows
		if len(p) < 2 {
			return nil, false
		}
		x := p[1]
		i = 2
		if x&0x80 != 0 { // I: picture ID, 7 or 15 bits
			if len(p) <= i {
				return nil, false
			}
			if p[i]&0x80 != 0 {
				i += 2
			} else {
				i++
			}
		}
		if x&0x40 != 0 { // L: TL0PICIDX
			i++
		}
		if x&0x30 != 0 { // T or K: TID/KEYIDX byte
			i++
		}
	}
	if len(p) < i {
		return nil, false
	}
	return p[i:], start
}

// ParseVP8KeyframeSize reads width and height from the start of a VP8
// frame (RFC 6386 §9.1). ok is false for interframes and short input.
func ParseVP8KeyframeSize(frame []byte) (width, height int, ok bool) {
	if len(frame) < 10 || frame[0]&0x01 != 0 {
		return 0, 0, false
	}
	if frame[3] != 0x9d || frame[4] != 0x01 || frame[5] != 0x2a {
		return 0, 0, false
	}
	width = int(frame[6]) | int(frame[7]&0x3f)<<8
	height = int(frame[8]) | int(frame[9]&0x3f)<<8
	return width, height, true
}
