/**
 * Exponential ElGamal under the joint key K (docs/protocol.md §5):
 *
 *     Enc(m; r) = (pad, data) = (r·G, m·G + r·K)
 *
 * A ciphertext is `{pad, data}` with points; its JSON form has the points as hex.
 */
import {
  GENERATOR,
  GroupError,
  IDENTITY,
  mulSecret,
  pointFromHex,
  pointToHex,
  requireKeys,
  smallBaseMul,
} from "./group.js";

/** Encrypt the small integer `message` with the secret, non-zero `nonce` (a bigint). */
export function encrypt({ message, publicKey, nonce }) {
  if (typeof nonce !== "bigint" || nonce === 0n) {
    throw new GroupError("the encryption nonce must be non-zero");
  }
  return {
    pad: mulSecret(GENERATOR, nonce),
    data: smallBaseMul(message).add(mulSecret(publicKey, nonce)),
  };
}

/** Homomorphic sum (encrypts the sum of the messages); the empty sum is (O, O). */
export function addCiphertexts(ciphertexts) {
  let pad = IDENTITY;
  let data = IDENTITY;
  for (const c of ciphertexts) {
    pad = pad.add(c.pad);
    data = data.add(c.data);
  }
  return { pad, data };
}

export function ciphertextsEqual(a, b) {
  return a.pad.equals(b.pad) && a.data.equals(b.data);
}

export function ciphertextToJson(c) {
  return { pad: pointToHex(c.pad), data: pointToHex(c.data) };
}

/** Strict parse: exactly the members `pad` and `data`, canonical points. */
export function ciphertextFromJson(doc) {
  requireKeys(doc, ["data", "pad"], "a ciphertext");
  return { pad: pointFromHex(doc.pad), data: pointFromHex(doc.data) };
}
