import assert from "node:assert/strict";
import { test } from "node:test";
import { ed25519 } from "@noble/curves/ed25519.js";
import { sha512 } from "@noble/hashes/sha2.js";
import {
  EMPTY_ROOT,
  consistencyProof,
  fromHex,
  inclusionProof,
  leafHash,
  merkleRoot,
  nodeHash,
  parseTreeHead,
  toHex,
  treeHeadMessage,
  verifyConsistency,
  verifyEd25519,
  verifyInclusion,
  verifyReceiptInclusion,
  verifyTreeHead,
} from "../src/index.js";
import { clone, flipHex, vector } from "./vectors.js";

const V = vector("merkle");
const leaves = V.leaves.map((l) => fromHex(l.data));
const rootOf = (size) => V.roots.find((r) => r.size === size).root;

test("leaf hashes and the roots of every size reproduce the vectors", () => {
  assert.equal(toHex(EMPTY_ROOT), V.empty_root);
  for (const l of V.leaves) assert.equal(toHex(leafHash(l.data)), l.leaf_hash);
  for (const { size, root } of V.roots) assert.equal(toHex(merkleRoot(leaves.slice(0, size))), root);
  assert.throws(() => nodeHash(new Uint8Array(31), new Uint8Array(32)));
});

test("every inclusion proof is reproduced and verifies; tampering fails", () => {
  for (const { index, size, proof } of V.inclusion_proofs) {
    assert.deepEqual(inclusionProof(leaves, index, size).map(toHex), proof);
    const args = { leafHash: V.leaves[index].leaf_hash, index, size, proof, root: rootOf(size) };
    assert.ok(verifyInclusion(args), `${index}/${size}`);
    assert.ok(!verifyInclusion({ ...args, index: index + 1 }));
    assert.ok(!verifyInclusion({ ...args, root: flipHex(args.root) }));
    assert.ok(!verifyInclusion({ ...args, leafHash: flipHex(args.leafHash) }));
    assert.ok(!verifyInclusion({ ...args, proof: [...proof, V.empty_root] }));
    if (proof.length) {
      assert.ok(!verifyInclusion({ ...args, proof: proof.slice(1) }));
      assert.ok(!verifyInclusion({ ...args, proof: [flipHex(proof[0]), ...proof.slice(1)] }));
      assert.ok(!verifyInclusion({ ...args, proof: [proof[0].toUpperCase(), ...proof.slice(1)] }));
    }
  }
  assert.ok(!verifyInclusion({ leafHash: V.leaves[0].leaf_hash, index: -1, size: 1, proof: [], root: rootOf(1) }));
  assert.ok(!verifyInclusion({ leafHash: V.leaves[0].leaf_hash, index: 0, size: 1.5, proof: [], root: rootOf(1) }));
  assert.ok(!verifyInclusion({ leafHash: "zz", index: 0, size: 1, proof: [], root: rootOf(1) }));
});

test("every consistency proof is reproduced and verifies; tampering fails", () => {
  for (const { old_size: m, new_size: n, proof } of V.consistency_proofs) {
    assert.deepEqual(consistencyProof(leaves, m, n).map(toHex), proof);
    const args = { oldSize: m, newSize: n, oldRoot: rootOf(m), newRoot: rootOf(n), proof };
    assert.ok(verifyConsistency(args), `${m}->${n}`);
    // (the empty tree is a prefix of every tree: §9.5 checks no new root when m = 0 < n)
    if (m > 0 || n === 0) assert.ok(!verifyConsistency({ ...args, newRoot: flipHex(args.newRoot) }));
    assert.ok(!verifyConsistency({ ...args, proof: [...proof, V.empty_root] }));
    if (m > 0) assert.ok(!verifyConsistency({ ...args, oldRoot: flipHex(args.oldRoot) }));
    if (m > 0 && m < n) {
      assert.ok(!verifyConsistency({ ...args, proof: [flipHex(proof[0]), ...proof.slice(1)] }));
      assert.ok(!verifyConsistency({ ...args, proof: proof.slice(0, -1) }));
    }
  }
  assert.ok(!verifyConsistency({ oldSize: 3, newSize: 2, oldRoot: rootOf(3), newRoot: rootOf(2), proof: [] }));
  assert.ok(!verifyConsistency({ oldSize: 0, newSize: 0, oldRoot: rootOf(0), newRoot: rootOf(1), proof: [] }));
});

test("the signed tree head is reproduced byte for byte and verifies strictly", () => {
  const t = V.tree_head;
  const h = parseTreeHead(t.head);
  assert.equal(toHex(treeHeadMessage(h)), t.message);
  assert.equal(toHex(ed25519.getPublicKey(fromHex(t.seed))), t.public_key);
  assert.equal(toHex(ed25519.sign(fromHex(t.message), fromHex(t.seed))), t.head.signature);
  assert.ok(verifyTreeHead(t.head, t.public_key));
  assert.ok(verifyTreeHead(t.head, t.public_key, t.head.election_hash));
  assert.ok(!verifyTreeHead(t.head, t.public_key, flipHex(t.head.election_hash)));
  assert.ok(!verifyTreeHead(t.head, flipHex(t.public_key)));
  const bad = [
    (x) => { x.size = 6; },
    (x) => { x.timestamp += 1; },
    (x) => { x.root = flipHex(x.root); },
    (x) => { x.signature = flipHex(x.signature, 40); },
    (x) => { x.signature = x.signature.toUpperCase(); },
    (x) => { x.size = "7"; },
    (x) => { x.size = true; },
    (x) => { x.size = 2 ** 53; },
    (x) => { x.timestamp = -1; },
    (x) => { x.extra = 1; },
    (x) => { delete x.timestamp; },
  ];
  for (const mutate of bad) {
    const head = clone(t.head);
    mutate(head);
    assert.ok(!verifyTreeHead(head, t.public_key), mutate.toString());
  }
});

test("non-canonical S and small-order keys are rejected (zip215: false)", () => {
  const t = V.tree_head;
  // S + L is the same signature under lax (ZIP 215) rules, but not under RFC 8032 §5.1.7.
  const sig = fromHex(t.head.signature);
  let s = 0n;
  for (let i = 63; i >= 32; i--) s = (s << 8n) | BigInt(sig[i]);
  s += 2n ** 252n + 27742317777372353535851937790883648493n;
  for (let i = 32; i < 64; i++) { sig[i] = Number(s & 0xffn); s >>= 8n; }
  assert.ok(!verifyTreeHead({ ...t.head, signature: toHex(sig) }, t.public_key));
  // The identity as public key with an (R = identity, S = 0) signature: valid under ZIP 215.
  const identity = `01${"00".repeat(31)}`;
  const forged = { ...t.head, signature: `${identity}${"00".repeat(32)}` };
  assert.ok(ed25519.verify(fromHex(forged.signature), treeHeadMessage(parseTreeHead(forged)), fromHex(identity), { zip215: true }));
  assert.ok(!verifyTreeHead(forged, identity));
});

test("libsodium parity: torsion in R is rejected, though noble's cofactored check accepts it", () => {
  const t = V.tree_head;
  const L = 2n ** 252n + 27742317777372353535851937790883648493n;
  const le = (bytes) => bytes.reduceRight((v, b) => (v << 8n) | BigInt(b), 0n);
  const leBytes = (n) => Uint8Array.from({ length: 32 }, (_, i) => Number((n >> BigInt(8 * i)) & 0xffn));
  const { scalar: a } = ed25519.utils.getExtendedPublicKey(fromHex(t.seed));
  const pub = fromHex(t.public_key);
  const message = fromHex(t.message);
  const T = ed25519.Point.fromBytes(fromHex(`ec${"ff".repeat(30)}7f`)); // (0, −1): order 2
  const sign = (R, rScalar) => {
    const k = le(sha512(Uint8Array.from([...R.toBytes(), ...pub, ...message]))) % L;
    return Uint8Array.from([...R.toBytes(), ...leBytes((rScalar + k * a) % L)]);
  };
  const r = 123456789n;
  const dirty = sign(ed25519.Point.BASE.multiply(r).add(T), r); // R + torsion
  const smallR = sign(T, 0n); // R of order 2
  for (const sig of [dirty, smallR]) {
    assert.ok(ed25519.verify(sig, message, pub, { zip215: false }));
    assert.ok(!verifyEd25519(sig, message, pub));
    assert.ok(!verifyTreeHead({ ...t.head, signature: toHex(sig) }, t.public_key));
  }
  assert.ok(verifyEd25519(sign(ed25519.Point.BASE.multiply(r), r), message, pub));
});

test("a receipt's inclusion is checked against a verified head", () => {
  // Sign a head over a board of three trackers with the vector key.
  const t = V.tree_head;
  const trackers = [1, 2, 3].map((i) => new Uint8Array(32).fill(i));
  const root = toHex(merkleRoot(trackers));
  const fields = { electionHash: t.head.election_hash, size: 3, root, timestamp: 1767225600 };
  const signature = toHex(ed25519.sign(treeHeadMessage(fields), fromHex(t.seed)));
  const head = { election_hash: t.head.election_hash, size: 3, root, timestamp: 1767225600, signature };
  const receipt = {
    tracker: toHex(trackers[1]),
    index: 1,
    proof: inclusionProof(trackers, 1).map(toHex),
    head,
    boardPublicKey: t.public_key,
    electionHash: t.head.election_hash,
  };
  assert.ok(verifyReceiptInclusion(receipt));
  assert.ok(!verifyReceiptInclusion({ ...receipt, index: 2 }));
  assert.ok(!verifyReceiptInclusion({ ...receipt, tracker: toHex(trackers[0]) }));
  assert.ok(!verifyReceiptInclusion({ ...receipt, head: { ...head, size: 4 } }));
  assert.ok(!verifyReceiptInclusion({ ...receipt, electionHash: flipHex(t.head.election_hash) }));
});
