// Type declarations for the Parley browser SDK (@parley-rtc/sdk).
// The SDK is plain ES modules; these declarations are for editors and
// TypeScript projects. docs/protocol.md is the wire contract.

/** SDK version string, sent as join.sdk_version. */
export const SDK_VERSION: string;

/** Error codes the SDK uses; server replies may carry any code of docs/protocol.md. */
export declare const ErrorCode: Readonly<{
  ENTER_ROOM_FAILED: -3301;
  SDKAPPID_INVALID: -3317;
  ROOM_ID_INVALID: -3318;
  USER_ID_INVALID: -3319;
  USER_SIG_INVALID: -3320;
  PRIVILEGE_DENIED: -100006;
  BAD_REQUEST: -4000;
  UNKNOWN_TYPE: -4001;
  NOT_IN_ROOM: -4002;
  ALREADY_IN_ROOM: -4003;
  PUBLISH_NOT_ALLOWED: -4004;
  NEGOTIATION_FAILED: -4005;
  ROOM_FULL: -4006;
  RATE_LIMITED: -4007;
  CONSENT_REQUIRED: -4008;
  FIELD_REJECTED: -4009;
  GUARDIAN_REQUIRED: -4010;
  IM_NOT_LOGGED_IN: -4011;
  IM_ALREADY_LOGGED_IN: -4012;
  PEER_OFFLINE: -4013;
  INTERNAL: -4500;
  CAMERA_START_FAILED: -1301;
  MIC_START_FAILED: -1302;
  CAMERA_NOT_AUTHORIZED: -1314;
  MIC_NOT_AUTHORIZED: -1317;
  CONNECTION_LOST: -4100;
  TIMEOUT: -4101;
  CLOSED: -4102;
  UNSUPPORTED: -4103;
  PROTOCOL: -4104;
}>;

/** A failure reported by the SDK or refused by the server. */
export declare class ParleyError extends Error {
  constructor(code: number, message: string, extra?: { cause?: unknown; field?: string; requestType?: string });
  readonly name: 'ParleyError';
  /** ErrorCode value, or the server's code (negative TRTC/Parley codes, positive Tencent IM codes). */
  code: number;
  /** The telemetry or media field a -4009 named, when known. */
  field?: string;
  /** The frame type of the request the server refused. */
  requestType?: string;
  /** The server's own message, without the SDK's prefix. */
  serverMessage?: string;
}

/** TRTC network quality levels. */
export declare const Quality: Readonly<{
  UNKNOWN: 0; EXCELLENT: 1; GOOD: 2; POOR: 3; BAD: 4; VERY_BAD: 5; DOWN: 6;
}>;

/** Maps rtt (ms, <0 unknown) and loss (%, <0 unknown) to a quality level 0–6, as the Go SDK. */
export declare function qualityFor(connected: boolean, rttMs: number, lossPct: number): number;

/** One Tencent IM MsgBody element, e.g. {MsgType: 'TIMTextElem', MsgContent: {Text: 'hi'}}. */
export interface IMElement {
  MsgType: 'TIMTextElem' | 'TIMCustomElem' | 'TIMImageElem' | 'TIMSoundElem' | 'TIMVideoFileElem' |
    'TIMFileElem' | 'TIMLocationElem' | 'TIMRelayElem' | string;
  MsgContent: any;
}

/** A body of one text element. */
export declare function textElements(text: string): IMElement[];
/** The concatenated text of a body's TIMTextElem elements. */
export declare function textOf(elements: IMElement[]): string;

export type Purpose = 'rtc' | 'quality' | 'signaling' | 'im' | 'feedback';
export type ConsentMethod = 'sdk' | 'popup' | 'device_config';
export type Scene = 'videocall' | 'live' | 'audiocall' | 'voicechatroom' | 0 | 1 | 2 | 3;
export type Role = 'anchor' | 'audience' | 20 | 21;
export type StreamType = 'main' | 'sub';
export type Layer = 'q' | 'h' | 'f';

/** The consent grant kept in storage. */
export interface ConsentGrant {
  version: string;
  purposes: Purpose[];
  method: ConsentMethod;
  /** Unix ms on the device. */
  grantedAt: number;
  ageBand?: 'adult' | 'minor';
  guardianRef?: string;
}

/**
 * Init-config switches; absent means off. streams_config lists the video
 * streams that may be sent ("main" camera, "sub" screen share).
 */
export interface Switches {
  audio_enable?: boolean;
  streams_config?: Array<StreamType | { stream_type?: StreamType }> | boolean;
  'ext.apm'?: boolean;
  'ext.rts'?: boolean;
  'ext.whiteboard'?: boolean;
  'field.device.brand'?: boolean;
  'field.device.model'?: boolean;
  'field.device.cpu'?: boolean;
  'field.device.memory_mb'?: boolean;
  'field.device.battery_pct'?: boolean;
  'field.device.screen_resolution'?: boolean;
  'field.device.thread_count'?: boolean;
  'field.network.type'?: boolean;
  'field.network.wifi_state'?: boolean;
  'field.sensor.accelerometer'?: boolean;
  'field.feedback.text'?: boolean;
  'field.debug.audio_dump'?: boolean;
  'field.im.device_model'?: boolean;
  'field.im.push_token'?: boolean;
}

/** Where consent and the random install id are kept (localStorage fits). */
export interface ParleyStorage {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

export interface ParleyLogger {
  debug?(...args: any[]): void;
  info?(...args: any[]): void;
  warn?(...args: any[]): void;
  error?(...args: any[]): void;
}

export interface ParleyOptions {
  /** Application id; required before init(). */
  sdkAppId?: number;
  /** 1–32 bytes of [A-Za-z0-9_-]; required before init(). */
  userId?: string;
  /** The UserSig your backend signed for userId; required before init(). */
  userSig?: string;
  /** Signaling URL; default ws(s)://<location.host>/v1/signal. */
  url?: string;
  /** Switches in force; absent = off. Unknown ids throw. */
  switches?: Switches;
  /** Default window.localStorage (in-memory when unavailable). */
  storage?: ParleyStorage;
  /** false turns APM telemetry off even with "ext.apm" (default true). */
  telemetry?: boolean;
  /** ICE servers; default none (only the Parley server is contacted). */
  iceServers?: RTCIceServer[];
  /** Receives SDK logs; never user ids or message text. */
  logger?: ParleyLogger;
}

export interface GrantOptions {
  purposes: Purpose[];
  /** Default 'sdk'. */
  method?: ConsentMethod;
  ageBand?: 'adult' | 'minor';
  /** Required for a minor: the app's reference to the guardian's consent. */
  guardianRef?: string;
}

export interface EnterRoomParams {
  /** 1–4294967295; wins over strRoomId. */
  roomId?: number;
  /** 1–64 characters of TRTC's set. */
  strRoomId?: string;
  /** Default 'videocall'. */
  scene?: Scene;
  /** Required in 'live' and 'voicechatroom'; default 'anchor' otherwise. */
  role?: Role;
  privateMapKey?: string;
}

export interface VideoOptions {
  /** Three encodings with RIDs q (¼), h (½), f (full), lowest first. */
  simulcast?: boolean;
  constraints?: MediaTrackConstraints;
}

/** TRTCLocalStatistics. streamType: 'big' | 'small' | 'sub'. Bitrates in kbps. */
export interface LocalStatistics {
  width: number;
  height: number;
  frameRate: number;
  videoBitrate: number;
  audioSampleRate: number;
  audioBitrate: number;
  streamType: 'big' | 'small' | 'sub';
}

/** TRTCRemoteStatistics per user and stream (losses in %, delays in ms). */
export interface RemoteStatistics {
  userId: string;
  streamType: 'big' | 'sub';
  audioPacketLoss: number;
  videoPacketLoss: number;
  width: number;
  height: number;
  frameRate: number;
  videoBitrate: number;
  audioBitrate: number;
  jitterBufferDelay: number;
  /** Estimate: this client's round trip to the server plus the jitter buffer. */
  point2PointDelay: number;
  /** Total frames decoded so far (an extra, not in TRTC). */
  framesDecoded: number;
}

/** TRTCStatistics, every 2 s while in a room. */
export interface Statistics {
  /** 0: not measurable in a browser. */
  appCpu: number;
  /** 0: not measurable in a browser. */
  systemCpu: number;
  upLoss: number;
  downLoss: number;
  rtt: number;
  sentBytes: number;
  receivedBytes: number;
  localStatistics: LocalStatistics[];
  remoteStatistics: RemoteStatistics[];
}

export interface NetworkQualityEvent {
  local: number;
  remote: Array<{ userId: string; quality: number }>;
}

export interface RemoteStreamEvent {
  userId: string;
  streamType: StreamType;
  kind: 'audio' | 'video';
  /** The publisher's track id (for setRemoteLayer). */
  trackId: string;
  /** One MediaStream per user and stream type, holding its audio and video. */
  stream: MediaStream;
  track: MediaStreamTrack;
}

/** A message as pushed, synced or paged. */
export interface IMMessage {
  conv: string;
  seq: number;
  sender: string;
  /** Unix ms. */
  at: number;
  clientMsgId: string;
  elements: IMElement[];
  cloudCustomData: string;
  needReadReceipt: boolean;
  recalled: boolean;
  recalledBy: string;
  erased: boolean;
  /** AVChatRoom: not stored, taken in arrival order. */
  live: boolean;
  /** The concatenated text elements. */
  text: string;
}

export interface IMSent {
  conv: string;
  seq: number;
  at: number;
  duplicate: boolean;
  clientMsgId: string;
}

export interface GroupInfo {
  groupId: string;
  type: string;
  name: string;
  owner: string;
  createdAt: number;
}

export interface GroupResult {
  group: GroupInfo | null;
  members: Array<{ userId: string; role: 'owner' | 'admin' | 'member'; mutedUntil: number }>;
  requests: string[];
  pending: boolean;
}

export interface ParleyEvents {
  enterRoom: { result: number };
  /** reason: 0 left, 1 removed (or consent refused), 2 room dismissed, 3 replaced by a newer login, 4 server shutdown, -1 connection lost. */
  exitRoom: { reason: number; detail: string };
  userEnter: { userId: string };
  /** reason: 0 left, 1 timeout, 2 kicked. */
  userLeave: { userId: string; reason: number };
  availability: { userId: string; kind: 'audio' | 'video'; streamType: StreamType; available: boolean };
  remoteStream: RemoteStreamEvent;
  remoteStreamRemoved: RemoteStreamEvent;
  roleChanged: { userId: string; role: number };
  statistics: Statistics;
  networkQuality: NetworkQualityEvent;
  customCmd: { userId: string; cmdId: number; seq: number; data: Uint8Array };
  roomChat: { userId: string; seq: number; at: number; elements: IMElement[]; text: string; cloudCustomData: string };
  message: IMMessage;
  receipt: { conv: string; user: string; readSeq: number };
  recalled: IMMessage;
  groupEvent: { groupId: string; event: 'joined' | 'left' | 'kicked' | 'dismissed'; users: string[] };
  signal: { from: string; seq: number; data: Uint8Array };
  error: ParleyError;
  /** The server refused the consent (-4008) or wants guardian consent (-4010): init() fails until a fresh grant. */
  consentRequired: { code: number; message: string };
  imConnectionLost: {};
  imConnectionRecovered: {};
}

export declare class Parley {
  constructor(options?: ParleyOptions);

  static readonly version: string;
  /** The consent grant kept in storage (default localStorage), or null. */
  static storedConsent(storage?: ParleyStorage): ConsentGrant | null;

  readonly userId: string | undefined;
  /** The random install id ('' before init()). */
  readonly deviceId: string;
  readonly inRoom: boolean;
  /** The publisher RTCPeerConnection of the current room (null before the first publish). */
  readonly publisherPC: RTCPeerConnection | null;
  /** The subscriber RTCPeerConnection of the current room (null before the server's first offer). */
  readonly subscriberPC: RTCPeerConnection | null;
  readonly imLoggedIn: boolean;
  readonly consent: ConsentGrant | null;
  readonly audioMuted: boolean;
  readonly videoMuted: boolean;

  on<E extends keyof ParleyEvents>(event: E, fn: (payload: ParleyEvents[E]) => void): this;
  off<E extends keyof ParleyEvents>(event: E, fn?: (payload: ParleyEvents[E]) => void): this;

  /** Records consent locally (storage); sends nothing. */
  grantConsent(policyVersion: string, options: GrantOptions): ConsentGrant;
  /** Opens the SDK after consent; no network I/O. Throws -4008 without a grant, -4010 for a minor without guardianRef. */
  init(): Promise<void>;

  /** Resolves with the join time in ms. */
  enterRoom(params: EnterRoomParams): Promise<number>;
  /** Leaves the room; resolves at once when not in one. */
  exitRoom(): Promise<void>;
  switchRole(role: Role): Promise<void>;

  /** Needs audio_enable; publishes when in a room as anchor. Resolves with the local preview stream. */
  startLocalAudio(options?: { constraints?: MediaTrackConstraints }): Promise<MediaStream>;
  stopLocalAudio(): Promise<void>;
  /** Needs streams_config with "main". */
  startLocalVideo(options?: VideoOptions): Promise<MediaStream>;
  stopLocalVideo(): Promise<void>;
  /** Needs streams_config with "sub". */
  startScreenShare(options?: VideoOptions): Promise<MediaStream>;
  stopScreenShare(): Promise<void>;
  /** Never rejects: failures go to the 'error' event. */
  muteLocalAudio(muted: boolean): Promise<void>;
  muteLocalVideo(muted: boolean): Promise<void>;
  setRemoteLayer(userId: string, trackId: string, layer: Layer): Promise<void>;

  /** Needs ext.rts and purpose "signaling". cmdId 1–10, 1–1024 bytes. */
  sendCustomCmd(cmdId: number, data: Uint8Array | ArrayBuffer | string, options?: { reliable?: boolean; ordered?: boolean }): Promise<void>;
  /** Room chat, relayed and never stored; needs purpose "im". */
  sendRoomChat(textOrElements: string | IMElement[], options?: { cloudCustomData?: string }): Promise<{ conv: string; seq: number; at: number }>;

  /** Logs in to messaging on its own connection; needs purpose "im". */
  loginIM(options?: { cursors?: Record<string, number> }): Promise<void>;
  logoutIM(): Promise<void>;
  sendMessage(message: {
    toUser?: string;
    groupId?: string;
    text?: string;
    elements?: IMElement[];
    clientMsgId?: string;
    cloudCustomData?: string;
    needReadReceipt?: boolean;
  }): Promise<IMSent>;
  /** Newest first. The newest page (no beforeSeq) marks its messages as shown for 'message'. */
  getHistory(conv: string, options?: { beforeSeq?: number; limit?: number }): Promise<IMMessage[]>;
  conversations(): Promise<Array<{ conv: string; lastSeq: number; readSeq: number; unread: number }>>;
  markRead(conv: string, seq: number): Promise<number>;
  readBy(conv: string, seq: number): Promise<string[]>;
  recallMessage(conv: string, seq: number): Promise<IMMessage>;
  createGroup(group: { type?: 'Work' | 'Public' | 'Meeting' | 'AVChatRoom' | 'Community'; name?: string; groupId?: string }): Promise<GroupInfo>;
  joinGroup(groupId: string): Promise<{ pending: boolean }>;
  leaveGroup(groupId: string): Promise<void>;
  groupOp(op: 'create' | 'join' | 'leave' | 'dismiss' | 'invite' | 'kick' | 'approve' | 'reject' | 'mute' | 'set_role' | 'members' | 'info' | 'requests',
    fields?: { groupId?: string; type?: string; name?: string; userId?: string; role?: 'admin' | 'member'; muteSeconds?: number }): Promise<GroupResult>;
  /** Needs ext.rts and purpose "signaling". */
  sendSignal(toUser: string, data: Uint8Array | ArrayBuffer | string, options?: { reliable?: boolean }): Promise<void>;
  /** Last seq delivered per conversation; pass back to loginIM({cursors}). */
  imCursors(): Record<string, number>;

  /** Withdraws consent, closes everything, forgets the grant and install id; the instance refuses further calls. */
  stop(): Promise<void>;
}

export default Parley;
