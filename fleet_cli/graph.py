"""A picture of the fleet: which cluster reconciles which, and what runs where.

The picture is a matrix. Columns are clusters, each management cluster followed by the remotes
it reconciles (an arrow joins them). Rows are the main branch's common infra, then per
environment its infra and each tenant. A cell names what that row runs on that cluster; a
cluster the row does not reach is empty.

A big fleet folds so that the picture stays a few thousand pixels on each side: with many
clusters cells show counts instead of names; with more, each management cluster's remotes fold
into its column, whose cells count the remotes (`mgmt + 3/40`); with many tenants, an
environment's tenants fold into one row that counts them per column.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from fleet.model import ClusterSpec, EnvironmentSpec, FleetSpec, InfraSpec, TenantSpec

NAMES_UP_TO = 12
"""Above this many columns, cells show counts instead of names."""

FOLD_REMOTES_ABOVE = 24
"""Above this many clusters, each management cluster's remotes fold into its column: a column
per cluster would make a strip tens of thousands of pixels wide."""

FOLD_TENANTS_ABOVE = 30
"""Above this many tenants in an environment, its tenants fold into one row: a row each would
make the picture as tall as it was wide."""

Runs = Mapping[str, tuple[str, ...]]
"""Cluster name -> what a row runs there, for the clusters it reaches only."""


@dataclass(frozen=True)
class Column:
    cluster: str
    """The cluster; for a folded column, the management cluster."""
    role: str
    kind: str
    managed_by: str | None
    remotes: tuple[str, ...]
    """The remotes folded into this column, which then stands for the cluster and them."""

    @property
    def lines(self) -> tuple[str, ...]:
        """Its name as drawn, one line each."""
        if not self.remotes:
            return (self.cluster,)
        return (self.cluster, f"+ {len(self.remotes)} remotes")


@dataclass(frozen=True)
class Row:
    label: str
    environment: str | None
    cells: dict[str, tuple[str, ...]]
    """Column (its cluster's name) -> the lines its cell shows; a column the row does not reach
    is absent."""


@dataclass(frozen=True)
class Picture:
    title: str
    columns: tuple[Column, ...]
    rows: tuple[Row, ...]
    compact: bool
    """Too many columns for names: the cells show counts and the columns are narrow."""

    @property
    def reconciles(self) -> list[tuple[str, str]]:
        """(management, remote) pairs between columns: who reconciles whom. A folded column's
        remotes are inside it."""
        return [(c.managed_by, c.cluster) for c in self.columns if c.managed_by is not None]


def layout(fleet: FleetSpec, environments: Sequence[EnvironmentSpec], title: str) -> Picture:
    """The fleet and its environments as a matrix; an asterisk marks a per-cluster override."""
    clusters = list(fleet.clusters)
    for env in environments:
        known = {c.name for c in clusters}
        clusters += [c for c in env.dedicated_clusters if c.name not in known]
    columns = _columns(clusters, fold=len(clusters) > FOLD_REMOTES_ABOVE)
    compact = len(columns) > NAMES_UP_TO

    def row(label: str, environment: str | None, runs: Runs) -> Row:
        return Row(label, environment, _cells(runs, columns, compact))

    rows = [row("main: common infra", None, _components(fleet.infra, fleet.clusters))]
    for env in environments:
        if env.infra:
            rows.append(row(f"{env.name}: infra", env.name, _components(env.infra, env.clusters)))
        if len(env.tenants) > FOLD_TENANTS_ABOVE:
            rows.append(_tenants_row(env, columns))
        else:
            rows += [row(f"{env.name}: {t.name}", env.name, _tenant(env, t)) for t in env.tenants]
    return Picture(title, columns, tuple(rows), compact)


def _ordered(clusters: Sequence[ClusterSpec]) -> list[ClusterSpec]:
    """Each management cluster, then its remotes; remotes of an absent manager last."""
    ordered: list[ClusterSpec] = []
    for cluster in clusters:
        if cluster.role == "management":
            ordered.append(cluster)
            ordered += [c for c in clusters if c.managed_by == cluster.name]
    placed = {c.name for c in ordered}
    return ordered + [c for c in clusters if c.name not in placed]


def _columns(clusters: Sequence[ClusterSpec], fold: bool) -> tuple[Column, ...]:
    """A column per cluster; folded, a column per management cluster holding its remotes."""
    ordered = _ordered(clusters)
    if not fold:
        return tuple(Column(c.name, c.role, c.kind, c.managed_by, ()) for c in ordered)
    managers = {c.name for c in clusters if c.role == "management"}
    remotes: dict[str, list[str]] = {}
    for cluster in ordered:
        if cluster.managed_by in managers:
            remotes.setdefault(cluster.managed_by, []).append(cluster.name)
    return tuple(
        Column(c.name, c.role, c.kind, c.managed_by, tuple(remotes.get(c.name, ())))
        for c in ordered
        if c.managed_by not in managers
    )


def _components(components: Sequence[InfraSpec], clusters: Sequence[ClusterSpec]) -> Runs:
    """The components on each cluster that runs at least one of them."""
    runs = {
        cluster.name: tuple(
            c.name + ("*" if cluster.name in c.overrides else "")
            for c in components
            if c.runs_on(cluster.name)
        )
        for cluster in clusters
    }
    return {cluster: names for cluster, names in runs.items() if names}


def _tenant_clusters(env: EnvironmentSpec, tenant: TenantSpec) -> tuple[str, ...]:
    """The clusters a tenant's row covers: those any of its channels runs on."""
    return tuple(c.name for c in env.clusters if tenant.is_on(c.name))


def _tenant(env: EnvironmentSpec, tenant: TenantSpec) -> Runs:
    """Its apps on each of its clusters, a release channel's as `CHANNEL: APP`."""
    return {
        cluster: tuple(
            app.name if channel.release is None else f"{channel.release}: {app.name}"
            for channel in tenant.channels(env.name)
            if cluster in channel.clusters
            for app in tenant.apps
            if cluster in app.clusters
        )
        for cluster in _tenant_clusters(env, tenant)
    }


def _tenants_row(env: EnvironmentSpec, columns: Sequence[Column]) -> Row:
    """All of an environment's tenants as one row: how many land on each column."""
    covered = [set(_tenant_clusters(env, t)) for t in env.tenants]
    cells: dict[str, tuple[str, ...]] = {}
    for column in columns:
        clusters = (column.cluster, *column.remotes)
        count = sum(not on.isdisjoint(clusters) for on in covered)
        if count:
            cells[column.cluster] = (str(count),)
    return Row(f"{env.name}: {len(env.tenants)} tenants", env.name, cells)


def _cells(runs: Runs, columns: Sequence[Column], compact: bool) -> dict[str, tuple[str, ...]]:
    """What each column's cell shows of a row: names, their count, or a folded column's share."""
    cells: dict[str, tuple[str, ...]] = {}
    for column in columns:
        if column.remotes:
            on_remotes = sum(r in runs for r in column.remotes)
            text = _share(column.cluster in runs, on_remotes, len(column.remotes))
            if text:
                cells[column.cluster] = (text,)
        elif column.cluster in runs:
            names = runs[column.cluster]
            cells[column.cluster] = (str(len(names)),) if compact and names else names
    return cells


def _share(on_management: bool, on_remotes: int, remotes: int) -> str:
    """`mgmt + 3/40`: on the management cluster and 3 of its 40 remotes; empty if on none."""
    parts = ["mgmt"] if on_management else []
    if on_remotes:
        parts.append(f"all {remotes}" if on_remotes == remotes else f"{on_remotes}/{remotes}")
    return " + ".join(parts)


# ---------------------------------------------------------------- drawing

_MANAGEMENT = "#1f4e79"
_REMOTE = "#7fa7d1"
_CELL = "#e8f1e4"
_ABSENT = "#f2f2f2"
_ROW_BANDS = ("#ffffff", "#f7f9fc")
_MANAGEMENT_SHARE = 0.45
"""How much of a folded column's box is its management cluster; the rest is its remotes."""


class PictureError(Exception):
    """The picture cannot be drawn here; the message says what to install."""


def draw(picture: Picture, path: Path) -> None:
    """Write the picture as SVG or PNG (by the file's suffix).

    matplotlib is the optional `picture` extra: `pulumi up` never draws, so it does not need it.
    """
    try:
        import matplotlib
    except ImportError:
        raise PictureError(
            "fleet graph draws with matplotlib, which is not installed: install the project's "
            "`picture` extra (`pip install -e '.[picture]'`; `make install` includes it)"
        ) from None

    matplotlib.use("Agg")
    matplotlib.rcParams["svg.hashsalt"] = "fleet"
    from matplotlib import pyplot
    from matplotlib.patches import FancyArrowPatch, Rectangle

    suffix = path.suffix.lower()
    if suffix not in (".svg", ".png"):
        raise ValueError(f"{path}: the picture is written as .svg or .png")
    columns, rows, many = picture.columns, picture.rows, picture.compact
    folded = any(c.remotes for c in columns)
    counted = many and not all(c.remotes for c in columns)
    legend = [
        "dark: management cluster (runs Flux)   light: remote cluster   "
        "arrow: reconciles   *: per-cluster override"
        + ("   numbers: how many apps or components run there" if counted else "")
    ]
    if folded:
        legend.append(
            "a column holds a management cluster and its remotes   "
            "mgmt + 3/40: runs on the management cluster and 3 of its 40 remotes"
        )
    # A folded cell's text is wider than a count.
    cell_width = (1.0 if folded else 0.45) if many else 1.9
    row_height = 0.42 if many else max(0.5, 0.24 * max(_longest_cell(rows), 1) + 0.2)
    label_width = 2.6
    names_bottom = (
        (2.0 if many else 1.25)
        + 0.22 * (len(legend) - 1)
        + 0.15 * (max((len(c.lines) for c in columns), default=1) - 1)
    )
    box_bottom = names_bottom + 0.4
    top = box_bottom + 0.4  # the lane between boxes and rows holds the reconcile arrows
    width = label_width + cell_width * len(columns) + 0.4
    height = top + row_height * len(rows) + 0.3

    figure = pyplot.figure(figsize=(width, height))
    axes = figure.add_axes((0, 0, 1, 1))
    axes.set_xlim(0, width)
    axes.set_ylim(height, 0)
    axes.axis("off")
    axes.text(0.2, 0.35, picture.title, fontsize=13, weight="bold", va="center")
    for index, line in enumerate(legend):
        axes.text(0.2, 0.7 + 0.22 * index, line, fontsize=7.5, color="#444444", va="center")

    def box(x: float, box_width: float, colour: str, text: str) -> None:
        axes.add_patch(
            Rectangle((x + 0.04, names_bottom + 0.04), box_width - 0.08, 0.32, color=colour, lw=0)
        )
        axes.text(
            x + box_width / 2,
            names_bottom + 0.2,
            text,
            ha="center",
            va="center",
            fontsize=6.5,
            color="white",
        )

    def arrow(start: float, end: float) -> None:
        axes.add_patch(
            FancyArrowPatch(
                (start, box_bottom - 0.02),
                (end, box_bottom - 0.02),
                connectionstyle=f"arc3,rad={_arc(start, end, cell_width)}",
                arrowstyle="-|>",
                mutation_scale=9,
                color="#c0504d",
                lw=1.1,
            )
        )

    x_of = {c.cluster: label_width + cell_width * i for i, c in enumerate(columns)}
    for column in columns:
        x = x_of[column.cluster]
        own = cell_width * (_MANAGEMENT_SHARE if column.remotes else 1.0)
        colour = _MANAGEMENT if column.role == "management" else _REMOTE
        box(x, own, colour, column.kind[:3] if many else column.kind)
        if column.remotes:
            box(x + own, cell_width - own, _REMOTE, "remotes")
            arrow(x + own / 2, x + (own + cell_width) / 2)
        axes.text(
            x + cell_width / 2,
            names_bottom - 0.04,
            "\n".join(column.lines),
            ha="left" if many else "center",
            va="bottom",
            fontsize=7 if many else 8.5,
            rotation=60 if many else 0,
            weight="bold",
        )
    for manager, remote in picture.reconciles:
        if manager in x_of:
            arrow(x_of[manager] + cell_width / 2, x_of[remote] + cell_width / 2)

    for index, row in enumerate(rows):
        y = top + row_height * index
        axes.add_patch(
            Rectangle((0, y), width, row_height, color=_ROW_BANDS[index % 2], lw=0, zorder=0)
        )
        axes.text(0.2, y + row_height / 2, row.label, va="center", fontsize=8.5)
        for column in columns:
            x = x_of[column.cluster]
            shown = row.cells.get(column.cluster)
            colour = _ABSENT if shown is None else _CELL
            axes.add_patch(
                Rectangle(
                    (x + 0.04, y + 0.04), cell_width - 0.08, row_height - 0.08, color=colour, lw=0
                )
            )
            if shown:
                axes.text(
                    x + cell_width / 2,
                    y + row_height / 2,
                    "\n".join(shown),
                    ha="center",
                    va="center",
                    fontsize=7 if many else 7.5,
                )
    # No date in the file: the same fleet gives the same picture.
    metadata = {"Date": None} if suffix == ".svg" else {}
    figure.savefig(path, dpi=110, metadata=metadata)
    pyplot.close(figure)


def _arc(start: float, end: float, cell_width: float) -> float:
    """Bend an arrow into the lane below the boxes, shallower the farther it goes."""
    distance = abs(end - start) / cell_width
    bend = min(0.35, 0.35 / max(distance, 1.0))
    return bend if end > start else -bend


def _longest_cell(rows: Sequence[Row]) -> int:
    return max((len(shown) for row in rows for shown in row.cells.values()), default=0)
