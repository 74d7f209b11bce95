/**
 * Deterministic bundle of src/booth.js → <out>/securevote.js and its SRI hash
 * (<out>/securevote.js.sri, "sha384-<base64>\n").
 *
 * Usage: node build.mjs [OUT_DIR]   (default: ../src/frontend_service/static/js)
 *
 * Determinism: pinned esbuild (package-lock.json), fixed target, no source maps, no
 * timestamps or absolute paths (esbuild only writes paths relative to this directory,
 * and only in comments it omits when minifying; we do not minify, so module boundaries stay
 * readable for anyone auditing what the booth runs).
 */
import { createHash } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const outDir = resolve(process.argv[2] ?? join(here, "../src/frontend_service/static/js"));

const result = await esbuild.build({
  absWorkingDir: here,
  entryPoints: ["src/booth.js"],
  bundle: true,
  format: "esm",
  platform: "browser",
  target: ["es2022"],
  charset: "utf8",
  legalComments: "inline",
  minify: false,
  sourcemap: false,
  treeShaking: true,
  write: false,
  logLevel: "warning",
  banner: { js: "// secure-vote browser cryptography — built by frontend-service/js/build.sh; do not edit." },
});

const bundle = result.outputFiles[0].contents;
const sri = `sha384-${createHash("sha384").update(bundle).digest("base64")}`;
mkdirSync(outDir, { recursive: true });
writeFileSync(join(outDir, "securevote.js"), bundle);
writeFileSync(join(outDir, "securevote.js.sri"), `${sri}\n`);
console.log(`${join(outDir, "securevote.js")}: ${bundle.length} bytes, ${sri}`);
