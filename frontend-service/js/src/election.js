/**
 * Manifest, ceremony hash, joint key and election hash (docs/protocol.md §3, §4.1, §4.4, §4.5).
 *
 * The booth receives the manifest, the threshold and the trustees' published commitments
 * (the record's `trustees.json` shape: `{index, name, box_public_key, coefficients, proof}`)
 * and can recompute the joint key and election hash itself instead of trusting the server's.
 */
import { GroupError, IDENTITY, asBytes, pointFromHex, requireKeys, toHex } from "./group.js";
import { canonicalJson, hash256 } from "./hashing.js";
import { pairProofFromJson, verifySchnorr } from "./proofs.js";

export const PROTOCOL_VERSION = "securevote/v1";
export const GROUP_NAME = "ristretto255";
export const MANIFEST_TAG = "securevote/v1/manifest";
export const CEREMONY_TAG = "securevote/v1/ceremony";
export const ELECTION_TAG = "securevote/v1/election";
export const POK_CONTEXT = "securevote/v1/dkg/pok";

const ID_RE = /^[A-Za-z0-9_.-]{1,64}$/;

function checkId(value, what) {
  if (typeof value !== "string" || !ID_RE.test(value)) {
    throw new GroupError(`${what} must match ${ID_RE.source}`);
  }
}

/** Throw a `GroupError` naming the first rule of §3 the manifest breaks. */
export function validateManifest(manifest) {
  requireKeys(manifest, ["election_id", "questions", "title"], "the manifest");
  checkId(manifest.election_id, "election_id");
  if (typeof manifest.title !== "string") throw new GroupError("title is a string");
  const { questions } = manifest;
  if (!Array.isArray(questions) || questions.length === 0) {
    throw new GroupError("a manifest needs at least one question");
  }
  const questionIds = new Set();
  for (const q of questions) {
    requireKeys(q, ["id", "label", "max_selections", "min_selections", "options"], "a question");
    checkId(q.id, "question id");
    if (questionIds.has(q.id)) throw new GroupError(`question ids must be unique: ${q.id}`);
    questionIds.add(q.id);
    if (typeof q.label !== "string") throw new GroupError("label is a string");
    if (!Array.isArray(q.options) || q.options.length === 0) {
      throw new GroupError(`question ${q.id} needs at least one option`);
    }
    const optionIds = new Set();
    for (const o of q.options) {
      requireKeys(o, ["id", "label"], "an option");
      checkId(o.id, "option id");
      if (typeof o.label !== "string") throw new GroupError("label is a string");
      if (optionIds.has(o.id)) throw new GroupError(`option ids must be unique: ${o.id}`);
      optionIds.add(o.id);
    }
    const { min_selections: min, max_selections: max } = q;
    if (
      !Number.isSafeInteger(min) ||
      !Number.isSafeInteger(max) ||
      !(0 <= min && min <= max && max <= q.options.length && max >= 1)
    ) {
      throw new GroupError(`question ${q.id}: need 0 <= min <= max <= options, max >= 1`);
    }
  }
  return manifest;
}

/** H256("securevote/v1/manifest", JCS(manifest)) as bytes. */
export function manifestHash(manifest) {
  validateManifest(manifest);
  return hash256(MANIFEST_TAG, canonicalJson(manifest));
}

function checkTrustees(threshold, trustees) {
  if (!Array.isArray(trustees) || trustees.length === 0) {
    throw new GroupError("at least one trustee");
  }
  trustees.forEach((t, i) => {
    if (t.index !== i + 1) throw new GroupError("trustees are numbered 1..n in order");
    if (typeof t.name !== "string") throw new GroupError("a trustee name is a string");
  });
  if (!Number.isSafeInteger(threshold) || threshold < 1 || threshold > trustees.length) {
    throw new GroupError("need 1 <= k <= n");
  }
}

/** §4.1: H256(ceremony tag, manifest_hash, k, n, i, name_i, bpk_i for each trustee). */
export function ceremonyHash({ manifest, threshold, trustees }) {
  checkTrustees(threshold, trustees);
  const parts = [manifestHash(manifest), threshold, trustees.length];
  for (const t of trustees) {
    parts.push(t.index, t.name, asBytes(t.box_public_key, 32, "box_public_key"));
  }
  return hash256(CEREMONY_TAG, ...parts);
}

/** K = Σ A_i0 (§4.4); the identity is forbidden. */
export function jointKey(trustees) {
  let key = IDENTITY;
  for (const t of trustees) key = key.add(pointFromHex(t.coefficients[0]));
  if (key.is0()) throw new GroupError("the joint key is the identity");
  return key;
}

/** §4.5, as bytes. Trustees carry `index`, `name`, `box_public_key`, `coefficients` (hex). */
export function electionHash({ manifest, threshold, trustees }) {
  checkTrustees(threshold, trustees);
  const parts = [PROTOCOL_VERSION, GROUP_NAME, manifestHash(manifest), threshold, trustees.length];
  for (const t of trustees) {
    if (!Array.isArray(t.coefficients) || t.coefficients.length !== threshold) {
      throw new GroupError(`trustee ${t.index} must have exactly k coefficient commitments`);
    }
    parts.push(t.index, t.name, asBytes(t.box_public_key, 32, "box_public_key"));
    parts.push(t.coefficients.length, ...t.coefficients.map(pointFromHex));
  }
  parts.push(jointKey(trustees));
  return hash256(ELECTION_TAG, ...parts);
}

/**
 * The §11 "trustees" and "context" checks a booth can afford: every commitment has k
 * non-identity coefficients and a valid proof of knowledge (§4.2). Returns problems (empty
 * when fine), and otherwise the recomputed joint key and election hash as hex.
 */
export function checkElection({ manifest, threshold, trustees }) {
  try {
    const ceremony = ceremonyHash({ manifest, threshold, trustees });
    const problems = [];
    for (const t of trustees) {
      const coefficients = t.coefficients.map(pointFromHex);
      if (coefficients.length !== threshold || coefficients.some((p) => p.is0())) {
        problems.push(`trustee ${t.index}: need k non-identity coefficient commitments`);
        continue;
      }
      const proof = pairProofFromJson(t.proof);
      const context = [POK_CONTEXT, ceremony, t.index];
      if (!verifySchnorr({ publicPoint: coefficients[0], proof, context })) {
        problems.push(`trustee ${t.index}: invalid proof of knowledge`);
      }
    }
    if (problems.length) return { problems };
    return {
      problems,
      jointKey: toHex(jointKey(trustees).toBytes()),
      electionHash: toHex(electionHash({ manifest, threshold, trustees })),
    };
  } catch (error) {
    return { problems: [`malformed election: ${error.message}`] };
  }
}
