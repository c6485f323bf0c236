"""Building a report folder from runs: ``report.md``, ``report.html``, LaTeX tables, ``report.json``,
and every figure as PNG and PDF with the CSV behind it."""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from avsprobe.adapters.base import variant_text
from avsprobe.errors import ConfigError
from avsprobe.fileio import atomic_write_text
from avsprobe.metrics.bias import MetricValue
from avsprobe.metrics.catalog import FAMILIES, catalog, paired_difference, per_clip_metrics, with_arrow
from avsprobe.report import escape, plots
from avsprobe.report.compute import (
    METRIC_DEFINITIONS,
    RunMetrics,
    RunResult,
    coavs_drop,
    compute_metrics,
    dumps,
    find_run_folders,
    load_run,
    matched_recall_groups,
    metric_json,
    seed_groups,
    seed_paired_differences,
    seed_summary,
)
from avsprobe.report.style import COLUMN_WIDTH_IN, FIGURE_WIDTHS_IN, FULL_WIDTH_IN, paper_style, save_figure

__all__ = ["FORMATS", "build_report"]
"""``browse``: the failure browser, ``browse.html`` and its strips (``report.browse``)."""

FORMATS = ("md", "html", "latex", "json", "browse")

REPORT_SCHEMA_VERSION = 1
"""``report.json``'s ``schema_version``: its JSON Schema ships as ``avsprobe/report/report.schema.json``."""

FIGURES = {
    "intensity_curves": plots.intensity_curves,
    "semantic_boxes": plots.semantic_boxes,
    "dominance_heatmaps": plots.dominance_heatmaps,
    "prior_bars": plots.prior_bars,
    "area_curves": plots.area_curves,
    "coavs_bars": plots.coavs_bars,
    "robustness_curves": plots.robustness_curves,
    "robustness_fscore_curves": plots.robustness_fscore_curves,
    "robustness_prior_curves": plots.robustness_prior_curves,
    "qualitative_grid": plots.qualitative_grid,
}


def _cell(v: MetricValue | None) -> str:
    if v is None or v.value is None or math.isnan(v.value):
        return "–"
    if math.isnan(v.ci_low):
        return f"{v.value:.3f}"
    return f"{v.value:.3f} [{v.ci_low:.3f}, {v.ci_high:.3f}]"


N_ROW = "N (clips)"
"""The last row of every table: per model, the clips its values in that table rest on (a range where they differ)."""


def _n_cell(values: Sequence[MetricValue | None]) -> str:
    counts = sorted({v.n_clips for v in values if v is not None and v.n_clips})
    if not counts:
        return "–"
    return str(counts[0]) if len(counts) == 1 else f"{counts[0]}–{counts[-1]}"


def _headline_rows(metrics: Sequence[RunMetrics]) -> list[tuple[str, list[str]]]:
    """The headline table: one row per headline metric (with its direction), then the N row."""
    names = list(dict.fromkeys(n for m in metrics for n in m.headline))
    rows = [(with_arrow(n), [_cell(m.headline.get(n)) for m in metrics]) for n in names]
    return rows + [(N_ROW, [_n_cell([m.headline.get(n) for n in names]) for m in metrics])]


def _group_tables(metrics: Sequence[RunMetrics]) -> list[tuple[str, list[tuple[str, list[str]]]]]:
    """Per group (levels, classes, conditions): its rows, then the N row."""
    tables = []
    for group in dict.fromkeys(g for m in metrics for g in m.groups):
        keys = list(dict.fromkeys(k for m in metrics for k in m.groups.get(group, {})))
        rows = [(k, [_cell(m.groups.get(group, {}).get(k)) for m in metrics]) for k in keys]
        n = [_n_cell([m.groups.get(group, {}).get(k) for k in keys]) for m in metrics]
        tables.append((group, [*rows, (N_ROW, n)]))
    return tables


def _rows(runs: Sequence[RunResult], metrics: Sequence[RunMetrics]) -> list[tuple[str, list[str]]]:
    """Every row, headline first, group rows prefixed with their group (the HTML report's one table)."""
    rows = _headline_rows(metrics)
    for group, group_rows in _group_tables(metrics):
        rows += [(f"{group}: {k}", cells) for k, cells in group_rows]
    return rows


def _seed_cell(v: dict[str, Any] | None) -> str:
    if v is None:
        return "–"
    clip = f" ({v['ci_low']:.3f}, {v['ci_high']:.3f})" if "ci_low" in v else ""
    return (f"{v['mean']:.3f} [{v['seed_ci_low']:.3f}, {v['seed_ci_high']:.3f}] sd {v['sd']:.3f} "
            f"{{{v['min']:.3f}, {v['max']:.3f}}}{clip}")


def _seed_section(seeds: dict[str, dict[str, dict[str, Any]]],
                  seed_paired: dict[str, dict[str, dict[str, Any]]] | None = None) -> list[str]:
    """Each seed group: per metric the across-seed mean with its seed-level interval, SD and range, and (clip
    means) the clip-bootstrap interval of the seed-averaged per-clip values; then seed-paired differences."""
    if not seeds:
        return []
    lines = ["", "## Seeds", "", "Runs of one model from checkpoints of several training seeds: across-seed mean "
             "with its seed-level 95 % t-interval [in brackets], the seeds' sample SD, {min, max} over seeds and, "
             "for means of per-clip values, (in parentheses) the 95 % clip-bootstrap interval of the seed-averaged "
             "per-clip values, which leaves the seeds' own variation out.", "",
             "| metric | " + " | ".join(escape.markdown(g) for g in seeds) + " |", "|---|" + "---|" * len(seeds)]
    names = list(dict.fromkeys(n for summary in seeds.values() for n in summary))
    lines += [f"| {name} | " + " | ".join(_seed_cell(summary.get(name)) for summary in seeds.values()) + " |"
              for name in names]
    if seed_paired:
        lines += ["", "### Seed-paired differences", "", "Each seed group minus the first, seed by seed (the seeds "
                  "both have): mean difference with its seed-level 95 % t-interval.", "",
                  "| metric | " + " | ".join(escape.markdown(p) for p in seed_paired) + " |",
                  "|---|" + "---|" * len(seed_paired)]
        names = list(dict.fromkeys(n for d in seed_paired.values() for n in d))
        lines += [f"| {n} | " + " | ".join(
            "–" if n not in d else f"{d[n]['mean']:+.3f} [{d[n]['seed_ci_low']:+.3f}, {d[n]['seed_ci_high']:+.3f}]"
            for d in seed_paired.values()) + " |" for n in names]
    return lines


def _matched_section(matched: list[dict[str, Any]]) -> list[str]:
    """The matched-recall comparison of runs over the same clips (see :mod:`avsprobe.metrics.threshold_free`)."""
    lines = []
    for group in matched:
        lines += ["", "## Silent objects at matched recall", "",
                  f"Runs over {escape.markdown(group['data'])}, original audio (negative probe). Each model's "
                  "threshold moved until its coverage of sounding objects equals a shared recall: of the models' "
                  "recalls at probability 0.5, the lowest of those the most models can reach "
                  f"({group['target_recall']:.3f}; a model that cannot reach it is left out); its coverage of silent "
                  "objects there, with a clip-bootstrap interval at that threshold. Lower is better: at equal recall, "
                  "a model that covers fewer silent objects follows the audio, not merely predicts less.", "",
                  "| model | recall at 0.5 | silent coverage at 0.5 | threshold at the matched recall | "
                  "silent coverage at the matched recall |", "|---|---|---|---|---|"]
        lines += [f"| {escape.markdown(p['model'])} | {p['recall_at_half']:.3f} | {p['silent_at_half']:.3f} | "
                  f"{p['threshold']:.2f} | {_cell(p['silent_at_matched'])} |" for p in group["models"]]
    return lines


def _markdown(runs: Sequence[RunResult], metrics: Sequence[RunMetrics], figures: list[str],
              paired: dict[str, dict[str, MetricValue]], seeds: dict[str, dict[str, dict[str, Any]]] | None = None,
              seed_paired: dict[str, dict[str, dict[str, Any]]] | None = None,
              matched: list[dict[str, Any]] | None = None, warnings: Sequence[str] = ()) -> str:
    md = escape.markdown
    models = [md(r.model) for r in runs]
    header = ["| metric | " + " | ".join(models) + " |", "|---|" + "---|" * len(models)]
    lines = ["# avsprobe report", "", "Values are point estimates with bootstrap 95 % intervals over clips; ↑ higher "
             "is better, ↓ lower; the tables by level, class and condition follow the summary sections.", "", *header]
    lines += [f"| {md(name)} | " + " | ".join(cells) + " |" for name, cells in _headline_rows(metrics)]
    if warnings:
        lines += ["", "## Warnings", "", *(f"- {md(w)}" for w in warnings)]
    if paired:
        lines += ["", "## Paired differences", "", "Each model minus the first, on the clips both saw (paired bootstrap).", "",
                  "| metric | " + " | ".join(md(p) for p in paired) + " |", "|---|" + "---|" * len(paired)]
        names = list(dict.fromkeys(n for d in paired.values() for n in d))
        lines += [f"| {n} | " + " | ".join(_cell(d.get(n)) for d in paired.values()) + " |" for n in names]
        lines.append(f"| {N_ROW} | " + " | ".join(_n_cell([d.get(n) for n in names]) for d in paired.values()) + " |")
    lines += _matched_section(matched or [])
    lines += _seed_section(seeds or {}, seed_paired)
    lines += _protocol_sections(runs, metrics)
    lines += _failures_section(runs)
    for group, rows in _group_tables(metrics):
        lines += ["", f"## {md(group.replace('_', ' '))}", "", *header]
        lines += [f"| {md(name)} | " + " | ".join(cells) + " |" for name, cells in rows]
    lines += ["", "## Runs", "", "| model | suite | data | clips evaluated | failed clips | seed | model fingerprint | suite fingerprint | data fingerprint |",
              "|---|---|---|---|---|---|---|---|---|"]
    for run, m in zip(runs, metrics, strict=True):
        info = run.info
        lines.append(f"| {md(run.model)} | {md(info['suite']['name'])} v{info['suite']['version']} | {md(info['data'])} | "
                     f"{m.clips_evaluated} of {m.clips_total} | {len(m.failed)} | {info['seed']} | "
                     f"`{info['model_fingerprint'][:12]}` | `{info['suite_fingerprint'][:12]}` | `{info['data_fingerprint'][:12]}` |")
    unfinished = [(run.model, run.path, run.incomplete) for run in runs if run.incomplete]
    if unfinished:
        lines += ["", "## Incomplete runs", "",
                  "These runs recorded fewer jobs than they planned (a shard not run yet, or a run stopped early); "
                  "their numbers cover only what was recorded. Rerun the same command (or the missing --shard) "
                  "to complete them.", ""]
        lines += [f"- {md(model)} ({md(str(path))}): {done} of {planned} jobs recorded"
                  for model, path, (done, planned) in unfinished]
    lines += _clip_set_warning(runs)
    missed = [(run.model, level, n) for run, m in zip(runs, metrics, strict=True) for level, n in m.missed_levels.items()]
    if missed:
        lines += ["", "## Conditions left out", "",
                  "Intensity conditions whose audio ended more than 0.5 LU from its level (clipping) are left out of "
                  "that level's metrics:", ""]
        lines += [f"- {md(model)}: {n} clip(s) at {md(level)}" for model, level, n in missed]
    lines += ["", "## Metric definitions", ""]
    lines += [f"- `{k}`: {v}" for k, v in METRIC_DEFINITIONS.items()]
    if figures:
        lines += ["", "## Figures", "",
                  f"Drawn for the full text width ({FULL_WIDTH_IN:g} in, `figures/NAME.pdf`, `.png` at 300 dpi) "
                  f"and for one column ({COLUMN_WIDTH_IN:g} in, `figures/NAME-column.pdf`, `.png`); "
                  "the table behind each is `figures/NAME.csv`.", ""]
        lines += [f"![{name}](figures/{name}.png)" for name in figures]
    return "\n".join(lines) + "\n"


PROTOCOL_TITLES = {
    "avsbench_robust": ("AVSBench-Robust protocol", "As its test script computes them (jiali-home/AVSBench-Robust@03e925d "
                        "scripts/s4/test.py): against the original positive masks, clips in batches of 2, mask_iou "
                        "(an empty mask scores its true-negative ratio), Eval_Fmeasure and FPR per batch, averaged "
                        "over batches (no interval). The *_canonical columns: per frame with the strict empty "
                        "policy, per clip, dataset-level F, clip-bootstrap intervals.",
                        ("miou", "fscore", "fpr", "miou_canonical", "fscore_canonical", "fpr_canonical")),
    "negative_audio_ssl": ("Negative-audio sound-source-localisation metrics", "As xavijuanola/vssl_eval@e8ebbc9 "
                           "computes them (one sample = one annotated frame): pIA in % of the frame (lower is "
                           "better); AOC = 100 x area under the share of samples with pIA <= t, t = 0, 0.05, ..., 1 "
                           "(higher is better); HM of P = 100 x mIoU (original audio) and 100 - pIA; F_Pos_Neg, HM "
                           "of P and the mean 100 - pIA over silence, noise and off-screen (Juanola, Haro, Fuentes, "
                           "ICASSP 2025).", ("pia", "aoc", "hm", "f_pos_neg")),
}


def _protocol_rows(runs: Sequence[RunResult], metrics: Sequence[RunMetrics], key: str) -> list[list[str]]:
    """``[model, condition, value cells...]`` of one protocol table."""
    columns = PROTOCOL_TITLES[key][2]
    rows = []
    for run, m in zip(runs, metrics, strict=True):
        for condition, values in m.protocols.get(key, {}).items():
            rows.append([run.model, condition, *(_cell(values.get(c)) for c in columns)])
    return rows


def _protocol_sections(runs: Sequence[RunResult], metrics: Sequence[RunMetrics]) -> list[str]:
    lines: list[str] = []
    for key, (title, note, columns) in PROTOCOL_TITLES.items():
        rows = _protocol_rows(runs, metrics, key)
        if not rows:
            continue
        lines += ["", f"## {title}", "", note, "", "| model | negative audio | " + " | ".join(columns) + " |",
                  "|---|---|" + "---|" * len(columns)]
        lines += ["| " + " | ".join(escape.markdown(c) for c in r) + " |" for r in rows]
    return lines


FAILURE_ROWS = 10
"""Reasons per model in the report's failures section (most clips first); report.json keeps them all."""


def failure_reasons(run: RunResult) -> list[dict[str, Any]]:
    """Per (status, probe, reason) of the run's failed and not-applicable jobs: the clips, most first. A reason
    naming its own clip is grouped with the same reason for other clips (the clip id reads ``<clip>``)."""
    r = run.records
    bad = r.loc[r.status != "ok", ["status", "probe", "reason", "sample_id"]].drop_duplicates()
    if bad.empty:
        return []
    reasons = [str(reason).replace(str(clip), "<clip>") for reason, clip in zip(bad.reason, bad.sample_id, strict=True)]
    grouped = bad.assign(reason=reasons).groupby(["status", "probe", "reason"], sort=False).sample_id.agg(
        lambda clips: sorted(set(clips)))
    out = [{"status": status, "probe": probe, "reason": reason, "clips": len(clips), "examples": clips[:5]}
           for (status, probe, reason), clips in grouped.items()]
    return sorted(out, key=lambda f: (-f["clips"], f["status"], f["probe"], f["reason"]))


def _failures_section(runs: Sequence[RunResult]) -> list[str]:
    """Failed and not-applicable jobs by reason, per model: reason -> clips (the counts alone told nothing)."""
    md = escape.markdown
    lines: list[str] = []
    for run in runs:
        found = failure_reasons(run)
        if not found:
            continue
        if not lines:
            lines = ["", "## Failures and clips not applicable", "",
                     "Per model, why jobs did not score, with how many clips and a few of them (report.json lists "
                     "every reason)."]
        lines += ["", f"### {md(run.model)}", "", "| status | probe | reason | clips | e.g. |", "|---|---|---|---|---|"]
        lines += [f"| {f['status'].replace('_', ' ')} | {md(f['probe'])} | {md(f['reason'])} | {f['clips']} | "
                  f"{md(', '.join(f['examples'][:3]))} |" for f in found[:FAILURE_ROWS]]
        if len(found) > FAILURE_ROWS:
            lines += ["", f"... and {len(found) - FAILURE_ROWS} other reasons."]
    return lines


def _missing_data_warnings(runs: Sequence[RunResult]) -> list[str]:
    """One line per data folder that the runs name but that is not there (moved, or runs copied elsewhere): the
    metrics come from the records alone; what reads the clips again leaves those runs out."""
    missing = dict.fromkeys(str(r.info["data_root"]) for r in runs
                            if r.info.get("data_root") and not Path(str(r.info["data_root"])).is_dir())
    return [f"data folder {root} not found (moved, or the runs were copied elsewhere): every metric comes from the "
            "records, but the qualitative grid, the failure browser's strips and the Co-AVS drop leave out the "
            "runs over it" for root in missing]


def _clip_set_warning(runs: Sequence[RunResult]) -> list[str]:
    """A section when runs over the same data evaluated different clips: their numbers are not comparable
    clip for clip (the paired differences use only the clips both saw)."""
    by_data: dict[str, list[tuple[str, frozenset[str]]]] = {}
    for run in runs:
        clips = frozenset(run.records.loc[run.records.status == "ok", "sample_id"])
        by_data.setdefault(str(run.info.get("data_fingerprint")), []).append((run.model, clips))
    lines: list[str] = []
    for members in by_data.values():
        if len({clips for _, clips in members}) > 1:
            shared = frozenset.intersection(*(clips for _, clips in members))
            if not lines:
                lines = ["", "## Runs over different clips", "",
                         "These runs of the same data evaluated different clips, so their metrics cover different "
                         "samples (rerun with the same --limit to compare them):", ""]
            lines += [f"- {escape.markdown(model)}: {len(clips)} clips ({len(shared)} shared by all of these runs)"
                      for model, clips in members]
    return lines


def _latex_families() -> dict[str, tuple[str, tuple[str, ...]]]:
    """Family -> (caption, metric names in table order), from the catalog."""
    members: dict[str, list[tuple[int, str]]] = {key: [] for key in FAMILIES}
    for metric in catalog():
        if metric.family is not None:
            members[metric.family[0]].append((metric.family[1], metric.name))
    return {key: (FAMILIES[key], tuple(name for _, name in sorted(rows))) for key, rows in members.items()}


LATEX_FAMILIES = _latex_families()
def _family_rows(metrics: Sequence[RunMetrics], names: Sequence[str]) -> list[tuple[str, list[str]]]:
    """Rows of the named headline metrics (with their direction), then the N row over them."""
    rows = [(with_arrow(n), [_cell(m.headline.get(n)) for m in metrics]) for n in names]
    return rows + [(N_ROW, [_n_cell([m.headline.get(n) for n in names]) for m in metrics])]


def _latex_name(name: str) -> str:
    """A row name for LaTeX: escaped, its direction arrow in math mode (pdfLaTeX has no Unicode arrows)."""
    for arrow, command in (("↑", r"$\uparrow$"), ("↓", r"$\downarrow$")):
        if name.endswith(" " + arrow):
            return escape.latex(name[:-2]) + " " + command
    return escape.latex(name)


def _latex_cell(cell: str) -> str:
    """A value for LaTeX: the missing-value dash and ranges' en dashes as ``--`` (escaped, they printed ``?``)."""
    return escape.latex(cell.replace("–", "--"))


LATEX_MODELS_PER_TABLE = 5  # with the metric column, at most 6 columns: a paper's column or page width


def _latex(runs: Sequence[RunResult], metrics: Sequence[RunMetrics]) -> str:
    """Paper-sized booktabs tables: one per metric family (headline metrics) and one per group (levels,
    classes, conditions), each with at most :data:`LATEX_MODELS_PER_TABLE` models (more models: more tables)."""
    esc = escape.latex

    def table(key: str, caption: str, rows: list[tuple[str, list[str]]]) -> list[str]:
        out = []
        for start in range(0, len(runs), LATEX_MODELS_PER_TABLE):
            chunk = slice(start, start + LATEX_MODELS_PER_TABLE)
            models = [esc(r.model) for r in runs][chunk]
            part = f" ({start // LATEX_MODELS_PER_TABLE + 1})" if len(runs) > LATEX_MODELS_PER_TABLE else ""
            out += [r"\begin{table}[t]", r"\centering", r"\small",
                    r"\caption{" + esc(caption + part) + " (95 \\% bootstrap intervals over clips)}",
                    r"\label{tab:avsprobe-" + key + (f"-{start // LATEX_MODELS_PER_TABLE + 1}" if part else "") + "}",
                    r"\begin{tabular}{l" + "r" * len(models) + "}", r"\toprule",
                    "metric & " + " & ".join(models) + r" \\", r"\midrule"]
            out += [_latex_name(name) + " & " + " & ".join(_latex_cell(c) for c in cells[chunk]) + r" \\"
                    for name, cells in rows if name != N_ROW]
            out += [r"\midrule"] + [esc(name) + " & " + " & ".join(_latex_cell(c) for c in cells[chunk]) + r" \\"
                                    for name, cells in rows if name == N_ROW]
            out += [r"\bottomrule", r"\end{tabular}", r"\end{table}", ""]
        return out

    lines = [r"% requires \usepackage{booktabs}", ""]
    placed: set[str] = set()
    for key, (caption, names) in LATEX_FAMILIES.items():
        present = [n for n in names if any(n in m.headline for m in metrics)]
        placed |= set(present)
        if present:
            lines += table(key, caption, _family_rows(metrics, present))
    others = [n for n in dict.fromkeys(n for m in metrics for n in m.headline) if n not in placed]
    if others:
        lines += table("other", "Other metrics", _family_rows(metrics, others))
    for group, rows in _group_tables(metrics):
        lines += table(group.replace("_", "-"), group.replace("_", " "), rows)
    return "\n".join(lines)


def _html(markdown_rows: list[tuple[str, list[str]]], runs: Sequence[RunResult], figures: list[str],
          metrics: Sequence[RunMetrics] = ()) -> str:
    def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
        head = "".join(f"<th>{html.escape(c)}</th>" for c in header)
        body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in rows)
        return f"<table><tr>{head}</tr>{body}</table>"

    main = table(["metric", *(r.model for r in runs)], [[n, *cells] for n, cells in markdown_rows])
    sections = ""
    for key, (title, note, columns) in PROTOCOL_TITLES.items():
        rows = _protocol_rows(runs, metrics, key) if metrics else []
        if rows:
            sections += (f"<h2>{html.escape(title)}</h2><p>{html.escape(note)}</p>"
                         + table(["model", "negative audio", *columns], rows))
    images = "".join(f'<figure><img src="figures/{n}.png" width="600"><figcaption>{n}</figcaption></figure>' for n in figures)
    return ("<!doctype html><html><head><meta charset='utf-8'><title>avsprobe report</title>"
            "<style>body{font-family:serif;max-width:60em;margin:auto}td,th{padding:2px 8px;border-bottom:1px solid #ddd}</style>"
            f"</head><body><h1>avsprobe report</h1><p>Bootstrap 95 % intervals over clips.</p>"
            f"{main}{sections}{images}</body></html>\n")


def _paired(runs: Sequence[RunResult]) -> dict[str, dict[str, MetricValue]]:
    """Each later model minus the first, on the clips both saw (paired bootstrap), per mean-type metric."""
    out: dict[str, dict[str, MetricValue]] = {}
    runs = [r for r in runs if r.has_results]
    for run in runs[1:]:
        diffs = {}
        for name in per_clip_metrics():
            value = paired_difference(name, run.records, runs[0].records)
            if value.n_clips:
                diffs[name] = value
        out[f"{run.model} - {runs[0].model}"] = diffs
    return out


def _data_name(info: dict[str, Any]) -> str:
    root = Path(str(info.get("data_root", "")))
    if (root / "coavs.json").is_file():
        return "Co-AVS"
    if (root / "world.json").is_file():
        return "the bias lab"
    return root.name or str(info.get("data", "data"))


def run_labels(runs: Sequence[RunResult]) -> list[str]:
    """One distinct label per run: the model name; then, where two runs share it, the variant of the model
    (``vanilla [checkpoint=seed1]``) or a fingerprint prefix, the data (``vanilla on Co-AVS``) and the suite."""
    def model_label(info: dict[str, Any]) -> str:
        name = str(info.get("model", "model"))
        variant = info.get("model_variant")
        return f"{name} [{variant_text(variant)}]" if variant else name

    labels = [model_label(r.info) for r in runs]
    steps = [
        lambda i: f"{labels[i]} [{str(runs[i].info.get('model_fingerprint', ''))[:6]}]",
        lambda i: f"{labels[i]} on {_data_name(runs[i].info)}",
        lambda i: f"{labels[i]} ({runs[i].info['suite']['name']})",
        lambda i: f"{labels[i]} #{i + 1}",
    ]
    keys = [
        lambda r: r.info.get("model_fingerprint"),
        lambda r: _data_name(r.info),
        lambda r: r.info["suite"]["name"],
        lambda r: id(r),
    ]
    for step, key in zip(steps, keys, strict=True):
        groups: dict[str, list[int]] = {}
        for i, label in enumerate(labels):
            groups.setdefault(label, []).append(i)
        for members in groups.values():
            values = [key(runs[i]) for i in members]
            if len(members) > 1 and len(set(values)) > 1:
                # the most common value keeps the plain label, ties to the first run (the source-world run
                # stays "vanilla", its Co-AVS run becomes "vanilla on Co-AVS")
                # ... and, between equally common data, the source world over Co-AVS
                common = max(dict.fromkeys(values), key=lambda v: (values.count(v), v != "Co-AVS"))
                for i in members:
                    if key(runs[i]) != common or step is steps[-1]:
                        labels[i] = step(i)
    return labels


def _relabel_and_order(runs: list[RunResult], labels: dict[str, str] | None, order: Sequence[str] | None
                       ) -> list[RunResult]:
    """Runs renamed (``labels``: old label -> new) and put in ``order`` (labels after renaming; runs not named
    follow in their own order). An unknown label, a repeated one or two runs under one name is an error that
    lists the labels there are."""
    known = [r.label for r in runs]
    for old in labels or {}:
        if old not in known:
            raise ConfigError(f"--label {old}=...: no run is labelled {old!r}; the runs are: {', '.join(known)}")
    for run in runs:
        run.label = (labels or {}).get(run.label, run.label)
    final = [r.label for r in runs]
    if len(set(final)) < len(final):
        raise ConfigError(f"two runs would share a label: {', '.join(sorted({x for x in final if final.count(x) > 1}))}")
    if not order:
        return runs
    unknown = [name for name in order if name not in final]
    if unknown or len(set(order)) < len(order):
        raise ConfigError(f"--order {', '.join(unknown or order)}: give each run's label once; the runs are: "
                          f"{', '.join(final)}")
    ranked = {name: i for i, name in enumerate(order)}
    return sorted(runs, key=lambda r: ranked.get(r.label, len(ranked)))


def build_report(run_dirs: Sequence[str | Path], out_dir: str | Path, *, formats: Sequence[str] = FORMATS,
                 grid_clips: Sequence[str] | None = None, labels: dict[str, str] | None = None,
                 order: Sequence[str] | None = None, figures: Sequence[str] | None = None) -> dict[str, Any]:
    """Compute every supported metric for the runs and write the report; return the JSON content.

    Args:
        grid_clips: the clips the qualitative grid shows (default: where the models differ most).
        labels: old label -> new label, for the model names a paper uses.
        order: labels in the order the tables, figures and paired differences take (the first is the
            reference of the paired differences); runs not named follow.
        figures: the figures to draw, by name (default: all of :data:`FIGURES`; empty: none).
    """
    unknown = sorted(set(formats) - set(FORMATS))
    if unknown:
        raise ConfigError(f"unknown report format {', '.join(unknown)}; use {', '.join(FORMATS)}")
    wanted = list(FIGURES) if figures is None else list(figures)
    unknown = sorted(set(wanted) - set(FIGURES))
    if unknown:
        raise ConfigError(f"unknown figure {', '.join(unknown)}; the figures are: {', '.join(FIGURES)}")
    runs = [load_run(folder) for p in run_dirs for folder in find_run_folders(p)]
    for run, label in zip(runs, run_labels(runs), strict=True):
        run.label = label
    runs = _relabel_and_order(runs, labels, order)
    metrics = [compute_metrics(run) for run in runs]
    for run, m in zip(runs, metrics, strict=True):
        run.metrics = m
    for run, m in zip(runs, metrics, strict=True):
        drop = coavs_drop(run, runs)
        if drop is not None:
            m.headline["coavs_drop"] = drop
    paired = _paired(runs)
    seeds = {label: seed_summary(members) for label, members in seed_groups(runs)}
    seed_paired = seed_paired_differences(list(seeds.items()))
    matched = matched_recall_groups(runs)
    warnings = _missing_data_warnings(runs)
    out = Path(out_dir)
    (out / "figures").mkdir(parents=True, exist_ok=True)
    written = []
    shown = [r for r in runs if r.has_results]
    with paper_style():
        for name, fn in FIGURES.items():
            if name not in wanted:
                continue
            for suffix, width_in in FIGURE_WIDTHS_IN.items():
                extra = {"clips": grid_clips} if name == "qualitative_grid" else {}
                result = fn(shown, width_in=width_in, **extra)
                if result is None:
                    break
                fig, table = result
                save_figure(fig, out / "figures" / f"{name}{suffix}")
            else:
                atomic_write_text(out / "figures" / f"{name}.csv", table.to_csv(index=False))
                written.append(name)
    content = {
        "schema_version": REPORT_SCHEMA_VERSION,
        "runs": [{"path": str(r.path), "model": r.model, "suite": r.info["suite"], "data": r.info["data"],
                  "seed": r.info["seed"], "model_fingerprint": r.info["model_fingerprint"],
                  "suite_fingerprint": r.info["suite_fingerprint"], "data_fingerprint": r.info["data_fingerprint"],
                  "clips_evaluated": m.clips_evaluated, "clips_total": m.clips_total, "failed_clips": m.failed,
                  **({"missed_levels": m.missed_levels} if m.missed_levels else {}),
                  **({"incomplete": {"jobs_recorded": r.incomplete[0], "jobs_planned": r.incomplete[1]}}
                     if r.incomplete else {}),
                  "failures": failure_reasons(r),
                  "metrics": {k: metric_json(v) for k, v in m.headline.items()},
                  "groups": {g: {k: metric_json(v) for k, v in vals.items()} for g, vals in m.groups.items()},
                  "protocols": {p: {c: {k: metric_json(v) for k, v in vals.items()} for c, vals in conds.items()}
                                for p, conds in m.protocols.items()}}
                 for r, m in zip(runs, metrics, strict=True)],
        "paired_differences": {pair: {k: metric_json(v) for k, v in diffs.items()} for pair, diffs in paired.items()},
        "seed_groups": seeds,
        "seed_paired_differences": seed_paired,
        "matched_recall": [{**g, "models": [{**p, "silent_at_matched": metric_json(p["silent_at_matched"])}
                                            for p in g["models"]]} for g in matched],
        "metric_definitions": METRIC_DEFINITIONS,
        "figures": written,
        "warnings": warnings,
    }
    if "json" in formats:
        atomic_write_text(out / "report.json", dumps(content) + "\n")
    if "md" in formats:
        atomic_write_text(out / "report.md", _markdown(runs, metrics, written, paired, seeds, seed_paired, matched,
                                                        warnings))
    if "html" in formats:
        atomic_write_text(out / "report.html", _html(_rows(runs, metrics), runs, written, metrics))
    if "latex" in formats:
        atomic_write_text(out / "tables.tex", _latex(runs, metrics))
    if "browse" in formats:
        from avsprobe.report.browse import write_browser

        write_browser(shown, out, plots._colours(shown))
    return content
