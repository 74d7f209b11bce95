/**
 * secure-vote browser cryptography: the public API (docs/browser-crypto.md).
 * Every function follows docs/protocol.md; the section is named in each module.
 */
export {
  GENERATOR,
  GroupError,
  IDENTITY,
  ORDER,
  Point,
  bytesEqual,
  decodePoint,
  decodeScalar,
  encodePoint,
  encodeScalar,
  fromHex,
  pointFromHex,
  pointToHex,
  randomScalar,
  scalarFromHex,
  scalarToHex,
  toHex,
} from "./group.js";
export {
  HashingError,
  canonicalJson,
  canonicalJsonString,
  frame,
  hash256,
  hash512,
  hashToPoint,
  hashToScalar,
} from "./hashing.js";
export {
  addCiphertexts,
  ciphertextFromJson,
  ciphertextToJson,
  ciphertextsEqual,
  encrypt,
} from "./elgamal.js";
export {
  disjunctiveFromJson,
  disjunctiveToJson,
  pairProofFromJson,
  pairProofToJson,
  proveDleq,
  proveEncryptsOneOf,
  proveSchnorr,
  verifyDleq,
  verifyEncryptsOneOf,
  verifySchnorr,
} from "./proofs.js";
export {
  ceremonyHash,
  checkElection,
  electionHash,
  jointKey,
  manifestHash,
  validateManifest,
} from "./election.js";
export {
  BallotError,
  ballotProblems,
  checkSpoiledBallot,
  encryptBallot,
  parseBallot,
  randomSeed,
  revealChoices,
  selectionNonce,
  spoiledBallotProblems,
  trackerOf,
  validateChoices,
  verifyBallot,
} from "./ballot.js";
export {
  EMPTY_ROOT,
  consistencyProof,
  inclusionProof,
  leafHash,
  merkleRoot,
  nodeHash,
  parseTreeHead,
  treeHeadMessage,
  verifyConsistency,
  verifyEd25519,
  verifyInclusion,
  verifyReceiptInclusion,
  verifyTreeHead,
} from "./merkle.js";
