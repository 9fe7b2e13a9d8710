// Package sfu is Parley's selective forwarding unit built on Pion WebRTC.
//
// # Transport
//
// One UDP socket (ICE UDPMux) carries every PeerConnection; its buffers are
// raised to Config.SocketBufferBytes. Every client has two PeerConnections:
// the publisher PC (client offers, SFU answers as DTLS server) and the
// subscriber PC (SFU offers actpass, the client answers active). In both
// cases the SFU is the DTLS server and therefore picks the SRTP protection
// profile, so AEAD-GCM wins whenever the client offers it (REFERENCE §8.3).
// No Pion interceptors are registered: the SFU implements NACK, reports,
// keyframe requests and TWCC itself on the paths below.
//
// # Receive path (publisher → SFU)
//
// SettingEngine.BufferFactory gives every incoming SSRC a *buffer. Until the
// SSRC is bound to a declared track the buffer behaves like packetio.Buffer
// (Pion reads the first packets to probe MID/RID); those packets are kept in
// a small pre-bind ring. When OnTrack fires for a declared track the buffer
// is bound to a layer, replays the pre-bind packets and from then on
// processes every packet inline in Write: one copy into the packet ring
// (500 video / 200 audio slots), extended sequence numbers and timestamps,
// RFC 3550 A.8 jitter and A.3 loss, gap tracking for RFC 4585 generic NACKs,
// keyframe detection (VP8 RFC 7741, H.264 RFC 6184) and transport-wide CC
// arrival recording (draft-holmer-rmcat-transport-wide-cc-extensions-01).
// Nothing reads a bound buffer again, so there is no second copy and no
// reading goroutine per track.
//
// # Forward path (SFU → subscribers)
//
// A layer fans the packet out over a copy-on-write []*DownTrack
// (atomic.Pointer), on the Write goroutine or, when it splits into chunks
// of at least minFanoutChunk DownTracks, also on the engine's worker pool. Every DownTrack is its own
// webrtc.TrackLocal: it rewrites SSRC/PT per binding and SN/TS by 64-bit
// offsets (munger), drops all incoming header extensions and sets only the
// subscriber's transport-wide sequence number, remembers outgoing SN → ring
// slot in a sequencer for retransmission, and waits for a keyframe before
// forwarding video. Payloads are never copied on the forward path.
//
// # RTCP
//
// RTCP arrives through RTCP buffers from the same BufferFactory and is
// dispatched inline by destination SSRC: publisher sender reports feed the
// buffers (LSR/DLSR, NTP↔RTP mapping); subscriber NACKs retransmit from the
// ring, PLI/FIR are collapsed per published layer and throttled to one PLI
// per 500 ms towards the publisher (RFC 4585 §6.3.1, RFC 5104 §4.3.1);
// receiver reports give RTT and loss per DownTrack. The engine's report
// loop (50 ms tick) sends NACKs and TWCC feedback to publishers, receiver
// reports (1 s) to publishers and sender reports (1 s) to subscribers.
//
// # Lock order
//
// Engine.mu → Peer.mu → Peer.negMu is never nested the other way. On the
// media path: buffer.procMu → buffer.mu, and buffer.procMu → DownTrack.mu;
// buffer.mu is never held while calling into a DownTrack, and DownTrack.mu
// is never held while taking buffer.mu (retransmission copies the packet
// after releasing DownTrack.mu). PublishedTrack.mu is a leaf except that it
// is released before any Peer method is called.
package sfu
