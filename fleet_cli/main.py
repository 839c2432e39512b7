"""The `fleet` command: see and check the whole fleet offline, without credentials or clusters.

Exit codes: 0 success; 1 `validate` found problems (`rollout`: a ring failed); 2 the input is
wrong (a config problem, a bad argument, a missing tool, or a base that cannot be rendered);
3 `rollout` has not finished.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from fleet import codeowners
from fleet.errors import ConfigError
from fleet.model import EnvironmentSpec, FleetSpec, StackSpec, fleet_of
from fleet.promotion import Selection
from fleet.stackfile import (
    concerned_stacks,
    deploy_order,
    environments_of,
    find_project,
    load_stack,
    main_stacks_of,
    stack_file,
    stack_name,
)
from fleet.summary import count, placement_lines, summary
from fleet_cli import diff, graph, preflight, promote, render, rollout
from fleet_cli.drift import hand_edits, local_repository
from fleet_cli.engine import render_stack
from fleet_cli.kustomize import KustomizeError, kubectl
from fleet_cli.progress import Progress
from fleet_cli.revisions import RevisionError, changed_paths, render_at
from fleet_cli.simulation.report import Report, as_json, report, text
from fleet_cli.simulation.simulation import simulation

EXIT_OK = 0
EXIT_PROBLEMS = 1
EXIT_CONFIG = 2


class _Stop(Exception):
    """A user's mistake, already phrased: print it and exit 2."""


def _load(args: argparse.Namespace) -> tuple[Path, StackSpec]:
    try:
        path = stack_file(args.stack, args.project)
        return path, load_stack(path)
    except ConfigError as error:
        raise _Stop(error.render()) from None


def _render(path: Path, model: StackSpec) -> render.StackRender:
    progress = Progress(f"rendering {model.stack}")
    try:
        return render_stack(path, model, on_resource=progress.update)
    finally:
        progress.clear()


def _shown(path: Path) -> str:
    """A path as the user would write it from here: relative below the current folder."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _check(args: argparse.Namespace) -> int:
    path, model = _load(args)
    print(f"{_shown(path)}: ok: {summary(model)}")
    for line in placement_lines(model, None if args.verbose else 6):
        print(line)
    return EXIT_OK


def _render_command(args: argparse.Namespace) -> int:
    path, model = _load(args)
    stack_render = _render(path, model)
    try:
        root = render.write(stack_render, args.out)
    except render.OutError as error:
        raise _Stop(str(error)) from None
    files = sum(len(f) for f in stack_render.branches.values())
    objects = sum(len(o) for o in stack_render.clusters.values())
    print(
        f"{root}: {count(files, 'file')} on {count(len(stack_render.branches), 'branch')}, "
        f"{count(objects, 'object')} on {count(len(stack_render.clusters), 'cluster')}, "
        f"{count(len(stack_render.resources), 'Pulumi resource')}"
    )
    return EXIT_OK


def _validate(args: argparse.Namespace) -> int:
    path, model = _load(args)
    _need_kubectl()
    with simulation(path.parent, assume_main=True, sources=_sources(args)) as sim:
        sim.step(f"pulumi up -s {model.stack}", model.stack, settings=path)
        result = report(sim)
    title = f"fleet validate {model.stack}"
    return _reported(result, args, title, f"{path}: valid: every object of the stack lands")


def _simulate(args: argparse.Namespace) -> int:
    project: Path = args.project
    try:
        stacks = args.stacks or deploy_order(project)
        for stack in stacks:
            load_stack(stack_file(stack, project))
        steps = [(stack_name(Path(f)), Path(f)) for f in args.then]
        for _, settings in steps:
            if not settings.is_file():
                raise _Stop(
                    f"{settings}: no such stack settings file (--then takes copies of them)"
                )
    except ConfigError as error:
        raise _Stop(error.render()) from None
    _need_kubectl()
    with simulation(project, args.repository, sources=_sources(args)) as sim:
        for stack in stacks:
            sim.step(f"pulumi up -s {stack}", stack)
        for stack, settings in steps:
            sim.step(f"then {settings} (pulumi up -s {stack})", stack, settings)
        result = report(sim)
        if args.status_out is not None:
            args.status_out.mkdir(parents=True, exist_ok=True)
            for cluster in sorted(sim.clusters):
                status = json.dumps(sim.flux_status(cluster), indent=1)
                (args.status_out / f"{cluster}.json").write_text(status + "\n", encoding="utf-8")
    title = f"fleet simulate {' '.join(stacks)}"
    return _reported(result, args, title, "")


def _sources(args: argparse.Namespace) -> dict[str, Path]:
    """`--source URL=DIR`: a local folder that stands in for a repository Flux reads."""
    found = {}
    for value in args.source:
        url, sep, folder = str(value).rpartition("=")
        if not sep or not url or not folder:
            raise _Stop(f"--source {value}: expected URL=DIR, the repository's URL and a folder")
        if not Path(folder).is_dir():
            raise _Stop(f"--source {value}: {folder} is not a folder")
        found[url] = Path(folder)
    return found


def _need_kubectl() -> None:
    try:
        kubectl()
    except KustomizeError as error:
        raise _Stop(str(error)) from None


def _reported(result: Report, args: argparse.Namespace, title: str, clean: str) -> int:
    print(text(result, title, verbose=args.verbose), end="")
    if args.json is not None:
        document = json.dumps(as_json(result), indent=2, sort_keys=True) + "\n"
        if str(args.json) == "-":
            sys.stdout.write(document)
        else:
            args.json.write_text(document, encoding="utf-8")
    if result.findings:
        print(f"{count(len(result.findings), 'problem')}", file=sys.stderr)
        return EXIT_PROBLEMS
    if clean:
        print(clean)
    return EXIT_OK


def _diff(args: argparse.Namespace) -> int:
    path, model = _load(args)
    head = _render(path, model)
    try:
        base = render_at(args.base, path)
    except RevisionError as error:
        raise _Stop(str(error)) from None
    changes = diff.compare(base, head)
    repository = local_repository(fleet_of(model).repository.commit_url, path.parent)
    if repository is not None:
        owner = f"fleet/{model.stack}"
        changes = diff.hand_edit_changes(hand_edits(repository, owner, base.branches)) + changes
    warning = diff.guard_trips(base, head, model.max_removals)
    print(diff.report(model.stack, args.base, changes, patch=args.patch, warning=warning), end="")
    return EXIT_OK


def _stacks(args: argparse.Namespace) -> int:
    project: Path = args.project
    if args.main_of is not None:
        _, model = _load(argparse.Namespace(stack=args.main_of, project=project))
        if not isinstance(model, EnvironmentSpec):
            raise _Stop(f"{args.main_of} is a main stack: it runs on no other")
        print(model.main_stack)
        return EXIT_OK
    try:
        main_of = main_stacks_of(project)
        order = deploy_order(project)
        changed = order
        if args.changed_since is not None:
            changed = concerned_stacks(changed_paths(args.changed_since, project), project)
    except ConfigError as error:
        raise _Stop(error.render()) from None
    except RevisionError as error:
        raise _Stop(str(error)) from None
    environments = sorted(stack for stack in order if main_of[stack] is not None)
    if args.github_output:
        print(f"changed={json.dumps(sorted(changed))}")
        print(f"mains={json.dumps(sorted(s for s in order if main_of[s] is None))}")
        print(f"environments={json.dumps(environments)}")
        return EXIT_OK
    for stack in order:
        runs_on = main_of[stack]
        role = "main stack" if runs_on is None else f"environment on {runs_on}"
        mark = "  (changed)" if args.changed_since is not None and stack in changed else ""
        print(f"{stack}: {role}{mark}")
    return EXIT_OK


def _rollout(args: argparse.Namespace) -> int:
    path, model = _load(args)
    if not isinstance(model, EnvironmentSpec):
        raise _Stop(f"{_shown(path)}: `fleet rollout` takes an environment stack")
    if model.rollout is None:
        print(
            f"{_shown(path)}: environment {model.name} has no rings (fleet:environment.rollout): "
            f"every cluster follows branch {model.branch}; the gate checks them all",
            file=sys.stderr,
        )
    skipped = _tenants_named(model, args.skip_tenant)
    try:
        if args.status is not None:
            read = rollout.recorded(args.status, model, skipped)
        elif args.clusters:
            read = rollout.live(rollout.kubeconfigs(args.clusters), model, skipped)
    except rollout.RolloutError as error:
        raise _Stop(str(error)) from None
    if args.status is None and not args.clusters:
        raise _Stop(
            "say where the status comes from: --clusters FILE (a stack's `clusters` output, "
            "`pulumi stack output --stack main --show-secrets --json clusters > FILE`) or "
            "--status DIR (recorded `kubectl get ... -o json`, one CLUSTER.json each)"
        )
    repository = rollout.repository_of(model, args.project, args.repository)
    try:
        decided = rollout.run(
            model,
            repository,
            read,
            move=args.advance,
            wait=args.wait,
            interval=args.interval,
            say=lambda line: print(line, flush=True),
        )
    except rollout.RolloutError as error:
        raise _Stop(str(error)) from None
    # With the plan as JSON on stdout, the text goes to stderr: stdout stays one document.
    print(rollout.describe(model, decided), file=sys.stderr if str(args.json) == "-" else None)
    if args.json is not None:
        text_ = json.dumps(rollout.as_json(model, decided), indent=2)
        if str(args.json) == "-":
            print(text_)
        else:
            args.json.write_text(text_ + "\n", encoding="utf-8")
    return rollout.exit_code(decided, moved=args.advance)


def _promote(args: argparse.Namespace) -> int:
    project: Path = args.project
    apps = []
    for value in args.app:
        tenant, sep, app = value.partition("/")
        if not sep or not tenant or not app:
            raise _Stop(f"--app {value}: expected TENANT/APP, for example kaizentm/azure-vote")
        apps.append((tenant, app))
    selection = Selection(tuple(args.tenant), tuple(apps), tuple(args.infra))
    read = None
    try:
        for stack in (args.source, args.target):
            stack_file(stack, project)
        if args.status is not None or args.clusters:
            source = load_stack(stack_file(args.source, project))
            if isinstance(source, EnvironmentSpec):
                read = (
                    rollout.recorded(args.status, source)
                    if args.status is not None
                    else rollout.live(rollout.kubeconfigs(args.clusters), source)
                )
        promotion = promote.prepare(
            project,
            args.source,
            args.target,
            selection,
            repository=args.repository,
            read=read,
        )
    except ConfigError as error:
        raise _Stop(error.render()) from None
    except (promote.PromoteError, rollout.RolloutError) as error:
        raise _Stop(str(error)) from None
    text_ = promote.description(promotion)
    if args.description is not None:
        args.description.write_text(text_, encoding="utf-8")
    if all(p.action == "unchanged" for p in promotion.parts):
        print(
            f"{args.target} already runs what {args.source} runs for "
            + ", ".join(p.part for p in promotion.parts)
        )
        return EXIT_OK
    target = project / f"Pulumi.{args.target}.yaml"
    if args.write:
        promote.write_settings(target, promotion.settings)
        print(f"{_shown(target)}: promoted from {args.source} at {promotion.commit[:12]}")
    elif args.description is None:
        print(text_, end="")
    if not args.write:
        print(f"(not written: --write edits {_shown(target)})")
    return EXIT_OK


def _codeowners(args: argparse.Namespace) -> int:
    project: Path = args.project.resolve()
    owners: dict[str, list[str]] = {}
    catch_all: list[str] = []
    try:
        for stack in deploy_order(project):
            model = load_stack(stack_file(stack, project))
            owners[stack] = list(model.owners)
            if isinstance(model, FleetSpec):
                catch_all += [o for o in model.owners if o not in catch_all]
    except ConfigError as error:
        raise _Stop(error.render()) from None
    root = next((p for p in (project, *project.parents) if (p / ".git").exists()), project)
    folder = project.relative_to(root).as_posix().removeprefix(".")
    wanted = codeowners.block(folder, owners, catch_all)
    target = root / ".github" / "CODEOWNERS"
    existing = target.read_text(encoding="utf-8") if target.exists() else None
    if args.write:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(codeowners.merged(existing, folder, wanted), encoding="utf-8")
        print(f"{_shown(target)}: {sum(1 for o in owners.values() if o)} stacks with owners")
        return EXIT_OK
    if args.check:
        if codeowners.current(existing, folder) != wanted:
            print(
                f"{_shown(target)} is not what the stacks' owners say: run `fleet codeowners "
                "--write` and commit it",
                file=sys.stderr,
            )
            return EXIT_PROBLEMS
        print(f"{_shown(target)}: up to date")
        return EXIT_OK
    print(wanted, end="")
    return EXIT_OK


def _preflight(args: argparse.Namespace) -> int:
    path, model = _load(args)
    checks = preflight.preflight(path, model, try_push=args.try_push)
    print(preflight.report(checks), end="")
    failed = any(c.status is preflight.Status.FAIL for c in checks)
    return EXIT_PROBLEMS if failed else EXIT_OK


def _tenants_named(model: EnvironmentSpec, given: Sequence[str]) -> list[str]:
    known = [t.name for t in model.tenants]
    unknown = [t for t in given if t not in known]
    if unknown:
        raise _Stop(
            f"--skip-tenant {unknown[0]}: no such tenant in environment {model.name} "
            f"(its tenants: {', '.join(known) or 'none'})"
        )
    return list(given)


def _seconds(value: str) -> float:
    """`90`, `90s`, `15m` or `2h`."""
    units = {"s": 1, "m": 60, "h": 3600}
    number, unit = (value[:-1], value[-1]) if value and value[-1] in units else (value, "s")
    try:
        seconds = float(number) * units[unit]
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{value}' is not a duration (90s, 15m, 2h)") from None
    if seconds < 0:
        raise argparse.ArgumentTypeError(f"'{value}' is negative")
    return seconds


def _picture_path(value: str) -> Path:
    path = Path(value)
    if path.suffix.lower() not in (".svg", ".png"):
        raise argparse.ArgumentTypeError(f"{value}: the picture is written as .svg or .png")
    return path


def _graph(args: argparse.Namespace) -> int:
    path, model = _load(args)
    try:
        if isinstance(model, FleetSpec):
            fleet, environments = model, environments_of(path)
        else:
            fleet, environments = model.fleet, [model]
    except ConfigError as error:
        raise _Stop(error.render()) from None
    args.out.parent.mkdir(parents=True, exist_ok=True)
    try:
        graph.draw(graph.layout(fleet, environments, f"fleet: stack {model.stack}"), args.out)
    except graph.PictureError as error:
        raise _Stop(str(error)) from None
    print(f"wrote {args.out}")
    return EXIT_OK


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(
        prog="fleet",
        description="See and check the fleet offline: no credentials, no clusters needed.",
        epilog="exit codes: 0 success, 1 validate or simulate found problems, 2 the input is "
        "wrong (one line naming the file or argument)",
    )
    root.add_argument("--project", type=Path, default=None, help=PROJECT_HELP)
    root.add_argument("--version", action="version", version=f"fleet {_version()}")
    # Accepted after the command too; there it wins.
    project_option = argparse.ArgumentParser(add_help=False)
    project_option.add_argument(
        "--project", type=Path, default=argparse.SUPPRESS, help=PROJECT_HELP
    )
    commands = root.add_subparsers(dest="command", required=True, metavar="COMMAND")
    stack_help = "a stack name (reads Pulumi.STACK.yaml) or a stack settings file"

    def command(
        name: str, summary_line: str, description: str, run: Callable[[argparse.Namespace], int]
    ) -> argparse.ArgumentParser:
        sub = commands.add_parser(
            name, help=summary_line, description=description, parents=[project_option]
        )
        sub.add_argument("stack", help=stack_help)
        sub.set_defaults(run=run)
        return sub

    check_parser = command(
        "check",
        "validate a stack's config and show which clusters each part of it is on",
        "Validate a stack's config. Exit 0 with a summary and the clusters each environment, "
        "component, tenant, app and channel is on (and what each selector picked), or 2 "
        "listing every problem.",
        _check,
    )
    check_parser.add_argument(
        "--verbose", action="store_true", help="list every cluster, not the first six"
    )
    render_parser = command(
        "render",
        "write everything the stack commits, applies and registers",
        "Run the stack's program offline and write DIR/STACK/git/BRANCH/... (the committed "
        "files), DIR/STACK/k8s/CLUSTER.yaml (the objects applied to each cluster) and "
        "DIR/STACK/resources.json (every Pulumi resource), secret values redacted.",
        _render_command,
    )
    render_parser.add_argument(
        "--out", type=Path, default=Path("build"), help="where to write (default: build)"
    )
    validate_parser = command(
        "validate",
        "check that everything the stack deploys lands, as Flux and Kubernetes would decide",
        "Deploy the stack alone, offline: its program, its branch into a temporary repository, "
        "its objects onto simulated clusters (its main stack's Flux assumed installed), then "
        "reconcile Flux and check every object against Kubernetes authorization. Exit 0, 2 on "
        "a config problem, or 1 "
        "listing every problem.",
        _validate,
    )
    _report_options(validate_parser)
    diff_parser = command(
        "diff",
        "show what changes against another git revision",
        "Render the stack at git revision REF of the project and at the working tree, and print "
        "the files and objects added, removed or changed, per branch and per cluster, as Markdown.",
        _diff,
    )
    diff_parser.add_argument("--base", required=True, metavar="REF", help="the git revision")
    diff_parser.add_argument("--patch", action="store_true", help="show unified diffs")
    simulate_parser = commands.add_parser(
        "simulate",
        parents=[project_option],
        help="deploy the whole project offline, in order, and reconcile every cluster",
        description="Run each stack's `pulumi up` in deploy order (main stacks, then "
        "environments) offline: the real program, its branch landed through the real git "
        "writer into a bare repository, its objects applied to simulated clusters, each stack's "
        "outputs handed to the stacks that read them; then reconcile every cluster as Flux "
        "would, reading the branches from that repository, and check every object against "
        "Kubernetes authorization and Flux's lockdown. Exit 0, 2 on a config problem, or 1 "
        "listing every problem.",
    )
    simulate_parser.add_argument(
        "stacks", nargs="*", metavar="STACK", help="the stacks to deploy (default: all, in order)"
    )
    simulate_parser.add_argument(
        "--repository",
        type=Path,
        metavar="PATH",
        help="the bare repository to land branches in (default: a temporary one)",
    )
    simulate_parser.add_argument(
        "--then",
        nargs="+",
        default=[],
        metavar="FILE",
        help="then update the stack each file is a copy of (Pulumi.STACK.yaml), in order",
    )
    simulate_parser.add_argument(
        "--status-out",
        type=Path,
        metavar="DIR",
        help="write each cluster's Flux status as DIR/CLUSTER.json, as `kubectl get -o json` "
        "lists it (what `fleet rollout --status DIR` reads)",
    )
    _report_options(simulate_parser)
    simulate_parser.set_defaults(run=_simulate)
    stacks_parser = commands.add_parser(
        "stacks",
        parents=[project_option],
        help="list the project's stacks in deploy order",
        description="List the project's stacks in the order `pulumi up` runs them: main stacks, "
        "then environments. With --changed-since, also which stacks a change concerns: a "
        "stack's own settings file concerns it, a main stack's file its environments too, any "
        "other file every stack.",
    )
    stacks_parser.add_argument(
        "--changed-since", metavar="REF", help="the git revision a change starts from"
    )
    stacks_parser.add_argument(
        "--github-output",
        action="store_true",
        help="print `changed=[...]`, `mains=[...]` and `environments=[...]` for $GITHUB_OUTPUT",
    )
    stacks_parser.add_argument(
        "--main-of",
        metavar="STACK",
        help="print only the main stack environment STACK runs on, as its fleet:mainStack "
        "names it (what `pulumi stack output --stack` takes)",
    )
    stacks_parser.set_defaults(run=_stacks)
    graph_parser = command(
        "graph",
        "draw the fleet as a picture",
        "Draw which cluster reconciles which and what runs where: for the main stack with every "
        "environment stack of the project, for an environment stack just its own.",
        _graph,
    )
    graph_parser.add_argument(
        "--out", type=_picture_path, required=True, help="the picture to write: .svg or .png"
    )
    preflight_parser = command(
        "preflight",
        "check that a stack is deployable from here, each problem with its fix",
        "Check what `pulumi up` of the stack will need: its own fleet repository (not the "
        "example's), that Flux can read it and the program can push to it (and that GitHub's "
        "branch rules let it), every secret config key set, the main stack named as the backend "
        "the Pulumi CLI is logged in to knows it, and the tools its clusters need. Exit 0 when "
        "deployable, 1 listing what to fix, 2 on a config problem.",
        _preflight,
    )
    preflight_parser.add_argument(
        "--try-push",
        action="store_true",
        help="also push a throwaway branch fleet-preflight/STACK to the repository, and delete it",
    )
    codeowners_parser = commands.add_parser(
        "codeowners",
        parents=[project_option],
        help="who approves a change of each stack: the repository's CODEOWNERS",
        description="Print .github/CODEOWNERS (of the git repository holding the project) from "
        "the stacks' owners: Pulumi.main.yaml gets fleet:owners, each Pulumi.<env>.yaml its "
        "fleet:environment.owners. --write writes it; --check exits 1 when it is stale.",
    )
    written = codeowners_parser.add_mutually_exclusive_group()
    written.add_argument("--write", action="store_true", help="write .github/CODEOWNERS")
    written.add_argument("--check", action="store_true", help="exit 1 when it is not up to date")
    codeowners_parser.set_defaults(run=_codeowners)
    promote_parser = commands.add_parser(
        "promote",
        parents=[project_option],
        help="bring an environment to what another runs, as an edit of its settings file",
        description="Edit Pulumi.TO.yaml so that the chosen tenants, apps and infra components "
        "run there what they run in FROM (their repository branch, apps, release channels, "
        "variables, chart and manifests; where they run and their sandbox stay TO's). The "
        "edit is checked like `fleet check`; the pull request description (--description) "
        "holds it, the per-cluster `fleet diff` of TO, and the commit of branch FROM it was "
        "taken from. Refused (exit 2) when branch FROM does not hold what Pulumi.FROM.yaml "
        "renders, or, with --clusters or --status, when a cluster of FROM has not reconciled "
        "that commit.",
    )
    promote_parser.add_argument("source", metavar="FROM", help="the environment promoted from")
    promote_parser.add_argument("target", metavar="TO", help="the environment promoted to")
    promote_parser.add_argument(
        "--tenant", action="append", default=[], metavar="T", help="a whole tenant; repeatable"
    )
    promote_parser.add_argument(
        "--app", action="append", default=[], metavar="T/APP", help="one app; repeatable"
    )
    promote_parser.add_argument(
        "--infra", action="append", default=[], metavar="C", help="an infra component; repeatable"
    )
    promote_parser.add_argument(
        "--write", action="store_true", help="write Pulumi.TO.yaml (default: print the edit)"
    )
    promote_parser.add_argument(
        "--description", type=Path, metavar="FILE", help="write the pull request description"
    )
    promote_parser.add_argument(
        "--repository",
        metavar="URL",
        help="the fleet repository holding branch FROM (default: the stack's pushUrl, else url)",
    )
    promote_parser.add_argument(
        "--clusters",
        type=Path,
        action="append",
        default=[],
        metavar="FILE",
        help="check FROM's clusters have reconciled the commit (as `fleet rollout --clusters`)",
    )
    promote_parser.add_argument(
        "--status",
        type=Path,
        metavar="DIR",
        help="the same from recorded statuses (as `fleet rollout --status`)",
    )
    promote_parser.set_defaults(run=_promote)
    rollout_parser = command(
        "rollout",
        "roll branch E's newest commit out ring by ring",
        "The gate between the rings of an environment (fleet:environment.rollout). Read where "
        "each ring's ref is and the Flux status of every cluster of the environment, then say "
        "what comes next: the next ring may take the commit once every Flux object of the "
        "environment on the rings before is Ready at it; a failure stops the rollout. With "
        "--advance, move that ring's ref. Exit 0 when every ring is Ready at the commit (or a "
        "ring was moved, without --wait), 1 when a ring failed, 2 on a wrong input, 3 when "
        "not finished.",
        _rollout,
    )
    rollout_parser.add_argument(
        "--clusters",
        type=Path,
        action="append",
        default=[],
        metavar="FILE",
        help="a stack's `clusters` output with each cluster's kubeconfig "
        "(`pulumi stack output --stack main --show-secrets --json clusters`); repeatable",
    )
    rollout_parser.add_argument(
        "--status",
        type=Path,
        metavar="DIR",
        help="read recorded statuses instead: DIR/CLUSTER.json, each the output of "
        f"`kubectl get {rollout.FLUX_RESOURCES} -A -o json`",
    )
    rollout_parser.add_argument(
        "--advance", action="store_true", help="move the next ring's ref when it may move"
    )
    rollout_parser.add_argument(
        "--repository",
        metavar="URL",
        help="the fleet repository holding branch E and the rings' refs (default: the "
        "stack's fleet:repository pushUrl, else url)",
    )
    rollout_parser.add_argument(
        "--wait",
        type=_seconds,
        default=0.0,
        metavar="DURATION",
        help="keep judging (and with --advance, advancing) until done, failed, or DURATION "
        "(e.g. 45m) has passed",
    )
    rollout_parser.add_argument(
        "--interval",
        type=_seconds,
        default=30.0,
        metavar="DURATION",
        help="how long to wait between two looks (default: 30s)",
    )
    rollout_parser.add_argument(
        "--skip-tenant",
        action="append",
        default=[],
        metavar="T",
        help="leave tenant T's own Flux objects out of the judgement (its failing app would "
        "hold the environment's rollout otherwise); repeatable",
    )
    rollout_parser.add_argument(
        "--json",
        type=Path,
        metavar="FILE",
        help="also write the plan as JSON (- for stdout, the text then goes to stderr)",
    )
    return root


def _report_options(sub: argparse.ArgumentParser) -> None:
    sub.add_argument(
        "--json", type=Path, metavar="FILE", help="also write the report as JSON (- for stdout)"
    )
    sub.add_argument(
        "--verbose", action="store_true", help="list every file and object each step changes"
    )
    sub.add_argument(
        "--source",
        action="append",
        default=[],
        metavar="URL=DIR",
        help="reconcile the folder DIR as the repository URL (a tenant's, at every branch) "
        "instead of treating what it holds as unknown; repeatable",
    )


PROJECT_HELP = (
    "the Pulumi project folder holding Pulumi.<stack>.yaml (default: the nearest folder from "
    "the current one up that holds Pulumi.yaml)"
)


def _version() -> str:
    try:
        return importlib.metadata.version("fleet")
    except importlib.metadata.PackageNotFoundError:
        return "unknown (not installed)"


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.project is None:
        args.project = find_project(Path.cwd())
    try:
        code: int = args.run(args)
    except _Stop as stop:
        print(stop, file=sys.stderr)
        return EXIT_CONFIG
    except OSError as error:
        # A file or folder the user named that cannot be read or written.
        where = f"{error.filename}: " if error.filename else ""
        print(f"{where}{error.strerror or error}", file=sys.stderr)
        return EXIT_CONFIG
    return code
