import assert from "node:assert/strict";
import { test } from "node:test";
import {
  ballotProblems,
  checkSpoiledBallot,
  encryptBallot,
  revealChoices,
  selectionNonce,
  spoiledBallotProblems,
  trackerOf,
  verifyBallot,
} from "../src/index.js";
import { clone, flipHex, vector } from "./vectors.js";

const C = vector("ceremony");
const B = vector("ballots");
const manifest = C.manifest;
const publicKey = C.joint_key;
const electionHash = B.election_hash;
const ctx = { manifest, publicKey, electionHash };

const ciphertexts = (ballot) =>
  ballot.questions.flatMap((q) => q.selections.map((s) => [q.question, s.option, s.ciphertext]));

test("the vector context is the ceremony's", () => {
  assert.equal(electionHash, C.election_hash);
});

test("fixed seeds reproduce the vector ciphertexts; the stored trackers are reproduced", () => {
  for (const v of B.ballots) {
    const { ballot, seed, tracker } = encryptBallot({ ...ctx, credential: v.credential, choices: v.choices, seed: v.seed });
    assert.equal(seed, v.seed);
    assert.deepEqual(ciphertexts(ballot), ciphertexts(v.ballot));
    assert.deepEqual(Object.keys(ballot), Object.keys(v.ballot));
    assert.equal(trackerOf(v.ballot), v.tracker);
    assert.equal(tracker, trackerOf(ballot));
    assert.ok(verifyBallot({ ...ctx, ballot, credential: v.credential }));
    // same shape as the Python ballot: same members everywhere, range proof null or not alike
    ballot.questions.forEach((q, i) => {
      assert.equal(q.range_proof === null, v.ballot.questions[i].range_proof === null);
      assert.deepEqual(Object.keys(q).sort(), Object.keys(v.ballot.questions[i]).sort());
    });
  }
});

test("the stored ballots verify, pass the Benaloh audit and reveal their choices", () => {
  for (const v of B.ballots) {
    assert.deepEqual(ballotProblems({ ...ctx, ballot: v.ballot, credential: v.credential }), []);
    assert.ok(checkSpoiledBallot({ ...ctx, ballot: v.ballot, seed: v.seed, choices: v.choices }));
    const sorted = Object.fromEntries(Object.entries(v.choices).map(([q, o]) => [q, [...o].sort()]));
    assert.deepEqual(revealChoices({ ...ctx, ballot: v.ballot, seed: v.seed }), sorted);
  }
});

test("every kind of tampering is rejected", () => {
  const v = B.ballots[0];
  const problems = (mutate, extra = {}) => {
    const ballot = clone(v.ballot);
    mutate(ballot);
    return ballotProblems({ ...ctx, ballot, credential: v.credential, ...extra });
  };
  const cases = [
    [(b) => { b.credential = "credential-9"; }, /another voter/],
    [(b) => { b.election_hash = flipHex(b.election_hash); }, /another election/],
    [(b) => { b.questions.reverse(); }, /questions do not match/],
    [(b) => { b.questions[0].selections.reverse(); }, /options do not match/],
    [(b) => { b.questions[0].selections.pop(); }, /options do not match/],
    [(b) => { b.questions[0].selections[0].ciphertext.data = b.questions[0].selections[1].ciphertext.data; }, /invalid proof/],
    [(b) => { const p = b.questions[0].selections[1].proof; p.challenges.reverse(); }, /invalid proof/],
    [(b) => { b.questions[0].range_proof = null; }, /range proof/],
    [(b) => { b.questions[1].range_proof = clone(b.questions[0].range_proof); }, /unexpected range proof/],
    [(b) => { b.questions[0].selections[0].ciphertext.pad = b.questions[0].selections[0].ciphertext.pad.toUpperCase(); }, /malformed/],
    [(b) => { b.extra = true; }, /malformed/],
    [(b) => { delete b.questions[0].range_proof; }, /malformed/],
    [(b) => { b.questions[0].selections[0].ciphertext.pad = "00".repeat(32); }, /invalid proof/],
  ];
  for (const [mutate, expected] of cases) assert.match(problems(mutate)[0] ?? "", expected, mutate.toString());
  // a valid ballot moved to another voter: its proofs are bound to the credential
  assert.match(problems((b) => { b.credential = "credential-9"; }, { credential: "credential-9" })[0], /invalid proof/);
  // the same ballot under another key
  assert.ok(!verifyBallot({ ...ctx, publicKey: C.public_shares["1"], ballot: v.ballot }));
});

test("the Benaloh audit catches a seed or choices that do not match", () => {
  const [v, w] = B.ballots;
  const audit = (changes) => spoiledBallotProblems({ ...ctx, ballot: v.ballot, seed: v.seed, choices: v.choices, ...changes });
  assert.deepEqual(audit({}), []);
  assert.match(audit({ seed: w.seed })[0], /does not encrypt/);
  assert.match(audit({ choices: { chair: ["c2"], motions: ["m1"] } })[0], /does not encrypt/);
  assert.match(audit({ choices: { chair: ["c1", "c2"], motions: [] } })[0], /revealed choices/);
  assert.match(audit({ seed: "00" })[0], /seed/);
  assert.throws(() => revealChoices({ ...ctx, ballot: v.ballot, seed: w.seed }), /seed does not match/);
});

test("fresh random seeds make valid ballots; choices are validated", () => {
  const choices = { chair: ["c3"], motions: [] };
  const a = encryptBallot({ ...ctx, credential: "voter-a", choices });
  const b = encryptBallot({ ...ctx, credential: "voter-a", choices });
  assert.notEqual(a.seed, b.seed);
  assert.ok(verifyBallot({ ...ctx, ballot: a.ballot }));
  assert.ok(checkSpoiledBallot({ ...ctx, ballot: a.ballot, seed: a.seed, choices }));
  for (const bad of [
    { chair: [], motions: [] },
    { chair: ["c1", "c2"], motions: [] },
    { chair: ["c1", "c1"], motions: [] },
    { chair: ["zz"], motions: [] },
    { chair: ["c1"] },
    { chair: ["c1"], motions: [], extra: [] },
  ]) {
    assert.throws(() => encryptBallot({ ...ctx, credential: "x", choices: bad }), undefined, JSON.stringify(bad));
  }
  assert.throws(() => encryptBallot({ ...ctx, credential: "x", choices, seed: "00" }));
  assert.throws(() => encryptBallot({ ...ctx, publicKey: "00".repeat(32), credential: "x", choices }), /identity/);
  assert.throws(() => selectionNonce({ seed: "00".repeat(31), electionHash, credential: "x", questionId: "q", optionId: "o" }));
});
