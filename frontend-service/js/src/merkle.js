/**
 * The bulletin board's Merkle log (RFC 9162 §2.1 trees, docs/protocol.md §9) and its signed
 * tree heads.
 *
 * Hashes are accepted as 32-byte `Uint8Array`s or lowercase hex. Verification functions never
 * throw: any malformed input simply fails.
 */
import { ed25519 } from "@noble/curves/ed25519.js";
import { sha256, sha512 } from "@noble/hashes/sha2.js";
import { asBytes, bytesEqual, fromHex } from "./group.js";
import { encodeText, u64be } from "./hashing.js";

export const HASH_SIZE = 32;
export const EMPTY_ROOT = sha256(new Uint8Array(0));
export const TREE_HEAD_TAG = "securevote/v1/tree-head";
export const MAX_JSON_INT = Number.MAX_SAFE_INTEGER; // 2^53 − 1

const concat = (...parts) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
};

const hash32 = (value, name) => asBytes(value, HASH_SIZE, name);
const isSize = (n) => Number.isSafeInteger(n) && n >= 0;
/** n >> 1 for sizes up to 2^53 − 1 (JavaScript's `>>` would truncate them to 32 bits). */
const half = (n) => Math.floor(n / 2);
const isPowerOfTwo = (n) => {
  while (n > 1 && n % 2 === 0) n /= 2;
  return n === 1;
};

/** SHA-256(0x00 ‖ d) for a leaf input (any byte string; for a ballot, its tracker). */
export function leafHash(data) {
  const bytes = data instanceof Uint8Array ? data : fromHex(data);
  return sha256(concat(Uint8Array.of(0), bytes));
}

/** SHA-256(0x01 ‖ l ‖ r). */
export function nodeHash(left, right) {
  return sha256(concat(Uint8Array.of(1), hash32(left, "left"), hash32(right, "right")));
}

/** k(n): the largest power of two strictly smaller than n (n >= 2). */
function split(n) {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/** MTH of a list of leaf inputs (§9.3). */
export function merkleRoot(leaves) {
  return mth(leaves.map(leafHash));
}

function mth(hashes) {
  if (hashes.length === 0) return EMPTY_ROOT;
  if (hashes.length === 1) return hashes[0];
  const k = split(hashes.length);
  return nodeHash(mth(hashes.slice(0, k)), mth(hashes.slice(k)));
}

/** PATH(m, D[n]) of §9.4 over the first `size` leaf inputs. */
export function inclusionProof(leaves, index, size = leaves.length) {
  if (!isSize(index) || !isSize(size) || index >= size || size > leaves.length) {
    throw new RangeError("need 0 <= index < size <= number of leaves");
  }
  const path = (m, hashes) => {
    if (hashes.length === 1) return [];
    const k = split(hashes.length);
    return m < k
      ? [...path(m, hashes.slice(0, k)), mth(hashes.slice(k))]
      : [...path(m - k, hashes.slice(k)), mth(hashes.slice(0, k))];
  };
  return path(index, leaves.slice(0, size).map(leafHash));
}

/** PROOF(m, D[n]) of §9.5 (empty for the trivial cases m = 0 and m = n). */
export function consistencyProof(leaves, oldSize, newSize = leaves.length) {
  if (!isSize(oldSize) || !isSize(newSize) || oldSize > newSize || newSize > leaves.length) {
    throw new RangeError("need 0 <= old size <= new size <= number of leaves");
  }
  if (oldSize === 0 || oldSize === newSize) return [];
  const sub = (m, hashes, complete) => {
    if (m === hashes.length) return complete ? [] : [mth(hashes)];
    const k = split(hashes.length);
    return m <= k
      ? [...sub(m, hashes.slice(0, k), complete), mth(hashes.slice(k))]
      : [...sub(m - k, hashes.slice(k), false), mth(hashes.slice(0, k))];
  };
  return sub(oldSize, leaves.slice(0, newSize).map(leafHash), true);
}

function proofHashes(proof) {
  if (!Array.isArray(proof)) throw new TypeError("a proof is a list");
  return proof.map((p) => hash32(p, "proof entry"));
}

/** RFC 9162 §2.1.3.2, as in §9.4. */
export function verifyInclusion({ leafHash: leaf, index, size, proof, root }) {
  try {
    if (!isSize(index) || !isSize(size) || index >= size) return false;
    const hashes = proofHashes(proof);
    let r = hash32(leaf, "leaf hash");
    const expected = hash32(root, "root");
    let fn = index;
    let sn = size - 1;
    for (const p of hashes) {
      if (sn === 0) return false;
      if (fn % 2 === 1 || fn === sn) {
        r = nodeHash(p, r);
        // then, if fn is even, shift both until fn is odd or zero
        while (fn % 2 === 0 && fn !== 0) [fn, sn] = [half(fn), half(sn)];
      } else {
        r = nodeHash(r, p);
      }
      [fn, sn] = [half(fn), half(sn)];
    }
    return sn === 0 && bytesEqual(r, expected);
  } catch {
    return false;
  }
}

/** RFC 9162 §2.1.4.2 with the trivial cases of §9.5. */
export function verifyConsistency({ oldSize, newSize, oldRoot, newRoot, proof }) {
  try {
    if (!isSize(oldSize) || !isSize(newSize) || oldSize > newSize) return false;
    const hashes = proofHashes(proof);
    const oldR = hash32(oldRoot, "old root");
    const newR = hash32(newRoot, "new root");
    if (oldSize === 0) {
      return (
        hashes.length === 0 &&
        bytesEqual(oldR, EMPTY_ROOT) &&
        (newSize !== 0 || bytesEqual(newR, EMPTY_ROOT))
      );
    }
    if (oldSize === newSize) return hashes.length === 0 && bytesEqual(oldR, newR);
    if (hashes.length === 0) return false;
    const path = isPowerOfTwo(oldSize) ? [oldR, ...hashes] : hashes;
    let fn = oldSize - 1;
    let sn = newSize - 1;
    while (fn % 2 === 1) {
      [fn, sn] = [half(fn), half(sn)];
    }
    let fr = path[0];
    let sr = path[0];
    for (const c of path.slice(1)) {
      if (sn === 0) return false;
      if (fn % 2 === 1 || fn === sn) {
        fr = nodeHash(c, fr);
        sr = nodeHash(c, sr);
        // then, if fn is even, shift both until fn is odd or zero
        while (fn % 2 === 0 && fn !== 0) [fn, sn] = [half(fn), half(sn)];
      } else {
        sr = nodeHash(sr, c);
      }
      [fn, sn] = [half(fn), half(sn)];
    }
    return bytesEqual(fr, oldR) && bytesEqual(sr, newR) && sn === 0;
  } catch {
    return false;
  }
}

// --- signed tree heads (§9.6) -------------------------------------------------------------

/** The exact 103-byte message the board signs. */
export function treeHeadMessage({ electionHash, size, root, timestamp }) {
  if (!isSize(size) || !isSize(timestamp)) {
    throw new RangeError("size and timestamp are integers in [0, 2^53 - 1]");
  }
  return concat(
    encodeText(TREE_HEAD_TAG),
    hash32(electionHash, "election hash"),
    u64be(size),
    hash32(root, "root"),
    u64be(timestamp),
  );
}

const HEAD_KEYS = ["election_hash", "root", "signature", "size", "timestamp"];

/**
 * Parse the JSON form strictly: exactly five members, lowercase hex of the right length,
 * integer size and timestamp in [0, 2^53 − 1]. Throws on anything else.
 */
export function parseTreeHead(head) {
  const ok =
    head !== null &&
    typeof head === "object" &&
    !Array.isArray(head) &&
    Object.keys(head).sort().join(",") === HEAD_KEYS.join(",");
  if (!ok) throw new TypeError(`a tree head has exactly the members ${HEAD_KEYS.join(", ")}`);
  if (!isSize(head.size) || !isSize(head.timestamp)) {
    throw new TypeError("size and timestamp are integers in [0, 2^53 - 1]");
  }
  return {
    electionHash: fromHex(head.election_hash, 32),
    size: head.size,
    root: fromHex(head.root, 32),
    timestamp: head.timestamp,
    signature: fromHex(head.signature, 64),
  };
}

/** Little-endian bytes → bigint. */
function leNumber(bytes) {
  let value = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) value = (value << 8n) | BigInt(bytes[i]);
  return value;
}

const ED25519_ORDER = 2n ** 252n + 27742317777372353535851937790883648493n;

/**
 * Ed25519 verification with libsodium's rules (`crypto_sign_verify_detached`), which §9.6
 * makes normative. noble's `{ zip215: false }` already rejects non-canonical S, A and R
 * encodings and small-order A, but it checks the *cofactored* equation [8]SB = [8](R + kA)
 * and accepts a small-order R, where libsodium rejects a small-order R and requires
 * encode(SB − kA) == R exactly. Without the two extra checks below, the board key holder
 * could craft a head (R + a torsion point) that browsers accept and the Python verifier
 * rejects.
 */
export function verifyEd25519(signature, message, publicKey) {
  const sig = asBytes(signature, 64, "signature");
  const pub = hash32(publicKey, "public key");
  if (!ed25519.verify(sig, message, pub, { zip215: false })) return false;
  const rBytes = sig.subarray(0, 32);
  const R = ed25519.Point.fromBytes(rBytes, false);
  if (R.isSmallOrder()) return false;
  const A = ed25519.Point.fromBytes(pub, false);
  const k = leNumber(sha512(concat(rBytes, pub, message))) % ED25519_ORDER;
  const S = leNumber(sig.subarray(32)); // < ℓ: checked by ed25519.verify
  const Rcheck = ed25519.Point.BASE.multiplyUnsafe(S).subtract(A.multiplyUnsafe(k));
  return bytesEqual(Rcheck.toBytes(), rBytes);
}

/**
 * Verify a JSON tree head under the board's 32-byte Ed25519 public key (`verifyEd25519`).
 * When `electionHash` is given the head must be for that election.
 */
export function verifyTreeHead(head, publicKey, electionHash) {
  try {
    const h = parseTreeHead(head);
    if (electionHash !== undefined && !bytesEqual(h.electionHash, hash32(electionHash))) {
      return false;
    }
    return verifyEd25519(h.signature, treeHeadMessage(h), publicKey);
  } catch {
    return false;
  }
}

/**
 * §9.7 check 4 at casting time (or later against the same head): the signed head is genuine
 * and for this election, and the tracker is leaf `index` of the tree it signs. Size and root
 * come from the verified head, never from elsewhere.
 */
export function verifyReceiptInclusion({ tracker, index, proof, head, boardPublicKey, electionHash }) {
  if (!verifyTreeHead(head, boardPublicKey, electionHash)) return false;
  try {
    return verifyInclusion({
      leafHash: leafHash(hash32(tracker, "tracker")),
      index,
      size: head.size,
      proof,
      root: head.root,
    });
  } catch {
    return false;
  }
}
