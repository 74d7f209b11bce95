"""Build hook: compile the variable-time ristretto255 library (native/) with the C compiler.

The library is a plain shared object loaded through ctypes (securevote/crypto/native.py), so it
does not depend on the Python ABI; it only needs a C11 compiler with 128-bit integers (gcc or
clang on a 64-bit platform). It is compiled next to the Python sources, which serves editable
installs, and included in wheels under the same path.
"""

from __future__ import annotations

import os
import shlex
import subprocess
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

SOURCE = "native/ristretto255_vartime.c"
TARGET = "src/securevote/crypto/_ristretto255_vartime.so"
FLAGS = [
    "-std=c11",
    "-O3",
    "-fPIC",
    "-shared",
    "-fvisibility=hidden",
    "-Wall",
    "-Wextra",
    "-Werror",
]


class NativeBuildHook(BuildHookInterface):  # type: ignore[type-arg]
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        root = Path(self.root)
        source, target = root / SOURCE, root / TARGET
        compiler = shlex.split(os.environ.get("CC", "cc"))
        command = [*compiler, *FLAGS, "-o", str(target), str(source)]
        try:
            subprocess.run(command, check=True)  # noqa: S603 - the build's own compiler
        except (OSError, subprocess.CalledProcessError) as error:
            raise RuntimeError(
                f"compiling {SOURCE} failed ({error}); building secure-vote needs a C compiler"
            ) from error
        build_data["pure_python"] = False
        build_data["infer_tag"] = True
        if version != "editable":  # an editable install imports it from src/ where it was built
            build_data["force_include"][str(target)] = TARGET.removeprefix("src/")
