import assert from "node:assert/strict";
import { test } from "node:test";
import {
  GENERATOR,
  IDENTITY,
  ORDER,
  decodePoint,
  decodeScalar,
  fromHex,
  pointFromHex,
  pointToHex,
  randomScalar,
  scalarFromHex,
  scalarToHex,
} from "../src/index.js";
import { mulPublic, mulSecret } from "../src/group.js";
import { vector } from "./vectors.js";

const V = vector("group");

test("order and generator", () => {
  assert.equal(ORDER.toString(), V.order);
  assert.equal(pointToHex(GENERATOR), V.generator);
});

test("base multiples reproduce the vectors with both multiplications", () => {
  for (const { scalar, point } of V.base_multiples) {
    const k = scalarFromHex(scalar);
    assert.equal(scalarToHex(k), scalar);
    assert.equal(pointToHex(mulSecret(GENERATOR, k)), point);
    assert.equal(pointToHex(mulPublic(GENERATOR, k)), point);
    assert.equal(pointToHex(pointFromHex(point)), point);
  }
});

test("invalid point encodings are rejected", () => {
  for (const hex of V.invalid_points) assert.throws(() => pointFromHex(hex), /canonical/);
});

test("bit 255 is rejected even on an otherwise valid encoding", () => {
  for (const { point } of V.base_multiples) {
    const bytes = fromHex(point);
    bytes[31] |= 0x80;
    assert.throws(() => decodePoint(bytes));
  }
});

test("invalid scalar encodings are rejected", () => {
  for (const hex of V.invalid_scalars) assert.throws(() => scalarFromHex(hex));
  assert.equal(scalarToHex(ORDER - 1n).length, 64);
  assert.throws(() => scalarToHex(ORDER));
  assert.throws(() => decodeScalar(new Uint8Array(31)));
});

test("hex must be lowercase and of the exact length", () => {
  const g = V.generator;
  assert.throws(() => pointFromHex(g.toUpperCase()));
  assert.throws(() => pointFromHex(g.slice(0, 62)));
  assert.throws(() => pointFromHex(`${g}00`));
  assert.throws(() => pointFromHex(42));
});

test("the identity is handled explicitly", () => {
  assert.equal(pointToHex(IDENTITY), "00".repeat(32));
  assert.ok(pointFromHex("00".repeat(32)).is0());
  assert.ok(mulSecret(GENERATOR, 0n).is0());
  assert.ok(mulSecret(IDENTITY, 5n).is0());
  assert.ok(mulPublic(GENERATOR, ORDER).is0());
});

test("random scalars are in [1, l)", () => {
  for (let i = 0; i < 20; i++) {
    const k = randomScalar();
    assert.ok(k > 0n && k < ORDER);
  }
});
