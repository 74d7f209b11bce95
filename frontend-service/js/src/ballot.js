/**
 * Encrypted ballots (docs/protocol.md §7): encryption from a seed, verification, tracker and
 * the Benaloh audit of a spoiled ballot.
 *
 * Inputs and outputs are JSON values as exchanged with the server: the manifest object, the
 * joint key and election hash as lowercase hex (or a point / bytes), choices as
 * `{question id: [option ids]}`. The ballot produced is identical in form to the Python
 * `EncryptedBallot.to_json()`, so `JCS(ballot)` and the tracker match byte for byte.
 */
import { randomBytes } from "@noble/hashes/utils.js";
import {
  addCiphertexts,
  ciphertextFromJson,
  ciphertextToJson,
  ciphertextsEqual,
  encrypt,
} from "./elgamal.js";
import { validateManifest } from "./election.js";
import {
  GENERATOR,
  GroupError,
  Point,
  asBytes,
  bytesEqual,
  mulSecret,
  pointFromHex,
  requireKeys,
  toHex,
} from "./group.js";
import { canonicalJson, hash256, hashToScalar } from "./hashing.js";
import {
  disjunctiveFromJson,
  disjunctiveToJson,
  proveEncryptsOneOf,
  verifyEncryptsOneOf,
} from "./proofs.js";

export const NONCE_TAG = "securevote/v1/ballot-nonce";
export const TRACKER_TAG = "securevote/v1/tracker";
export const SELECTION_CONTEXT = "securevote/v1/selection";
export const RANGE_CONTEXT = "securevote/v1/range";
export const SEED_BYTES = 32;

export class BallotError extends Error {
  constructor(message) {
    super(message);
    this.name = "BallotError";
  }
}

const asKey = (k) => (k instanceof Point ? k : pointFromHex(k));
const asHash = (h) => asBytes(h, 32, "election hash");

/** A fresh random 32-byte seed, as hex. */
export function randomSeed() {
  return toHex(randomBytes(SEED_BYTES));
}

/** r_{q,o} = HashToScalar(ballot-nonce tag, election_hash, credential, seed, q, o) (§7.2). */
export function selectionNonce({ seed, electionHash, credential, questionId, optionId }) {
  const nonce = hashToScalar(
    NONCE_TAG,
    asHash(electionHash),
    credential,
    asBytes(seed, SEED_BYTES, "seed"),
    questionId,
    optionId,
  );
  if (nonce === 0n) throw new BallotError("degenerate seed"); // probability 2^-252
  return nonce;
}

/** min = 0 and max = number of options allow every 0/1 assignment: no range proof (§7.2). */
export function needsRangeProof(question) {
  return !(question.min_selections === 0 && question.max_selections === question.options.length);
}

export function allowedTotals(question) {
  const out = [];
  for (let v = question.min_selections; v <= question.max_selections; v++) out.push(v);
  return out;
}

/** Throw unless `choices` names every question once with an allowed set of its options. */
export function validateChoices(manifest, choices) {
  const ids = manifest.questions.map((q) => q.id);
  if (
    choices === null ||
    typeof choices !== "object" ||
    Object.keys(choices).length !== ids.length ||
    !ids.every((id) => Object.hasOwn(choices, id))
  ) {
    throw new BallotError("choices must name every question of the manifest exactly once");
  }
  for (const q of manifest.questions) {
    const chosen = choices[q.id];
    const known = new Set(q.options.map((o) => o.id));
    if (
      !Array.isArray(chosen) ||
      new Set(chosen).size !== chosen.length ||
      !chosen.every((o) => known.has(o))
    ) {
      throw new BallotError(`question ${q.id}: unknown or repeated option`);
    }
    if (chosen.length < q.min_selections || chosen.length > q.max_selections) {
      throw new BallotError(
        `question ${q.id}: select between ${q.min_selections} and ${q.max_selections} options`,
      );
    }
  }
}

/**
 * Encrypt and prove a ballot (§7.2). `seed` (32 bytes or hex) defaults to a fresh random one.
 * Returns `{ballot, seed, tracker}`: the ballot JSON, the seed as hex (keep it secret for a
 * cast ballot; reveal it with the choices to spoil one) and the tracker as hex.
 */
export function encryptBallot({ manifest, publicKey, electionHash, credential, choices, seed }) {
  validateManifest(manifest);
  validateChoices(manifest, choices);
  if (typeof credential !== "string") throw new BallotError("the credential is a string");
  const key = asKey(publicKey);
  // Under K = O the data part would be m·G in clear: refuse rather than leak the vote.
  if (key.is0()) throw new BallotError("the election public key is the identity");
  const hash = asHash(electionHash);
  const seedBytes = asBytes(seed ?? randomBytes(SEED_BYTES), SEED_BYTES, "seed");
  const questions = manifest.questions.map((q) => {
    const chosen = new Set(choices[q.id]);
    let totalNonce = 0n;
    const ciphertexts = [];
    const selections = q.options.map((o) => {
      const value = chosen.has(o.id) ? 1 : 0;
      const nonce = selectionNonce({
        seed: seedBytes,
        electionHash: hash,
        credential,
        questionId: q.id,
        optionId: o.id,
      });
      totalNonce += nonce;
      const ciphertext = encrypt({ message: value, publicKey: key, nonce });
      ciphertexts.push(ciphertext);
      const proof = proveEncryptsOneOf({
        ciphertext,
        publicKey: key,
        nonce,
        plaintext: value,
        values: [0, 1],
        context: [SELECTION_CONTEXT, hash, credential, q.id, o.id],
      });
      return {
        option: o.id,
        ciphertext: ciphertextToJson(ciphertext),
        proof: disjunctiveToJson(proof),
      };
    });
    let rangeProof = null;
    if (needsRangeProof(q)) {
      rangeProof = disjunctiveToJson(
        proveEncryptsOneOf({
          ciphertext: addCiphertexts(ciphertexts),
          publicKey: key,
          nonce: totalNonce,
          plaintext: chosen.size,
          values: allowedTotals(q),
          context: [RANGE_CONTEXT, hash, credential, q.id],
        }),
      );
    }
    return { question: q.id, selections, range_proof: rangeProof };
  });
  const ballot = { election_hash: toHex(hash), credential, questions };
  return { ballot, seed: toHex(seedBytes), tracker: trackerOf(ballot) };
}

/**
 * Parse a ballot JSON strictly (§7.1: exact members, canonical encodings) into
 * `{electionHash, credential, questions: [{id, selections: [{id, ciphertext, proof}], rangeProof}]}`.
 */
export function parseBallot(doc) {
  try {
    requireKeys(doc, ["credential", "election_hash", "questions"], "a ballot");
    if (typeof doc.credential !== "string" || !Array.isArray(doc.questions)) {
      throw new BallotError("credential is a string and questions a list");
    }
    const questions = doc.questions.map((q) => {
      requireKeys(q, ["question", "range_proof", "selections"], "a question");
      if (typeof q.question !== "string" || !Array.isArray(q.selections)) {
        throw new BallotError("question id is a string and selections a list");
      }
      const selections = q.selections.map((s) => {
        requireKeys(s, ["ciphertext", "option", "proof"], "a selection");
        if (typeof s.option !== "string") throw new BallotError("option id is a string");
        return {
          id: s.option,
          ciphertext: ciphertextFromJson(s.ciphertext),
          proof: disjunctiveFromJson(s.proof),
        };
      });
      const rangeProof = q.range_proof === null ? null : disjunctiveFromJson(q.range_proof);
      return { id: q.question, selections, rangeProof };
    });
    return {
      electionHash: asHash(doc.election_hash),
      credential: doc.credential,
      questions,
    };
  } catch (error) {
    throw new BallotError(`malformed ballot: ${error.message}`);
  }
}

/** tracker = H256(tracker tag, election_hash, JCS(ballot)) (§7.4), as hex. */
export function trackerOf(ballot) {
  const hash = asHash(ballot.election_hash);
  return toHex(hash256(TRACKER_TAG, hash, canonicalJson(ballot)));
}

function sameIds(a, b) {
  return a.length === b.length && a.every((x, i) => x.id === b[i].id);
}

/**
 * Every reason the ballot is invalid (§7.3); empty when valid. Stops at the first bad proof.
 * `credential`, when given, is the one the ballot must carry.
 */
export function ballotProblems({ ballot, manifest, publicKey, electionHash, credential }) {
  let parsed;
  let key;
  let hash;
  try {
    parsed = parseBallot(ballot);
    validateManifest(manifest);
    key = asKey(publicKey);
    hash = asHash(electionHash);
  } catch (error) {
    return [error.message];
  }
  if (!bytesEqual(parsed.electionHash, hash)) return ["ballot is for another election"];
  if (credential !== undefined && credential !== null && parsed.credential !== credential) {
    return ["ballot is for another voter credential"];
  }
  if (!sameIds(parsed.questions, manifest.questions)) {
    return ["questions do not match the manifest"];
  }
  const voter = parsed.credential;
  for (const [i, q] of manifest.questions.entries()) {
    const encrypted = parsed.questions[i];
    if (!sameIds(encrypted.selections, q.options)) {
      return [`question ${q.id}: options do not match the manifest`];
    }
    for (const s of encrypted.selections) {
      const ok = verifyEncryptsOneOf({
        ciphertext: s.ciphertext,
        publicKey: key,
        values: [0, 1],
        proof: s.proof,
        context: [SELECTION_CONTEXT, hash, voter, q.id, s.id],
      });
      if (!ok) return [`question ${q.id} option ${s.id}: invalid proof`];
    }
    if (!needsRangeProof(q)) {
      if (encrypted.rangeProof !== null) return [`question ${q.id}: unexpected range proof`];
      continue;
    }
    const ok =
      encrypted.rangeProof !== null &&
      verifyEncryptsOneOf({
        ciphertext: addCiphertexts(encrypted.selections.map((s) => s.ciphertext)),
        publicKey: key,
        values: allowedTotals(q),
        proof: encrypted.rangeProof,
        context: [RANGE_CONTEXT, hash, voter, q.id],
      });
    if (!ok) return [`question ${q.id}: invalid range proof (number of selections)`];
  }
  return [];
}

export function verifyBallot(args) {
  return ballotProblems(args).length === 0;
}

/**
 * Benaloh audit (§7.5): the ballot is valid, and re-encrypting the revealed choices with the
 * nonces derived from the revealed seed gives exactly its ciphertexts. Empty when it passes.
 */
export function spoiledBallotProblems({ ballot, manifest, publicKey, electionHash, seed, choices }) {
  const problems = ballotProblems({ ballot, manifest, publicKey, electionHash });
  if (problems.length) return problems;
  try {
    validateChoices(manifest, choices);
  } catch (error) {
    return [`revealed choices: ${error.message}`];
  }
  let seedBytes;
  try {
    seedBytes = asBytes(seed, SEED_BYTES, "seed");
  } catch {
    return ["revealed seed has the wrong length or encoding"];
  }
  const key = asKey(publicKey);
  const parsed = parseBallot(ballot);
  for (const [i, q] of manifest.questions.entries()) {
    const chosen = new Set(choices[q.id]);
    for (const s of parsed.questions[i].selections) {
      const nonce = selectionNonce({
        seed: seedBytes,
        electionHash,
        credential: parsed.credential,
        questionId: q.id,
        optionId: s.id,
      });
      const expected = encrypt({ message: chosen.has(s.id) ? 1 : 0, publicKey: key, nonce });
      if (!ciphertextsEqual(expected, s.ciphertext)) {
        return [`question ${q.id} option ${s.id}: does not encrypt the revealed choice`];
      }
    }
  }
  return [];
}

export function checkSpoiledBallot(args) {
  return spoiledBallotProblems(args).length === 0;
}

/**
 * What a spoiled ballot contains, from its seed alone (what the voter's device shows):
 * `{question id: [selected option ids, sorted]}`, the form `spoiled.json` uses (§7.5).
 */
export function revealChoices({ ballot, manifest, publicKey, seed }) {
  const key = asKey(publicKey);
  const parsed = parseBallot(ballot);
  validateManifest(manifest);
  const result = {};
  for (const [i, q] of manifest.questions.entries()) {
    const encrypted = parsed.questions[i];
    if (!encrypted || encrypted.id !== q.id) throw new BallotError("ballot does not match manifest");
    const chosen = [];
    for (const s of encrypted.selections) {
      const nonce = selectionNonce({
        seed,
        electionHash: parsed.electionHash,
        credential: parsed.credential,
        questionId: q.id,
        optionId: s.id,
      });
      if (!mulSecret(GENERATOR, nonce).equals(s.ciphertext.pad)) {
        throw new BallotError("the seed does not match this ballot");
      }
      const m = s.ciphertext.data.subtract(mulSecret(key, nonce));
      if (m.equals(GENERATOR)) chosen.push(s.id);
      else if (!m.is0()) throw new GroupError("a selection is neither 0 nor 1");
    }
    result[q.id] = chosen.sort();
  }
  return result;
}
