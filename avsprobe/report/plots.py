"""One function per figure; each returns ``(figure, table behind it)`` and does no file I/O.

Call them inside ``paper_style()``. Every figure is drawn for a given width in inches (``width_in``: a paper
column, 3.3, or the full text width, 7.0; see ``style.FIGURE_WIDTHS_IN``) with a constrained layout and its
legend inside the canvas, so the saved file is exactly that wide (at most, for the image grids, whose tiles
stop growing) and no text is smaller than 6 pt at print size.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from avsprobe.metrics import bias
from avsprobe.records import unpack_thumbnail
from avsprobe.report.browse import ClipRegenerator, overlay
from avsprobe.report.compute import RunResult, overall_scores
from avsprobe.report.style import FULL_WIDTH_IN, MARKERS, PALETTE, REFERENCE_COLOUR, rgb255

if TYPE_CHECKING:
    import pandas as pd

# distinct dashes so that models with identical curves stay visible on top of each other
_LINESTYLES = ("-", "--", ":", "-.", (0, (5, 1)), (0, (1, 1)), (0, (3, 1, 1, 1)), (0, (5, 5))) * 4

_CHAR_IN = 0.062
"""Width of an average character of the 7 pt serif legend and title text (inches): sizes legends and wraps."""

_CHAR_6PT_IN = 0.052
"""The same for the 6 pt text of the qualitative grid's column titles."""

_NARROW_IN = 5.0
"""Below this width category labels are slanted so that eight class names fit side by side."""

__all__ = ["intensity_curves", "semantic_boxes", "dominance_heatmaps", "prior_bars", "area_curves", "coavs_bars",
           "robustness_curves", "robustness_fscore_curves", "robustness_prior_curves", "qualitative_grid"]


def _colours(runs: list[RunResult]) -> dict[str, str]:
    """One colour per model for every figure of a report: by the run's place in the report (the same list
    reaches every figure), so a model keeps its colour when a figure leaves other runs out."""
    return {run.model: PALETTE[i % len(PALETTE)] for i, run in enumerate(runs)}


def _group(run: RunResult, name: str, compute: Any) -> dict:
    """A grouped metric already computed for the report (``run.metrics``), else computed now."""
    if run.metrics is not None and name in run.metrics.groups:
        return run.metrics.groups[name]
    return compute(run.records)


def _short(text: str, max_chars: int) -> str:
    """``text`` at most ``max_chars`` long: its head and tail around an ellipsis (a name may be any length)."""
    if len(text) <= max_chars:
        return text
    head = max_chars // 2
    return text[:head] + "…" + text[len(text) - (max_chars - 1 - head):]


def _legend_labels(labels: Sequence[str], width_in: float) -> list[str]:
    """Legend labels shortened so that one entry always fits the figure's width."""
    return [_short(label, max(12, int((width_in - 0.45) / _CHAR_IN))) for label in labels]


def _legend_rows(labels: Sequence[str], width_in: float) -> tuple[int, int]:
    """(columns, rows) of a legend of ``labels`` laid out under the axes of a ``width_in`` wide figure."""
    labels = _legend_labels(labels, width_in)
    entry_in = _CHAR_IN * max(len(label) for label in labels) + 0.45  # text plus the handle and its gap
    columns = max(1, min(len(labels), int(width_in // entry_in)))
    return columns, -(-len(labels) // columns)


def _figure(width_in: float, plot_height_in: float, labels: Sequence[str] = ()) -> tuple[Any, Any]:
    """A one-axes figure ``width_in`` wide whose plot keeps ``plot_height_in`` above a legend of ``labels``."""
    import matplotlib.pyplot as plt

    rows = _legend_rows(labels, width_in)[1] if labels else 0
    return plt.subplots(figsize=(width_in, plot_height_in + 0.16 * rows + (0.1 if rows else 0)),
                        layout="constrained")


def _legend_below(fig: Any, handles: Sequence[Any], labels: Sequence[str], width_in: float) -> None:
    """The legend under the plot, in as many columns as its longest label allows: it never widens the figure."""
    columns, _ = _legend_rows(labels, width_in)
    fig.legend(handles, _legend_labels(labels, width_in), loc="outside lower center", ncols=columns, frameon=False, fontsize=7,
               handlelength=1.8, columnspacing=1.0)


def _category_ticks(ax: Any, positions: Sequence[float], labels: Sequence[str], width_in: float) -> None:
    """Category labels on the x axis, slanted in a narrow figure so that neighbours never touch."""
    if width_in < _NARROW_IN:
        ax.set_xticks(positions, labels, rotation=45, ha="right", rotation_mode="anchor", fontsize=7)
    else:
        ax.set_xticks(positions, labels)


def intensity_curves(runs: list[RunResult], width_in: float = FULL_WIDTH_IN) -> tuple[Any, pd.DataFrame] | None:
    """mIoU against loudness, one line per model, 95 % bands."""
    import pandas as pd

    rows = []
    for run in runs:
        for label, v in _group(run, "miou_by_level", bias.miou_by_level).items():
            if label.endswith("LUFS"):
                rows.append({"model": run.model, "loudness_lufs": float(label[:-4]), "miou": v.value,
                             "ci_low": v.ci_low, "ci_high": v.ci_high, "n_clips": v.n_clips})
    if not rows:
        return None
    table = pd.DataFrame(rows).sort_values(["model", "loudness_lufs"])
    return _curves(table, "loudness_lufs", "loudness of the audio (LUFS)", "Audio priming by intensity",
                   _colours(runs), width_in), table


def _curves(table: pd.DataFrame, x: str, xlabel: str, title: str, colours: dict[str, str], width_in: float) -> Any:
    """mIoU against ``x``, one line per model with its 95 % band."""
    models = list(dict.fromkeys(table.model))
    fig, ax = _figure(width_in, 2.3, models)
    for i, ((model, g), style) in enumerate(zip(table.groupby("model", sort=False), _LINESTYLES, strict=False)):
        # open markers of its own shape, later models drawn smaller: coinciding lines (two models at zero) stay
        # visible as nested marks
        ax.plot(g[x], g.miou, marker=MARKERS[i % len(MARKERS)], ms=max(2.5, 5.0 - 0.5 * i), mfc="none", mew=0.8,
                linestyle=style, label=model, color=colours[model])
        ax.fill_between(g[x], g.ci_low, g.ci_high, alpha=0.2, color=colours[model])
    ax.set_xlabel(xlabel)
    ax.set_ylabel("mIoU")
    ax.set_ylim(-0.02, 1.02)
    ax.set_title(title)
    _legend_below(fig, *ax.get_legend_handles_labels(), width_in)
    return fig


def semantic_boxes(runs: list[RunResult], width_in: float = FULL_WIDTH_IN) -> tuple[Any, pd.DataFrame] | None:
    """Per-class distribution of per-clip IoU under the semantic probe (equal loudness and area)."""
    import pandas as pd
    from matplotlib.patches import Patch

    frames = []
    for run in runs:
        r = run.records
        rows = bias.ok_rows(r, "semantic", baseline=False)
        if not rows.empty:
            g = rows.groupby(["sample_id", "condition_label"], as_index=False).iou.mean()
            g["model"] = run.model
            frames.append(g.rename(columns={"condition_label": "class_name"}))
    if not frames:
        return None
    table = pd.concat(frames, ignore_index=True)
    order = sorted(table.class_name.unique())
    models = list(dict.fromkeys(table.model))
    fig, ax = _figure(width_in, 2.3, models)
    width = 0.8 / len(models)
    colours = _colours(runs)
    for m, model in enumerate(models):
        colour = colours[model]
        groups = [(x, table[(table.model == model) & (table.class_name == cls)].iou.to_numpy())
                  for x, cls in enumerate(order)]
        groups = [(x, v) for x, v in groups if len(v)]
        positions = [x - 0.4 + width * (m + 0.5) for x, _ in groups]
        ax.boxplot([v for _, v in groups], positions=positions, widths=width * 0.9,
                   patch_artist=True, manage_ticks=False, flierprops={"markersize": 1.5},
                   boxprops={"facecolor": colour, "linewidth": 0.7},
                   medianprops={"color": REFERENCE_COLOUR, "linewidth": 0.7},
                   whiskerprops={"linewidth": 0.7}, capprops={"linewidth": 0.7})
        # the median as a mark too: a box whose values are all equal (every clip at IoU 0) has no height
        ax.plot(positions, [float(np.median(v)) for _, v in groups], linestyle="none", marker="D", ms=2.5,
                mfc=colour, mec=REFERENCE_COLOUR, mew=0.4, label=f"_median {model}")
    _category_ticks(ax, range(len(order)), order, width_in)
    _legend_below(fig, [Patch(facecolor=colours[model]) for model in models], models, width_in)
    ax.set_xlabel("class of the sounding source")
    ax.set_ylabel("per-clip IoU")
    ax.set_title("Guiding capability per class")
    return fig, table


def _wrapped(text: str, width: int, *, hyphens: bool = True, max_lines: int = 3) -> str:
    """``text`` broken into lines of at most ``width`` characters (at spaces, and at hyphens unless
    ``hyphens`` is False), at most ``max_lines`` of them (a longer text is shortened around an ellipsis
    first), for narrow panel titles and tick labels."""
    width = max(width, 4)
    if len(text) <= width:
        return text
    text = _short(text, width * max_lines - max_lines)  # room for the breaks wrapping may waste
    # a "tool:model" label may break after its colon as well as at spaces and hyphens
    lines = textwrap.wrap(re.sub(r":(?=\S)", ": ", text), width, break_long_words=True, break_on_hyphens=hyphens)
    if len(lines) > max_lines:
        lines = [*lines[: max_lines - 1], _short(" ".join(lines[max_lines - 1:]), width)]
    return "\n".join(lines) or text


def _dominance_table(run: RunResult) -> pd.DataFrame:
    """The dominance per level pair as ``metrics.bias`` computes it, with the model's label."""
    return bias.dominance_by_level_pair(run.records).assign(model=run.model)


_PANEL_IN = (1.0, 1.6)
"""Smallest and largest side of one heat map or one grid tile (inches)."""


def dominance_heatmaps(runs: list[RunResult], width_in: float = FULL_WIDTH_IN) -> tuple[Any, pd.DataFrame] | None:
    """Dominance over the 6x6 level pairs of the mix probe, one panel per model, wrapped into rows."""
    import matplotlib.pyplot as plt
    import pandas as pd

    tables = [t for t in (_dominance_table(run) for run in runs) if not t.empty]
    if not tables:
        return None
    table = pd.concat(tables, ignore_index=True)
    models = list(dict.fromkeys(table.model))
    # panels as large as the width allows (within _PANEL_IN), wrapped into rows; shared axes labelled once
    usable_in = width_in - 1.0  # the y label, its ticks and the colour bar
    columns = max(1, min(len(models), int(usable_in / _PANEL_IN[0] + 1e-9)))
    panel_in = min(_PANEL_IN[1], usable_in / columns)
    rows = -(-len(models) // columns)
    fig, axes = plt.subplots(rows, columns, squeeze=False, sharex=True, sharey=True, layout="constrained",
                             figsize=(min(width_in, panel_in * columns + 1.0), (panel_in + 0.35) * rows + 0.35))
    for i, ax in enumerate(axes.flat):
        if i >= len(models):
            ax.set_axis_off()
            continue
        grid = table[table.model == models[i]].pivot(index="level_a", columns="level_b", values="dominance")
        image = ax.imshow(grid.to_numpy(), origin="lower", vmin=0, vmax=1, cmap="viridis")
        if grid.isna().all().all():  # a model that predicts nothing on the mixes: dominance is undefined
            ax.text(0.5, 0.5, "undefined:\nno prediction", transform=ax.transAxes, ha="center", va="center",
                    fontsize=6)
        # six labels fit side by side from 1.3 in on; below that every other level is named
        step = 1 if panel_in >= 1.3 else 2
        ax.set_xticks(range(len(grid.columns)), [f"{v:g}" if k % step == 0 else "" for k, v in
                                                 enumerate(grid.columns)], fontsize=6)
        ax.set_yticks(range(len(grid.index)), [f"{v:g}" for v in grid.index], fontsize=6)
        ax.tick_params(labelbottom=i + columns >= len(models))  # x ticks under the lowest panel of each column
        ax.set_title(_wrapped(models[i], int(panel_in / _CHAR_IN)), fontsize=7)
    fig.supylabel("level of A (LUFS)", fontsize=8)
    fig.supxlabel("level of B (LUFS)", fontsize=8)
    fig.colorbar(image, ax=axes.ravel().tolist(), shrink=0.8, label="dominance")
    return fig, table


def prior_bars(runs: list[RunResult], width_in: float = FULL_WIDTH_IN) -> tuple[Any, pd.DataFrame] | None:
    """Per class: coverage under negative audio (bars) against the training sounding frequency (markers)."""
    import pandas as pd

    rows = []
    for run in runs:
        frequency = run.info.get("train_sounding_frequency") or {}
        for cls, v in _group(run, "prior_score", bias.prior_scores).items():
            rows.append({"model": run.model, "class_name": cls, "prior_score": v.value, "ci_low": v.ci_low,
                         "ci_high": v.ci_high, "train_sounding_frequency": frequency.get(cls, np.nan)})
    if not rows:
        return None
    table = pd.DataFrame(rows)
    freq = table.groupby("class_name").train_sounding_frequency.first().sort_values(ascending=False)
    order = freq.index.tolist()
    models = list(dict.fromkeys(table.model))
    width = 0.8 / len(models)
    fig, ax = _figure(width_in, 2.3, [*models, *(["training sounding frequency"] if freq.notna().any() else [])])
    x = np.arange(len(order))
    colours = _colours(runs)
    for i, model in enumerate(models):
        g = table[table.model == model].set_index("class_name").reindex(order)
        err = np.vstack([g.prior_score - g.ci_low, g.ci_high - g.prior_score])
        ax.bar(x + (i - (len(models) - 1) / 2) * width, g.prior_score, width, yerr=np.nan_to_num(err), label=model,
               capsize=1.5, error_kw={"lw": 0.6}, color=colours[model])
    if freq.notna().any():
        ax.plot(x, freq, "_", color=REFERENCE_COLOUR, ms=14 * min(1.0, width_in / FULL_WIDTH_IN * 1.6), mew=1.5,
                label="training sounding frequency")
    _category_ticks(ax, x, order, width_in)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("coverage under\nnegative audio" if width_in < _NARROW_IN else "coverage under negative audio")
    ax.set_title("Visual prior: objects segmented without their sound" if width_in >= _NARROW_IN
                 else "Visual prior: segmented without sound")
    _legend_below(fig, *ax.get_legend_handles_labels(), width_in)
    return fig, table


def area_curves(runs: list[RunResult], width_in: float = FULL_WIDTH_IN) -> tuple[Any, pd.DataFrame] | None:
    """mIoU against the target's area fraction."""
    import pandas as pd

    rows = []
    for run in runs:
        for label, v in _group(run, "miou_by_area", bias.miou_by_area).items():
            if label.startswith("area"):
                rows.append({"model": run.model, "area_frac": float(label[4:]), "miou": v.value,
                             "ci_low": v.ci_low, "ci_high": v.ci_high})
    if not rows:
        return None
    table = pd.DataFrame(rows).sort_values(["model", "area_frac"])
    return _curves(table, "area_frac", "area of the target (fraction of the frame)", "Size bias", _colours(runs),
                   width_in), table


def coavs_bars(runs: list[RunResult], width_in: float = FULL_WIDTH_IN) -> tuple[Any, pd.DataFrame] | None:
    """mIoU and F on Co-AVS runs (runs whose data is a Co-AVS set)."""
    import pandas as pd
    from matplotlib.patches import Patch

    rows = []
    for run in runs:
        root = run.info.get("data_root")
        if root and (Path(root) / "coavs.json").is_file():
            scores = overall_scores(run.records)
            rows.append({"model": run.model, **{f"{k}{part}": getattr(scores[k], attr) for k in ("miou", "fscore")
                                                for part, attr in (("", "value"), ("_ci_low", "ci_low"),
                                                                   ("_ci_high", "ci_high"))}})
    if not rows:
        return None
    table = pd.DataFrame(rows)
    fig, ax = _figure(width_in, 2.3, ["mIoU", "F-score"])
    x = np.arange(len(table))
    colours = _colours(runs)
    # one colour per model as in every figure; the metric told apart by its fill (solid mIoU, hatched F)
    for offset, metric, hatch in ((-0.2, "miou", None), (0.2, "fscore", "////")):
        err = np.vstack([table[metric] - table[f"{metric}_ci_low"], table[f"{metric}_ci_high"] - table[metric]])
        ax.bar(x + offset, table[metric], 0.4, yerr=np.nan_to_num(err), capsize=1.5, error_kw={"lw": 0.6},
               color=[colours[m] for m in table.model], hatch=hatch, edgecolor="white" if hatch else None,
               linewidth=0)
    # labels as wide as their share of the axis allows ("vanilla on Co-AVS" keeps "Co-AVS" whole)
    share = max(8, int(0.8 * width_in / len(table) / _CHAR_IN))
    _category_ticks(ax, x, [_wrapped(m, share, hyphens=False) for m in table.model], width_in)
    ax.set_ylim(0, 1.05)
    ax.set_title("Co-AVS (two sources at set levels)")
    _legend_below(fig, [Patch(facecolor="#888888"), Patch(facecolor="#888888", hatch="////", edgecolor="white")],
                  ["mIoU", "F-score"], width_in)
    return fig, table


def robustness_curves(runs: list[RunResult], width_in: float = FULL_WIDTH_IN) -> tuple[Any, pd.DataFrame] | None:
    """mIoU against the severity of each corruption family (0: the clean clip), one panel per family, one line
    per model with its 95 % band (the ``audio_corruption`` and ``visual_corruption`` probes)."""
    return _severity_curves(runs, "miou_by", "mIoU", width_in)


def robustness_fscore_curves(runs: list[RunResult], width_in: float = FULL_WIDTH_IN
                             ) -> tuple[Any, pd.DataFrame] | None:
    """The F-score against the severity of each corruption family, as :func:`robustness_curves`."""
    return _severity_curves(runs, "fscore_by", "F-score", width_in)


def robustness_prior_curves(runs: list[RunResult], width_in: float = FULL_WIDTH_IN
                            ) -> tuple[Any, pd.DataFrame] | None:
    """The coverage of silent visible objects (the in-distribution prior) against the severity of each
    corruption family, as :func:`robustness_curves`."""
    return _severity_curves(runs, "silent_coverage_by", "silent-object coverage", width_in)


def _severity_curves(runs: list[RunResult], prefix: str, ylabel: str, width_in: float
                     ) -> tuple[Any, pd.DataFrame] | None:
    """``value`` of the groups ``{prefix}_audio_corruption`` and ``{prefix}_visual_corruption`` against severity,
    a panel per family, a line per model."""
    import matplotlib.pyplot as plt
    import pandas as pd

    rows = []
    for run in runs:
        for group in (f"{prefix}_audio_corruption", f"{prefix}_visual_corruption"):
            values = (run.metrics.groups if run.metrics is not None else {}).get(group, {})
            families = {label.split("@")[0] for label in values if "@" in label}
            for label, v in values.items():
                points = [(label.split("@")[0], int(label.split("@")[1]))] if "@" in label else \
                    [(family, 0) for family in families]
                rows += [{"model": run.model, "family": f, "severity": sev, "value": v.value, "ci_low": v.ci_low,
                          "ci_high": v.ci_high} for f, sev in points]
    if not rows:
        return None
    table = pd.DataFrame(rows).sort_values(["family", "model", "severity"])
    families = sorted(table.family.unique())
    models = list(dict.fromkeys(r.model for r in runs if r.model in set(table.model)))
    # a paper column holds three panels across (fourteen families in five rows), the full width four
    columns = 4 if width_in >= _NARROW_IN else 3
    panel_rows = -(-len(families) // columns)
    legend_rows = _legend_rows(models, width_in)[1]
    panel_in = 1.25 if width_in >= _NARROW_IN else 1.1
    fig, axes = plt.subplots(panel_rows, columns, squeeze=False, sharex=True, sharey=True, layout="constrained",
                             figsize=(width_in, panel_in * panel_rows + 0.16 * legend_rows + 0.5))
    colours = _colours(runs)
    for ax, family in zip(axes.flat, families, strict=False):
        for i, model in enumerate(models):
            g = table[(table.family == family) & (table.model == model)]
            ax.plot(g.severity, g.value, marker=MARKERS[i % len(MARKERS)], ms=max(2.0, 3.5 - 0.4 * i), mfc="none",
                    mew=0.7, lw=0.9, linestyle=_LINESTYLES[i], color=colours[model], label=model)
            ax.fill_between(g.severity, g.ci_low, g.ci_high, alpha=0.15, color=colours[model])
        ax.set_title(family.replace("_", " "), fontsize=7)
        ax.set_xticks(range(6))
        ax.tick_params(labelsize=6)
        ax.set_ylim(-0.02, 1.02)
    for k, ax in enumerate(axes.flat):
        if k >= len(families):
            ax.set_axis_off()
        elif k + columns >= len(families):  # the lowest panel of its column: the x label there, not under the legend
            ax.set_xlabel("severity (0: clean)", fontsize=7)
            ax.tick_params(labelbottom=True)
    fig.supylabel(ylabel, fontsize=8)
    handles, labels = axes.flat[0].get_legend_handles_labels()
    _legend_below(fig, handles, labels, width_in)
    return fig, table.rename(columns={"value": prefix.removesuffix("_by")})


_GRID_CONDITIONS = (("original", ("intensity/original", "negative/original", "swap/original", "mix/original")),
                    ("quietest", ("intensity/-53LUFS",)), ("silence", ("negative/silence",)),
                    ("swap", ("swap/swapped",)), ("mix", ("mix/A@-41+B@-41", "mix/A@-23+B@-23")))
"""Rows of the qualitative grid: (row title, the first condition id a run has among these)."""


def _grid_rows(runs: list[RunResult]) -> list[tuple[str, str]]:
    present = set.intersection(*(set(run.records.condition_id) for run in runs))
    rows = []
    for title, candidates in _GRID_CONDITIONS:
        hit = next((c for c in candidates if c in present), None)
        if hit is not None:
            rows.append((title, hit))
    return rows


def _grid_clip(runs: list[RunResult], rows: list[tuple[str, str]]) -> str | None:
    """The clip where the models differ most over the grid's conditions, among clips whose unprobed sounding
    mask is not empty and that have the most of the grid's rows (a one-source clip has no mix row): per
    condition the spread across models of IoU (of 1 - predicted fraction where the expected mask is empty),
    averaged over the conditions."""
    import pandas as pd

    ids = [c for _, c in rows]
    per_model = {}
    for run in runs:
        r = run.records
        ok = r[(r.status == "ok") & r.annotated.astype(bool) & r.condition_id.isin(ids)]
        score = np.where(ok.expected_area > 0, ok.iou, 1 - ok.pred_area / ok.num_pixels)
        per_model[run.model] = ok.assign(score=score).groupby(["sample_id", "condition_id"]).score.mean()
    table = pd.DataFrame(per_model).dropna()
    if table.empty:
        return None
    base = runs[0].records
    sounding = base[base.is_baseline.astype(bool) & (base.expected_area > 0)].sample_id.unique()
    spread = (table.max(axis=1) - table.min(axis=1)).groupby(level="sample_id").mean() if len(runs) > 1 \
        else (1 - table.iloc[:, 0]).groupby(level="sample_id").mean()
    spread = spread[spread.index.isin(sounding)]
    if not len(spread):
        return None
    rows_present = table.groupby(level="sample_id").size().reindex(spread.index)
    ranked = pd.DataFrame({"rows": rows_present, "spread": spread})
    return str(ranked.sort_values(["rows", "spread"], ascending=False, kind="stable").index[0])


def qualitative_grid(runs: list[RunResult], clips: Sequence[str] | None = None,
                     width_in: float = FULL_WIDTH_IN) -> tuple[Any, pd.DataFrame] | None:
    """Clips under the key conditions (rows: original, the quietest level, silence, swap, a mix; those the
    runs have), one column per model: each cell the probed frame, dimmed except where the model predicts,
    the prediction outlined in the model's colour and the expected mask outlined in white. By default the clip where the models differ most among
    clips with something sounding; ``clips`` chooses one or several by id.

    The probed frames are regenerated from ``run.json`` (data, suite, seed): probes are deterministic.
    """
    import matplotlib.pyplot as plt
    import pandas as pd

    # the frames are read again from the data: runs whose data folder is gone (moved) are left out
    runs = [r for r in runs if r.info.get("data_root") and Path(r.info["data_root"]).is_dir()]
    if not runs:
        return None
    runs = [r for r in runs if r.info.get("data_root") == runs[0].info["data_root"]]  # one clip, one data set
    # runs of other suites (robustness, temporal) have none of the grid's conditions: they are not its columns
    wanted = {c for _, candidates in _GRID_CONDITIONS for c in candidates}
    runs = [r for r in runs if wanted & set(r.records.condition_id)]
    if not runs:
        return None
    rows = _grid_rows(runs)
    if not rows:
        return None
    chosen = list(clips) if clips else [c for c in [_grid_clip(runs, rows)] if c is not None]
    if not chosen:
        return None
    probing = ClipRegenerator(runs[0].info)
    colours = _colours(runs)
    cells, rows_out = [], []
    for clip in chosen:
        for title, condition_id in rows:
            hits = [run.records[(run.records.sample_id == clip) & (run.records.condition_id == condition_id)
                                & (run.records.status == "ok") & run.records.annotated.astype(bool)] for run in runs]
            if any(h.empty for h in hits):
                continue
            frame = int(hits[0].frame.min())
            probed = probing.probed(clip, condition_id)
            tiles = []
            for run, hit in zip(runs, hits, strict=True):
                row = hit[hit.frame == frame]
                tiles.append(overlay(probed.frames[frame], unpack_thumbnail(row.pred_thumb.iloc[0]),
                                     probed.expected_mask[frame], rgb255(colours[run.model])))
                rows_out.append({"sample_id": clip, "condition_id": condition_id, "frame": frame, "model": run.model,
                                 "iou": float(row.iou.iloc[0]), "predicted_fraction": float(row.fpr.iloc[0])})
            cells.append((f"{clip}\n{title}" if len(chosen) > 1 else title, tiles))
    if not cells:
        return None
    tile_in = min(_PANEL_IN[1], (width_in - 0.5) / len(runs))  # 0.5 in for the row titles
    titles = [_wrapped(run.model, int(tile_in / _CHAR_6PT_IN)) for run in runs]
    title_lines = max(title.count("\n") + 1 for title in titles)
    caption = _wrapped(f"{', '.join(chosen)}: bright where predicted, expected mask outlined in white",
                       int(min(width_in, tile_in * len(runs) + 0.5) / _CHAR_IN))
    head_in = 0.1 * title_lines + 0.13 * (caption.count("\n") + 1) + 0.15
    fig, axes = plt.subplots(len(cells), len(runs), squeeze=False, layout="constrained",
                             figsize=(tile_in * len(runs) + 0.5, tile_in * len(cells) + head_in))
    for (title, tiles), row in zip(cells, axes, strict=True):
        for ax, tile in zip(row, tiles, strict=True):
            ax.imshow(tile)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.spines[:].set_visible(False)
        row[0].set_ylabel(title, fontsize=6)
    for ax, title in zip(axes[0], titles, strict=True):
        ax.set_title(title, fontsize=6)
    fig.suptitle(caption, fontsize=7)
    return fig, pd.DataFrame(rows_out)
