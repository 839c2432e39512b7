"""`fleet preflight STACK`: is the stack deployable from here, and if not, what to do.

Each check says what it looked at and, when it fails, the fix. It reads what `pulumi up` will
need: the fleet repository (Flux reads `url`, the program pushes to `pushUrl`), the stack's
secret config, the backend the Pulumi CLI is logged in to and the main stack's name there, and
the tools the clusters need. Nothing is changed, except with `--try-push`, which pushes a
throwaway branch to the fleet repository and deletes it.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

from components.gitwriter import strip_credentials
from fleet import access
from fleet.config import AksConfig, K3dConfig
from fleet.errors import ConfigError
from fleet.model import EnvironmentSpec, StackSpec, fleet_of
from fleet.stackfile import load_raw_stack, read_raw_config
from fleet_cli.drift import local_repository

SAMPLE_REPOSITORY = "github.com/kaizentm/multicluster-gitops"
"""The original sample's repository: not yours, and Flux applies its infra as cluster-admin."""
PLACEHOLDER = "YOUR-ORG"
SELF_MANAGED = ("file://", "s3://", "azblob://", "gs://")
"""The schemes of self-managed backends; any other backend is a Pulumi Cloud (or self-hosted
Pulumi Cloud) that knows stacks by their organization."""
DIY_ORGANIZATION = "organization"
"""The organization a self-managed backend (file://, s3://, azblob://, gs://) knows stacks by.
Ref: https://www.pulumi.com/docs/iac/concepts/state-and-backends/#scoping"""
TIMEOUT = 30


class Status(Enum):
    OK = "ok"
    FAIL = "FAIL"
    SKIP = "skip"


@dataclass(frozen=True)
class Check:
    status: Status
    what: str
    fix: str = ""


Runner = Callable[[Sequence[str], dict[str, str] | None], subprocess.CompletedProcess[str]]


def run_command(
    argv: Sequence[str], env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """A command with a time limit, run from a scratch folder as the git writer runs git (so a
    relative path in GIT_SSH_COMMAND fails here as it would there); a missing program or a
    timeout reads as a failure."""
    with tempfile.TemporaryDirectory(prefix="fleet-preflight-") as scratch:
        try:
            return subprocess.run(
                list(argv),
                capture_output=True,
                text=True,
                timeout=TIMEOUT,
                check=False,
                cwd=scratch,
                env={**os.environ, "GIT_TERMINAL_PROMPT": "0", **(env or {})},
            )
        except (OSError, subprocess.TimeoutExpired) as error:
            return subprocess.CompletedProcess(list(argv), 127, "", str(error))


def repository_checks(model: StackSpec, project: Path, run: Runner, try_push: bool) -> list[Check]:
    repository = fleet_of(model).repository
    url = repository.url
    checks: list[Check] = []
    if PLACEHOLDER in url or SAMPLE_REPOSITORY in url:
        whose = "the example's placeholder" if PLACEHOLDER in url else "the original sample's"
        checks.append(
            Check(
                Status.FAIL,
                f"fleet:repository.url is {whose} ({url})",
                "create your own repository and set fleet:repository.url (and pushUrl) to it: "
                "Flux applies its infra as cluster-admin on every cluster (README: Make it "
                "your own)",
            )
        )
        return checks
    shown = strip_credentials(url)
    if repository.token_key is not None:
        checks.append(
            Check(
                Status.SKIP,
                f"Flux reads {shown} with the token in secret config "
                f"({repository.token_key}): not checked from here",
            )
        )
    elif repository.access == "deploy-key":
        checks.append(
            Check(Status.SKIP, f"Flux reads {shown} with deploy keys Pulumi makes: not yet there")
        )
    else:
        read = run(["git", "ls-remote", "--heads", "--", url], None)
        checks.append(
            Check(Status.OK, f"Flux can reach {shown}")
            if read.returncode == 0
            else Check(
                Status.FAIL,
                f"cannot read {shown}: {_last_lines(read.stderr)}",
                "make the repository public, or give Flux access: an SSH URL with a deploy key "
                "(fleet:repository.deployKey) or fleet:repository.tokenSecret",
            )
        )
    checks += _ssh_command_checks()
    push = local_repository(repository.commit_url, project) or repository.commit_url
    pushed = strip_credentials(push)
    reach = run(["git", "ls-remote", "--heads", "--", push], None)
    if reach.returncode != 0:
        checks.append(
            Check(
                Status.FAIL,
                f"cannot reach {pushed}, where `pulumi up` pushes: {_last_lines(reach.stderr)}",
                "for GitHub over SSH: add a deploy key with write access and set "
                "GIT_SSH_COMMAND='ssh -i KEY -o IdentitiesOnly=yes' (README); for a local path: "
                "git init --bare PATH",
            )
        )
    else:
        checks.append(Check(Status.OK, f"`pulumi up` can reach {pushed}"))
        if try_push and not reach.stdout.strip():
            checks.append(
                Check(
                    Status.SKIP,
                    f"{pushed} is empty: the first `pulumi up` makes its branches (a test push "
                    "would become its default branch, which GitHub then keeps)",
                )
            )
        elif try_push:
            checks.append(_try_push(push, model.stack, run))
        checks += _writer_identity(push, run)
    on_github = access.github_commit_repository(url, repository.push_url) is not None
    writer_app = model.writer_app_id if isinstance(model, EnvironmentSpec) else None
    writer_app = writer_app or repository.writer_app_id
    if on_github and push.startswith("https://") and writer_app is None:
        checks.append(
            Check(
                Status.FAIL,
                f"pushes go over HTTPS to {pushed}, but the branch rules let only the "
                "repository's deploy keys push without a pull request",
                "push over SSH as a deploy key with write access: set fleet:repository.pushUrl "
                "to git@github.com:OWNER/REPO.git (README: Environment branches on GitHub), or "
                "name your GitHub App in writerAppId",
            )
        )
    return checks


def _try_push(push: str, stack: str, run: Runner) -> Check:
    """Push a throwaway branch holding one empty commit, then delete it."""
    branch = f"refs/heads/fleet-preflight/{stack}"
    with tempfile.TemporaryDirectory(prefix="fleet-preflight-") as folder:
        git_dir = ["git", "--git-dir", str(Path(folder) / "repo.git")]
        identity = {
            "GIT_AUTHOR_NAME": "fleet",
            "GIT_AUTHOR_EMAIL": "fleet@localhost",
            "GIT_COMMITTER_NAME": "fleet",
            "GIT_COMMITTER_EMAIL": "fleet@localhost",
        }
        run(["git", "init", "--quiet", "--bare", str(Path(folder) / "repo.git")], None)
        tree = run([*git_dir, "write-tree"], None).stdout.strip()
        commit = run([*git_dir, "commit-tree", tree, "-m", "fleet preflight"], identity)
        pushed = run(
            [*git_dir, "push", "--quiet", "--", push, f"{commit.stdout.strip()}:{branch}"], None
        )
        if pushed.returncode != 0:
            why = _last_lines(pushed.stderr)
            return Check(
                Status.FAIL,
                f"a test push to {strip_credentials(push)} was refused: {why}",
                "the credentials `pulumi up` pushes with need write access to the repository",
            )
        deleted = run([*git_dir, "push", "--quiet", "--", push, f":{branch}"], None)
        if deleted.returncode != 0:
            return Check(
                Status.FAIL,
                f"the test push to {strip_credentials(push)} went through, but its branch "
                f"{branch} could not be deleted: {_last_lines(deleted.stderr)}",
                f"delete the branch {branch.removeprefix('refs/heads/')} by hand",
            )
    return Check(Status.OK, f"`pulumi up` can write to {strip_credentials(push)} (test push)")


_GITHUB_SSH = re.compile(r"^(?:ssh://)?git@github\.com[:/](?P<repo>[\w.-]+/[\w.-]+?)(?:\.git)?/?$")
_GREETING = re.compile(r"Hi (?P<who>[^!]+)! You've successfully authenticated")


def _ssh_command_checks() -> list[Check]:
    """A key named by a relative path in GIT_SSH_COMMAND is not found where git runs it."""
    command = os.environ.get("GIT_SSH_COMMAND", "")
    try:
        words = shlex.split(command)
    except ValueError:
        return [Check(Status.FAIL, "GIT_SSH_COMMAND does not parse as a command", "quote it")]
    keys = [words[i + 1] for i, w in enumerate(words[:-1]) if w == "-i"]
    relative = [k for k in keys if not Path(os.path.expanduser(k)).is_absolute()]
    if relative:
        return [
            Check(
                Status.FAIL,
                f"GIT_SSH_COMMAND names the key {relative[0]} by a relative path, which git "
                "resolves from the folder it runs in (the writer's scratch folder), not yours",
                f'give its full path: -i "$PWD/{relative[0]}"',
            )
        ]
    return []


def _writer_identity(push: str, run: Runner) -> list[Check]:
    """Whom GitHub takes the SSH key for: a deploy key ("Hi OWNER/REPO!") may bypass the
    branch rules, a person's key ("Hi USER!") may not."""
    found = _GITHUB_SSH.match(push)
    if found is None:
        return []
    ssh = shlex.split(os.environ.get("GIT_SSH_COMMAND", "") or "ssh")
    answer = run([*ssh, "-T", "-o", "BatchMode=yes", "git@github.com"], None)
    greeting = _GREETING.search(answer.stderr + answer.stdout)
    if greeting is None:
        return [
            Check(
                Status.FAIL,
                f"GitHub accepts no SSH key from here: {_last_lines(answer.stderr)}",
                "add a deploy key with write access and point GIT_SSH_COMMAND at its private key",
            )
        ]
    who, repository = greeting.group("who"), found.group("repo")
    if who.lower() == repository.lower():
        return [Check(Status.OK, f"pushes go as a deploy key of {repository}")]
    return [
        Check(
            Status.FAIL,
            f"pushes go as {who}, a person's key: the branch rules refuse its pushes to main and "
            "the environment branches (only deploy keys, or writerAppId, bypass them)",
            f"add a deploy key with write access to {repository} and set GIT_SSH_COMMAND='ssh -i "
            "/full/path/to/key -o IdentitiesOnly=yes'",
        )
    ]


def secret_checks(path: Path, model: StackSpec) -> list[Check]:
    """Every secret config key the stack names is set (as `pulumi up` requires)."""
    try:
        load_raw_stack(
            read_raw_config(path), model.stack, path.parent, str(path), secrets_required=True
        )
    except ConfigError as error:
        return [Check(Status.FAIL, str(p)) for p in error.problems]
    keys = len(model.secret_keys)
    return [Check(Status.OK, f"every secret config key the stack names is set ({keys})")]


def backend_checks(model: StackSpec, project: Path, run: Runner) -> list[Check]:
    """The main stack's reference fits the backend the CLI is logged in to."""
    if shutil.which("pulumi") is None:
        return [Check(Status.SKIP, "the Pulumi CLI is not installed: the backend was not checked")]
    whoami = run(["pulumi", "whoami", "--json"], None)
    if whoami.returncode != 0:
        return [
            Check(
                Status.FAIL,
                f"the Pulumi CLI is not logged in: {_last_lines(whoami.stderr)}",
                "pulumi login (Pulumi Cloud) or pulumi login --local / s3:// / azblob://",
            )
        ]
    try:
        who: dict[str, Any] = json.loads(whoami.stdout)
    except json.JSONDecodeError:
        return [Check(Status.SKIP, "`pulumi whoami --json` printed no JSON: too old a CLI?")]
    backend = str(who.get("url", ""))
    checks = [Check(Status.OK, f"logged in to {backend} as {who.get('user', '?')}")]
    # `pulumi whoami --json` prints Pulumi Cloud's console address (https://app.pulumi.com/USER)
    # or, self-hosted, its own; a self-managed backend is a file://, s3://, azblob:// or gs://.
    if not isinstance(model, EnvironmentSpec):
        return checks
    parts = model.main_stack.split("/")
    organization = parts[0] if len(parts) == 3 else None
    cloud = not backend.startswith(SELF_MANAGED)
    known = [str(o) for o in who.get("organizations") or []] + [str(who.get("user", ""))]
    if cloud and organization not in known:
        checks.append(
            Check(
                Status.FAIL,
                f"fleet:mainStack is {model.main_stack}, but on Pulumi Cloud its organization "
                f"must be one of yours ({', '.join(k for k in known if k)})",
                f"set fleet:mainStack to {known[0] or 'ORG'}/{'/'.join(parts[-2:])}",
            )
        )
    elif not cloud and organization not in (None, DIY_ORGANIZATION):
        checks.append(
            Check(
                Status.FAIL,
                f"fleet:mainStack is {model.main_stack}, but a self-managed backend knows stacks "
                f"as {DIY_ORGANIZATION}/PROJECT/STACK",
                f"set fleet:mainStack to {DIY_ORGANIZATION}/{'/'.join(parts[-2:])}",
            )
        )
    else:
        checks.append(Check(Status.OK, f"fleet:mainStack {model.main_stack} fits this backend"))
    return checks


def tool_checks(model: StackSpec) -> list[Check]:
    """What the clusters and the repository need on this machine."""
    fleet = fleet_of(model)
    reached = model.clusters if isinstance(model, EnvironmentSpec) else fleet.clusters
    clusters = list(model.dedicated_clusters if isinstance(model, EnvironmentSpec) else reached)
    kinds = {type(m.provisioning) for c in clusters for m in c.physical}
    checks = []
    if K3dConfig in kinds:
        for tool in ("docker", "k3d"):
            checks.append(
                Check(Status.OK, f"{tool} is installed (k3d clusters)")
                if shutil.which(tool)
                else Check(
                    Status.FAIL,
                    f"{tool} is not installed, and the stack makes k3d clusters",
                    f"install {tool} (https://k3d.io/stable/#installation)",
                )
            )
    entra = [
        m.name
        for c in reached
        for m in c.physical
        if isinstance(m.provisioning, AksConfig) and not m.provisioning.local_accounts
    ]
    if entra:
        checks.append(
            Check(Status.OK, "kubelogin is installed (clusters with Microsoft Entra ID only)")
            if shutil.which("kubelogin")
            else Check(
                Status.FAIL,
                f"kubelogin is not installed, and {', '.join(entra)} sign in with Microsoft Entra "
                "ID only",
                "install kubelogin (https://azure.github.io/kubelogin/install.html)",
            )
        )
    if AksConfig in kinds:
        signed_in = bool(os.environ.get("ARM_CLIENT_ID")) or shutil.which("az") is not None
        checks.append(
            Check(Status.OK, "Azure credentials: ARM_CLIENT_ID or the Azure CLI")
            if signed_in
            else Check(
                Status.FAIL,
                "no Azure credentials (ARM_CLIENT_ID, ARM_CLIENT_SECRET, ARM_TENANT_ID, "
                "ARM_SUBSCRIPTION_ID, or the Azure CLI), and the stack makes AKS clusters",
                "az login, or set the ARM_* variables of a service principal",
            )
        )
    repository = fleet.repository
    uses_github = repository.access == "deploy-key" or (
        access.github_commit_repository(repository.url, repository.push_url) is not None
    )
    if uses_github:
        checks.append(
            Check(Status.OK, "GITHUB_TOKEN is set (the stack manages deploy keys or rulesets)")
            if os.environ.get("GITHUB_TOKEN")
            else Check(
                Status.FAIL,
                "GITHUB_TOKEN is not set, and the stack manages the repository's deploy keys or "
                "branch rulesets on GitHub",
                "export GITHUB_TOKEN=... (a token with Administration and Contents write on the "
                "repository)",
            )
        )
    return checks


def preflight(
    path: Path, model: StackSpec, *, try_push: bool, run: Runner = run_command
) -> list[Check]:
    project = path.parent
    return [
        *repository_checks(model, project, run, try_push),
        *secret_checks(path, model),
        *backend_checks(model, project, run),
        *tool_checks(model),
    ]


def report(checks: Sequence[Check]) -> str:
    lines = []
    for check in checks:
        lines.append(f"{check.status.value:<5} {check.what}")
        if check.status is Status.FAIL and check.fix:
            lines.append(f"      fix: {check.fix}")
    failed = sum(1 for c in checks if c.status is Status.FAIL)
    lines.append("deployable" if not failed else f"{failed} to fix before `pulumi up`")
    return "\n".join(lines) + "\n"


def _last_lines(text: str, most: int = 3) -> str:
    """The end of a command's error output (git's cause is often not on its last line)."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return strip_credentials(" / ".join(lines[-most:])) if lines else "no answer"
