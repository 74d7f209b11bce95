import assert from "node:assert/strict";
import { test } from "node:test";
import {
  GENERATOR,
  ciphertextFromJson,
  disjunctiveFromJson,
  disjunctiveToJson,
  encrypt,
  fromHex,
  pairProofFromJson,
  pointFromHex,
  proveDleq,
  proveEncryptsOneOf,
  proveSchnorr,
  randomScalar,
  verifyDleq,
  verifyEncryptsOneOf,
  verifySchnorr,
} from "../src/index.js";
import { mulPublic } from "../src/group.js";
import { flipHex, vector } from "./vectors.js";

const V = vector("proofs");
const ctx = (parts) => parts.map((p) => fromHex(p));

test("the stored Schnorr proof verifies; tampering is rejected", () => {
  const { schnorr: s } = V;
  const args = { publicPoint: pointFromHex(s.public), context: ctx(s.context) };
  assert.ok(verifySchnorr({ ...args, proof: pairProofFromJson(s.proof) }));
  const bad = { ...s.proof, response: flipHex(s.proof.response) };
  assert.ok(!verifySchnorr({ ...args, proof: pairProofFromJson(bad) }));
  assert.ok(!verifySchnorr({ ...args, context: ctx(s.context.slice(1)), proof: pairProofFromJson(s.proof) }));
});

test("the stored Chaum–Pedersen proof verifies; tampering is rejected", () => {
  const d = V.dleq;
  const points = Object.fromEntries(["g1", "h1", "g2", "h2"].map((k) => [k, pointFromHex(d[k])]));
  const good = { ...points, context: ctx(d.context), proof: pairProofFromJson(d.proof) };
  assert.ok(verifyDleq(good));
  assert.ok(!verifyDleq({ ...good, h2: points.h1 }));
  assert.ok(!verifyDleq({ ...good, context: ctx([...d.context.slice(0, 3), d.context[1]]) }));
  const bad = pairProofFromJson({ ...d.proof, challenge: flipHex(d.proof.challenge) });
  assert.ok(!verifyDleq({ ...good, proof: bad }));
});

test("the stored disjunctive proofs verify; tampering is rejected", () => {
  for (const d of V.disjunctive) {
    const args = {
      ciphertext: ciphertextFromJson(d.ciphertext),
      publicKey: pointFromHex(d.public_key),
      values: d.values,
      context: ctx(d.context),
    };
    const proof = disjunctiveFromJson(d.proof);
    assert.ok(verifyEncryptsOneOf({ ...args, proof }));
    assert.deepEqual(disjunctiveToJson(proof), d.proof);
    // other values, another context, a changed ciphertext, a changed proof: all rejected
    assert.ok(!verifyEncryptsOneOf({ ...args, proof, values: d.values.map((v) => v + 1) }));
    assert.ok(!verifyEncryptsOneOf({ ...args, proof, context: ctx(d.context.slice(0, 4)) }));
    const swapped = { pad: args.ciphertext.pad, data: args.ciphertext.data.add(GENERATOR) };
    assert.ok(!verifyEncryptsOneOf({ ...args, proof, ciphertext: swapped }));
    for (const field of ["challenges", "responses"]) {
      const bad = structuredClone(d.proof);
      bad[field][0] = flipHex(bad[field][0]);
      assert.ok(!verifyEncryptsOneOf({ ...args, proof: disjunctiveFromJson(bad) }));
      bad[field].pop();
      assert.ok(!verifyEncryptsOneOf({ ...args, proof: disjunctiveFromJson(bad) }));
    }
  }
});

test("proofs made here verify here, for every allowed value", () => {
  const secret = randomScalar();
  const key = mulPublic(GENERATOR, secret);
  const context = ["securevote/v1/test", "ctx", 3];
  const values = [2, 3, 4, 5];
  for (const plaintext of values) {
    const nonce = randomScalar();
    const ciphertext = encrypt({ message: plaintext, publicKey: key, nonce });
    const proof = proveEncryptsOneOf({ ciphertext, publicKey: key, nonce, plaintext, values, context });
    assert.ok(verifyEncryptsOneOf({ ciphertext, publicKey: key, values, proof, context }));
    assert.ok(!verifyEncryptsOneOf({ ciphertext, publicKey: key, values: [2, 3, 4, 6], proof, context }));
  }
  const liar = encrypt({ message: 7, publicKey: key, nonce: 5n });
  assert.throws(() => proveEncryptsOneOf({ ciphertext: liar, publicKey: key, nonce: 5n, plaintext: 7, values, context }));
  const schnorr = proveSchnorr({ secret, publicPoint: key, context });
  assert.ok(verifySchnorr({ publicPoint: key, proof: schnorr, context }));
  const g2 = mulPublic(GENERATOR, 77n);
  const dleq = proveDleq({ secret, g1: GENERATOR, h1: key, g2, h2: mulPublic(g2, secret), context });
  assert.ok(verifyDleq({ g1: GENERATOR, h1: key, g2, h2: mulPublic(g2, secret), proof: dleq, context }));
});
