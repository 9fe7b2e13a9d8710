package bench

import (
	"testing"

	"github.com/pion/rtp"
)

func TestSeqCounter(t *testing.T) {
	for _, tc := range []struct {
		name string
		sns  []uint16
		want uint64
	}{
		{"in order", []uint16{10, 11, 12}, 3},
		{"gap", []uint16{10, 11, 14}, 5},
		{"wrap", []uint16{65534, 65535, 0, 1}, 4},
		{"late and duplicate", []uint16{10, 12, 11, 12, 13}, 4},
		{"late before first", []uint16{10, 9, 11}, 2},
	} {
		var c seqCounter
		for _, sn := range tc.sns {
			c.add(sn)
		}
		if got := c.expected(); got != tc.want {
			t.Errorf("%s: expected %d, want %d", tc.name, got, tc.want)
		}
	}
	var c seqCounter
	if c.expected() != 0 {
		t.Fatal("empty counter expects packets")
	}
}

func TestStreamCountsOnlyInsideWindow(t *testing.T) {
	var w window
	var h histogram
	warm := 0
	s := &stream{w: &w, hist: &h, warm: func() { warm++ }}
	pkt := func(sn uint16) *rtp.Packet {
		return &rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: sn}, Payload: []byte{1, 2, 3}}
	}
	s.onPacket(pkt(1)) // warm-up: not counted
	w.open.Store(true)
	for _, sn := range []uint16{2, 3, 5, 6} {
		s.onPacket(pkt(sn))
	}
	w.open.Store(false)
	s.onPacket(pkt(7))
	tot := s.totals()
	if warm != 1 || tot.packets != 4 || tot.expected != 5 || tot.lost() != 1 || tot.bytes != 4*(12+3) {
		t.Fatalf("warm %d, totals %+v, lost %d", warm, tot, tot.lost())
	}
	if h.total() != 0 {
		t.Fatal("unstamped payloads were timed")
	}
	if (streamTotals{packets: 5, expected: 4}).lost() != 0 {
		t.Fatal("duplicates made loss negative")
	}
}
