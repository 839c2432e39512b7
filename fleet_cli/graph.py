"""A picture of the fleet: which cluster reconciles which, and what runs where.

The picture is a matrix. Columns are clusters, each management cluster followed by the remotes
it reconciles (an arrow joins them). Rows are the main branch's common infra, then per
environment its infra and each tenant. A cell names what that row runs on that cluster; with
many clusters it shows a count instead, so 50 clusters stay legible.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from fleet.model import ClusterSpec, EnvironmentSpec, FleetSpec, InfraSpec

NAMES_UP_TO = 12
"""Above this many clusters, cells show counts instead of names."""


@dataclass(frozen=True)
class Column:
    cluster: str
    role: str
    kind: str
    managed_by: str | None


@dataclass(frozen=True)
class Row:
    label: str
    environment: str | None
    cells: dict[str, tuple[str, ...]]
    """Cluster name -> what runs there; a cluster outside the row's environment is absent."""


@dataclass(frozen=True)
class Picture:
    title: str
    columns: tuple[Column, ...]
    rows: tuple[Row, ...]

    @property
    def reconciles(self) -> list[tuple[str, str]]:
        """(management, remote) pairs: who reconciles whom."""
        return [(c.managed_by, c.cluster) for c in self.columns if c.managed_by is not None]


def _ordered(clusters: Sequence[ClusterSpec]) -> list[ClusterSpec]:
    """Each management cluster, then its remotes; remotes of an absent manager last."""
    ordered: list[ClusterSpec] = []
    for cluster in clusters:
        if cluster.role == "management":
            ordered.append(cluster)
            ordered += [c for c in clusters if c.managed_by == cluster.name]
    placed = {c.name for c in ordered}
    return ordered + [c for c in clusters if c.name not in placed]


def _components_row(
    label: str,
    environment: str | None,
    components: Sequence[InfraSpec],
    clusters: Sequence[ClusterSpec],
) -> Row:
    cells = {
        cluster.name: tuple(
            c.name + ("*" if cluster.name in c.overrides else "")
            for c in components
            if c.runs_on(cluster.name)
        )
        for cluster in clusters
    }
    return Row(label, environment, cells)


def layout(fleet: FleetSpec, environments: Sequence[EnvironmentSpec], title: str) -> Picture:
    """The fleet and its environments as a matrix; an asterisk marks a per-cluster override."""
    clusters = list(fleet.clusters)
    for env in environments:
        known = {c.name for c in clusters}
        clusters += [c for c in env.dedicated_clusters if c.name not in known]
    columns = tuple(Column(c.name, c.role, c.kind, c.managed_by) for c in _ordered(clusters))
    rows = [_components_row("main: common infra", None, fleet.infra, fleet.clusters)]
    for env in environments:
        if env.infra:
            rows.append(_components_row(f"{env.name}: infra", env.name, env.infra, env.clusters))
        for tenant in env.tenants:
            runs = tuple(a.name for a in tenant.apps)
            on_management = runs + tuple(f"{r.name}: {a}" for r in tenant.releases for a in runs)
            cells = {
                c.name: on_management if c.role == "management" else runs for c in env.clusters
            }
            rows.append(Row(f"{env.name}: {tenant.name}", env.name, cells))
    return Picture(title, columns, tuple(rows))


# ---------------------------------------------------------------- drawing

_MANAGEMENT = "#1f4e79"
_REMOTE = "#7fa7d1"
_CELL = "#e8f1e4"
_ABSENT = "#f2f2f2"
_ROW_BANDS = ("#ffffff", "#f7f9fc")


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
    columns, rows = picture.columns, picture.rows
    many = len(columns) > NAMES_UP_TO
    cell_width = 0.45 if many else 1.9
    row_height = 0.42 if many else max(0.5, 0.24 * max(_longest_cell(rows), 1) + 0.2)
    label_width = 2.6
    names_bottom = 2.0 if many else 1.25
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
    axes.text(
        0.2,
        0.7,
        "dark: management cluster (runs Flux)   light: remote cluster   "
        "arrow: reconciles   *: per-cluster override"
        + ("   numbers: how many apps or components run there" if many else ""),
        fontsize=7.5,
        color="#444444",
        va="center",
    )

    x_of = {c.cluster: label_width + cell_width * i for i, c in enumerate(columns)}
    for column in columns:
        x = x_of[column.cluster]
        colour = _MANAGEMENT if column.role == "management" else _REMOTE
        axes.add_patch(
            Rectangle((x + 0.04, names_bottom + 0.04), cell_width - 0.08, 0.32, color=colour, lw=0)
        )
        axes.text(
            x + cell_width / 2,
            names_bottom + 0.2,
            column.kind[:3] if many else column.kind,
            ha="center",
            va="center",
            fontsize=6.5,
            color="white",
        )
        axes.text(
            x + cell_width / 2,
            names_bottom - 0.04,
            column.cluster,
            ha="left" if many else "center",
            va="bottom",
            fontsize=7 if many else 8.5,
            rotation=60 if many else 0,
            weight="bold",
        )
    for manager, remote in picture.reconciles:
        if manager in x_of:
            axes.add_patch(
                FancyArrowPatch(
                    (x_of[manager] + cell_width / 2, box_bottom - 0.02),
                    (x_of[remote] + cell_width / 2, box_bottom - 0.02),
                    connectionstyle=f"arc3,rad={_arc(x_of[manager], x_of[remote], cell_width)}",
                    arrowstyle="-|>",
                    mutation_scale=9,
                    color="#c0504d",
                    lw=1.1,
                )
            )

    for index, row in enumerate(rows):
        y = top + row_height * index
        axes.add_patch(
            Rectangle((0, y), width, row_height, color=_ROW_BANDS[index % 2], lw=0, zorder=0)
        )
        axes.text(0.2, y + row_height / 2, row.label, va="center", fontsize=8.5)
        for column in columns:
            x = x_of[column.cluster]
            runs = row.cells.get(column.cluster)
            colour = _ABSENT if runs is None else _CELL
            axes.add_patch(
                Rectangle(
                    (x + 0.04, y + 0.04), cell_width - 0.08, row_height - 0.08, color=colour, lw=0
                )
            )
            if runs:
                text = str(len(runs)) if many else "\n".join(runs)
                axes.text(
                    x + cell_width / 2,
                    y + row_height / 2,
                    text,
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
    return max((len(runs) for row in rows for runs in row.cells.values()), default=0)
