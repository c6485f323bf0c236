"""A leaderboard over many models: one static page (a sortable table with intervals and a direction per column,
links to each model's report and failure browser), plus CSV and Markdown.

Its input is report folders (their ``report.json``; every run in a report is a row) or run folders (their metrics
computed here; no report to link). Sorting needs no server: the page's own script sorts on a click, and on load
when the address ends in ``#sort=METRIC`` or ``#sort=METRIC:asc``.
"""

from __future__ import annotations

import csv
import html
import io
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from avsprobe.errors import DataError
from avsprobe.fileio import atomic_write_text
from avsprobe.metrics.catalog import direction, with_arrow
from avsprobe.report.compute import compute_metrics, find_run_folders, load_run, metric_json
from avsprobe.report.escape import markdown as md

__all__ = ["LeaderboardRow", "DEFAULT_METRICS", "collect_rows", "write_leaderboard"]

DEFAULT_METRICS = ("miou", "fscore", "intensity_gap", "dominance", "follow_rate", "prior_coverage",
                   "silent_object_coverage", "prior_calibration", "sounding_auroc", "silence_coverage")
"""The columns, in order, where the inputs have them (the headline metrics of a report)."""


@dataclass
class LeaderboardRow:
    """One model of one report (or one run folder): its headline metrics (``{value, ci_low, ci_high, n_clips}``)
    and the files to link, relative to where they were found."""

    model: str
    source: Path
    metrics: dict[str, dict[str, Any]]
    links: dict[str, Path] = field(default_factory=dict)


def _from_report(folder: Path) -> list[LeaderboardRow]:
    content = json.loads((folder / "report.json").read_text())
    links = {name: folder / file for name, file in (("report", "report.html"), ("report.md", "report.md"),
                                                     ("failures", "browse.html")) if (folder / file).is_file()}
    return [LeaderboardRow(run["model"], folder, run["metrics"], dict(links)) for run in content["runs"]]


def _from_runs(path: Path) -> list[LeaderboardRow]:
    rows = []
    for folder in find_run_folders(path):
        run = load_run(folder)
        metrics = compute_metrics(run)
        rows.append(LeaderboardRow(run.model, folder, {k: metric_json(v) for k, v in metrics.headline.items()}))
    return rows


def collect_rows(paths: list[str | Path]) -> list[LeaderboardRow]:
    """The rows of every report folder (``report.json``) or run folder (or folder of runs) given.

    Raises:
        DataError: a path that is neither.
    """
    rows: list[LeaderboardRow] = []
    for given in paths:
        path = Path(given)
        if (path / "report.json").is_file():
            rows += _from_report(path)
        elif path.is_dir():
            rows += _from_runs(path)
        else:
            raise DataError(f"{path}: neither a report folder (report.json) nor a run folder")
    if not rows:
        raise DataError("no models found in " + ", ".join(map(str, paths)))
    return rows


def _columns(rows: list[LeaderboardRow], metrics: list[str] | None) -> list[str]:
    present = {n for r in rows for n in r.metrics}
    wanted = metrics if metrics else [m for m in DEFAULT_METRICS if m in present]
    return [m for m in wanted if m in present]


def _number(metric: dict[str, Any] | None, key: str = "value") -> float | None:
    value = None if metric is None else metric.get(key)
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)


def _sorted(rows: list[LeaderboardRow], by: str) -> list[LeaderboardRow]:
    """Best first by ``by`` (its direction; higher first when it has none), models without it last."""
    better_high = direction(by) is not False
    present = [r for r in rows if _number(r.metrics.get(by)) is not None]
    absent = [r for r in rows if _number(r.metrics.get(by)) is None]
    return sorted(present, key=lambda r: -_number(r.metrics[by]) if better_high else _number(r.metrics[by])) + absent


def _cell(metric: dict[str, Any] | None) -> str:
    value = _number(metric)
    if value is None:
        return "–"
    low, high = _number(metric, "ci_low"), _number(metric, "ci_high")
    return f"{value:.3f} [{low:.3f}, {high:.3f}]" if low is not None and high is not None else f"{value:.3f}"


def _relative(target: Path, out: Path) -> str:
    return Path(os.path.relpath(target.resolve(), out.resolve())).as_posix()


def write_leaderboard(rows: list[LeaderboardRow], out: str | Path, *, metrics: list[str] | None = None,
                      sort_by: str | None = None) -> list[Path]:
    """``index.html``, ``leaderboard.csv`` and ``leaderboard.md`` in ``out``, rows best first by ``sort_by``
    (default: the first column); return the paths."""
    target = Path(out)
    target.mkdir(parents=True, exist_ok=True)
    columns = _columns(rows, metrics)
    if not columns:
        raise DataError("none of the requested metrics is in the inputs")
    by = sort_by or columns[0]
    if by not in columns:
        raise DataError(f"--sort {by}: not a column; the columns are {', '.join(columns)}")
    ordered = _sorted(rows, by)
    paths = [target / "index.html", target / "leaderboard.csv", target / "leaderboard.md"]
    atomic_write_text(paths[0], _html(ordered, columns, by, target))
    atomic_write_text(paths[1], _csv(ordered, columns))
    atomic_write_text(paths[2], _markdown(ordered, columns, by))
    return paths


def _csv(rows: list[LeaderboardRow], columns: list[str]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["model", "source", *(f"{c}{part}" for c in columns for part in ("", "_ci_low", "_ci_high",
                                                                                     "_n_clips"))])
    for r in rows:
        cells = []
        for c in columns:
            m = r.metrics.get(c) or {}
            cells += [m.get("value"), m.get("ci_low"), m.get("ci_high"), m.get("n_clips")]
        writer.writerow([r.model, str(r.source), *("" if v is None else v for v in cells)])
    return buffer.getvalue()


def _markdown(rows: list[LeaderboardRow], columns: list[str], by: str) -> str:
    lines = ["# Leaderboard", "", f"Best first by {by}; values with their 95 % intervals over clips (↑ higher is "
             "better, ↓ lower).", "", "| rank | model | " + " | ".join(with_arrow(c) for c in columns) + " |",
             "|---|---|" + "---|" * len(columns)]
    lines += [f"| {i} | {md(r.model)} | " + " | ".join(_cell(r.metrics.get(c)) for c in columns) + " |"
              for i, r in enumerate(rows, 1)]
    return "\n".join(lines) + "\n"


_SCRIPT = """
window.onerror = function (message) {
  document.body.setAttribute('data-errors', String(message));
};
function sortBy(column, ascending) {
  var body = document.querySelector('tbody');
  var rows = Array.prototype.slice.call(body.rows);
  rows.sort(function (a, b) {
    var x = a.querySelector('[data-metric="' + column + '"]').getAttribute('data-value');
    var y = b.querySelector('[data-metric="' + column + '"]').getAttribute('data-value');
    if (x === '') return 1;
    if (y === '') return -1;
    return ascending ? parseFloat(x) - parseFloat(y) : parseFloat(y) - parseFloat(x);
  });
  rows.forEach(function (row, i) { row.querySelector('.rank').textContent = i + 1; body.appendChild(row); });
  document.body.setAttribute('data-sorted-by', column + (ascending ? ':asc' : ':desc'));
}
document.querySelectorAll('th[data-metric]').forEach(function (th) {
  th.addEventListener('click', function () {
    var column = th.getAttribute('data-metric');
    var now = document.body.getAttribute('data-sorted-by');
    var ascending = now === column + ':desc' ? true : now === column + ':asc' ? false
      : th.getAttribute('data-higher-is-better') === 'false';
    sortBy(column, ascending);
  });
});
var wanted = /#sort=([A-Za-z0-9_]+)(:asc|:desc)?/.exec(location.hash);
if (wanted) {
  var th = document.querySelector('th[data-metric="' + wanted[1] + '"]');
  var ascending = wanted[2] ? wanted[2] === ':asc' : th && th.getAttribute('data-higher-is-better') === 'false';
  sortBy(wanted[1], ascending);
}
"""


def _html(rows: list[LeaderboardRow], columns: list[str], by: str, out: Path) -> str:
    esc = html.escape
    heads = "".join(
        f'<th data-metric="{esc(c)}" data-higher-is-better="{str(direction(c) is not False).lower()}" '
        f'title="click to sort">{esc(with_arrow(c))}</th>' for c in columns)
    body = []
    for i, r in enumerate(rows, 1):
        links = " ".join(f'<a href="{esc(_relative(p, out))}">{esc(name)}</a>' for name, p in r.links.items())
        cells = "".join(
            f'<td data-metric="{esc(c)}" data-value="{"" if _number(r.metrics.get(c)) is None else _number(r.metrics.get(c))}">'
            f"{esc(_cell(r.metrics.get(c)))}</td>" for c in columns)
        body.append(f'<tr><td class="rank">{i}</td><td>{esc(r.model)}</td>{cells}<td>{links or "–"}</td></tr>')
    style = ("body{font-family:serif;margin:2em}table{border-collapse:collapse}th,td{padding:4px 8px;"
             "border-bottom:1px solid #ccc;text-align:right}th{cursor:pointer;background:#f4f4f4}"
             "td{white-space:nowrap}td:nth-child(2),th:nth-child(2){text-align:left}")
    return ("<!doctype html><html><head><meta charset='utf-8'><title>avsprobe leaderboard</title>"
            f"<style>{style}</style></head><body data-sorted-by='{esc(by)}:default'>"
            "<h1>Leaderboard</h1><p>Values with their 95 % intervals over clips; ↑ higher is better, ↓ lower. Click "
            "a column to sort by it.</p><table><thead><tr><th>rank</th><th>model</th>"
            f"{heads}<th>report</th></tr></thead><tbody>{''.join(body)}</tbody></table>"
            f"<script>{_SCRIPT}</script></body></html>\n")
