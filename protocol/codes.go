package protocol

// Scene is the room's application scene (TRTCAppScene).
type Scene int

// Scenes, numbered as TRTC's TRTCAppScene enum (REFERENCE.md §1.2).
const (
	SceneVideoCall     Scene = 0
	SceneLive          Scene = 1
	SceneAudioCall     Scene = 2
	SceneVoiceChatRoom Scene = 3
)

// Valid reports whether s is a known scene.
func (s Scene) Valid() bool { return s >= SceneVideoCall && s <= SceneVoiceChatRoom }

// IsLive reports whether the scene distinguishes anchors from audience.
func (s Scene) IsLive() bool { return s == SceneLive || s == SceneVoiceChatRoom }

// AudioOnly reports whether the scene carries no video.
func (s Scene) AudioOnly() bool { return s == SceneAudioCall || s == SceneVoiceChatRoom }

// Role is the participant's role in a live scene (TRTCRoleType).
type Role int

// Roles, numbered as TRTC's TRTCRoleType enum.
const (
	RoleAnchor   Role = 20
	RoleAudience Role = 21
)

// Valid reports whether r is a known role.
func (r Role) Valid() bool { return r == RoleAnchor || r == RoleAudience }

// CanPublish reports whether the role may send media.
func (r Role) CanPublish() bool { return r == RoleAnchor }

// Exit reasons carried by ExitRoom (TRTC onExitRoom, REFERENCE.md §1.3).
const (
	ExitReasonLeft        = 0 // the user called exitRoom
	ExitReasonKicked      = 1 // removed by the REST RemoveUser API
	ExitReasonDismissed   = 2 // the room was dismissed by DismissRoom
	ExitReasonReplaced    = 3 // Parley: the same UserID entered the room elsewhere (TRTC Web "kick")
	ExitReasonServerClose = 4 // Parley: the server is shutting down
)

// Remote-user leave reasons (TRTC onRemoteUserLeaveRoom).
const (
	LeaveReasonLeft    = 0
	LeaveReasonTimeout = 1
	LeaveReasonKicked  = 2
)

// Error codes. Negative enter-room results follow TRTC's ERR_* values where
// TRTC documents them; the -4xxx range is Parley's own.
const (
	ErrCodeEnterRoomFailed   = -3301   // ERR_ROOM_ENTER_FAIL: generic enter failure
	ErrCodeSDKAppIDInvalid   = -3317   // ERR_SDK_APPID_INVALID
	ErrCodeRoomIDInvalid     = -3318   // ERR_ROOM_ID_INVALID
	ErrCodeUserIDInvalid     = -3319   // ERR_USER_ID_INVALID
	ErrCodeUserSigInvalid    = -3320   // ERR_USER_SIG_INVALID: bad, expired or foreign UserSig
	ErrCodePrivilegeDenied   = -100006 // ERR_SERVER_INFO_PRIVILEGE_FLAG_ERROR: PrivateMapKey refused
	ErrCodeBadRequest        = -4000   // malformed or oversized signaling frame
	ErrCodeUnknownType       = -4001   // frame type not known to this server
	ErrCodeNotInRoom         = -4002   // request needs a joined room
	ErrCodeAlreadyInRoom     = -4003   // join sent twice on one connection
	ErrCodePublishNotAllowed = -4004   // audience (or a privilege-less anchor) tried to publish
	ErrCodeNegotiationFailed = -4005   // SDP offer/answer could not be applied
	ErrCodeRoomFull          = -4006   // room at its configured participant limit
	ErrCodeRateLimited       = -4007   // too many frames per second on this connection
	ErrCodeConsentRequired   = -4008   // no consent, withdrawn, or older than the app's latest material policy
	ErrCodeFieldRejected     = -4009   // field or medium undeclared, switched off or not consented
	ErrCodeGuardianRequired  = -4010   // a minor's join without a guardian-consent reference
	ErrCodeNotLoggedIn       = -4011   // request needs an IM login on this connection
	ErrCodeAlreadyLoggedIn   = -4012   // im_login sent twice on one connection
	ErrCodePeerOffline       = -4013   // a reliable im_signal to a user with no connection
	ErrCodeInternal          = -4500   // server fault; the request may be retried
)
