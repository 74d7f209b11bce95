// The committed bundle is what browsers run: check it exposes the same API and computes the
// same values as the sources. (Its byte-for-byte reproducibility is checked from Python:
// frontend-service/tests/test_js_bundle.py.)
import assert from "node:assert/strict";
import { test } from "node:test";
import * as source from "../src/index.js";
import { vector } from "./vectors.js";

const bundleUrl = new URL("../../src/frontend_service/static/js/securevote.js", import.meta.url);
const bundle = await import(bundleUrl);

test("the bundle exports the source API and installs a frozen window.SecureVote", () => {
  for (const name of Object.keys(source)) assert.equal(typeof bundle[name], typeof source[name], name);
  assert.equal(globalThis.SecureVote.encryptBallot, bundle.encryptBallot);
  assert.ok(Object.isFrozen(globalThis.SecureVote));
  assert.throws(() => { globalThis.SecureVote = {}; });
});

test("the bundle reproduces the ballot vectors and verifies the stored ballots", () => {
  const C = vector("ceremony");
  const B = vector("ballots");
  const ctx = { manifest: C.manifest, publicKey: C.joint_key, electionHash: B.election_hash };
  for (const v of B.ballots) {
    const { ballot } = bundle.encryptBallot({ ...ctx, credential: v.credential, choices: v.choices, seed: v.seed });
    const cts = (b) => b.questions.map((q) => q.selections.map((s) => s.ciphertext));
    assert.deepEqual(cts(ballot), cts(v.ballot));
    assert.equal(bundle.trackerOf(v.ballot), v.tracker);
    assert.ok(bundle.verifyBallot({ ...ctx, ballot: v.ballot, credential: v.credential }));
    assert.ok(bundle.checkSpoiledBallot({ ...ctx, ballot: v.ballot, seed: v.seed, choices: v.choices }));
  }
  const t = vector("merkle").tree_head;
  assert.ok(bundle.verifyTreeHead(t.head, t.public_key));
});
