// Parley browser SDK: errors.
//
// Every failure the SDK reports is a ParleyError with a numeric code. Codes
// the server sends are passed through unchanged (docs/protocol.md: negative
// TRTC and Parley signaling codes, positive Tencent IM codes); failures the
// SDK detects itself reuse the server's code for the same condition where
// one exists (-4008 consent, -4009 switch off, -4002 not in a room …) and
// otherwise use the TRTC device codes or Parley's -41xx client range below.

/**
 * Error codes used by the SDK. Server replies may carry any other code of
 * docs/protocol.md.
 * @readonly
 * @enum {number}
 */
export const ErrorCode = Object.freeze({
  // Server and shared codes (protocol/codes.go).
  ENTER_ROOM_FAILED: -3301,
  SDKAPPID_INVALID: -3317,
  ROOM_ID_INVALID: -3318,
  USER_ID_INVALID: -3319,
  USER_SIG_INVALID: -3320,
  PRIVILEGE_DENIED: -100006,
  BAD_REQUEST: -4000,
  UNKNOWN_TYPE: -4001,
  NOT_IN_ROOM: -4002,
  ALREADY_IN_ROOM: -4003,
  PUBLISH_NOT_ALLOWED: -4004,
  NEGOTIATION_FAILED: -4005,
  ROOM_FULL: -4006,
  RATE_LIMITED: -4007,
  CONSENT_REQUIRED: -4008,
  FIELD_REJECTED: -4009,
  GUARDIAN_REQUIRED: -4010,
  IM_NOT_LOGGED_IN: -4011,
  IM_ALREADY_LOGGED_IN: -4012,
  PEER_OFFLINE: -4013,
  INTERNAL: -4500,
  // Local media (TRTC's device error codes).
  CAMERA_START_FAILED: -1301,
  MIC_START_FAILED: -1302,
  CAMERA_NOT_AUTHORIZED: -1314,
  MIC_NOT_AUTHORIZED: -1317,
  // Client-side conditions with no server equivalent.
  CONNECTION_LOST: -4100, // the WebSocket closed while a request waited
  TIMEOUT: -4101, // no reply within the request's time limit
  CLOSED: -4102, // the instance was stopped (stop()) and refuses calls
  UNSUPPORTED: -4103, // the browser lacks an API the call needs
  PROTOCOL: -4104, // the server sent something docs/protocol.md does not allow
});

/**
 * A failure reported by the SDK or refused by the server.
 */
export class ParleyError extends Error {
  /**
   * @param {number} code one of ErrorCode, or a code from the server
   * @param {string} message what failed and why
   * @param {{cause?: unknown, field?: string, requestType?: string}} [extra]
   */
  constructor(code, message, extra = {}) {
    super(message, extra.cause === undefined ? undefined : { cause: extra.cause });
    this.name = 'ParleyError';
    /** @type {number} */
    this.code = code;
    /** The telemetry field a -4009 refusal named, when known. @type {string|undefined} */
    this.field = extra.field;
    /** The frame type of the request that failed, when the server refused one. @type {string|undefined} */
    this.requestType = extra.requestType;
  }
}
