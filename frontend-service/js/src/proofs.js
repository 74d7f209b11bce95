/**
 * Non-interactive proofs with strong Fiat–Shamir (docs/protocol.md §6).
 *
 * A *context* is an array of hash parts inserted right after the tag (see hashing.js for the
 * part types). Proofs are compact: challenges and responses (bigints); verifiers recompute the
 * commitments. Verification returns `false` for an invalid proof and throws only for a
 * malformed JSON document (`*FromJson`).
 */
import {
  GENERATOR,
  GroupError,
  ORDER,
  mod,
  mulPublic,
  mulSecret,
  randomScalar,
  requireKeys,
  scalarFromHex,
  scalarToHex,
  smallBaseMul,
} from "./group.js";
import { hashToScalar } from "./hashing.js";

export const SCHNORR_TAG = "securevote/v1/proof/schnorr";
export const DLEQ_TAG = "securevote/v1/proof/dleq";
export const DISJUNCTIVE_TAG = "securevote/v1/proof/disjunctive";

// --- Schnorr (§6.1) and Chaum–Pedersen (§6.2) -----------------------------------------------

export function proveSchnorr({ secret, publicPoint, context }) {
  const u = randomScalar();
  const challenge = hashToScalar(SCHNORR_TAG, ...context, publicPoint, mulSecret(GENERATOR, u));
  return { challenge, response: mod(u + challenge * secret) };
}

export function verifySchnorr({ publicPoint, proof, context }) {
  if (publicPoint.is0()) return false;
  const h = mulPublic(GENERATOR, proof.response).subtract(mulPublic(publicPoint, proof.challenge));
  return proof.challenge === hashToScalar(SCHNORR_TAG, ...context, publicPoint, h);
}

/** Prove h1 = x·g1 and h2 = x·g2. */
export function proveDleq({ secret, g1, h1, g2, h2, context }) {
  const u = randomScalar();
  const a = mulSecret(g1, u);
  const b = mulSecret(g2, u);
  const challenge = hashToScalar(DLEQ_TAG, ...context, g1, h1, g2, h2, a, b);
  return { challenge, response: mod(u + challenge * secret) };
}

export function verifyDleq({ g1, h1, g2, h2, proof, context }) {
  if (g1.is0() || h1.is0() || g2.is0()) return false;
  const { challenge: c, response: s } = proof;
  const a = mulPublic(g1, s).subtract(mulPublic(h1, c));
  const b = mulPublic(g2, s).subtract(mulPublic(h2, c));
  return c === hashToScalar(DLEQ_TAG, ...context, g1, h1, g2, h2, a, b);
}

export function pairProofToJson(proof) {
  return { challenge: scalarToHex(proof.challenge), response: scalarToHex(proof.response) };
}

export function pairProofFromJson(doc) {
  requireKeys(doc, ["challenge", "response"], "a proof");
  return { challenge: scalarFromHex(doc.challenge), response: scalarFromHex(doc.response) };
}

// --- Disjunctive (§6.3): a ciphertext encrypts one of `values` ---------------------------------

function disjunctiveChallenge(context, publicKey, ciphertext, values, commitments) {
  return hashToScalar(
    DISJUNCTIVE_TAG,
    ...context,
    publicKey,
    ciphertext.pad,
    ciphertext.data,
    values.length,
    ...values,
    ...commitments,
  );
}

function checkValues(values) {
  if (!Array.isArray(values) || values.length === 0 || new Set(values).size !== values.length) {
    throw new GroupError("values are a non-empty list of distinct integers");
  }
  for (const v of values) smallBaseMul(v); // throws unless a non-negative safe integer
}

/**
 * Prove that `ciphertext` = Enc(plaintext; nonce) with `plaintext` among `values`.
 * Branches j ≠ t are simulated with random (c_j, s_j); the real branch t uses its random s_t
 * as the commitment nonce u and gets c_t = c − Σ_{j≠t} c_j, s_t = u + c_t·r.
 *
 * The index t is the vote, so every branch does the same work (four constant-time
 * multiplications and two subtractions) and the real one only differs in which already
 * computed value is kept. This is best effort: JavaScript gives no timing guarantees.
 */
export function proveEncryptsOneOf({ ciphertext, publicKey, nonce, plaintext, values, context }) {
  checkValues(values);
  const real = values.indexOf(plaintext);
  if (real < 0) throw new GroupError("the plaintext must be one of the allowed values");
  const { pad, data } = ciphertext;
  const challenges = values.map(() => randomScalar());
  const responses = values.map(() => randomScalar());
  const commitments = [];
  values.forEach((value, j) => {
    const sG = mulSecret(GENERATOR, responses[j]);
    const sK = mulSecret(publicKey, responses[j]);
    const simulatedA = sG.subtract(mulSecret(pad, challenges[j]));
    const simulatedB = sK.subtract(mulSecret(data.subtract(smallBaseMul(value)), challenges[j]));
    commitments.push(j === real ? sG : simulatedA, j === real ? sK : simulatedB);
  });
  const total = disjunctiveChallenge(context, publicKey, ciphertext, values, commitments);
  let others = 0n;
  challenges.forEach((c, j) => {
    others += j === real ? 0n : c;
  });
  const u = responses[real];
  challenges[real] = mod(total - others);
  responses[real] = mod(u + challenges[real] * nonce);
  return { challenges, responses };
}

export function verifyEncryptsOneOf({ ciphertext, publicKey, values, proof, context }) {
  checkValues(values);
  const { challenges, responses } = proof;
  if (challenges.length !== values.length || responses.length !== values.length) return false;
  const { pad, data } = ciphertext;
  if (pad.is0() || publicKey.is0()) return false;
  const commitments = [];
  let sum = 0n;
  values.forEach((value, j) => {
    const c = challenges[j];
    const s = responses[j];
    const shifted = value === 0 ? data : data.subtract(smallBaseMul(value));
    commitments.push(
      mulPublic(GENERATOR, s).subtract(mulPublic(pad, c)),
      mulPublic(publicKey, s).subtract(mulPublic(shifted, c)),
    );
    sum += c;
  });
  const expected = disjunctiveChallenge(context, publicKey, ciphertext, values, commitments);
  return sum % ORDER === expected;
}

export function disjunctiveToJson(proof) {
  return {
    challenges: proof.challenges.map(scalarToHex),
    responses: proof.responses.map(scalarToHex),
  };
}

export function disjunctiveFromJson(doc) {
  requireKeys(doc, ["challenges", "responses"], "a disjunctive proof");
  if (!Array.isArray(doc.challenges) || !Array.isArray(doc.responses)) {
    throw new GroupError("challenges and responses are lists");
  }
  return {
    challenges: doc.challenges.map(scalarFromHex),
    responses: doc.responses.map(scalarFromHex),
  };
}
