"""`fleet promote FROM TO`: the reviewed change that brings TO to what FROM runs.

It edits `Pulumi.TO.yaml` as `fleet.promotion` says (keeping its comments and layout: a
round-trip YAML editor), checks the result with the same rules as `fleet check`, renders TO
before and after for the per-cluster diff a reviewer reads, and records the commit of branch
FROM the promotion was taken from. It refuses when FROM's settings are not what branch FROM
holds (not deployed yet), and, when the clusters' status is given, when FROM has not
reconciled that commit on every cluster.
"""

from __future__ import annotations

import difflib
import io
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from ruamel.yaml import YAML
from ruamel.yaml.util import load_yaml_guess_indent

from components.gitwriter import (
    BranchTarget,
    GitWriterError,
    branch_tips,
    content_hash,
    current_hashes,
)
from fleet import names
from fleet.errors import ConfigError
from fleet.model import EnvironmentSpec
from fleet.promotion import Channel, Promoted, PromotionError, Selection, promote
from fleet.rollout import Action, ClusterStatus, commit_of
from fleet.stackfile import load_raw_stack, load_stack, read_raw_config
from fleet_cli import diff, rollout
from fleet_cli.drift import local_repository
from fleet_cli.engine import copy_project, render_stack


class PromoteError(Exception):
    """Promotion refused: the message says why and what to do."""


@dataclass(frozen=True)
class Promotion:
    source: EnvironmentSpec
    target: EnvironmentSpec
    parts: list[Promoted]
    settings: str
    """TO's settings file after the edit."""
    settings_diff: str
    cluster_diff: str
    commit: str
    """The commit of branch FROM the promotion was taken from."""


def _yaml(mapping: int, sequence: int, offset: int) -> YAML:
    """Round-trip YAML with a file's own indentation: a map's, a list item's, and how far a
    list's dash sits in from its key (`load_yaml_guess_indent` finds the last two)."""
    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.width = 4096
    yaml.indent(mapping=mapping, sequence=sequence, offset=offset)
    return yaml


def _mapping_indent(text: str) -> int:
    """How far the first key under `config:` is indented (a settings file's map indent)."""
    for line in text.splitlines():
        stripped = line.lstrip(" ")
        if line.startswith(" ") and stripped and not stripped.startswith("#"):
            return len(line) - len(stripped)
    return 2


def edit_settings(
    source_path: Path,
    target_path: Path,
    selection: Selection,
    runs: Mapping[Channel, str] | None = None,
) -> tuple[str, list[Promoted]]:
    """TO's settings text after the promotion, and what it did to each part; the file keeps
    its comments, its order and its own indentation."""
    text = target_path.read_text(encoding="utf-8")
    _, sequence, offset = load_yaml_guess_indent(text)
    yaml = _yaml(_mapping_indent(text), sequence or 2, offset or 0)
    source = yaml.load(source_path.read_text(encoding="utf-8"))
    target = yaml.load(text)
    try:
        parts = promote(source["config"], target["config"], selection, runs)
    except PromotionError as error:
        raise PromoteError(str(error)) from None
    out = io.StringIO()
    yaml.dump(target, out)
    return out.getvalue(), parts


def channel_commits(env: EnvironmentSpec, read: rollout.StatusReader) -> dict[Channel, str]:
    """The commit of its repository each tenant channel of `env` runs, as its source reports it
    on every cluster it runs on (`artifact.revision`); refused when clusters disagree."""
    found: dict[Channel, dict[str, list[str]]] = {}
    management = {c.name: c for c in env.management_clusters}
    for tenant in env.tenants:
        for channel in tenant.channels(env.name):
            source = (
                names.tenant_source(tenant.name)
                if channel.release is None
                else names.release_source(tenant.name, channel.release)
            )
            wanted = ("GitRepository", channel.namespace, source)
            for cluster in (management[c] for c in channel.clusters if c in management):
                for physical in cluster.physical:
                    for obj in read(physical.name).objects:
                        commit = commit_of(obj.revision)
                        if (obj.kind, obj.namespace, obj.name) == wanted and commit:
                            commits = found.setdefault((tenant.name, channel.release), {})
                            commits.setdefault(commit, []).append(physical.name)
    disagreeing = {k: v for k, v in found.items() if len(v) > 1}
    if disagreeing:
        (tenant_name, release), commits = sorted(disagreeing.items(), key=str)[0]
        what = f"tenant {tenant_name}" + (f"'s release channel {release}" if release else "")
        listed = "; ".join(f"{c[:12]} on {', '.join(where)}" for c, where in commits.items())
        raise PromoteError(
            f"{env.name}'s clusters run different commits of {what}'s repository ({listed}): "
            "wait until they agree"
        )
    return {k: next(iter(v)) for k, v in found.items()}


def _once(read: rollout.StatusReader) -> rollout.StatusReader:
    """Each cluster read once, however often it is asked."""
    seen: dict[str, ClusterStatus] = {}

    def cached(cluster: str) -> ClusterStatus:
        if cluster not in seen:
            seen[cluster] = read(cluster)
        return seen[cluster]

    return cached


def _checked(
    project: Path, stack: str, text: str
) -> tuple[Path, EnvironmentSpec, Callable[[], None]]:
    """TO's edited settings in a copy of the project, validated with the real rules."""
    folder = Path(tempfile.mkdtemp(prefix="fleet-promote-"))
    copy_project(project, folder)
    edited = folder / f"Pulumi.{stack}.yaml"
    edited.write_text(text, encoding="utf-8")
    try:
        # Every secret config key the promoted parts name must be set in TO: `pulumi up`
        # would fail on the first it lacks.
        raw = read_raw_config(edited)
        model = load_raw_stack(raw, stack, folder, str(edited), secrets_required=True)
    except ConfigError as error:
        shutil.rmtree(folder, ignore_errors=True)
        raise PromoteError(
            f"the promoted Pulumi.{stack}.yaml would not be valid, so nothing was written:\n"
            + error.render()
        ) from None
    assert isinstance(model, EnvironmentSpec)
    return edited, model, lambda: shutil.rmtree(folder, ignore_errors=True)


def deployed_commit(env: EnvironmentSpec, path: Path, repository: str) -> str:
    """The tip of branch FROM, once it holds exactly what FROM's settings render."""
    rendered = render_stack(path, env).branches.get(env.branch, {})
    target = BranchTarget(repository, env.branch, f"fleet/{env.stack}")
    try:
        commit = branch_tips(target, [env.branch]).get(env.branch)
        on_branch = current_hashes(target, also=rendered) if commit else {}
    except GitWriterError as error:
        raise PromoteError(f"cannot read branch {env.branch}: {error}") from None
    if commit is None:
        raise PromoteError(f"branch {env.branch} is not in {repository}: deploy {env.stack} first")
    differing = sorted(p for p, c in rendered.items() if on_branch.get(p) != content_hash(c))
    if differing:
        shown = ", ".join(differing[:3]) + (" ..." if len(differing) > 3 else "")
        raise PromoteError(
            f"branch {env.branch} does not hold what Pulumi.{env.stack}.yaml renders "
            f"({len(differing)} files differ: {shown}): deploy {env.stack} first, so that what "
            "is promoted is what it runs"
        )
    return commit


def prepare(
    project: Path,
    source_stack: str,
    target_stack: str,
    selection: Selection,
    *,
    repository: str | None,
    read: rollout.StatusReader | None,
) -> Promotion:
    """Everything the promotion is: the edit, its check, the diffs and the FROM commit."""
    source_path = project / f"Pulumi.{source_stack}.yaml"
    target_path = project / f"Pulumi.{target_stack}.yaml"
    source, target = load_stack(source_path), load_stack(target_path)
    for model, stack in ((source, source_stack), (target, target_stack)):
        if not isinstance(model, EnvironmentSpec):
            raise PromoteError(f"{stack} is a main stack: promotion is between environments")
    assert isinstance(source, EnvironmentSpec) and isinstance(target, EnvironmentSpec)
    if source.main_stack != target.main_stack:
        raise PromoteError(
            f"{source_stack} runs on {source.main_stack} and {target_stack} on "
            f"{target.main_stack}: promotion is between environments of one fleet"
        )
    url = repository or local_repository(source.fleet.repository.commit_url, project)
    url = url or source.fleet.repository.commit_url
    commit = deployed_commit(source, source_path, url)
    runs: dict[Channel, str] = {}
    if read is not None:
        read = _once(read)
        decided = rollout.judge(source, rollout.Repository(url), read)
        if decided.action is not Action.DONE:
            raise PromoteError(
                f"{source_stack} has not reconciled {commit[:12]} on every cluster, so it is not "
                f"promoted:\n{rollout.describe(source, decided)}"
            )
        runs = channel_commits(source, read)
    text, parts = edit_settings(source_path, target_path, selection, runs)
    before = target_path.read_text(encoding="utf-8")
    settings_diff = "".join(
        difflib.unified_diff(
            before.splitlines(keepends=True),
            text.splitlines(keepends=True),
            f"a/Pulumi.{target_stack}.yaml",
            f"b/Pulumi.{target_stack}.yaml",
        )
    )
    edited, model, cleanup = _checked(project, target_stack, text)
    try:
        changes = diff.compare(render_stack(target_path, target), render_stack(edited, model))
    finally:
        cleanup()
    report = diff.report(target_stack, f"Pulumi.{target_stack}.yaml before", changes, patch=False)
    return Promotion(source, model, parts, text, settings_diff, report, commit)


def description(promotion: Promotion) -> str:
    """The pull request's description: what, from which commit, the edit, the diff per cluster."""
    source, target = promotion.source, promotion.target
    names = ", ".join(p.part for p in promotion.parts)
    lines = [
        f"## Promote {names} from {source.name} to {target.name}",
        "",
        f"Taken from branch `{source.branch}` at commit `{promotion.commit}`, which "
        f"`Pulumi.{source.stack}.yaml` renders exactly.",
        "",
        "| part | in " + target.name + " | config |",
        "|---|---|---|",
        *(f"| {p.part} | {p.action} | `{p.config_path}` |" for p in promotion.parts),
        "",
        f"### The edit of `Pulumi.{target.stack}.yaml`",
        "",
        "```diff",
        promotion.settings_diff.rstrip("\n") or "(no change)",
        "```",
        "",
        promotion.cluster_diff.rstrip("\n"),
        "",
        f"Promoted-From: {source.branch}@{promotion.commit}",
    ]
    return "\n".join(lines) + "\n"


def write_settings(path: Path, text: str) -> None:
    """Replace the settings file in one step: a reader sees the old file or the new one."""
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
