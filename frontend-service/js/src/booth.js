/**
 * Bundle entry (build.mjs → static/js/securevote.js).
 *
 * The bundle is an ES module that exports the whole API and also installs it, frozen, as
 * `window.SecureVote` (`globalThis.SecureVote`), so that page scripts loaded after it, each
 * with its own SRI hash, can use it without importing a URL that bypasses integrity checks.
 */
import * as api from "./index.js";

export * from "./index.js";

export const VERSION = "securevote-browser-crypto/1";

const frozen = Object.freeze({ ...api, VERSION });
// Read-only and non-configurable: a later script cannot swap the implementation. Refuse to
// run if something already claimed the name rather than leave the page with a stranger's API.
if (Object.hasOwn(globalThis, "SecureVote")) throw new Error("SecureVote is already defined");
Object.defineProperty(globalThis, "SecureVote", { value: frozen, enumerable: true });
