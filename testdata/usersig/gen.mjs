// gen.mjs writes testdata/usersig/vectors.json: UserSigs and PrivateMapKeys
// made by Tencent's official Node library (tls-sig-api-v2 1.0.2), which the
// Go tests in internal/auth verify, and Parley-generated tokens checked by
// that same library. See README.md beside this file.
//
//   mkdir -p /tmp/tlsnode && cd /tmp/tlsnode && npm init -y && npm install tls-sig-api-v2@1.0.2
//   node testdata/usersig/gen.mjs            # from the repository root
//
// TLS_SIG_API_V2_DIR points at another copy of the package (default
// /tmp/tlsnode/node_modules/tls-sig-api-v2). PARLEY_TOKENS names a JSON file
// of Parley tokens; by default the script runs
// `go run ./internal/auth/internal/vecgen` in the repository.
//
// The official library reads the clock with Date.now(); the script pins it
// per token so the output is reproducible. Nothing else in the library is
// changed.

import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { inflateSync } from "node:zlib";

const LIB_VERSION = "1.0.2";
const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, "..", "..");
const libDir = path.resolve(
  process.env.TLS_SIG_API_V2_DIR ?? "/tmp/tlsnode/node_modules/tls-sig-api-v2",
);
const libFile = path.join(libDir, "TLSSigAPIv2.js");

const pkg = JSON.parse(readFileSync(path.join(libDir, "package.json"), "utf8"));
if (pkg.name !== "tls-sig-api-v2" || pkg.version !== LIB_VERSION) {
  throw new Error(`${libDir} is ${pkg.name}@${pkg.version}, want tls-sig-api-v2@${LIB_VERSION}`);
}
const TLSSigAPIv2 = createRequire(import.meta.url)(libFile);

// Clock: 2026-01-01T00:00:00Z. The .999 s offset checks that TLS.time and
// the userbuf expiry are truncated to whole seconds.
const T0 = 1767225600;
const README_KEY = "5bd2850fff3ecb11d7c805251c51ee463a25727bddc2385f3fa8bfee1bb93b5e"; // from the library's TLSSigAPITest.js

// Inputs for the official tokens. kind selects the library call.
const officialSpecs = [
  { name: "official usersig (library test inputs)", kind: "usersig", sdkappid: 1400000000, key: README_KEY, user: "xiaojun", expire: 86400 * 180, clock_ms: T0 * 1000 + 999 },
  { name: "official usersig other app, 5 min", kind: "usersig", sdkappid: 1400123456, key: "0f1e2d3c4b5a69788796a5b4c3d2e1f0", user: "user_2-B", expire: 300, clock_ms: (T0 + 86400) * 1000 },
  { name: "official usersig non-1400 app, 32-byte user, 1 s", kind: "usersig", sdkappid: 20000001, key: "k", user: "abcdefghijklmnopqrstuvwxyz012345", expire: 1, clock_ms: (T0 + 12345) * 1000 + 1 },
  { name: "official usersig with userbuf", kind: "usersig_userbuf", sdkappid: 1400000000, key: README_KEY, user: "bob", expire: 3600, userbuf: Buffer.from("parley-userbuf\x00\xff", "latin1").toString("base64"), clock_ms: T0 * 1000 },
  { name: "official usersig with empty userbuf", kind: "usersig_userbuf", sdkappid: 1400000000, key: README_KEY, user: "bob", expire: 3600, userbuf: "", clock_ms: T0 * 1000 },
  { name: "official privatemapkey numeric room (library test inputs)", kind: "privatemapkey", sdkappid: 1400000000, key: README_KEY, user: "xiaojun", expire: 86400 * 180, room_id: 10000, privileges: 255, clock_ms: T0 * 1000 + 999 },
  { name: "official privatemapkey max numeric room, audience", kind: "privatemapkey", sdkappid: 1400123456, key: "0f1e2d3c4b5a69788796a5b4c3d2e1f0", user: "viewer_9", expire: 300, room_id: 4294967295, privileges: 42, clock_ms: (T0 + 600) * 1000 },
  { name: "official privatemapkey string room of digits (library test inputs)", kind: "privatemapkey", sdkappid: 1400000000, key: README_KEY, user: "xiaojun", expire: 86400 * 180, str_room_id: "1000000040", privileges: 255, clock_ms: T0 * 1000 + 999 },
  { name: "official privatemapkey string room, all allowed symbols", kind: "privatemapkey", sdkappid: 1400000000, key: README_KEY, user: "xiaojun", expire: 300, str_room_id: "room A!#$%&()+-:;<=.>?@[]^_{}|~,", privileges: 42, clock_ms: T0 * 1000 },
];

// withClock runs fn with Date.now() pinned to ms.
function withClock(ms, fn) {
  const real = Date.now;
  Date.now = () => ms;
  try {
    return fn();
  } finally {
    Date.now = real;
  }
}

// officialToken calls the official library for spec.
function officialToken(spec) {
  const api = new TLSSigAPIv2.Api(spec.sdkappid, spec.key);
  switch (spec.kind) {
    case "usersig":
      return api.genUserSig(spec.user, spec.expire);
    case "usersig_userbuf":
      return api.genSig(spec.user, spec.expire, Buffer.from(spec.userbuf, "base64"));
    case "privatemapkey":
      return spec.room_id
        ? api.genPrivateMapKey(spec.user, spec.expire, spec.room_id, spec.privileges)
        : api.genPrivateMapKeyWithStringRoomID(spec.user, spec.expire, spec.str_room_id, spec.privileges);
    default:
      throw new Error(`unknown kind ${spec.kind}`);
  }
}

// decode undoes Tencent's base64 alphabet and zlib, returning the JSON
// document (node's zlib accepts every compression level).
function decode(token) {
  const std = token.replace(/\*/g, "+").replace(/-/g, "/").replace(/_/g, "=");
  return JSON.parse(inflateSync(Buffer.from(std, "base64")).toString("utf8"));
}

// canonical renders a document with sorted keys for comparison.
function canonical(doc) {
  return JSON.stringify(Object.keys(doc).sort().map((k) => [k, doc[k]]));
}

const official = officialSpecs.map((spec) => {
  const token = withClock(spec.clock_ms, () => officialToken(spec));
  const doc = decode(token);
  const { clock_ms, ...inputs } = spec;
  return { ...inputs, time: doc["TLS.time"], token };
});

// Parley's tokens, checked two ways with the official library:
//  1. its own HMAC routine (Api.prototype._hmacsha256) recomputes TLS.sig
//     from the document's fields;
//  2. its generator, given the same inputs and the token's TLS.time as the
//     clock, produces the same signed document (field for field, which also
//     compares the PrivateMapKey userbuf byte for byte).
// The library has no verify function; these two checks are what one would do.
const parleyJSON = process.env.PARLEY_TOKENS
  ? readFileSync(process.env.PARLEY_TOKENS, "utf8")
  : execFileSync("go", ["run", "./internal/auth/internal/vecgen"], { cwd: repo, encoding: "utf8" });
let failures = 0;
const parley = JSON.parse(parleyJSON).map((v) => {
  const doc = decode(v.token);
  const api = new TLSSigAPIv2.Api(v.sdkappid, v.key);
  const ub = "TLS.userbuf" in doc ? doc["TLS.userbuf"] : null;
  const hmacOK =
    doc["TLS.ver"] === "2.0" &&
    doc["TLS.sdkappid"] === v.sdkappid &&
    api._hmacsha256(doc["TLS.identifier"], doc["TLS.time"], doc["TLS.expire"], ub) === doc["TLS.sig"];
  const again = decode(withClock(doc["TLS.time"] * 1000, () => officialToken(v)));
  const sameDoc = canonical(again) === canonical(doc);
  const ok = hmacOK && sameDoc;
  if (!ok) {
    failures++;
    console.error(`NOT verified: ${v.name} (hmac ${hmacOK}, same document ${sameDoc})`);
  }
  return { ...v, verified_by_official: ok };
});

const out = {
  comment: "Generated by testdata/usersig/gen.mjs; see README.md. Keys are test keys, not secrets.",
  library: {
    name: pkg.name,
    version: pkg.version,
    file: "TLSSigAPIv2.js",
    sha256: createHash("sha256").update(readFileSync(libFile)).digest("hex"),
  },
  official,
  parley_generated: parley,
};
writeFileSync(path.join(here, "vectors.json"), JSON.stringify(out, null, 2) + "\n");
console.log(`wrote ${official.length} official and ${parley.length} Parley vectors (${failures} Parley tokens not verified)`);
process.exit(failures ? 1 : 0);
