"""`fleet render`, `fleet validate`, `fleet simulate` and `fleet diff` on the sample stacks and
edits of them."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.gitwriter import BranchTarget, apply
from fleet import tree
from fleet.model import EnvironmentSpec, FleetSpec
from fleet_cli.engine import render_stack
from fleet_cli.main import EXIT_CONFIG, EXIT_OK, EXIT_PROBLEMS, main
from fleet_cli.progress import Progress
from fleet_cli.render import REDACTED, read
from tests.support.sample import (
    PROJECT,
    SAMPLE_STACKS,
    commit_all,
    copy_settings,
    grant_environments,
    load_sample,
)

OTHER = "pacific-aks"
CODE = ("fleet", "fleet_cli", "components", "__main__.py", "Pulumi.yaml")


def copy_project(target: Path) -> Path:
    """The project's code and stacks in a git repository of their own, committed."""
    for name in CODE:
        source = PROJECT / name
        if source.is_dir():
            shutil.copytree(source, target / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(source, target / name)
    for stack in SAMPLE_STACKS:
        shutil.copy(PROJECT / f"Pulumi.{stack}.yaml", target)
    commit_all(target, "base")
    return target


def edit_stack(project: Path, stack: str, change: object) -> None:
    path = project / f"Pulumi.{stack}.yaml"
    document = yaml.safe_load(path.read_text())
    change(document["config"])  # type: ignore[operator]
    path.write_text(yaml.safe_dump(document, sort_keys=False))


# ---------------------------------------------------------------- render


@pytest.mark.parametrize("stack", SAMPLE_STACKS)
def test_render_writes_what_the_stack_commits_applies_and_registers(
    stack: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--project", str(PROJECT), "render", stack, "--out", str(tmp_path)]) == EXIT_OK
    assert capsys.readouterr().out.startswith(f"{tmp_path / stack}: ")
    written = read(tmp_path / stack)
    model = load_sample(stack)
    expected = (
        {"main": tree.main_branch(model)}
        if isinstance(model, FleetSpec)
        else {model.branch: tree.environment_branch(model)}
    )
    assert written.branches == expected
    # The remote gets one object from Pulumi, main's: the platform's rights there, for main and
    # for the environments it lists.
    remote = {"k3s-america-south"} if stack == "main" else set()
    assert set(written.clusters) == {"k3d-america", "pacific-aks", *remote}
    records = json.loads((tmp_path / stack / "resources.json").read_text())
    assert {"urn", "type", "name", "parent", "cluster", "inputs"} <= set(records[0])
    by_type = {r["type"] for r in records}
    assert "pulumi-python:dynamic:GitOpsBranch" in by_type


def test_render_applies_the_environment_objects_on_each_cluster(tmp_path: Path) -> None:
    main(["--project", str(PROJECT), "render", "dev", "--out", str(tmp_path)])
    america = yaml.safe_load_all((tmp_path / "dev" / "k8s" / "k3d-america.yaml").read_text())
    ids = {(o["kind"], o["metadata"].get("namespace", ""), o["metadata"]["name"]) for o in america}
    assert {
        ("Namespace", "", "dev-flux-system"),
        ("GitRepository", "dev-flux-system", "dev-flux-system"),
        ("Kustomization", "dev-flux-system", "infrastructure"),
        ("Kustomization", "dev-flux-system", "tenants"),
        ("Kustomization", "dev-flux-system", "k3s-america-south-infrastructure"),
        ("Kustomization", "dev-flux-system", "k3s-america-south-tenants"),
        ("Secret", "dev-flux-system", "k3s-america-south-kubeconfig"),
        ("Namespace", "", "dev-kaizentm"),
        ("Namespace", "", "dev-1-0-x-kaizentm"),
    } <= ids
    # No cluster's credentials in a tenant's namespace.
    assert ("Secret", "dev-kaizentm", "k3s-america-south-kubeconfig") not in ids


def test_render_redacts_every_secret(tmp_path: Path) -> None:
    main(["--project", str(PROJECT), "render", "main", "--out", str(tmp_path)])
    america = list(yaml.safe_load_all((tmp_path / "main" / "k8s" / "k3d-america.yaml").read_text()))
    (kubeconfig,) = [o for o in america if o["kind"] == "Secret"]
    # Its keys kept, its values redacted: still a valid Secret for schema validators.
    assert kubeconfig["stringData"] == {"value": REDACTED}
    records = json.loads((tmp_path / "main" / "resources.json").read_text())
    providers = [r for r in records if r["type"] == "pulumi:providers:kubernetes"]
    assert providers and all(p["inputs"]["kubeconfig"] == REDACTED for p in providers)


def test_render_is_deterministic(tmp_path: Path) -> None:
    for out in ("a", "b"):
        main(["--project", str(PROJECT), "render", "dev", "--out", str(tmp_path / out)])
    first = {
        p.relative_to(tmp_path / "a"): p.read_bytes()
        for p in (tmp_path / "a").rglob("*")
        if p.is_file()
    }
    second = {
        p.relative_to(tmp_path / "b"): p.read_bytes()
        for p in (tmp_path / "b").rglob("*")
        if p.is_file()
    }
    assert first == second


def test_an_environment_on_a_group_renders_each_member(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = copy_project(tmp_path / "project")

    def group(config: dict[str, Any]) -> None:
        clusters = [c for c in config["fleet:clusters"] if c.get("role") != "remote"]
        config["fleet:clusters"] = clusters
        config.pop("fleet:k3sAmericaSouthKubeconfig", None)
        clusters[0]["members"] = ["k3d-america-1", "k3d-america-2"]
        clusters[0]["k3d"].pop("ports")

    edit_stack(project, "main", group)
    edit_stack(project, "dev", lambda c: c.update({"fleet:clusters": ["k3d-america", OTHER]}))
    out = tmp_path / "out"
    assert main(["--project", str(project), "render", "dev", "--out", str(out)]) == EXIT_OK
    assert sorted(read(out / "dev").clusters) == ["k3d-america-1", "k3d-america-2", OTHER]


def test_render_replaces_an_earlier_render(tmp_path: Path) -> None:
    assert main(["--project", str(PROJECT), "render", "qa", "--out", str(tmp_path)]) == EXIT_OK
    stale = tmp_path / "qa" / "git" / "qa" / "gone.yaml"
    stale.write_text("old")
    assert main(["--project", str(PROJECT), "render", "qa", "--out", str(tmp_path)]) == EXIT_OK
    assert not stale.exists()


def test_render_never_removes_what_it_did_not_write(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mine = tmp_path / "qa" / "notes.txt"
    mine.parent.mkdir(parents=True)
    mine.write_text("mine")
    assert main(["--project", str(PROJECT), "render", "qa", "--out", str(tmp_path)]) == EXIT_CONFIG
    assert mine.read_text() == "mine"
    assert "was not written by fleet render, so it is left alone" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("Pulumi...yaml", "is not a stack name"),
        ("Pulumi.main.yaml/", "a folder, not a stack settings file"),
    ],
)
def test_a_settings_path_that_is_no_stack_is_refused_before_anything_is_written(
    tmp_path: Path, name: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    project = copy_project(tmp_path / "project")
    settings = project / name.rstrip("/")
    if name.endswith("/"):
        (project / "Pulumi.main.yaml").unlink()
        settings.mkdir()
    else:
        shutil.copy(project / "Pulumi.main.yaml", settings)
    out = tmp_path / "out" / "inner"
    out.mkdir(parents=True)
    assert main(["render", str(settings), "--out", str(out)]) == EXIT_CONFIG
    assert message in capsys.readouterr().err
    assert out.is_dir() and (tmp_path / "out").is_dir()


def test_a_settings_file_outside_a_project_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copy(PROJECT / "Pulumi.main.yaml", tmp_path)
    assert main(["render", str(tmp_path / "Pulumi.main.yaml"), "--out", str(tmp_path)]) == 2
    assert "no Pulumi.yaml beside it" in capsys.readouterr().err


def test_out_naming_a_file_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "file"
    target.write_text("x")
    assert main(["--project", str(PROJECT), "render", "qa", "--out", str(target)]) == EXIT_CONFIG
    assert capsys.readouterr().err == f"{target}: --out names a file; name a folder\n"
    assert target.read_text() == "x"


def test_the_project_is_found_from_a_folder_inside_it_and_after_the_command(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(PROJECT / "fleet")
    assert main(["check", "qa"]) == EXIT_OK
    assert main(["check", "qa", "--project", str(PROJECT)]) == EXIT_OK
    assert capsys.readouterr().out.count("ok: environment 'qa'") == 2


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.startswith("fleet ")


# ---------------------------------------------------------------- validate


@pytest.mark.parametrize("stack", SAMPLE_STACKS)
def test_validate_passes_the_sample_stacks(stack: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--project", str(PROJECT), "validate", stack]) == EXIT_OK
    out = capsys.readouterr().out
    assert out.startswith(f"fleet validate {stack}: 3 clusters")
    assert ": valid: every object of the stack lands" in out


def test_validate_reports_an_overlay_that_does_not_build(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = copy_project(tmp_path)

    def impossible_patch(config: dict[str, object]) -> None:
        redis = config["fleet:infra"][0]  # type: ignore[index]
        redis["overrides"]["k3d-america"]["patches"] = [
            {
                "target": {"kind": "Deployment", "name": "redis"},
                "patch": [{"op": "replace", "path": "/spec/no/such/field", "value": 1}],
            }
        ]

    edit_stack(project, "dev", impossible_patch)
    assert main(["--project", str(project), "validate", "dev"]) == EXIT_PROBLEMS
    out = capsys.readouterr().out
    # Only the folder that fails is named, not the folders that include it.
    builds = [line.strip() for line in out.splitlines() if line.strip().startswith("branch dev:")]
    (finding,) = builds
    assert finding.startswith("branch dev: infra/k3d-america/redis: ")
    assert "/spec/no/such/field" in finding
    assert "Kustomization dev-flux-system/infrastructure on k3d-america" in out


def test_validate_stops_on_a_config_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = copy_project(tmp_path)
    edit_stack(project, "qa", lambda config: config["fleet:clusters"].append("atlantic"))
    assert main(["--project", str(project), "validate", "qa"]) == EXIT_CONFIG
    assert "fleet:clusters[1]: 'atlantic' is not a cluster of the fleet" in capsys.readouterr().err


# ---------------------------------------------------------------- simulate


def test_simulate_deploys_the_sample_in_order_and_reports_it_clean(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = tmp_path / "report.json"
    code = main(["--project", str(PROJECT), "simulate", "--json", str(report)])
    out = capsys.readouterr().out
    assert code == EXIT_OK, out
    assert out.startswith("fleet simulate main dev qa: 3 clusters")
    assert "pulumi up -s dev:\n  branch dev: " in out
    assert out.rstrip().endswith("every tenant namespace enforces Pod Security")
    document = json.loads(report.read_text())
    assert document["findings"] == []
    assert {c["cluster"] for c in document["clusters"]} == {
        "k3d-america",
        "pacific-aks",
        "k3s-america-south",
    }


def test_simulate_reconciles_a_tenants_repository_given_as_a_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    escape = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": "escape"},
    }
    for path in ("katana-vote/k3d-america", "katana-vote/pacific-aks"):
        (tmp_path / path).mkdir(parents=True)
        (tmp_path / path / "escape.yaml").write_text(yaml.safe_dump(escape))
    source = f"https://github.com/kaizentm/gitops-manifests={tmp_path}"
    code = main(["--project", str(PROJECT), "simulate", "main", "dev", "--source", source])
    out = capsys.readouterr().out
    assert code == EXIT_PROBLEMS
    assert (
        "k3d-america: Kustomization dev-yakuza/katana-vote on k3d-america "
        "(as system:serviceaccount:dev-yakuza:yakuza): Namespace escape on k3d-america: "
        "system:serviceaccount:dev-yakuza:yakuza may not get namespaces"
    ) in out


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--source", "no-folder"], "--source no-folder: expected URL=DIR"),
        (["--source", "https://x/y=/no/such/dir"], "/no/such/dir is not a folder"),
        (["--then", "Pulumi.nope.yaml"], "Pulumi.nope.yaml: no such stack settings file"),
        (["nope"], "nope"),
    ],
)
def test_simulate_stops_on_a_bad_argument(
    arguments: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--project", str(PROJECT), "simulate", *arguments]) == EXIT_CONFIG
    assert message in capsys.readouterr().err


# ---------------------------------------------------------------- diff


def test_diff_shows_exactly_the_change(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project = copy_project(tmp_path)
    edit_stack(
        project,
        "dev",
        lambda config: config["fleet:tenants"][1]["apps"].append({"name": "shuriken"}),
    )
    assert main(["--project", str(project), "diff", "dev", "--base", "HEAD"]) == EXIT_OK
    out = capsys.readouterr().out
    assert out.splitlines()[0] == "### fleet diff: stack `dev` against `HEAD`"
    added = sorted(line[2:] for line in out.splitlines() if line.startswith("+ "))
    assert added == sorted(
        [
            *(
                f"{c} joins app yakuza/shuriken"
                for c in ("k3d-america", "pacific-aks", "k3s-america-south")
            ),
            "tenants/base/yakuza/shuriken/kustomization.yaml",
            "tenants/base/yakuza/shuriken/sync.yaml",
            *(
                f"tenants/{c}/yakuza/shuriken/{f}"
                for c in ("k3d-america", "pacific-aks", "k3d-america/clusters/k3s-america-south")
                for f in ("kustomization.yaml", "sync-patch.yaml")
            ),
        ]
    )
    changed = sorted(line[2:] for line in out.splitlines() if line.startswith("! "))
    assert changed == sorted(
        [
            "tenants/k3d-america/yakuza/kustomization.yaml",
            "tenants/pacific-aks/yakuza/kustomization.yaml",
            "tenants/k3d-america/clusters/k3s-america-south/yakuza/kustomization.yaml",
            "urn:pulumi:dev::fleet::pulumi:pulumi:Stack$pulumi-python:dynamic:GitOpsBranch::gitops-dev",
        ]
    )
    assert not [line for line in out.splitlines() if line.startswith("- ")]


def test_diff_shows_a_cluster_leaving_an_environment_when_its_labels_change_first(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = copy_project(tmp_path)

    def relabel(config: dict[str, Any]) -> None:
        south = next(c for c in config["fleet:clusters"] if c["name"] == "k3s-america-south")
        south["labels"] = {"tier": "edge"}  # no region: qa selects `region` (Exists)

    edit_stack(project, "main", relabel)
    assert main(["--project", str(project), "diff", "qa", "--base", "HEAD"]) == EXIT_OK
    out = capsys.readouterr().out
    scopes = [line for line in out.splitlines() if line.startswith("**")]
    # What the guard counts first (the remote leaves qa), then who moved.
    assert scopes[:2] == [
        "**destructive: what goes, with everything in it**",
        "**clusters joining and leaving**",
    ]
    assert "- cluster k3s-america-south" in out
    placed = out.split("**clusters joining and leaving**")[1].split("```")[1].splitlines()
    assert [line for line in placed if line] == [
        "diff",
        "- k3s-america-south leaves environment qa",
        "- k3s-america-south leaves tenant kaizentm",
        "- k3s-america-south leaves app kaizentm/azure-vote",
    ]
    assert "- tenants/k3d-america/clusters/k3s-america-south/kaizentm/kustomization.yaml" in out


def test_diff_predicts_the_removal_guard_and_lists_destruction_first(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = copy_project(tmp_path)

    def two_gone(config: dict[str, Any]) -> None:
        config["fleet:tenants"] = [t for t in config["fleet:tenants"] if t["name"] != "yakuza"]
        config["fleet:tenants"][0]["apps"] = []

    edit_stack(project, "dev", two_gone)
    assert main(["--project", str(project), "diff", "dev", "--base", "HEAD"]) == EXIT_OK
    out = capsys.readouterr().out.splitlines()
    assert out[2] == (
        "> **The removal guard would stop this update: 2 removals where fleet:maxRemovals "
        "allows 1 (listed first below).**"
    )
    first = out.index("**destructive: what goes, with everything in it**")
    assert first < min(i for i, line in enumerate(out) if line.startswith("**branch"))
    block = out[first + 2 : out.index("```", first + 2)]
    assert block[:2] == ["- tenant yakuza", "- app kaizentm/azure-vote"]
    assert "- Namespace dev-yakuza on k3d-america" in block
    # On the remote, Flux makes and prunes it, from the branch.
    assert (
        "- Namespace dev-yakuza (from dev: infra/k3d-america/clusters/k3s-america-south/"
        "tenants/yakuza/dev-yakuza.yaml)"
    ) in block


def test_diff_shows_files_edited_by_hand_on_a_local_branch(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The sample commits to a bare repository in the project: what the stack wrote there
    last and someone changed since is listed first."""
    project = copy_project(tmp_path / "project")
    repository = project / ".gitops" / "multicluster-gitops.git"
    subprocess.run(["git", "init", "-q", "--bare", str(repository)], check=True)
    out = tmp_path / "out"
    assert main(["--project", str(project), "render", "qa", "--out", str(out)]) == EXIT_OK
    files = read(out / "qa").branches["qa"]
    apply(BranchTarget(str(repository), "qa", "fleet/qa"), files, "fleet: render stack qa")
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", "-b", "qa", str(repository), str(clone)], check=True)
    edited = "tenants/base/kaizentm/rbac.yaml"
    (clone / edited).write_text("# changed by hand\n")
    for command in (
        ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-am", "hand"],
        ["push", "-q", "origin", "qa"],
    ):
        subprocess.run(["git", *command], cwd=clone, check=True)
    capsys.readouterr()
    assert main(["--project", str(project), "diff", "qa", "--base", "HEAD"]) == EXIT_OK
    lines = capsys.readouterr().out.splitlines()
    scope = "**edited by hand on the branches (the next pulumi up overwrites them)**"
    assert lines[4] == scope
    assert lines[5:8] == ["```diff", f"! qa: {edited}", "```"]


def test_diff_patch_shows_unified_diffs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project = copy_project(tmp_path)
    edit_stack(
        project, "qa", lambda config: config["fleet:environment"].update(requiredApprovals=3)
    )
    edit_stack(
        project,
        "qa",
        lambda config: config["fleet:tenants"][0]["repository"].update(branch="qa-2"),
    )
    assert main(["--project", str(project), "diff", "qa", "--base", "HEAD", "--patch"]) == EXIT_OK
    out = capsys.readouterr().out
    assert "\n-    branch: qa\n+    branch: qa-2\n" in out
    assert '-  "tree": "sha256 ' in out


def test_diff_of_an_unchanged_stack(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project = copy_project(tmp_path)
    assert main(["--project", str(project), "diff", "main", "--base", "HEAD"]) == EXIT_OK
    assert capsys.readouterr().out.endswith("No changes.\n")


def test_diff_of_a_new_stack_adds_everything(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = copy_project(tmp_path)
    shutil.copy(project / "Pulumi.qa.yaml", project / "Pulumi.prod.yaml")
    grant_environments(project, "prod")
    assert main(["--project", str(project), "diff", "prod", "--base", "HEAD"]) == EXIT_OK
    out = capsys.readouterr().out
    assert "**branch prod**" in out
    assert " 0 changed, 0 removed" in out


def test_diff_against_an_unknown_revision(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = copy_project(tmp_path)
    assert main(["--project", str(project), "diff", "qa", "--base", "no-such-ref"]) == EXIT_CONFIG
    assert capsys.readouterr().err == (
        f"--base no-such-ref: no such revision in {project} (a branch, tag or commit; fetch it "
        "first if it is a remote's)\n"
    )


def test_diff_against_a_revision_whose_command_cannot_render(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A base from before `fleet render`: said plainly, without that revision's usage text."""
    project = copy_project(tmp_path)
    old = "import sys\nsys.stderr.write('usage: fleet [-h] {check}\\n')\nsys.exit(2)\n"
    (project / "fleet_cli" / "__main__.py").write_text(old)
    subprocess.run(["git", "add", "."], cwd=project, check=True)
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "old"],
        cwd=project,
        check=True,
    )
    subprocess.run(["git", "checkout", "-q", "HEAD~1", "--", "fleet_cli"], cwd=project, check=True)
    assert main(["--project", str(project), "diff", "qa", "--base", "HEAD"]) == EXIT_CONFIG
    err = capsys.readouterr().err
    assert "the fleet command of that revision predates `fleet render`" in err
    assert "usage:" not in err


def test_diff_in_a_repository_of_stack_files_only_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    commit_all(copy_settings(tmp_path), "config")
    assert main(["--project", str(tmp_path), "diff", "qa", "--base", "HEAD"]) == EXIT_CONFIG
    assert "that revision holds no fleet code" in capsys.readouterr().err


def test_graph_with_a_broken_sibling_stack_names_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = copy_project(tmp_path)
    (project / "Pulumi.broken.yaml").write_bytes(b"config:\n  fleet:mainStack: [\xff\n")
    code = main(["--project", str(project), "graph", "main", "--out", str(tmp_path / "f.svg")])
    assert code == EXIT_CONFIG
    err = capsys.readouterr().err
    assert "Pulumi.broken.yaml" in err and "Traceback" not in err


def test_every_command_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    for command in ("check", "render", "validate", "diff", "graph"):
        with pytest.raises(SystemExit) as exit_:
            main([command, "--help"])
        assert exit_.value.code == 0
        assert "STACK" in capsys.readouterr().out.upper()


def test_an_environment_model_reads_its_fleet() -> None:
    env = load_sample("dev")
    assert isinstance(env, EnvironmentSpec) and env.fleet.stack == "main"


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_counts_resources_on_a_terminal_only() -> None:
    terminal, pipe = _Terminal(), io.StringIO()
    for stream in (terminal, pipe):
        progress = Progress("rendering dev", stream)
        model = load_sample("dev")
        render_stack(PROJECT / "Pulumi.dev.yaml", model, on_resource=progress.update)
        progress.clear()
    assert terminal.getvalue().startswith("\rrendering dev: 1 resource\r")
    assert terminal.getvalue().endswith("\r\033[K")
    assert pipe.getvalue() == ""


def test_render_reads_a_settings_file_of_any_name(tmp_path: Path) -> None:
    project = copy_project(tmp_path / "project")
    shutil.copy(project / "Pulumi.qa.yaml", project / "staging.yaml")
    grant_environments(project, "staging")
    out = tmp_path / "out"
    assert main(["render", str(project / "staging.yaml"), "--out", str(out)]) == EXIT_OK
    # The stack is named after the file, and so are the environment and its branch.
    branches = read(out / "staging").branches
    assert list(branches) == ["staging"]
    assert "namespace: staging-kaizentm" in branches["staging"]["tenants/base/kaizentm/rbac.yaml"]
