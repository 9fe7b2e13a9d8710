package sfu

// seqUnwrapper extends 16-bit RTP sequence numbers to 64 bits (RFC 3550 §A.1:
// the receiver counts wraps; a jump of more than half the space backwards is
// an old packet, not a wrap).
type seqUnwrapper struct {
	started bool
	highest uint64
}

// unwrap returns the extended sequence number for sn and whether it is newer
// than every packet seen so far.
func (u *seqUnwrapper) unwrap(sn uint16) (ext uint64, newest bool) {
	if !u.started {
		u.started = true
		// Start in the second cycle so that reordered packets from just
		// before the first one never go below zero.
		u.highest = 1<<16 | uint64(sn)
		return u.highest, true
	}
	diff := int16(sn - uint16(u.highest)) //nolint:gosec // wrap-around is the point
	ext = uint64(int64(u.highest) + int64(diff))
	if diff > 0 {
		u.highest = ext
		return ext, true
	}
	return ext, false
}

// tsUnwrapper extends 32-bit RTP timestamps to 64 bits the same way.
type tsUnwrapper struct {
	started bool
	highest uint64
}

func (u *tsUnwrapper) unwrap(ts uint32) uint64 {
	if !u.started {
		u.started = true
		u.highest = 1<<32 | uint64(ts)
		return u.highest
	}
	diff := int32(ts - uint32(u.highest)) //nolint:gosec // wrap-around is the point
	ext := uint64(int64(u.highest) + int64(diff))
	if diff > 0 {
		u.highest = ext
	}
	return ext
}
