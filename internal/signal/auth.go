package signal

import (
	"context"

	"github.com/parley-rtc/parley/protocol"
)

// Grant is what a join's credentials allow.
type Grant struct {
	// PublishAudio, PublishVideo and PublishSub are the PrivateMapKey send
	// bits; all true when the app does not enforce PrivateMapKey.
	PublishAudio, PublishVideo, PublishSub bool
}

// AllowAll is the grant of an app without PrivateMapKey enforcement.
func AllowAll() Grant { return Grant{PublishAudio: true, PublishVideo: true, PublishSub: true} }

// Authorizer checks a join's SDKAppID, UserSig and PrivateMapKey. Errors
// should be *Refusal with the TRTC code the client gets (-3317, -3320,
// -100006 …).
type Authorizer interface {
	AuthorizeJoin(ctx context.Context, req *protocol.JoinRequest) (Grant, error)
}

func (g Grant) allows(info protocol.TrackInfo) bool {
	switch {
	case info.Kind == protocol.KindAudio:
		return g.PublishAudio
	case info.StreamType == protocol.StreamSub:
		return g.PublishSub
	default:
		return g.PublishVideo
	}
}
