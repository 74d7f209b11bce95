import assert from "node:assert/strict";
import { test } from "node:test";
import {
  canonicalJson,
  canonicalJsonString,
  encodeScalar,
  frame,
  fromHex,
  hash256,
  hash512,
  hashToPoint,
  hashToScalar,
  pointFromHex,
  scalarToHex,
  toHex,
} from "../src/index.js";
import { vector } from "./vectors.js";

const V = vector("hashing");

test("H512, H256, HashToScalar, HashToPoint reproduce every vector", () => {
  for (const c of V.cases) {
    const parts = c.parts.map((p) => fromHex(p));
    assert.equal(toHex(hash512(c.tag, ...parts)), c.hash512);
    assert.equal(toHex(hash256(c.tag, ...parts)), c.hash256);
    assert.equal(scalarToHex(hashToScalar(c.tag, ...parts)), c.hash_to_scalar);
    assert.equal(toHex(hashToPoint(c.tag, ...parts).toBytes()), c.hash_to_point);
  }
});

test("typed parts encode as the §2.1 table says", () => {
  // Case 3 is ("abc", "déf" in UTF-8, u64 7); case 4 is (G, the scalar 1).
  const [, , text, typed] = V.cases;
  assert.equal(toHex(hash256(text.tag, "abc", "déf", 7)), text.hash256);
  const G = pointFromHex(typed.parts[0]);
  assert.equal(toHex(hash256(typed.tag, G, encodeScalar(1n))), typed.hash256);
});

test("framing is u32be length-prefixed", () => {
  assert.equal(toHex(frame("t", [new Uint8Array([0xaa]), ""])), "000000017400000001aa00000000");
});

test("bad parts and tags are refused", () => {
  assert.throws(() => hash256("t", -1));
  assert.throws(() => hash256("t", 1.5));
  assert.throws(() => hash256("t", 2 ** 53));
  assert.throws(() => hash256("t", 1n), /encodeScalar/);
  assert.throws(() => hash256("t", "\ud800"));
  assert.throws(() => hash256("tág"));
  assert.throws(() => hash256("t", null));
});

test("canonical JSON reproduces the RFC 8785 vector", () => {
  for (const c of V.canonical_json) {
    assert.equal(canonicalJsonString(JSON.parse(c.input)), c.output);
    assert.deepEqual(canonicalJson(JSON.parse(c.input)), new TextEncoder().encode(c.output));
  }
});

test("canonical JSON escapes strings exactly as RFC 8785 §3.2.2.2", () => {
  const all = Array.from({ length: 0x20 }, (_, i) => String.fromCharCode(i)).join("");
  assert.equal(
    canonicalJsonString(all),
    '"\\u0000\\u0001\\u0002\\u0003\\u0004\\u0005\\u0006\\u0007\\b\\t\\n\\u000b\\f\\r' +
      '\\u000e\\u000f\\u0010\\u0011\\u0012\\u0013\\u0014\\u0015\\u0016\\u0017\\u0018' +
      '\\u0019\\u001a\\u001b\\u001c\\u001d\\u001e\\u001f"',
  );
  assert.equal(canonicalJsonString('"\\/\u007f\u2028\u2029é€😀'), '"\\"\\\\/\u007f\u2028\u2029é€😀"');
  assert.throws(() => canonicalJsonString("\udc00"));
});

test("canonical JSON sorts members by UTF-16 code units", () => {
  // RFC 8785 §3.2.3's example keys: U+20AC, CR, U+FB33, "1", U+1F600, U+0080, "ö".
  const doc = { "\u20ac": 1, "\r": 2, "\ufb33": 3, 1: 4, "\u{1f600}": 5, "\u0080": 6, ö: 7 };
  assert.equal(
    canonicalJsonString(doc),
    '{"\\r":2,"1":4,"\u0080":6,"ö":7,"\u20ac":1,"\u{1f600}":5,"\ufb33":3}',
  );
  assert.equal(canonicalJsonString({ b: [], a: {}, c: [null, true, false, -0, -5] }),
    '{"a":{},"b":[],"c":[null,true,false,0,-5]}');
});

test("canonical JSON refuses what the protocol never uses", () => {
  for (const bad of [1.5, 2 ** 53, NaN, Infinity, undefined, 1n, () => 0, new Date(0), { a: undefined }]) {
    assert.throws(() => canonicalJsonString(bad));
  }
});
