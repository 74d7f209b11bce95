/** Load docs/vectors/*.json (the Python reference's test vectors). */
import { readFileSync } from "node:fs";

const root = new URL("../../../docs/vectors/", import.meta.url);

export function vector(name) {
  return JSON.parse(readFileSync(new URL(`${name}.json`, root), "utf8"));
}

/** Flip one bit of a lowercase-hex string (first hex digit of byte `byte`). */
export function flipHex(hex, byte = 0) {
  const digit = parseInt(hex[2 * byte], 16) ^ 1;
  return hex.slice(0, 2 * byte) + digit.toString(16) + hex.slice(2 * byte + 1);
}

export const clone = (x) => structuredClone(x);
