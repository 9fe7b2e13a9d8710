package sfu

// isVP8Keyframe reports whether an RTP payload starts a VP8 key frame
// (RFC 7741 §4.2 payload descriptor, §4.3 payload header: P bit 0 in the
// first partition of the frame, S=1 and PID=0).
func isVP8Keyframe(p []byte) bool {
	if len(p) < 1 {
		return false
	}
	b0 := p[0]
	if b0&0x10 == 0 || b0&0x07 != 0 { // S bit clear or partition index != 0
		return false
	}
	i := 1
	if b0&0x80 != 0 { // X: extended control bits
		if len(p) <= i {
			return false
		}
		x := p[i]
		i++
		if x&0x80 != 0 { // I: PictureID
			if len(p) <= i {
				return false
			}
			if p[i]&0x80 != 0 { // M: 15-bit PictureID
				i++
			}
			i++
		}
		if x&0x40 != 0 { // L: TL0PICIDX
			i++
		}
		if x&0x30 != 0 { // T or K: TID/Y/KEYIDX
			i++
		}
	}
	if len(p) <= i {
		return false
	}
	return p[i]&0x01 == 0 // P bit: 0 = key frame
}

// H.264 NAL unit types (RFC 6184 §5.2, ITU-T H.264 Table 7-1).
const (
	h264NALIDR   = 5
	h264NALSPS   = 7
	h264NALSTAPA = 24
	h264NALFUA   = 28
)

// isH264Keyframe reports whether an RTP payload (RFC 6184) carries the start
// of an IDR access unit: an SPS or IDR NAL unit, alone, aggregated in a
// STAP-A, or as the first fragment of an FU-A.
func isH264Keyframe(p []byte) bool {
	if len(p) < 1 {
		return false
	}
	switch nal := p[0] & 0x1F; nal {
	case h264NALIDR, h264NALSPS:
		return true
	case h264NALSTAPA:
		for i := 1; i+2 < len(p); {
			size := int(p[i])<<8 | int(p[i+1])
			i += 2
			if size == 0 || i+size > len(p) {
				return false
			}
			if t := p[i] & 0x1F; t == h264NALIDR || t == h264NALSPS {
				return true
			}
			i += size
		}
		return false
	case h264NALFUA:
		if len(p) < 2 {
			return false
		}
		start := p[1]&0x80 != 0
		t := p[1] & 0x1F
		return start && (t == h264NALIDR || t == h264NALSPS)
	default:
		return false
	}
}
