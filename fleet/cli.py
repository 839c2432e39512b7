"""The `fleet` command: check a stack's config offline, without credentials or clusters."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from fleet import graph
from fleet.errors import ConfigError
from fleet.model import Environment, Fleet
from fleet.stackfile import environments_of, load_stack, stack_file

EXIT_OK = 0
EXIT_CONFIG = 2


def summary(model: Fleet | Environment) -> str:
    """One line that tells a reviewer what the stack holds."""
    clusters = model.clusters
    remotes = sum(1 for c in clusters if c.role == "remote")
    shape = f"{len(clusters)} clusters ({len(clusters) - remotes} management, {remotes} remote)"
    if isinstance(model, Fleet):
        return (
            f"main stack '{model.stack}': {shape}, {len(model.infra)} infra components, "
            f"repository {model.repository.url}"
        )
    apps = sum(len(t.apps) for t in model.tenants)
    releases = sum(len(t.releases) for t in model.tenants)
    return (
        f"environment '{model.name}' (branch {model.branch}): {shape}, "
        f"{len(model.tenants)} tenants, {apps} apps, {releases} release channels, "
        f"{len(model.infra)} infra components"
    )


def _check(args: argparse.Namespace) -> int:
    path = stack_file(args.stack, args.project)
    try:
        model = load_stack(path)
    except ConfigError as error:
        print(error.render(), file=sys.stderr)
        return EXIT_CONFIG
    print(f"{path}: ok: {summary(model)}")
    return EXIT_OK


def _picture_path(value: str) -> Path:
    path = Path(value)
    if path.suffix.lower() not in (".svg", ".png"):
        raise argparse.ArgumentTypeError(f"{value}: the picture is written as .svg or .png")
    return path


def _graph(args: argparse.Namespace) -> int:
    path = stack_file(args.stack, args.project)
    try:
        model = load_stack(path)
        if isinstance(model, Fleet):
            fleet, environments = model, environments_of(path)
        else:
            fleet, environments = model.fleet, [model]
    except ConfigError as error:
        print(error.render(), file=sys.stderr)
        return EXIT_CONFIG
    title = f"fleet: stack {model.stack}"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    graph.draw(graph.layout(fleet, environments, title), args.out)
    print(f"wrote {args.out}")
    return EXIT_OK


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(
        prog="fleet",
        description="See and check the fleet offline: no credentials, no clusters needed.",
    )
    root.add_argument(
        "--project",
        type=Path,
        default=Path.cwd(),
        help="the Pulumi project folder holding Pulumi.<stack>.yaml (default: current folder)",
    )
    commands = root.add_subparsers(dest="command", required=True, metavar="COMMAND")
    check = commands.add_parser(
        "check",
        help="validate a stack's config",
        description="Validate a stack's config. Exit 0 with a summary, or 2 listing every problem.",
    )
    check.add_argument("stack", help="a stack name (reads Pulumi.STACK.yaml) or a settings file")
    check.set_defaults(run=_check)

    draw = commands.add_parser(
        "graph",
        help="draw the fleet as a picture",
        description=(
            "Draw which cluster reconciles which and what runs where: for the main stack with "
            "every environment stack of the project, for an environment stack just its own."
        ),
    )
    draw.add_argument("stack", help="a stack name (reads Pulumi.STACK.yaml) or a settings file")
    draw.add_argument(
        "--out", type=_picture_path, required=True, help="the picture to write: .svg or .png"
    )
    draw.set_defaults(run=_graph)
    return root


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    code: int = args.run(args)
    return code
