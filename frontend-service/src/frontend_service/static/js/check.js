// "Check my ballot" (check.html): look a tracker up on the bulletin board and verify, in this
// browser, that the board's signed head is genuine and that the inclusion proof places the
// tracker in the tree that head signs. Runs after /static/js/securevote.js.
const SV = globalThis.SecureVote;
const root = document.getElementById("check");
const form = document.getElementById("check-form");
const input = document.getElementById("tracker");
const out = document.getElementById("check-result");
const electionId = root.dataset.electionId;

// The receipt's signed message (securevote.voter.receipt_message): "securevote/v1/receipt" ||
// election_hash || tracker || u64be(board_index) || u64be(tree_size) || root.
function receiptMessage(r) {
  const tag = new TextEncoder().encode("securevote/v1/receipt");
  const out = new Uint8Array(tag.length + 32 + 32 + 8 + 8 + 32);
  const view = new DataView(out.buffer);
  let at = 0;
  out.set(tag, at);
  at += tag.length;
  out.set(SV.fromHex(r.election_hash, 32), at);
  at += 32;
  out.set(SV.fromHex(r.tracker, 32), at);
  at += 32;
  view.setBigUint64(at, BigInt(r.board_index));
  at += 8;
  view.setBigUint64(at, BigInt(r.tree_size));
  at += 8;
  out.set(SV.fromHex(r.root, 32), at);
  return out;
}

function receiptSignatureValid(receipt, boardKey) {
  try {
    return SV.verifyEd25519(SV.fromHex(receipt.signature, 64), receiptMessage(receipt), SV.fromHex(boardKey, 32));
  } catch {
    return false;
  }
}

function say(kind, text) {
  out.replaceChildren();
  const p = document.createElement("p");
  p.className = `notice ${kind}`;
  p.textContent = text;
  out.append(p);
}

async function check(tracker) {
  if (!/^[0-9a-f]{64}$/.test(tracker)) {
    input.setAttribute("aria-invalid", "true");
    return say("error", "A tracker is 64 characters, 0–9 and a–f.");
  }
  input.removeAttribute("aria-invalid");
  say("", "Checking…");
  const base = `/api/ballots/elections/${encodeURIComponent(electionId)}/board`;
  const response = await fetch(`${base}/trackers/${tracker}`, { cache: "no-store" });
  if (response.status === 404) return say("error", "This tracker is not on the bulletin board.");
  if (!response.ok) return say("error", `The board could not be asked (error ${response.status}). Try again later.`);
  const found = await response.json();
  const ok = SV.verifyReceiptInclusion({
    tracker,
    index: found.board_index,
    proof: found.inclusion_proof,
    head: found.head,
    boardPublicKey: root.dataset.boardKey,
    electionHash: root.dataset.electionHash,
  });
  if (!ok) return say("error", "The board's answer does NOT verify. Keep your receipt and tell the organiser.");
  const counted = found.counted ? "It counts." : "It was replaced by a later ballot of yours and does not count.";
  say("ok", `Verified: ballot number ${found.board_index + 1} on the board is yours, included in the signed head of ${found.head.size} ballots. ${counted}`);
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  check(input.value.trim().toLowerCase()).catch((error) => say("error", `Something went wrong: ${error.message}`));
});

// A receipt file (securevote-receipt/v1), read on this device: its signature under the key
// it pins, then the board's latest head, the inclusion proof under it, and the consistency
// of that head with the tree the receipt names (so the board cannot have dropped the ballot).
async function checkReceipt(file) {
  let document_;
  try {
    document_ = JSON.parse(await file.text());
  } catch {
    return say("error", "This file is not a secure-vote receipt.");
  }
  const receipt = document_ && document_.receipt;
  if (!receipt || document_.format !== "securevote-receipt/v1" || document_.election_id !== electionId) {
    return say("error", "This file is not a receipt for this election.");
  }
  const key = document_.board_public_key;
  if (key !== root.dataset.boardKey) return say("error", "The board now uses another key than the one that signed this receipt. Tell the organiser.");
  if (!receiptSignatureValid(receipt, key)) return say("error", "The receipt's signature does NOT verify.");
  if (receipt.election_hash !== root.dataset.electionHash) return say("error", "This receipt is for another election.");
  const base = `/api/ballots/elections/${encodeURIComponent(electionId)}/board`;
  const found = await (await fetch(`${base}/trackers/${receipt.tracker}`, { cache: "no-store" })).json();
  if (!found || found.board_index !== receipt.board_index) return say("error", "The board does not list this ballot where the receipt says. Tell the organiser.");
  const included = SV.verifyReceiptInclusion({
    tracker: receipt.tracker,
    index: found.board_index,
    proof: found.inclusion_proof,
    head: found.head,
    boardPublicKey: key,
    electionHash: receipt.election_hash,
  });
  if (!included || found.head.size < receipt.tree_size) return say("error", "The board's answer does NOT verify. Tell the organiser.");
  const consistency = await (
    await fetch(`${base}/consistency?first=${receipt.tree_size}&second=${found.head.size}`, { cache: "no-store" })
  ).json();
  const consistent = SV.verifyConsistency({
    oldSize: receipt.tree_size,
    newSize: found.head.size,
    oldRoot: SV.fromHex(receipt.root, 32),
    newRoot: SV.fromHex(found.head.root, 32),
    proof: (consistency.proof || []).map((node) => SV.fromHex(node, 32)),
  });
  if (!consistent) return say("error", "The board's history is NOT consistent with your receipt. Tell the organiser.");
  input.value = receipt.tracker;
  say("ok", `Verified: the receipt is signed by the board, ballot number ${found.board_index + 1} is still on the board, and the board has only grown since (${receipt.tree_size} → ${found.head.size} ballots).`);
}

document.getElementById("receipt-file").addEventListener("change", (event) => {
  const file = event.target.files[0];
  if (file) checkReceipt(file).catch((error) => say("error", `Something went wrong: ${error.message}`));
});

const fromHash = new URLSearchParams(location.hash.slice(1)).get("tracker");
if (fromHash && SV) {
  input.value = fromHash;
  check(fromHash).catch((error) => say("error", `Something went wrong: ${error.message}`));
}
