/**
 * The ristretto255 group (RFC 9496) and its canonical encodings (docs/protocol.md §1).
 *
 * Points are `@noble/curves` ristretto255 points; scalars are `bigint`s in [0, ℓ).
 * Byte strings in JSON are lowercase hex of an exact length: anything else is rejected.
 *
 * Constant time: scalar multiplications by secret scalars (nonces, simulated proof values)
 * use noble's constant-time `multiply`; verification uses the faster `multiplyUnsafe`, which
 * only ever sees public values. JavaScript `bigint` arithmetic on scalars (s = u + c·r) is not
 * constant time; nothing in the browser can fix that, and the values involved never leave the
 * voter's device.
 */
import { ristretto255 } from "@noble/curves/ed25519.js";
import { randomBytes } from "@noble/hashes/utils.js";

export const Point = ristretto255.Point;

/** The prime order ℓ of the group. */
export const ORDER = 2n ** 252n + 27742317777372353535851937790883648493n;
export const POINT_BYTES = 32;
export const SCALAR_BYTES = 32;

export const GENERATOR = Point.BASE;
export const IDENTITY = Point.ZERO;

export class GroupError extends Error {
  constructor(message) {
    super(message);
    this.name = "GroupError";
  }
}

// --- hex ----------------------------------------------------------------------------------

const HEX_RE = /^(?:[0-9a-f]{2})*$/;

/** Lowercase hex of bytes. */
export function toHex(bytes) {
  let out = "";
  for (const byte of bytes) out += byte.toString(16).padStart(2, "0");
  return out;
}

/**
 * Decode lowercase hex; `size` (bytes), when given, is enforced.
 * Upper/mixed case is non-canonical (§1) and rejected.
 */
export function fromHex(text, size) {
  if (typeof text !== "string" || !HEX_RE.test(text)) {
    throw new GroupError("expected lowercase hex");
  }
  if (size !== undefined && text.length !== 2 * size) {
    throw new GroupError(`expected ${2 * size} hex digits`);
  }
  const out = new Uint8Array(text.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(text.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** Accept a Uint8Array of `size` bytes or its lowercase hex. */
export function asBytes(value, size, name = "value") {
  if (value instanceof Uint8Array) {
    if (size !== undefined && value.length !== size) {
      throw new GroupError(`${name} must be ${size} bytes`);
    }
    return value;
  }
  try {
    return fromHex(value, size);
  } catch {
    throw new GroupError(`${name} must be ${size ?? "some"} bytes as lowercase hex`);
  }
}

/** Equality of byte strings whose running time depends only on their lengths. */
export function bytesEqual(a, b) {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

/** Throw unless `doc` is a plain object with exactly `keys` (sorted list). */
export function requireKeys(doc, keys, what) {
  if (doc === null || typeof doc !== "object" || Array.isArray(doc)) {
    throw new GroupError(`${what} is an object`);
  }
  const found = Object.keys(doc).sort();
  if (found.length !== keys.length || found.some((k, i) => k !== keys[i])) {
    throw new GroupError(`${what} has exactly the members ${keys.join(", ")}`);
  }
}

// --- points -------------------------------------------------------------------------------

/**
 * Decode a canonical 32-byte encoding (RFC 9496 §4.3.1). Rejects bit 255 explicitly (noble
 * rejects it too, via its round-trip check; the protocol requires it either way) and every
 * other non-canonical or invalid encoding.
 */
export function decodePoint(bytes) {
  if (!(bytes instanceof Uint8Array) || bytes.length !== POINT_BYTES) {
    throw new GroupError("a point encoding is 32 bytes");
  }
  if (bytes[31] & 0x80) throw new GroupError("not a canonical ristretto255 encoding");
  try {
    return Point.fromBytes(bytes);
  } catch {
    throw new GroupError("not a canonical ristretto255 encoding");
  }
}

export function encodePoint(point) {
  return point.toBytes();
}

export function pointFromHex(text) {
  return decodePoint(fromHex(text, POINT_BYTES));
}

export function pointToHex(point) {
  return toHex(point.toBytes());
}

export function isIdentity(point) {
  return point.is0();
}

/** Group equality (the RFC 9496 equality test, no encoding needed). */
export function pointsEqual(p, q) {
  return p.equals(q);
}

// --- scalars ------------------------------------------------------------------------------

export function mod(value) {
  const r = value % ORDER;
  return r < 0n ? r + ORDER : r;
}

/** Decode 32 bytes little-endian; values >= ℓ are non-canonical and rejected. */
export function decodeScalar(bytes) {
  if (!(bytes instanceof Uint8Array) || bytes.length !== SCALAR_BYTES) {
    throw new GroupError("a scalar encoding is 32 bytes");
  }
  const value = leToBigint(bytes);
  if (value >= ORDER) throw new GroupError("non-canonical scalar encoding");
  return value;
}

export function encodeScalar(value) {
  if (typeof value !== "bigint" || value < 0n || value >= ORDER) {
    throw new GroupError("a scalar is a bigint in [0, l)");
  }
  const out = new Uint8Array(SCALAR_BYTES);
  let v = value;
  for (let i = 0; i < SCALAR_BYTES; i++) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

export function scalarFromHex(text) {
  return decodeScalar(fromHex(text, SCALAR_BYTES));
}

export function scalarToHex(value) {
  return toHex(encodeScalar(value));
}

/** Reduce 64 uniform bytes (a SHA-512 digest) modulo ℓ, read little-endian. */
export function scalarFromUniformBytes(bytes) {
  if (!(bytes instanceof Uint8Array) || bytes.length !== 64) {
    throw new GroupError("uniform scalar input is 64 bytes");
  }
  return leToBigint(bytes) % ORDER;
}

/** A uniformly random scalar in [1, ℓ) from the platform CSPRNG (§1, "Randomness"). */
export function randomScalar() {
  for (;;) {
    const value = scalarFromUniformBytes(randomBytes(64));
    if (value !== 0n) return value;
  }
}

function leToBigint(bytes) {
  let value = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) value = (value << 8n) | BigInt(bytes[i]);
  return value;
}

// --- scalar multiplication ----------------------------------------------------------------

/**
 * k·P for a secret k (constant-time ladder). noble refuses k = 0, so the identity cases are
 * handled here, as the protocol requires (§1: "handle the identity explicitly").
 */
export function mulSecret(point, k) {
  const scalar = mod(k);
  if (scalar === 0n || point.is0()) return IDENTITY;
  return point.multiply(scalar);
}

/** k·P for public values (verification): faster, not constant time. */
export function mulPublic(point, k) {
  const scalar = mod(k);
  if (scalar === 0n) return IDENTITY;
  return point.multiplyUnsafe(scalar);
}

/** v·G for a small public integer (an encoded vote or an allowed total). */
export function smallBaseMul(value) {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new GroupError("a plaintext is a non-negative integer");
  }
  return mulPublic(GENERATOR, BigInt(value));
}
