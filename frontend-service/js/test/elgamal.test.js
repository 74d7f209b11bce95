import assert from "node:assert/strict";
import { test } from "node:test";
import {
  GENERATOR,
  addCiphertexts,
  ciphertextFromJson,
  ciphertextToJson,
  ciphertextsEqual,
  encrypt,
  pointFromHex,
  scalarFromHex,
} from "../src/index.js";
import { mulPublic } from "../src/group.js";
import { vector } from "./vectors.js";

const V = vector("elgamal");
const key = pointFromHex(V.public_key);

test("the key pair matches", () => {
  assert.ok(mulPublic(GENERATOR, scalarFromHex(V.secret_key)).equals(key));
});

test("encryptions with fixed nonces reproduce the vectors", () => {
  for (const c of V.cases) {
    const ct = encrypt({ message: c.message, publicKey: key, nonce: scalarFromHex(c.nonce) });
    assert.deepEqual(ciphertextToJson(ct), c.ciphertext);
  }
});

test("decryption gives m·G and ciphertexts add homomorphically", () => {
  const s = scalarFromHex(V.secret_key);
  const cts = V.cases.map((c) => ciphertextFromJson(c.ciphertext));
  const sum = addCiphertexts(cts);
  const m = sum.data.subtract(mulPublic(sum.pad, s));
  const total = V.cases.reduce((n, c) => n + c.message, 0);
  assert.ok(m.equals(mulPublic(GENERATOR, BigInt(total))));
  const nonce = V.cases.reduce((n, c) => n + scalarFromHex(c.nonce), 0n);
  assert.ok(ciphertextsEqual(sum, encrypt({ message: total, publicKey: key, nonce })));
});

test("a zero nonce and malformed JSON are refused", () => {
  assert.throws(() => encrypt({ message: 1, publicKey: key, nonce: 0n }));
  const c = V.cases[0].ciphertext;
  assert.throws(() => ciphertextFromJson({ ...c, extra: 1 }));
  assert.throws(() => ciphertextFromJson({ pad: c.pad }));
  assert.throws(() => ciphertextFromJson({ pad: c.pad, data: c.data.toUpperCase() }));
});
