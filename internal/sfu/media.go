package sfu

import (
	"fmt"
	"strings"

	"github.com/pion/dtls/v3"
	"github.com/pion/dtls/v3/pkg/protocol/extension"
	"github.com/pion/dtls/v3/pkg/protocol/handshake"
	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/sdp/v3"
	"github.com/pion/transport/v5/packetio"
	"github.com/pion/webrtc/v4"
	"io"
)

const transportCCURI = sdp.TransportCCURI

// Payload types offered by the SFU (dynamic range, RFC 3551 §6).
const (
	ptOpus = 111
	ptVP8  = 96
	ptH264 = 102
)

// newMediaEngine registers Opus, VP8 and H.264 with NACK, PLI, FIR and
// transport-cc feedback (RFC 4585, RFC 5104) and the header extensions the
// SFU understands.
func newMediaEngine() (*webrtc.MediaEngine, error) {
	m := &webrtc.MediaEngine{}
	videoFB := []webrtc.RTCPFeedback{
		{Type: "nack"}, {Type: "nack", Parameter: "pli"}, {Type: "ccm", Parameter: "fir"}, {Type: "transport-cc"},
	}
	codecs := []struct {
		p    webrtc.RTPCodecParameters
		kind webrtc.RTPCodecType
	}{
		{webrtc.RTPCodecParameters{PayloadType: ptOpus, RTPCodecCapability: webrtc.RTPCodecCapability{
			MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2, SDPFmtpLine: "minptime=10;useinbandfec=1",
			RTCPFeedback: []webrtc.RTCPFeedback{{Type: "transport-cc"}},
		}}, webrtc.RTPCodecTypeAudio},
		{webrtc.RTPCodecParameters{PayloadType: ptVP8, RTPCodecCapability: webrtc.RTPCodecCapability{
			MimeType: webrtc.MimeTypeVP8, ClockRate: 90000, RTCPFeedback: videoFB,
		}}, webrtc.RTPCodecTypeVideo},
		{webrtc.RTPCodecParameters{PayloadType: ptH264, RTPCodecCapability: webrtc.RTPCodecCapability{
			MimeType: webrtc.MimeTypeH264, ClockRate: 90000, RTCPFeedback: videoFB,
			SDPFmtpLine: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f",
		}}, webrtc.RTPCodecTypeVideo},
	}
	for _, c := range codecs {
		if err := m.RegisterCodec(c.p, c.kind); err != nil {
			return nil, fmt.Errorf("sfu: register codec: %w", err)
		}
	}
	exts := []struct {
		uri   string
		kinds []webrtc.RTPCodecType
	}{
		{sdp.SDESMidURI, []webrtc.RTPCodecType{webrtc.RTPCodecTypeAudio, webrtc.RTPCodecTypeVideo}},
		{sdp.SDESRTPStreamIDURI, []webrtc.RTPCodecType{webrtc.RTPCodecTypeVideo}},
		{sdp.SDESRepairRTPStreamIDURI, []webrtc.RTPCodecType{webrtc.RTPCodecTypeVideo}},
		{sdp.TransportCCURI, []webrtc.RTPCodecType{webrtc.RTPCodecTypeAudio, webrtc.RTPCodecTypeVideo}},
	}
	for _, x := range exts {
		for _, k := range x.kinds {
			if err := m.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: x.uri}, k); err != nil {
				return nil, fmt.Errorf("sfu: register extension: %w", err)
			}
		}
	}
	return m, nil
}

func codecKindOf(mime string) codecKind {
	switch strings.ToLower(mime) {
	case strings.ToLower(webrtc.MimeTypeOpus):
		return codecOpus
	case strings.ToLower(webrtc.MimeTypeVP8):
		return codecVP8
	case strings.ToLower(webrtc.MimeTypeH264):
		return codecH264
	default:
		return codecOther
	}
}

// newAPI builds the Pion API of one PeerConnection: the shared UDP mux,
// no mDNS, loopback allowed, SFU as DTLS server (so it picks AEAD-GCM,
// REFERENCE §8.3), our buffers, and no interceptors.
func (e *Engine) newAPI(factory func(packetio.BufferPacketType, uint32) io.ReadWriteCloser,
	onProfile func(string),
) (*webrtc.API, error) {
	m, err := newMediaEngine()
	if err != nil {
		return nil, err
	}
	s := webrtc.SettingEngine{LoggerFactory: e.lf}
	s.SetICEUDPMux(e.mux)
	s.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	s.SetIncludeLoopbackCandidate(true)
	s.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4, webrtc.NetworkTypeUDP6})
	if e.cfg.PublicIP != "" {
		// Advertise the public IP in place of the bound one (NAT 1:1).
		rule := webrtc.ICEAddressRewriteRule{External: []string{e.cfg.PublicIP}, AsCandidateType: webrtc.ICECandidateTypeHost}
		if err := s.SetICEAddressRewriteRules(rule); err != nil {
			return nil, fmt.Errorf("sfu: public ip: %w", err)
		}
	}
	if err := s.SetAnsweringDTLSRole(webrtc.DTLSRoleServer); err != nil {
		return nil, fmt.Errorf("sfu: dtls role: %w", err)
	}
	s.BufferFactory = factory
	s.SetDTLSServerHelloMessageHook(func(h handshake.MessageServerHello) handshake.Message {
		for _, x := range h.Extensions {
			if u, ok := x.(*extension.UseSRTP); ok && len(u.ProtectionProfiles) > 0 {
				onProfile(srtpProfileName(dtls.SRTPProtectionProfile(u.ProtectionProfiles[0])))
			}
		}
		return &h
	})
	return webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithSettingEngine(s),
		webrtc.WithInterceptorRegistry(&interceptor.Registry{})), nil
}

func srtpProfileName(p dtls.SRTPProtectionProfile) string {
	switch p {
	case dtls.SRTP_AEAD_AES_128_GCM:
		return "SRTP_AEAD_AES_128_GCM"
	case dtls.SRTP_AEAD_AES_256_GCM:
		return "SRTP_AEAD_AES_256_GCM"
	case dtls.SRTP_AES128_CM_HMAC_SHA1_80:
		return "SRTP_AES128_CM_HMAC_SHA1_80"
	case dtls.SRTP_AES128_CM_HMAC_SHA1_32:
		return "SRTP_AES128_CM_HMAC_SHA1_32"
	default:
		return fmt.Sprintf("SRTP_0x%04x", uint16(p))
	}
}
