"""One function per figure; each returns ``(figure, table behind it)`` and does no file I/O.

Call them inside ``paper_style()``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from avsprobe.metrics import bias
from avsprobe.report.compute import RunResult

if TYPE_CHECKING:
    import pandas as pd

# distinct dashes so that models with identical curves stay visible on top of each other
_LINESTYLES = ("-", "--", ":", "-.", (0, (5, 1)), (0, (1, 1)), (0, (3, 1, 1, 1)), (0, (5, 5))) * 4

__all__ = ["intensity_curves", "semantic_boxes", "dominance_heatmaps", "prior_bars", "area_curves", "coavs_bars",
           "qualitative_grid"]


def _colours(runs: list[RunResult]) -> dict[str, str]:
    """One colour per model for every figure of a report: by the run's place in the report (the same list
    reaches every figure), so a model keeps its colour when a figure leaves other runs out."""
    from avsprobe.report.style import PALETTE

    return {run.model: PALETTE[i % len(PALETTE)] for i, run in enumerate(runs)}


def _group(run: RunResult, name: str, compute: Any) -> dict:
    """A grouped metric already computed for the report (``run.metrics``), else computed now."""
    if run.metrics is not None and name in run.metrics.groups:
        return run.metrics.groups[name]
    return compute(run.records)


def intensity_curves(runs: list[RunResult]) -> tuple[Any, pd.DataFrame] | None:
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
                   _colours(runs)), table


def _curves(table: pd.DataFrame, x: str, xlabel: str, title: str, colours: dict[str, str]) -> Any:
    """mIoU against ``x``, one line per model with its 95 % band."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(3.4, 2.4))
    for (model, g), style in zip(table.groupby("model", sort=False), _LINESTYLES, strict=False):
        ax.plot(g[x], g.miou, marker="o", ms=3, linestyle=style, label=model, color=colours[model])
        ax.fill_between(g[x], g.ci_low, g.ci_high, alpha=0.2, color=colours[model])
    ax.set_xlabel(xlabel)
    ax.set_ylabel("mIoU")
    ax.set_ylim(-0.02, 1.02)
    ax.set_title(title)
    ax.legend(frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return fig


def semantic_boxes(runs: list[RunResult]) -> tuple[Any, pd.DataFrame] | None:
    """Per-class distribution of per-clip IoU under the semantic probe (equal loudness and area)."""
    import matplotlib.pyplot as plt
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
    fig, ax = plt.subplots(figsize=(5.0, 2.4))
    width = 0.8 / len(models)
    colours = _colours(runs)
    for m, model in enumerate(models):
        colour = colours[model]
        groups = [(x, table[(table.model == model) & (table.class_name == cls)].iou.to_numpy())
                  for x, cls in enumerate(order)]
        groups = [(x, v) for x, v in groups if len(v)]
        ax.boxplot([v for _, v in groups], positions=[x - 0.4 + width * (m + 0.5) for x, _ in groups], widths=width * 0.9,
                   patch_artist=True, manage_ticks=False, flierprops={"markersize": 1.5},
                   boxprops={"facecolor": colour, "linewidth": 0.7}, medianprops={"color": "black", "linewidth": 0.7},
                   whiskerprops={"linewidth": 0.7}, capprops={"linewidth": 0.7})
    ax.set_xticks(range(len(order)), order)
    ax.legend(handles=[Patch(facecolor=colours[model], label=model) for model in models],
              frameon=False, fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.set_xlabel("class of the sounding source")
    ax.set_ylabel("per-clip IoU")
    ax.set_title("Guiding capability per class")
    return fig, table


def _wrapped(text: str, width: int) -> str:
    """``text`` broken into lines of at most ``width`` characters (at spaces), for narrow panel titles."""
    import textwrap

    return "\n".join(textwrap.wrap(text, width, break_long_words=True)) or text


def _dominance_table(run: RunResult) -> pd.DataFrame:
    """The dominance per level pair as ``metrics.bias`` computes it, with the model's label."""
    return bias.dominance_by_level_pair(run.records).assign(model=run.model)


def dominance_heatmaps(runs: list[RunResult]) -> tuple[Any, pd.DataFrame] | None:
    """Dominance over the 6x6 level pairs of the mix probe, one panel per model."""
    import matplotlib.pyplot as plt
    import pandas as pd

    tables = [t for t in (_dominance_table(run) for run in runs) if not t.empty]
    if not tables:
        return None
    table = pd.concat(tables, ignore_index=True)
    models = list(dict.fromkeys(table.model))
    # one shared y axis labelled once, one x label for the row, titles wrapped: no label runs into a neighbour
    fig, axes = plt.subplots(1, len(models), figsize=(1.9 * len(models) + 1.2, 2.5), squeeze=False, sharey=True,
                             layout="constrained")
    for ax, model in zip(axes[0], models, strict=True):
        grid = table[table.model == model].pivot(index="level_a", columns="level_b", values="dominance")
        image = ax.imshow(grid.to_numpy(), origin="lower", vmin=0, vmax=1, cmap="viridis")
        ax.set_xticks(range(len(grid.columns)), [f"{v:g}" for v in grid.columns], fontsize=6)
        ax.set_yticks(range(len(grid.index)), [f"{v:g}" for v in grid.index], fontsize=6)
        ax.set_title(_wrapped(model, 18), fontsize=7)
    axes[0][0].set_ylabel("level of A (LUFS)")
    fig.supxlabel("level of B (LUFS)", fontsize=8)
    fig.colorbar(image, ax=axes[0].tolist(), shrink=0.8, label="dominance")
    return fig, table


def prior_bars(runs: list[RunResult]) -> tuple[Any, pd.DataFrame] | None:
    """Per class: coverage under negative audio (bars) against the training sounding frequency (markers)."""
    import matplotlib.pyplot as plt
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
    order = table.groupby("class_name").train_sounding_frequency.first().sort_values(ascending=False).index.tolist()
    models = list(dict.fromkeys(table.model))
    width = 0.8 / len(models)
    fig, ax = plt.subplots(figsize=(5.0, 2.4))
    x = np.arange(len(order))
    colours = _colours(runs)
    for i, model in enumerate(models):
        g = table[table.model == model].set_index("class_name").reindex(order)
        err = np.vstack([g.prior_score - g.ci_low, g.ci_high - g.prior_score])
        ax.bar(x + (i - (len(models) - 1) / 2) * width, g.prior_score, width, yerr=np.nan_to_num(err), label=model,
               capsize=1.5, error_kw={"lw": 0.6}, color=colours[model])
    freq = table.groupby("class_name").train_sounding_frequency.first().reindex(order)
    if freq.notna().any():
        ax.plot(x, freq, "k_", ms=14, mew=1.5, label="training sounding frequency")
    ax.set_xticks(x, order)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("coverage under negative audio")
    ax.set_title("Visual prior: objects segmented without their sound")
    ax.legend(frameon=False, fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return fig, table


def area_curves(runs: list[RunResult]) -> tuple[Any, pd.DataFrame] | None:
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
    return _curves(table, "area_frac", "area of the target (fraction of the frame)", "Size bias", _colours(runs)), table


def coavs_bars(runs: list[RunResult]) -> tuple[Any, pd.DataFrame] | None:
    """mIoU and F on Co-AVS runs (runs whose data is a Co-AVS set)."""
    import matplotlib.pyplot as plt
    import pandas as pd

    from avsprobe.report.compute import overall_scores

    rows = []
    for run in runs:
        root = run.info.get("data_root")
        if root and (Path(root) / "coavs.json").is_file():
            scores = overall_scores(run.records)
            rows.append({"model": run.model, "miou": scores["miou"].value, "fscore": scores["fscore"].value})
    if not rows:
        return None
    table = pd.DataFrame(rows)
    fig, ax = plt.subplots(figsize=(3.4, 2.4))
    x = np.arange(len(table))
    ax.bar(x - 0.2, table.miou, 0.4, label="mIoU")
    ax.bar(x + 0.2, table.fscore, 0.4, label="F-score")
    ax.set_xticks(x, table.model, rotation=20)
    ax.set_ylim(0, 1.05)
    ax.set_title("Co-AVS (two sources at set levels)")
    ax.legend(frameon=False)
    return fig, table


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
    mask is not empty: per condition the spread across models of IoU (of 1 - predicted fraction where the
    expected mask is empty), averaged over the conditions."""
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
    return str(spread.sort_values(ascending=False, kind="stable").index[0]) if len(spread) else None


def qualitative_grid(runs: list[RunResult], clips: Sequence[str] | None = None) -> tuple[Any, pd.DataFrame] | None:
    """Clips under the key conditions (rows: original, the quietest level, silence, swap, a mix; those the
    runs have), one column per model: each cell the probed frame, dimmed except where the model predicts,
    the prediction outlined in the model's colour and the expected mask outlined in white. By default the clip where the models differ most among
    clips with something sounding; ``clips`` chooses one or several by id.

    The probed frames are regenerated from ``run.json`` (data, suite, seed): probes are deterministic.
    """
    import matplotlib.pyplot as plt
    import pandas as pd

    from avsprobe.report.browse import ClipRegenerator, overlay
    from avsprobe.report.style import rgb255
    from avsprobe.results import unpack_thumbnail

    if not runs or "data_root" not in runs[0].info:
        return None
    runs = [r for r in runs if r.info.get("data_root") == runs[0].info["data_root"]]  # one clip, one data set
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
    fig, axes = plt.subplots(len(cells), len(runs), figsize=(1.3 * len(runs) + 0.5, 1.3 * len(cells) + 0.5),
                             squeeze=False, layout="constrained")
    for (title, tiles), row in zip(cells, axes, strict=True):
        for ax, tile in zip(row, tiles, strict=True):
            ax.imshow(tile)
            ax.set_xticks([])
            ax.set_yticks([])
        row[0].set_ylabel(title, fontsize=6)
    for ax, run in zip(axes[0], runs, strict=True):
        ax.set_title(_wrapped(run.model, 16), fontsize=6)
    fig.suptitle(f"{', '.join(chosen)}: bright where predicted, expected mask outlined in white", fontsize=7)
    return fig, pd.DataFrame(rows_out)
