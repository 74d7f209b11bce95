// "Check my ballot" (check.html): look a tracker up on the bulletin board and verify, in this
// browser, that the board's signed head is genuine and that the inclusion proof places the
// tracker in the tree that head signs. Runs after /static/js/securevote.js.
const SV = globalThis.SecureVote;
const root = document.getElementById("check");
const form = document.getElementById("check-form");
const input = document.getElementById("tracker");
const out = document.getElementById("check-result");
const electionId = root.dataset.electionId;

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

const fromHash = new URLSearchParams(location.hash.slice(1)).get("tracker");
if (fromHash && SV) {
  input.value = fromHash;
  check(fromHash).catch((error) => say("error", `Something went wrong: ${error.message}`));
}
