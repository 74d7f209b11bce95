// The voting booth (vote.html). Runs after /static/js/securevote.js, which installs the
// frozen window.SecureVote. The plaintext choices stay in this page: only the encrypted
// ballot (to cast) or, for an audited ballot, its revealed seed and choices (to spoil it)
// are ever sent. Every text from the server is inserted with textContent, never as HTML.
const SV = globalThis.SecureVote;
const STORE = "securevote.booth";
const $ = (id) => document.getElementById(id);

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

const state = {
  electionId: null,
  credential: null,
  context: null,
  choices: null,
  encrypted: null, // {ballot, seed, tracker}
  electionHash: null,
  jointKey: null,
};

function show(step) {
  for (const section of document.querySelectorAll("[data-step]")) {
    section.hidden = section.id !== `step-${step}`;
  }
  const heading = $(`step-${step}`).querySelector("h1");
  if (heading) heading.focus();
}

function fail(message) {
  $("error-message").textContent = message;
  show("error");
}

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === "text") node.textContent = value;
    else if (key === "class") node.className = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child);
  return node;
}

function ruleInWords(min, max, count) {
  if (min === max) return min === 1 ? "Choose exactly one option." : `Choose exactly ${min} options.`;
  if (min === 0 && max >= count) return "Choose any number of options, or none.";
  if (min === 0) return max === 1 ? "Choose at most one option." : `Choose up to ${max} options.`;
  return `Choose between ${min} and ${max} options.`;
}

function claimsOf(jwt) {
  const part = jwt.split(".")[1];
  const json = atob(part.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(part.length / 4) * 4, "="));
  return JSON.parse(json);
}

async function api(method, path, body, headers = {}) {
  const response = await fetch(path, {
    method,
    credentials: "same-origin",
    cache: "no-store",
    headers: body === undefined ? headers : { "Content-Type": "application/json", ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = null;
  }
  return { status: response.status, ok: response.ok, data };
}

function problemText(result, fallback) {
  const detail = result.data && (result.data.detail || result.data.title);
  return detail ? String(detail) : fallback;
}

async function redeem(token, rollSecret) {
  const body = rollSecret === undefined ? { token } : { token, roll_secret: rollSecret };
  return api("POST", "/api/auth/voter/redeem", body);
}

function remember(session) {
  const claims = claimsOf(session.session_token);
  state.electionId = session.election_id;
  state.credential = claims.cred;
  sessionStorage.setItem(
    STORE,
    JSON.stringify({ electionId: state.electionId, credential: state.credential, exp: claims.exp }),
  );
}

async function start() {
  if (!SV) return fail("The encryption code did not load. Reload the page.");
  const params = new URLSearchParams(location.hash.slice(1));
  const token = params.get("token");
  if (token) {
    // Forget the token from the address bar and history at once.
    history.replaceState(null, "", location.pathname);
    sessionStorage.removeItem(STORE);
    state.token = token;
    const result = await redeem(token);
    if (result.ok) {
      remember(result.data);
      return loadBallot();
    }
    if (result.data && result.data.code === "roll_secret_required") return show("secret");
    if (result.status === 429) return fail("Too many attempts. Please wait a few minutes and open your link again.");
    return fail(problemText(result, "This voting link is not valid. It may have expired or been replaced."));
  }
  const saved = JSON.parse(sessionStorage.getItem(STORE) || "null");
  if (saved && saved.exp * 1000 > Date.now()) {
    state.electionId = saved.electionId;
    state.credential = saved.credential;
    return loadBallot();
  }
  return fail("Open this page with the link from your invitation e-mail.");
}

$("secret-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const value = $("roll-secret").value.trim();
  const error = $("roll-secret-error");
  if (!value) {
    error.textContent = "Enter your date of birth.";
    error.hidden = false;
    $("roll-secret").setAttribute("aria-invalid", "true");
    return;
  }
  const result = await redeem(state.token, value);
  if (result.ok) {
    remember(result.data);
    return loadBallot();
  }
  if (result.status === 429) return fail("Too many attempts. Please wait a few minutes and try again.");
  error.textContent = problemText(result, "That did not match. Check the date and try again.");
  error.hidden = false;
  $("roll-secret").setAttribute("aria-invalid", "true");
  $("roll-secret").focus();
});

async function loadBallot() {
  const result = await api("GET", `/api/ballots/elections/${encodeURIComponent(state.electionId)}/context`);
  if (!result.ok) return fail(problemText(result, "The ballot could not be loaded."));
  const context = result.data;
  // Recompute the joint key and election hash from the trustees' published commitments
  // instead of trusting the server's values.
  const checked = SV.checkElection({
    manifest: context.manifest,
    threshold: context.threshold,
    trustees: context.trustees,
  });
  if (checked.problems.length) return fail(`This election's keys do not check out: ${checked.problems.join("; ")}`);
  if (checked.electionHash !== context.election_hash || checked.jointKey !== context.joint_key) {
    return fail("The election's published keys do not match its hash. Do not vote; tell the organiser.");
  }
  state.context = context;
  state.electionHash = checked.electionHash;
  state.jointKey = checked.jointKey;
  renderBallot(context.manifest);
  show("ballot");
}

function renderBallot(manifest) {
  $("ballot-title").textContent = manifest.title;
  const container = $("questions");
  container.replaceChildren();
  manifest.questions.forEach((q, qi) => {
    const single = q.min_selections === 1 && q.max_selections === 1;
    const ruleId = `rule-${qi}`;
    const fieldset = el("fieldset", { "aria-describedby": ruleId, "data-question": q.id });
    fieldset.append(el("legend", { text: q.label }));
    fieldset.append(el("p", { class: "hint", id: ruleId, text: ruleInWords(q.min_selections, q.max_selections, q.options.length) }));
    q.options.forEach((o, oi) => {
      const id = `q${qi}-o${oi}`;
      const input = el("input", { type: single ? "radio" : "checkbox", id, name: `q${qi}`, value: o.id });
      const label = el("label", { class: "choice", for: id }, input, el("span", { text: o.label }));
      fieldset.append(label);
    });
    fieldset.append(el("p", { class: "notice error", id: `err-${qi}`, role: "alert", hidden: "" }));
    container.append(fieldset);
  });
}

function readChoices() {
  const choices = {};
  let firstBad = null;
  state.context.manifest.questions.forEach((q, qi) => {
    const picked = [...document.querySelectorAll(`input[name="q${qi}"]:checked`)].map((i) => i.value);
    choices[q.id] = picked;
    const err = $(`err-${qi}`);
    const fieldset = err.parentElement;
    if (picked.length < q.min_selections || picked.length > q.max_selections) {
      err.textContent = `${ruleInWords(q.min_selections, q.max_selections, q.options.length)} You chose ${picked.length}.`;
      err.hidden = false;
      fieldset.setAttribute("aria-invalid", "true");
      if (firstBad === null) firstBad = fieldset.querySelector("input");
    } else {
      err.hidden = true;
      fieldset.removeAttribute("aria-invalid");
    }
  });
  return { choices, firstBad };
}

$("ballot-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const { choices, firstBad } = readChoices();
  if (firstBad) {
    firstBad.focus();
    return;
  }
  state.choices = choices;
  const list = $("review-list");
  list.replaceChildren();
  for (const q of state.context.manifest.questions) {
    const labels = q.options.filter((o) => choices[q.id].includes(o.id)).map((o) => o.label);
    list.append(el("h2", { text: q.label }));
    if (labels.length === 0) list.append(el("p", { text: "No option chosen (blank)." }));
    else list.append(el("ul", {}, ...labels.map((text) => el("li", { text }))));
  }
  show("review");
});

$("change").addEventListener("click", () => show("ballot"));

function encryptNow() {
  state.encrypted = SV.encryptBallot({
    manifest: state.context.manifest,
    publicKey: state.jointKey,
    electionHash: state.electionHash,
    credential: state.credential,
    choices: state.choices,
  });
  $("tracker").textContent = state.encrypted.tracker;
  $("cast-error").hidden = true;
  show("encrypted");
}

$("encrypt").addEventListener("click", () => {
  $("encrypt").disabled = true;
  // Let the button state paint before the (short) computation.
  setTimeout(() => {
    try {
      encryptNow();
    } catch (error) {
      fail(`Encryption failed: ${error.message}`);
    } finally {
      $("encrypt").disabled = false;
    }
  }, 0);
});

function randomKey() {
  const bytes = crypto.getRandomValues(new Uint8Array(18));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

$("cast").addEventListener("click", async () => {
  const button = $("cast");
  button.disabled = true;
  const { ballot, tracker } = state.encrypted;
  const key = state.encrypted.idempotencyKey || (state.encrypted.idempotencyKey = randomKey());
  let result;
  try {
    result = await api("POST", `/api/ballots/elections/${encodeURIComponent(state.electionId)}/cast`, { ballot }, { "Idempotency-Key": key });
  } catch {
    result = { ok: false, status: 0, data: null };
  }
  button.disabled = false;
  if (!result.ok) {
    const error = $("cast-error");
    error.textContent = problemText(result, "Your ballot could not be cast. Check your connection and try again.");
    error.hidden = false;
    return;
  }
  const { receipt, inclusion_proof: proof, board_public_key: boardKey } = result.data;
  let included = false;
  try {
    included =
      receiptSignatureValid(receipt, boardKey) &&
      boardKey === state.context.board_public_key &&
      receipt.tracker === tracker &&
      receipt.election_hash === state.electionHash &&
      SV.verifyInclusion({
        leafHash: SV.leafHash(SV.fromHex(tracker, 32)),
        index: receipt.board_index,
        size: receipt.tree_size,
        proof: proof.map((node) => SV.fromHex(node, 32)),
        root: SV.fromHex(receipt.root, 32),
      });
  } catch {
    included = false;
  }
  showReceipt(receipt, boardKey, included);
});

function showReceipt(receipt, boardKey, included) {
  $("receipt-tracker").textContent = receipt.tracker;
  $("receipt-index").textContent = `ballot number ${receipt.board_index + 1} of ${receipt.tree_size}`;
  $("receipt-status").textContent = included
    ? "Your ballot was recorded. This page checked the board's signature on your receipt and the proof that your ballot is on the bulletin board."
    : "Your ballot was recorded, but its receipt or inclusion proof did not check out. Keep your receipt and tell the organiser.";
  const document_ = {
    format: "securevote-receipt/v1",
    election_id: state.electionId,
    board_public_key: boardKey,
    receipt,
  };
  const blob = new Blob([JSON.stringify(document_, null, 2)], { type: "application/json" });
  const link = $("receipt-download");
  link.href = URL.createObjectURL(blob);
  link.setAttribute("download", `receipt-${receipt.tracker.slice(0, 12)}.json`);
  $("receipt-check").href = `/elections/${encodeURIComponent(state.electionId)}/check#tracker=${receipt.tracker}`;
  sessionStorage.removeItem(STORE);
  state.choices = null;
  state.encrypted = null;
  show("receipt");
}

$("audit").addEventListener("click", async () => {
  const { ballot, seed, tracker } = state.encrypted;
  const manifest = state.context.manifest;
  const ok = SV.checkSpoiledBallot({
    ballot,
    manifest,
    publicKey: state.jointKey,
    electionHash: state.electionHash,
    seed,
    choices: state.choices,
  });
  const revealed = SV.revealChoices({ ballot, manifest, publicKey: state.jointKey, seed });
  const result = await api("POST", `/api/ballots/elections/${encodeURIComponent(state.electionId)}/spoil`, {
    ballot,
    seed,
    choices: state.choices,
  });
  $("audit-tracker").textContent = tracker;
  $("audit-seed").textContent = seed;
  const box = $("audit-choices");
  box.replaceChildren();
  for (const q of manifest.questions) {
    const labels = q.options.filter((o) => (revealed[q.id] || []).includes(o.id)).map((o) => o.label);
    box.append(el("h3", { text: q.label }));
    box.append(labels.length ? el("ul", {}, ...labels.map((text) => el("li", { text }))) : el("p", { text: "No option (blank)." }));
  }
  const status = $("audit-result");
  if (ok && result.ok) {
    status.className = "notice ok";
    status.textContent = "Check passed: the encrypted ballot holds exactly the choices you made. It has been spoiled and will not be counted.";
  } else if (!ok) {
    status.className = "notice error";
    status.textContent = "Check FAILED: the encrypted ballot does not match your choices. Do not cast from this device; tell the organiser.";
  } else {
    status.className = "notice error";
    status.textContent = `The check passed on this device, but publishing the spoiled ballot failed: ${problemText(result, "try again")}`;
  }
  state.encrypted = null;
  show("audit");
});

$("reencrypt").addEventListener("click", () => show("review"));

// Whatever fails unexpectedly is said on the page rather than leaving a dead button.
addEventListener("unhandledrejection", (event) => {
  fail(`Something went wrong: ${event.reason && event.reason.message ? event.reason.message : event.reason}`);
});

// A new link opened in the same tab only changes the fragment: start again with it.
addEventListener("hashchange", () => {
  if (new URLSearchParams(location.hash.slice(1)).get("token")) {
    start().catch((error) => fail(`Something went wrong: ${error.message}`));
  }
});

start().catch((error) => fail(`Something went wrong: ${error.message}`));
