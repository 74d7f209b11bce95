"""Policy checks on rendered overlays (deploy/validate.sh), beyond what a schema can say.

Usage: python check_manifests.py RENDERED.yaml...   (file names end in <overlay>.yaml)

Every secure-vote workload must: run as non-root without privilege escalation, on a read-only
root filesystem, with every capability dropped and the RuntimeDefault seccomp profile, with
requests and a memory limit. Every service Deployment must also: probe /ready (readiness) and
/health (liveness), request 250m CPU / 512Mi, roll with maxUnavailable 0 / maxSurge 1, have a
Service, an HPA and a PodDisruptionBudget; in production run 3 replicas. The Ingress routes the
service prefixes and sends /metrics to a Service without pods. Every image must carry
a tag, never :latest. Prints one line per problem; exits 1 if there is any.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml

SERVICES = ("auth", "election", "voting", "results", "frontend")
WORKLOAD_KINDS = {"Deployment", "StatefulSet", "Job", "CronJob"}


def pod_spec(doc: dict[str, Any]) -> dict[str, Any]:
    if doc["kind"] == "CronJob":
        return doc["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return doc["spec"]["template"]["spec"]


def check_container(where: str, pod: dict[str, Any], c: dict[str, Any]) -> list[str]:
    problems = []
    sc = c.get("securityContext", {})
    pod_sc = pod.get("securityContext", {})
    name = f"{where} container {c['name']}"
    if sc.get("allowPrivilegeEscalation") is not False:
        problems.append(f"{name}: allowPrivilegeEscalation must be false")
    if sc.get("readOnlyRootFilesystem") is not True:
        problems.append(f"{name}: readOnlyRootFilesystem must be true")
    if not (sc.get("runAsNonRoot") or pod_sc.get("runAsNonRoot")):
        problems.append(f"{name}: runAsNonRoot must be true")
    if sc.get("capabilities", {}).get("drop") != ["ALL"]:
        problems.append(f"{name}: capabilities.drop must be [ALL]")
    seccomp = sc.get("seccompProfile") or pod_sc.get("seccompProfile") or {}
    if seccomp.get("type") != "RuntimeDefault":
        problems.append(f"{name}: seccompProfile must be RuntimeDefault")
    resources = c.get("resources", {})
    if not resources.get("requests", {}).get("cpu") or not resources.get("requests", {}).get(
        "memory"
    ):
        problems.append(f"{name}: needs CPU and memory requests")
    if not resources.get("limits", {}).get("memory"):
        problems.append(f"{name}: needs a memory limit")
    image = c.get("image", "")
    if ":" not in image.rsplit("/", 1)[-1] or image.endswith(":latest"):
        problems.append(f"{name}: image {image!r} needs a tag other than latest")
    return problems


def check_overlay(path: Path) -> list[str]:
    overlay = path.stem
    docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
    by_kind: dict[str, dict[str, dict[str, Any]]] = {}
    for d in docs:
        by_kind.setdefault(d["kind"], {})[d["metadata"]["name"]] = d
    problems = []
    for d in docs:
        if d["kind"] not in WORKLOAD_KINDS:
            continue
        pod = pod_spec(d)
        where = f"{overlay}: {d['kind']}/{d['metadata']['name']}"
        if pod.get("automountServiceAccountToken") is not False:
            problems.append(f"{where}: automountServiceAccountToken must be false")
        for c in pod.get("initContainers", []) + pod["containers"]:
            problems += check_container(where, pod, c)

    for s in SERVICES:
        where = f"{overlay}: Deployment/{s}"
        dep = by_kind.get("Deployment", {}).get(s)
        if dep is None:
            problems.append(f"{where}: missing")
            continue
        spec = dep["spec"]
        c = spec["template"]["spec"]["containers"][0]
        if c.get("readinessProbe", {}).get("httpGet", {}).get("path") != "/ready":
            problems.append(f"{where}: readiness probe must be GET /ready")
        if c.get("livenessProbe", {}).get("httpGet", {}).get("path") != "/health":
            problems.append(f"{where}: liveness probe must be GET /health")
        if c["resources"]["requests"] != {"cpu": "250m", "memory": "512Mi"}:
            problems.append(f"{where}: requests must be 250m CPU / 512Mi")
        rolling = spec.get("strategy", {}).get("rollingUpdate", {})
        if (rolling.get("maxUnavailable"), rolling.get("maxSurge")) != (0, 1):
            problems.append(f"{where}: rolling update must be maxUnavailable 0, maxSurge 1")
        if overlay.startswith("production") and spec.get("replicas") != 3:
            problems.append(f"{where}: production runs 3 replicas, not {spec.get('replicas')}")
        for kind in ("Service", "HorizontalPodAutoscaler", "PodDisruptionBudget"):
            if s not in by_kind.get(kind, {}):
                problems.append(f"{overlay}: {kind}/{s} missing")

    if "securevote-migrate" not in by_kind.get("Job", {}):
        problems.append(f"{overlay}: the migration Job is missing")
    policies = by_kind.get("NetworkPolicy", {})
    deny = policies.get("default-deny-all")
    if (
        not deny
        or deny["spec"]["podSelector"]
        or sorted(deny["spec"]["policyTypes"])
        != [
            "Egress",
            "Ingress",
        ]
    ):
        problems.append(f"{overlay}: default-deny-all NetworkPolicy missing or not deny-all")
    ingress = by_kind.get("Ingress", {}).get("securevote")
    if not ingress or not ingress["spec"].get("tls"):
        problems.append(f"{overlay}: Ingress securevote with TLS missing")
    else:
        routes = {
            p["path"]: p["backend"]["service"]["name"]
            for r in ingress["spec"]["rules"]
            for p in r["http"]["paths"]
        }
        expected = {
            "/api/auth": "auth",
            "/api/elections": "election",
            "/api/ballots": "voting",
            "/api/results": "results",
            "/metrics": "metrics-blocked",
            "/": "frontend",
        }
        if routes != expected:
            problems.append(f"{overlay}: Ingress routes {routes} != {expected}")
        # /metrics is not public (docs/adr/0010-metrics-not-public.md): its backend has no pods.
        blocked = by_kind.get("Service", {}).get("metrics-blocked")
        if not blocked or "selector" in blocked["spec"]:
            problems.append(f"{overlay}: Service/metrics-blocked missing or selecting pods")
        if "cert-manager.io/cluster-issuer" not in ingress["metadata"].get("annotations", {}):
            problems.append(f"{overlay}: Ingress lacks the cert-manager annotation")
    namespaces = {d["metadata"].get("namespace") for d in docs if d["kind"] != "Namespace"}
    if namespaces != {"securevote"}:
        problems.append(f"{overlay}: every object belongs in namespace securevote: {namespaces}")
    return problems


def main(paths: list[str]) -> int:
    problems = []
    for p in paths:
        found = check_overlay(Path(p))
        print(f"   {Path(p).stem}: {len(found)} problem(s)")
        problems += found
    for line in problems:
        print(f"   {line}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
