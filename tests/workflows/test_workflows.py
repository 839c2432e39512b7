"""The GitHub workflows: actionlint finds nothing wrong with them, they keep the promises the
README makes (per-environment approvals, one deployment of a stack at a time, the policy pack on
every preview and update, one diff comment per stack), and the stack finder picks the right
stacks for a change."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from fleet_cli.main import EXIT_OK, main
from tests.support.sample import PROJECT

WORKFLOWS = PROJECT / ".github" / "workflows"
PULUMI_ACTION = re.compile(r"^pulumi/actions@[0-9a-f]{40}$")
CREDENTIALS = {
    "PULUMI_ACCESS_TOKEN",
    "PULUMI_CONFIG_PASSPHRASE",
    "ARM_CLIENT_ID",
    "ARM_CLIENT_SECRET",
    "ARM_TENANT_ID",
    "ARM_SUBSCRIPTION_ID",
    "AAD_SERVICE_PRINCIPAL_CLIENT_ID",
    "AAD_SERVICE_PRINCIPAL_CLIENT_SECRET",
    "GITHUB_TOKEN",
}

Workflow = dict[Any, Any]


def workflow(name: str) -> Workflow:
    loaded: Workflow = yaml.safe_load((WORKFLOWS / name).read_text())
    return loaded


def triggers(flow: Workflow) -> Any:
    """`on:`, which YAML 1.1 reads as the boolean True."""
    return flow[True]


def all_workflows() -> dict[str, Workflow]:
    return {path.name: workflow(path.name) for path in sorted(WORKFLOWS.glob("*.yml"))}


def steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = job.get("steps", [])
    return found


def pulumi_steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for s in steps(job) if PULUMI_ACTION.match(s.get("uses", ""))]


def runs(job: dict[str, Any]) -> str:
    return "\n".join(s.get("run", "") for s in steps(job))


# ---------------------------------------------------------------- actionlint


def actionlint() -> str | None:
    """The binary the dev dependencies install beside this Python, else one on PATH."""
    beside = Path(sys.executable).parent / "actionlint"
    return str(beside) if beside.is_file() else shutil.which("actionlint")


def test_actionlint_finds_no_problem() -> None:
    binary = actionlint()
    if binary is None:
        pytest.skip("actionlint is not installed: `make install` brings it")
    # Run from the repository, so that calls of local reusable workflows are checked too.
    result = subprocess.run([binary], cwd=PROJECT, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


# ---------------------------------------------------------------- every workflow


def test_the_workflows_are_there() -> None:
    assert set(all_workflows()) == {"ci.yml", "preview.yml", "deploy.yml", "stacks.yml"}


def test_every_workflow_reads_only_and_only_the_comment_jobs_write_comments() -> None:
    writes = []
    for name, flow in all_workflows().items():
        assert flow["permissions"] == {"contents": "read"}, name
        for job_name, job in flow["jobs"].items():
            permissions = job.get("permissions", {})
            assert isinstance(permissions, dict), f"{name} {job_name}"
            writes += [(name, job_name, p) for p, level in permissions.items() if level == "write"]
    assert writes == [
        ("preview.yml", "comment", "pull-requests"),
        ("preview.yml", "preview", "pull-requests"),
    ]


PINNED = re.compile(r"^\s*-?\s*uses: ([\w.-]+/[\w.-]+)@([0-9a-f]{40}) # v\d+(\.\d+){1,2}$")


def test_every_action_is_pinned_to_a_commit_with_its_release_named() -> None:
    """A tag can be moved to other code; a commit cannot. The comment says which release."""
    lines = [
        line
        for path in sorted(WORKFLOWS.glob("*.yml"))
        for line in path.read_text().splitlines()
        if re.match(r"^\s*-?\s*uses: ", line) and "./.github/" not in line
    ]
    assert lines
    assert [line for line in lines if not PINNED.match(line)] == []
    # One release of each action across the workflows.
    pins: dict[str, set[str]] = {}
    for line in lines:
        found = PINNED.match(line)
        assert found is not None
        pins.setdefault(found.group(1), set()).add(found.group(2))
    assert {action: len(commits) for action, commits in pins.items() if len(commits) > 1} == {}


def test_pulumi_always_runs_with_the_policy_pack_and_the_documented_credentials() -> None:
    found = 0
    for name, flow in all_workflows().items():
        for job in flow["jobs"].values():
            for step in pulumi_steps(job):
                found += 1
                pack = "base/policy" if name == "preview.yml" else "policy"
                assert step["with"]["policyPacks"] == pack
                assert set(step["env"]) == CREDENTIALS
    assert found == 3  # preview, then up for main and for the environments


def test_the_readme_names_every_secret_the_workflows_read() -> None:
    readme = (PROJECT / "README.md").read_text()
    section = readme.split("## Working in pull requests", 1)[1].split("\n## ", 1)[0]
    texts = "".join(path.read_text() for path in WORKFLOWS.glob("*.yml"))
    secrets = set(re.findall(r"secrets\.(\w+)", texts))
    assert secrets >= {"PULUMI_ACCESS_TOKEN", "FLEET_GITHUB_TOKEN"}
    assert sorted(s for s in secrets if f"`{s}`" not in section) == []


# ---------------------------------------------------------------- ci


def test_ci_runs_make_test_on_every_push_and_pull_request_on_python_311() -> None:
    flow = workflow("ci.yml")
    assert set(triggers(flow)) == {"push", "pull_request"}
    (job,) = flow["jobs"].values()
    (python,) = [s for s in steps(job) if s.get("uses", "").startswith("actions/setup-python@")]
    assert python["with"]["python-version"] == "3.11"
    assert python["with"]["cache"] == "pip"
    assert runs(job).strip() == "make test"


# ---------------------------------------------------------------- preview


def test_preview_checks_each_changed_stack_of_a_pull_request() -> None:
    flow = workflow("preview.yml")
    assert set(triggers(flow)) == {"pull_request"}
    assert flow["jobs"]["stacks"]["uses"] == "./.github/workflows/stacks.yml"
    assert flow["jobs"]["stacks"]["with"] == {"base": "${{ github.base_ref }}"}
    job = flow["jobs"]["check"]
    assert job["strategy"]["matrix"]["stack"] == "${{ fromJSON(needs.stacks.outputs.changed) }}"
    assert job["env"] == {"STACK": "${{ matrix.stack }}", "BASE": "origin/${{ github.base_ref }}"}
    commands = runs(job)
    assert '.venv/bin/fleet validate "$STACK"' in commands
    assert '.venv/bin/fleet diff "$STACK" --base "$BASE" > "fleet-diff/$STACK.md"' in commands


DECRYPTING = {"PULUMI_ACCESS_TOKEN", "PULUMI_CONFIG_PASSPHRASE", "ARM_CLIENT_SECRET"}
"""What decrypts a stack's secret config or reaches the clouds."""


def test_a_pull_requests_code_holds_no_secret_until_a_maintainer_approves() -> None:
    text = (WORKFLOWS / "preview.yml").read_text()
    assert "pull_request_target" not in text
    flow = workflow("preview.yml")
    for name, job in flow["jobs"].items():
        read = set(re.findall(r"secrets\.(\w+)", json.dumps(job)))
        if name == "preview":
            # Approved first: the environment's required reviewers read the change.
            assert job["environment"] == "preview"
            assert read >= DECRYPTING
        else:
            assert read == set(), name
            assert "environment" not in job, name
    # What runs the pull request's code unapproved may not write: only `comment` may, and it
    # checks out and runs nothing of it.
    comment = flow["jobs"]["comment"]
    assert [s for s in steps(comment) if "run" in s or "checkout" in s.get("uses", "")] == []
    assert flow["jobs"]["check"].get("permissions") is None  # the workflow's: contents: read


def test_the_policy_pack_that_judges_a_pull_request_is_the_base_branchs() -> None:
    job = workflow("preview.yml")["jobs"]["preview"]
    [base] = [s for s in steps(job) if s.get("with", {}).get("path") == "base"]
    assert base["with"]["ref"] == "${{ github.event.pull_request.base.sha }}"
    assert "make -C base install" in runs(job)
    (step,) = pulumi_steps(job)
    assert step["with"]["policyPacks"] == "base/policy"
    # The pack runs in the virtualenv beside it: base/.venv, made from the base branch's lock.
    pack = yaml.safe_load((PROJECT / "policy" / "PulumiPolicy.yaml").read_text())
    assert pack["runtime"]["options"]["virtualenv"] == "../.venv"


def test_preview_posts_pulumis_report_on_the_pull_request() -> None:
    (step,) = pulumi_steps(workflow("preview.yml")["jobs"]["preview"])
    assert step["with"]["command"] == "preview"
    assert step["with"]["stack-name"] == "${{ matrix.stack }}"
    assert step["with"]["comment-on-pr"] is True


def test_preview_keeps_one_diff_comment_per_stack_found_by_its_marker() -> None:
    job = workflow("preview.yml")["jobs"]["comment"]
    (step,) = [s for s in steps(job) if s.get("uses", "").startswith("actions/github-script@")]
    script = step["with"]["script"]
    assert "const marker = `<!-- fleet-diff:${stack} -->`;" in script
    assert "fs.readFileSync(`fleet-diff/${stack}.md`" in script
    assert "comment.body?.startsWith(marker)" in script
    assert "github.rest.issues.updateComment" in script
    assert "github.rest.issues.createComment" in script
    assert script.index("if (previous)") < script.index("updateComment") < script.index("else")


def test_dependencies_are_installed_from_the_lock_with_their_hashes() -> None:
    makefile = (PROJECT / "Makefile").read_text()
    assert "pip install --quiet --require-hashes --no-deps -r requirements.lock" in makefile
    assert "--no-deps --no-build-isolation -e ." in makefile
    lock = (PROJECT / "requirements.lock").read_text()
    pins = re.findall(r"^([a-z0-9][\w.-]*)==(\S+) \\$", lock, flags=re.MULTILINE)
    assert {"pulumi", "pulumi-kubernetes", "pydantic", "setuptools", "ruamel-yaml"} <= {
        name for name, _ in pins
    }
    # Every requirement line is a pin followed by its hashes; nothing else is installed.
    hashed = re.findall(
        r"^[a-z0-9][\w.-]*==\S+ \\\n(?:    --hash=sha256:[0-9a-f]{64}(?: \\)?\n)+",
        lock,
        flags=re.MULTILINE,
    )
    requirements = re.findall(r"^[^#\s].*$", lock, flags=re.MULTILINE)
    assert len(hashed) == len(requirements) == len(pins)
    for flow in all_workflows().values():
        for job in flow["jobs"].values():
            for step in steps(job):
                path = step.get("with", {}).get("cache-dependency-path")
                assert path in (None, "requirements.lock")


# ---------------------------------------------------------------- deploy


def deploy_jobs() -> Iterator[tuple[str, dict[str, Any], str]]:
    """(job name, job, stack) of every job of deploy.yml that runs `pulumi up`."""
    for name, job in workflow("deploy.yml")["jobs"].items():
        for step in pulumi_steps(job):
            assert step["with"]["command"] == "up"
            yield name, job, step["with"]["stack-name"]


def test_deploy_runs_on_a_merge_to_main() -> None:
    assert triggers(workflow("deploy.yml")) == {"push": {"branches": ["main"]}}


def test_each_deployment_is_bound_to_the_environment_of_its_stacks_name() -> None:
    stacks = {name: stack for name, job, stack in deploy_jobs() if job["environment"] == stack}
    assert stacks == {"main": "${{ matrix.stack }}", "environments": "${{ matrix.stack }}"}


def test_two_deployments_of_one_stack_never_overlap() -> None:
    for name, job, stack in deploy_jobs():
        assert job["concurrency"] == {"group": f"deploy-{stack}", "cancel-in-progress": False}, name


def test_environments_deploy_after_main_one_job_per_environment_stack() -> None:
    job = workflow("deploy.yml")["jobs"]["environments"]
    assert "main" in job["needs"]
    assert job["strategy"]["matrix"]["stack"] == (
        "${{ fromJSON(needs.stacks.outputs.environments) }}"
    )
    assert job["strategy"]["fail-fast"] is False


def test_the_main_stacks_of_a_split_fleet_deploy_side_by_side_before_any_environment() -> None:
    job = workflow("deploy.yml")["jobs"]["main"]
    assert job["needs"] == "stacks"
    assert job["strategy"]["matrix"]["stack"] == "${{ fromJSON(needs.stacks.outputs.mains) }}"
    assert job["strategy"]["fail-fast"] is False
    outputs = triggers(workflow("stacks.yml"))["workflow_call"]["outputs"]
    assert outputs["mains"]["value"] == "${{ jobs.stacks.outputs.mains }}"


# ---------------------------------------------------------------- which stacks a change touches


def test_the_stack_finder_is_the_fleet_command() -> None:
    (step,) = [s for s in steps(workflow("stacks.yml")["jobs"]["stacks"]) if s.get("id")]
    script: str = step["run"]
    assert '.venv/bin/fleet stacks --changed-since "origin/$BASE" --github-output' in script
    assert '.venv/bin/fleet stacks --github-output >> "$GITHUB_OUTPUT"' in script


ENVIRONMENT = "config:\n  fleet:mainStack: organization/fleet/main\n"


def git(repo: Path, *args: str) -> None:
    env = {
        **os.environ,
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": "test",
        "GIT_AUTHOR_EMAIL": "test@example.com",
        "GIT_COMMITTER_NAME": "test",
        "GIT_COMMITTER_EMAIL": "test@example.com",
    }
    subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True)


@pytest.fixture
def repository(tmp_path: Path) -> Path:
    """A fleet project on branch main (also as origin/main), with a pull request branch."""
    repo = tmp_path / "repo"
    repo.mkdir()
    files = {
        "Pulumi.yaml": "name: fleet\n",
        "Pulumi.main.yaml": "config:\n  fleet:clusters: []\n",
        "Pulumi.dev.yaml": ENVIRONMENT,
        "Pulumi.qa.yaml": 'config:\n  fleet:mainStack: "organization/fleet/main"\n',
        "fleet/model.py": "MODEL = 1\n",
    }
    for path, text in files.items():
        (repo / path).parent.mkdir(parents=True, exist_ok=True)
        (repo / path).write_text(text)
    git(repo, "init", "--quiet", "--initial-branch=main")
    git(repo, "add", ".")
    git(repo, "commit", "--quiet", "-m", "base")
    git(repo, "update-ref", "refs/remotes/origin/main", "HEAD")
    git(repo, "checkout", "--quiet", "-b", "pull-request")
    return repo


def find_stacks(repo: Path, base: str, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    """Run the stack finder as the workflow does; returns its outputs."""
    since = ["--changed-since", f"origin/{base}"] if base else []
    capsys.readouterr()
    assert main(["--project", str(repo), "stacks", *since, "--github-output"]) == EXIT_OK
    lines = capsys.readouterr().out.splitlines()
    return {key: json.loads(value) for key, value in (line.split("=", 1) for line in lines)}


def edit(path: str, text: str = "# edited\n") -> Callable[[Path], None]:
    def apply(repo: Path) -> None:
        with (repo / path).open("a") as file:
            file.write(text)

    return apply


def delete(path: str) -> Callable[[Path], None]:
    return lambda repo: (repo / path).unlink()


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (edit("fleet/model.py"), ["dev", "main", "qa"]),
        (edit("README.md"), ["dev", "main", "qa"]),
        (edit("Pulumi.yaml"), ["dev", "main", "qa"]),
        (edit("Pulumi.main.yaml"), ["dev", "main", "qa"]),
        (edit("Pulumi.dev.yaml"), ["dev"]),
        (edit("Pulumi.prod.yaml", ENVIRONMENT), ["prod"]),
        (delete("Pulumi.qa.yaml"), []),
    ],
    ids=["code", "docs", "project", "main-stack", "environment", "new-environment", "deleted"],
)
def test_a_pull_request_previews_the_stacks_its_change_concerns(
    repository: Path,
    change: Callable[[Path], None],
    expected: list[str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    change(repository)
    git(repository, "add", "--all")
    git(repository, "commit", "--quiet", "-m", "change")
    assert find_stacks(repository, "main", capsys)["changed"] == expected


def test_an_environment_follows_only_its_own_main_stack(
    repository: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (repository / "Pulumi.lab.yaml").write_text("config:\n  fleet:clusters: []\n")
    (repository / "Pulumi.lab-dev.yaml").write_text(
        "config:\n  fleet:mainStack: organization/fleet/lab  # the lab's fleet\n"
    )
    git(repository, "add", "--all")
    git(repository, "commit", "--quiet", "-m", "a second fleet")
    assert find_stacks(repository, "main", capsys)["changed"] == ["lab", "lab-dev"]


def test_without_a_base_every_stack_is_concerned(
    repository: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert find_stacks(repository, "", capsys) == {
        "changed": ["dev", "main", "qa"],
        "mains": ["main"],
        "environments": ["dev", "qa"],
    }


# ---------------------------------------------------------------- the writer's deploy key

WRITER_KEY_STEP = "The git writer's deploy key"


def writer_key_step(job: dict[str, Any]) -> dict[str, Any]:
    names = [s.get("name") for s in steps(job)]
    assert names.index(WRITER_KEY_STEP) < names.index("pulumi up")
    return steps(job)[names.index(WRITER_KEY_STEP)]


def install_writer_key(tmp_path: Path, key: str) -> Path:
    """Run the step as GitHub's bash would; returns the folder it wrote to."""
    if not (PROJECT / ".venv" / "bin" / "python").is_file():
        pytest.skip("the step runs the project's .venv: `make install`")
    (job, *others) = [job for _, job, _ in deploy_jobs()]
    step = writer_key_step(job)
    assert all(writer_key_step(other) == step for other in others)
    assert step["env"] == {"WRITER_KEY": "${{ secrets.FLEET_WRITER_SSH_KEY }}"}
    (tmp_path / "env").write_text("")
    env = {
        **os.environ,
        "WRITER_KEY": key,
        "RUNNER_TEMP": str(tmp_path),
        "GITHUB_ENV": str(tmp_path / "env"),
    }
    command = ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]]
    subprocess.run(command, cwd=PROJECT, env=env, check=True)
    return tmp_path


def test_deployments_push_with_the_writers_key_checking_githubs_published_host_keys(
    tmp_path: Path,
) -> None:
    out = install_writer_key(tmp_path, "-----BEGIN KEY-----\nfake\n-----END KEY-----")
    key = out / "fleet-writer"
    assert key.read_text() == "-----BEGIN KEY-----\nfake\n-----END KEY-----\n"
    assert key.stat().st_mode & 0o777 == 0o600
    known_hosts = (out / "known_hosts").read_text().splitlines()
    assert len(known_hosts) == 3
    assert all(line.startswith("github.com ") for line in known_hosts)
    assert (out / "env").read_text() == (
        f"GIT_SSH_COMMAND=ssh -i {key} -o IdentitiesOnly=yes "
        f"-o UserKnownHostsFile={out / 'known_hosts'}\n"
    )


def test_without_a_writer_key_the_deployment_pushes_as_the_stack_config_says(
    tmp_path: Path,
) -> None:
    out = install_writer_key(tmp_path, "")
    assert sorted(p.name for p in out.iterdir()) == ["env"]
    assert (out / "env").read_text() == ""


def test_each_environment_rolls_out_through_the_gate_after_its_update() -> None:
    job = workflow("deploy.yml")["jobs"]["environments"]
    names_ = [s.get("name", s.get("uses", s.get("run", ""))) for s in steps(job)]
    assert names_.index("Roll out ring by ring") == names_.index("pulumi up") + 1
    (gate,) = [s for s in steps(job) if s.get("name") == "Roll out ring by ring"]
    assert 'fleet rollout "$STACK" --advance --wait' in gate["run"]
    # Kubeconfigs are written only where no one else reads them, and only for this job.
    assert gate["run"].index("umask 077") < gate["run"].index("--show-secrets")
    assert "$RUNNER_TEMP/" in gate["run"] and "GITHUB_WORKSPACE" not in gate["run"]
    assert main(["--project", str(PROJECT), "stacks", "--main-of", "qa"]) == EXIT_OK
