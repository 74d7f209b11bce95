// Validates the Argo Rollouts custom resources of a rendered overlay (deploy/validate.sh):
// kubernetes-validate has no schema for CRDs, so Rollout and AnalysisTemplate are checked
// against the JSON schemas of @kubernetes-models/argo-rollouts (generated from the Argo
// Rollouts CRDs). Those schemas check types, enums and required fields, not unknown keys.
// Usage: node check_crds.mjs RENDERED.json   (a JSON array of the overlay's documents)
import { readFileSync } from "node:fs";
import { AnalysisTemplate, Rollout } from "@kubernetes-models/argo-rollouts/argoproj.io/v1alpha1";

const models = { Rollout, AnalysisTemplate };
const docs = JSON.parse(readFileSync(process.argv[2], "utf8"));
let checked = 0;
let failed = 0;
for (const doc of docs) {
  if (doc.apiVersion !== "argoproj.io/v1alpha1") continue;
  const Model = models[doc.kind];
  const name = `${doc.kind}/${doc.metadata.name}`;
  if (!Model) {
    console.log(`   no model for ${name}`);
    failed++;
    continue;
  }
  try {
    new Model(doc).validate();
    checked++;
  } catch (error) {
    console.log(`   ${name}: ${error.message}`);
    failed++;
  }
}
console.log(`   ${checked} Argo Rollouts resources valid, ${failed} invalid`);
process.exit(failed > 0 || checked === 0 ? 1 : 0);
