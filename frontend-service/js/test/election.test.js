import assert from "node:assert/strict";
import { test } from "node:test";
import {
  ceremonyHash,
  checkElection,
  electionHash,
  jointKey,
  manifestHash,
  pointToHex,
  toHex,
  validateManifest,
} from "../src/index.js";
import { clone, vector } from "./vectors.js";

const V = vector("ceremony");
const trustees = V.trustees.map((t, i) => ({ ...t, ...V.commitments[i] }));
const election = { manifest: V.manifest, threshold: V.threshold, trustees };

test("manifest, ceremony and election hashes and the joint key reproduce the vectors", () => {
  assert.equal(toHex(manifestHash(V.manifest)), V.manifest_hash);
  assert.equal(toHex(ceremonyHash(election)), V.ceremony_hash);
  assert.equal(pointToHex(jointKey(trustees)), V.joint_key);
  assert.equal(toHex(electionHash(election)), V.election_hash);
});

test("checkElection verifies every proof of knowledge and recomputes the context", () => {
  assert.deepEqual(checkElection(election), {
    problems: [],
    jointKey: V.joint_key,
    electionHash: V.election_hash,
  });
  const forged = clone(trustees);
  forged[1].proof.response = forged[0].proof.response;
  assert.deepEqual(checkElection({ ...election, trustees: forged }).problems, [
    "trustee 2: invalid proof of knowledge",
  ]);
  const renamed = clone(trustees);
  renamed[0].name = "mallory";
  assert.equal(checkElection({ ...election, trustees: renamed }).problems.length, 3);
  assert.match(checkElection({ ...election, threshold: 3 }).problems[0], /k non-identity/);
});

test("manifests breaking §3 are refused", () => {
  const bad = [
    (m) => { m.extra = 1; },
    (m) => { m.election_id = "has space"; },
    (m) => { m.questions = []; },
    (m) => { m.questions[1].id = m.questions[0].id; },
    (m) => { m.questions[0].options = []; },
    (m) => { m.questions[0].options[1].id = "c1"; },
    (m) => { m.questions[0].max_selections = 4; },
    (m) => { m.questions[1].min_selections = 0; m.questions[1].max_selections = 0; },
    (m) => { m.questions[0].min_selections = 2; },
    (m) => { m.questions[0].min_selections = "1"; },
    (m) => { delete m.questions[0].label; },
  ];
  for (const mutate of bad) {
    const m = clone(V.manifest);
    mutate(m);
    assert.throws(() => validateManifest(m), undefined, JSON.stringify(m));
  }
});
