// Driver for frontend-service/tests/test_browser_crypto.py: runs the *committed bundle* (what
// browsers load) on a JSON request read from stdin and prints a JSON answer on stdout.
//   node cross-driver.mjs BUNDLE_PATH < request.json
// Requests: {"op": "encrypt", "args": {...encryptBallot args}}
//           {"op": "problems", "args": {...ballotProblems args}}
//           {"op": "spoiled", "args": {...spoiledBallotProblems args}}
//           {"op": "tracker", "args": {"ballot": ...}}
//           {"op": "election", "args": {...checkElection args}}
//           {"op": "ed25519", "args": {"signature", "message", "publicKey"} (hex)}
//           {"op": "receipt", "args": {...verifyReceiptInclusion args}}
//           {"op": "consistency", "args": {...verifyConsistency args}}
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";

const sv = await import(pathToFileURL(resolve(process.argv[2])).href);
const { op, args } = JSON.parse(readFileSync(0, "utf8"));
const ops = {
  encrypt: () => sv.encryptBallot(args),
  problems: () => sv.ballotProblems(args),
  spoiled: () => sv.spoiledBallotProblems(args),
  tracker: () => sv.trackerOf(args.ballot),
  election: () => sv.checkElection(args),
  ed25519: () => sv.verifyEd25519(args.signature, sv.fromHex(args.message), args.publicKey),
  receipt: () => sv.verifyReceiptInclusion(args),
  consistency: () => sv.verifyConsistency(args),
};
process.stdout.write(JSON.stringify(ops[op]()));
