/**
 * Domain-separated, length-prefixed hashing and RFC 8785 canonical JSON (docs/protocol.md §2).
 *
 *     frame(tag, p1, …, pn) = u32be(len(tag)) ‖ tag ‖ u32be(len(p1)) ‖ p1 ‖ … ‖ u32be(len(pn)) ‖ pn
 *
 * Hash parts are converted by `encodePart`:
 *   - `Uint8Array`  → itself (pass scalars as `encodeScalar(k)`: 32 bytes little-endian)
 *   - `string`      → UTF-8
 *   - `number`      → u64be; must be a non-negative safe integer (protocol integers are ≤ 2^53 − 1)
 *   - ristretto255 point → its canonical 32-byte encoding
 * A `bigint` is refused on purpose: it could be read either as an integer (u64) or as a
 * scalar (32 bytes LE), and guessing wrong would silently change every challenge.
 */
import { sha256, sha512 } from "@noble/hashes/sha2.js";
import { ristretto255_hasher } from "@noble/curves/ed25519.js";
import { Point, scalarFromUniformBytes } from "./group.js";

const utf8 = new TextEncoder();

export class HashingError extends Error {
  constructor(message) {
    super(message);
    this.name = "HashingError";
  }
}

/** The byte form of one hash part (table in §2.1). */
export function encodePart(part) {
  if (part instanceof Uint8Array) return part;
  if (part instanceof Point) return part.toBytes();
  if (typeof part === "string") return encodeText(part);
  if (typeof part === "number") {
    if (!Number.isSafeInteger(part) || part < 0) {
      throw new HashingError("integers are hashed as u64: non-negative safe integers only");
    }
    return u64be(part);
  }
  throw new HashingError(`cannot hash a ${typeof part} (pass scalars as encodeScalar(k))`);
}

/** UTF-8 of a well-formed string (lone surrogates are not text and are refused). */
export function encodeText(text) {
  if (!isWellFormed(text)) throw new HashingError("string is not well-formed UTF-16");
  return utf8.encode(text);
}

/** No lone surrogates (String.prototype.isWellFormed, which older browsers lack). */
function isWellFormed(text) {
  return !/\p{Surrogate}/u.test(text);
}

export function u32be(n) {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, n, false);
  return out;
}

export function u64be(n) {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, BigInt(n), false);
  return out;
}

/** The framed input of §2.1. The tag is ASCII. */
export function frame(tag, parts) {
  if (typeof tag !== "string" || !/^[\x20-\x7e]*$/.test(tag)) {
    throw new HashingError("a tag is a printable ASCII string");
  }
  const pieces = [encodeText(tag), ...parts.map(encodePart)];
  let total = 0;
  for (const piece of pieces) total += 4 + piece.length;
  const out = new Uint8Array(total);
  let offset = 0;
  for (const piece of pieces) {
    out.set(u32be(piece.length), offset);
    out.set(piece, offset + 4);
    offset += 4 + piece.length;
  }
  return out;
}

export function hash512(tag, ...parts) {
  return sha512(frame(tag, parts));
}

export function hash256(tag, ...parts) {
  return sha256(frame(tag, parts));
}

/** int_le(H512(tag, parts…)) mod ℓ: every Fiat–Shamir challenge and the ballot nonces. */
export function hashToScalar(tag, ...parts) {
  return scalarFromUniformBytes(hash512(tag, ...parts));
}

/** RFC 9496 §4.3.4 one-way map ("from_uniform_bytes") of H512(tag, parts…). */
export function hashToPoint(tag, ...parts) {
  return ristretto255_hasher.deriveToCurve(hash512(tag, ...parts));
}

// --- RFC 8785 canonical JSON --------------------------------------------------------------

const SHORT_ESCAPES = { 0x08: "\\b", 0x09: "\\t", 0x0a: "\\n", 0x0c: "\\f", 0x0d: "\\r" };

/**
 * RFC 8785 §3.2.2.2 string serialisation: escape `"`, `\` and U+0000–U+001F (the five short
 * forms where they exist, else `\u00xx` in lowercase hex); everything else, U+007F, U+2028,
 * U+2029 and non-ASCII included, is written as itself.
 */
function serializeString(text) {
  if (!isWellFormed(text)) throw new HashingError("string is not well-formed UTF-16 (I-JSON)");
  let out = '"';
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code === 0x22) out += '\\"';
    else if (code === 0x5c) out += "\\\\";
    else if (code < 0x20) out += SHORT_ESCAPES[code] ?? `\\u${code.toString(16).padStart(4, "0")}`;
    else out += text[i];
  }
  return out + '"';
}

/** Object members sorted by the UTF-16 code units of their names (RFC 8785 §3.2.3). */
function compareUtf16(a, b) {
  // The default string comparison of JavaScript *is* code-unit order; spelled out for clarity.
  if (a === b) return 0;
  return a < b ? -1 : 1;
}

function serialize(value) {
  if (value === null) return "null";
  if (value === true) return "true";
  if (value === false) return "false";
  if (typeof value === "string") return serializeString(value);
  if (typeof value === "number") {
    // The protocol uses integers only (§1); they serialise as plain decimal digits.
    if (!Number.isSafeInteger(value)) {
      throw new HashingError("only integers within ±(2^53 − 1) are allowed in documents");
    }
    return Object.is(value, -0) ? "0" : String(value);
  }
  if (Array.isArray(value)) return `[${value.map(serialize).join(",")}]`;
  if (typeof value === "object" && isPlainObject(value)) {
    const keys = Object.keys(value).sort(compareUtf16);
    const members = keys.map((key) => {
      if (value[key] === undefined) throw new HashingError(`member ${key} is undefined`);
      return `${serializeString(key)}:${serialize(value[key])}`;
    });
    return `{${members.join(",")}}`;
  }
  throw new HashingError(`cannot serialise a ${typeof value} as JSON`);
}

function isPlainObject(value) {
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** JCS(x) as a string. */
export function canonicalJsonString(value) {
  return serialize(value);
}

/** JCS(x) as UTF-8 bytes: what the protocol hashes and stores. */
export function canonicalJson(value) {
  return utf8.encode(serialize(value));
}
