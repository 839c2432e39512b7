"""The stack as it was at another git revision of the project: the base of `fleet diff`.

A revision's render depends only on what that revision holds (its code and stack files, which
the tree id of its commit names) and on the Python packages that run it, so it is kept by
those (`~/.cache/fleet/renders/`, or `FLEET_RENDER_CACHE`; `off` for none): the base of a pull
request is rendered once, however often its diff is taken.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from fleet.stackfile import stack_name
from fleet_cli.render import StackRender, read

CACHE_ENV = "FLEET_RENDER_CACHE"
"""A folder for the renders of revisions (default: the user's cache folder); `off`: none."""


class RevisionError(Exception):
    """The revision cannot be read or rendered; the message says why."""


def _cached(top: Path, commit: str, stack_path: str) -> Path | None:
    """Where the render of `stack_path` (relative to the repository) at `commit` is kept, by
    the commit's tree and the packages this Python runs it with; None without a cache."""
    setting = os.environ.get(CACHE_ENV, "")
    if setting == "off":
        return None
    home = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    base = Path(setting) if setting else home / "fleet" / "renders"
    tree = _git(top, "rev-parse", f"{commit}^{{tree}}").decode().strip()
    packages = sorted(
        f"{d.metadata['Name']}=={d.version}" for d in importlib.metadata.distributions()
    )
    identity = json.dumps([tree, stack_path, sys.executable, sys.version, packages])
    return base / hashlib.sha256(identity.encode()).hexdigest()[:32]


def _keep(rendered: Path, cached: Path) -> None:
    """Keep a render (the folder `STACK` that `fleet render` writes), whole or not at all."""
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        partial = Path(tempfile.mkdtemp(dir=cached.parent, prefix=".part-"))
    except OSError:
        return
    try:
        shutil.copytree(rendered, partial / rendered.name)
        os.replace(partial, cached)
    except OSError:
        shutil.rmtree(partial, ignore_errors=True)


def _git(project: Path, *args: str) -> bytes:
    result = subprocess.run(["git", *args], cwd=project, capture_output=True, check=False)
    if result.returncode != 0:
        message = result.stderr.decode(errors="replace").strip()
        raise RevisionError(f"git {' '.join(args)}: {message}")
    return result.stdout


def changed_paths(ref: str, project: Path) -> list[str]:
    """The files changed since `ref` (from where HEAD and `ref` part), relative to the project,
    as a pull request shows them."""
    out = _git(project, "diff", "--name-only", "-z", "--relative", f"{ref}...HEAD")
    return [path for path in out.decode().split("\0") if path]


def _command_module(project: Path) -> str:
    """The module that runs the `fleet` command in that revision: it moved out of the domain
    package into its own."""
    return "fleet_cli" if (project / "fleet_cli" / "__main__.py").exists() else "fleet"


def render_at(ref: str, stack_path: Path) -> StackRender:
    """Render the stack with the project's code and config at `ref`.

    The code of that revision renders it, so a change of code shows as a change of output. A
    stack that did not exist at `ref` renders as empty: everything is new.
    """
    project = stack_path.resolve().parent
    try:
        top = Path(_git(project, "rev-parse", "--show-toplevel").decode().strip())
    except RevisionError:
        raise RevisionError(f"{project} is not in a git repository: --base needs one") from None
    try:
        resolved = _git(project, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    except RevisionError:
        raise RevisionError(
            f"--base {ref}: no such revision in {top} (a branch, tag or commit; fetch it first "
            "if it is a remote's)"
        ) from None
    commit = resolved.decode().strip()
    stack = stack_name(stack_path)
    cached = _cached(top, commit, stack_path.resolve().relative_to(top).as_posix())
    if cached is not None and (cached / stack / "resources.json").is_file():
        return read(cached / stack)
    with tempfile.TemporaryDirectory(prefix="fleet-diff-") as scratch:
        tree = Path(scratch) / "tree"
        archive = _git(top, "archive", "--format=tar", commit)
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(tree, filter="data")
        project_then = tree / project.relative_to(top)
        stack_then = project_then / stack_path.resolve().relative_to(project)
        if not stack_then.exists():
            return StackRender(stack, {}, {}, [])
        if not any((project_then / m / "__main__.py").exists() for m in ("fleet_cli", "fleet")):
            raise RevisionError(
                f"cannot render stack {stack} at {ref} ({commit[:12]}): that revision holds no "
                "fleet code, and fleet diff renders a revision with its own code; keep the "
                "program and its stack files in one repository"
            )
        out = Path(scratch) / "out"
        command = [sys.executable, "-m", _command_module(project_then), "--project"]
        command += [str(project_then), "render"]
        result = subprocess.run(
            [*command, str(stack_then), "--out", str(out)],
            cwd=project_then,
            env={**os.environ, "PYTHONPATH": str(project_then)},
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            where = f"cannot render stack {stack} at {ref} ({commit[:12]})"
            if "usage:" in result.stderr or "No module named" in result.stderr:
                raise RevisionError(
                    f"{where}: the fleet command of that revision predates `fleet render` "
                    "(compare with a later revision)"
                )
            detail = "\n".join(result.stderr.strip().splitlines()[-6:])
            raise RevisionError(f"{where}:\n{detail}")
        if cached is not None:
            _keep(out / stack, cached)
        return read(out / stack)
