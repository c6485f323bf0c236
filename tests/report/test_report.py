"""``avsprobe report``: every file, and numbers equal to an independent recomputation from the records."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from avsprobe.adapters import resolve_model
from avsprobe.data.biaslab.world import build_world
from avsprobe.data.source import open_data
from avsprobe.probes.suite import load_suite
from avsprobe.records import object_values
from avsprobe.results import load_records
from avsprobe.runner import run_suite
from tests.cli.test_app import run_cli


@pytest.fixture(scope="module")
def run_dirs(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    root = tmp_path_factory.mktemp("report")
    build_world(root / "w", clips=40, workers=2)
    source = open_data(root / "w")
    dirs = []
    for model, options in (("oracle", {}), ("loudness-gated-oracle", {"gate_lufs": -38.0}), ("audio-blind-oracle", {})):
        run_suite(resolve_model(model, options), load_suite("paper"), source, root / model, limit=8)
        dirs.append(root / model)
    return dirs


def test_report_files_and_figures(run_dirs: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "rep"
    code, stdout, stderr = run_cli(["report", *map(str, run_dirs), "--out", str(out)], capsys)
    assert code == 0, stdout + stderr
    for name in ("report.md", "report.html", "report.json", "tables.tex"):
        assert (out / name).is_file()
    content = json.loads((out / "report.json").read_text())
    figures = content["figures"]
    assert {"intensity_curves", "semantic_boxes", "dominance_heatmaps", "prior_bars", "area_curves",
            "qualitative_grid"} <= set(figures)
    for name in figures:
        for file in (f"{name}.png", f"{name}.pdf", f"{name}.csv", f"{name}-column.png", f"{name}-column.pdf"):
            assert (out / "figures" / file).stat().st_size > 0
        # full text width and one column at 300 dpi; image grids stop growing and may be narrower
        for file, width_in in ((f"{name}.png", 7.0), (f"{name}-column.png", 3.3)):
            with Image.open(out / "figures" / file) as im:
                assert im.size[0] <= width_in * 300 + 2, file
                assert im.size[0] >= width_in * 300 - 2 or name in ("dominance_heatmaps", "qualitative_grid"), file
    tex = (out / "tables.tex").read_text()
    assert r"\toprule" in tex and r"\bottomrule" in tex and "loudness-gated-oracle" in tex
    # paper-sized: one table per metric family and per group, each at most 6 columns, booktabs
    specs = re.findall(r"\\begin\{tabular\}\{(l[r]*)\}", tex)
    assert len(specs) >= 5 and all(len(spec) <= 6 for spec in specs)
    assert tex.count(r"\begin{table}") == len(specs) == tex.count(r"\bottomrule")
    assert r"\caption{Visual prior, in distribution" in tex and r"\label{tab:avsprobe-prior}" in tex
    assert r"\caption{Out-of-distribution robustness" in tex and r"\label{tab:avsprobe-ood}" in tex
    md = (out / "report.md").read_text()
    from avsprobe.report.compute import METRIC_DEFINITIONS

    assert "of 8" in md
    assert f"- `miou`: {METRIC_DEFINITIONS['miou']}" in md.splitlines()
    assert METRIC_DEFINITIONS["miou"].startswith("miou.canonical on baseline conditions")


def test_report_numbers_equal_the_records_recomputed(run_dirs: list[Path], tmp_path: Path) -> None:
    from avsprobe.report.build import build_report

    content = build_report(run_dirs, tmp_path / "rep", formats=["json"])
    by_model = {json.loads((Path(r["path"]) / "run.json").read_text())["model"]: r for r in content["runs"]}
    assert by_model["loudness-gated-oracle"]["model"] == "loudness-gated-oracle [gate_lufs=-38.0]"  # its option shown
    for run_dir in run_dirs:
        records = load_records(run_dir)
        reported = by_model[json.loads((run_dir / "run.json").read_text())["model"]]
        ok = records[(records.status == "ok") & records.annotated]
        # fpr_silence: per clip mean predicted fraction under silence, averaged over clips
        silence = ok[(ok.probe == "negative") & (ok.condition_label == "silence")]
        expected = np.mean([np.mean(g.pred_area / g.num_pixels) for _, g in silence.groupby("sample_id")])
        assert reported["metrics"]["fpr_silence"]["value"] == pytest.approx(expected, abs=1e-6)
        # intensity gap: per clip IoU at -23 minus IoU at -53 LUFS
        inten = ok[ok.probe == "intensity"]
        loud = inten[inten.condition_label == "-23LUFS"].groupby("sample_id").iou.mean()
        quiet = inten[inten.condition_label == "-53LUFS"].groupby("sample_id").iou.mean()
        both = loud.index.intersection(quiet.index)
        assert reported["metrics"]["intensity_gap"]["value"] == pytest.approx(float((loud[both] - quiet[both]).mean()), abs=1e-6)
        # follow rate: swapped frames with cov(new) > cov(old)
        swap = ok[(ok.probe == "swap") & ~ok.is_baseline]
        follows = [float(c["new"] > c["old"]) for c in object_values(swap, "coverage")]
        per_clip = swap.assign(f=follows).groupby("sample_id").f.mean()
        assert reported["metrics"]["follow_rate"]["value"] == pytest.approx(float(per_clip.mean()), abs=1e-6)
    assert by_model["loudness-gated-oracle"]["metrics"]["intensity_gap"]["value"] == 1.0
    assert by_model["oracle"]["metrics"]["intensity_gap"]["value"] == 0.0


def test_report_of_a_missing_run_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, stderr = run_cli(["report", str(tmp_path), "--out", str(tmp_path / "o")], capsys)
    assert code == 1 and "is not a run folder" in stderr


def test_coavs_drop_against_the_original_audio(tmp_path: Path) -> None:
    import pandas as pd

    from avsprobe.data.audio_bank import biaslab_audio_bank
    from avsprobe.data.avsbench.readers import AVSSReader
    from avsprobe.data.coavs import build_coavs, find_scenes
    from avsprobe.probes.suite import ProbeSuite
    from avsprobe.report.build import build_report

    build_world(tmp_path / "w", clips=60, workers=2)
    scenes = find_scenes(AVSSReader(tmp_path / "w", "test"))
    build_coavs(tmp_path / "co", scenes, biaslab_audio_bank(tmp_path / "w", "train"), videos=12,
                source_root=tmp_path / "w", workers=1)
    suite = ProbeSuite.single("intensity")
    for model, options in (("oracle", {}), ("loudness-gated-oracle", {"gate_lufs": -38.0})):
        run_suite(resolve_model(model, options), suite, open_data(tmp_path / "co"), tmp_path / f"{model}_co")
        run_suite(resolve_model(model, options), suite, open_data(tmp_path / "w"), tmp_path / f"{model}_orig")
    content = build_report([tmp_path / "oracle_co", tmp_path / "oracle_orig", tmp_path / "loudness-gated-oracle_co",
                            tmp_path / "loudness-gated-oracle_orig"], tmp_path / "rep", formats=["json", "md"])
    by_path = {Path(r["path"]).name: r for r in content["runs"]}
    assert by_path["oracle_co"]["metrics"]["coavs_drop"]["value"] == 0.0
    # independent recomputation for the gated oracle: baseline IoU per scene, original minus Co-AVS
    manifest = pd.read_csv(tmp_path / "co" / "manifest.csv").set_index("video").scene

    def baseline(run: str) -> pd.Series:
        r = load_records(tmp_path / run)
        r = r[r.is_baseline & (r.status == "ok") & r.annotated]
        return r.groupby("sample_id").iou.mean()

    co = baseline("loudness-gated-oracle_co")
    co_scene = co.groupby(manifest.reindex(co.index).to_numpy()).mean()
    orig = baseline("loudness-gated-oracle_orig")
    shared = co_scene.index.intersection(orig.index)
    expected = float((orig[shared] - co_scene[shared]).mean())
    drop = by_path["loudness-gated-oracle_co"]["metrics"]["coavs_drop"]
    assert drop["value"] == pytest.approx(expected, abs=1e-6) and drop["n_clips"] == len(shared)
    assert "coavs_bars" in content["figures"] and "Paired differences" in (tmp_path / "rep" / "report.md").read_text()


def test_every_reported_estimate_lies_inside_its_interval(run_dirs: list[Path], tmp_path: Path) -> None:
    from avsprobe.report.build import build_report

    content = build_report(run_dirs, tmp_path / "rep", formats=["json"])
    values = [v for r in content["runs"] for v in [*r["metrics"].values(),
                                                   *(x for g in r["groups"].values() for x in g.values())]]
    values += [v for diffs in content["paired_differences"].values() for v in diffs.values()]
    checked = [v for v in values if v["value"] is not None and v["ci_low"] is not None]
    assert len(checked) > 50
    outside = [v for v in checked if not v["ci_low"] - 1e-9 <= v["value"] <= v["ci_high"] + 1e-9]
    assert outside == []


def _drawn_texts(fig) -> list:  # noqa: ANN001
    """Every text a figure draws: figure texts, titles, axis labels, legend entries, in-view tick labels."""
    texts = list(fig.texts)
    for legend in fig.legends:
        texts += [*legend.get_texts(), legend.get_title()]
    for ax in fig.axes:
        texts += [ax.title, ax._left_title, ax._right_title, ax.xaxis.label, ax.yaxis.label, *ax.texts]
        legend = ax.get_legend()
        if legend is not None:
            texts += [*legend.get_texts(), legend.get_title()]
        for axis in (ax.xaxis, ax.yaxis):
            low, high = sorted(axis.get_view_interval())
            texts += [label for tick in axis.get_major_ticks() if low - 1e-9 <= tick.get_loc() <= high + 1e-9
                      for label in (tick.label1, tick.label2) if label.get_visible()]
    return [t for t in texts if t.get_visible() and t.get_text().strip()]


def _severity_groups(k: int) -> dict:
    """The robustness groups a run of the ``robustness`` suite has (every family, severities 1-5), with made-up
    values, so the severity-curve figures are drawn too."""
    from avsprobe.audio.corruptions import SEVERITIES
    from avsprobe.metrics.bias import MetricValue
    from avsprobe.probes.visual_corruptions import VISUAL_SEVERITIES

    groups = {}
    for prefix in ("miou_by", "fscore_by", "silent_coverage_by"):
        for probe, families in (("audio_corruption", SEVERITIES), ("visual_corruption", VISUAL_SEVERITIES)):
            group = {"original": MetricValue("x", 0.6 - 0.02 * k, 0.55, 0.65, 8)}
            for family in families:
                for severity in range(1, 6):
                    value = 0.6 - 0.08 * severity - 0.02 * k
                    group[f"{family}@{severity}"] = MetricValue("x", value, value - 0.05, value + 0.05, 8)
            groups[f"{prefix}_{probe}"] = group
    return groups


def _crowded_runs(run_dirs: list[Path], coavs_root: Path) -> list:
    """The three runs, then the same records under four more long labels, two of them presented as runs on a
    Co-AVS set (``coavs_root`` holds a ``coavs.json``): a seven-model report that draws every figure."""
    import copy

    from avsprobe.report.build import run_labels
    from avsprobe.report.compute import compute_metrics, load_run

    runs = [load_run(p) for p in run_dirs]
    for k, (run, label) in enumerate(zip(runs, run_labels(runs), strict=True)):
        run.label = label
        run.metrics = compute_metrics(run)
        run.metrics.groups.update(_severity_groups(k))
    extra = []
    for i, name in enumerate(("ours (debias=uncertainty, alpha=1)", "ours-nodebias seed 2", "vanilla on Co-AVS",
                              "combo-avs (pvt, sam pre-masks)")):
        twin = copy.copy(runs[i % len(runs)])
        twin.label = name
        if i >= 2:
            twin.info = {**twin.info, "data_root": str(coavs_root)}
        extra.append(twin)
    return runs + extra


def _assert_figures_fit(runs: list, width_in: float) -> None:
    """Every figure of the report drawn ``width_in`` wide: the canvas is that wide (at most, for the image
    grids), no two texts' boxes intersect, every text lies inside the canvas, and none is smaller than 6 pt."""
    import matplotlib

    matplotlib.use("Agg")
    from avsprobe.report.build import FIGURES
    from avsprobe.report.style import paper_style

    drawn = 0
    with paper_style():
        for name, figure in FIGURES.items():
            result = figure(runs, width_in=width_in)
            if result is None:
                continue
            fig = result[0]
            fig_width_in, fig_height_in = fig.get_size_inches()
            grid = name in ("dominance_heatmaps", "qualitative_grid")
            assert fig_width_in <= width_in + 1e-9 and (grid or fig_width_in == pytest.approx(width_in)), name
            assert fig_height_in < 1.3 * width_in + 4, name
            fig.canvas.draw()
            renderer = fig.canvas.get_renderer()
            canvas = fig.bbox
            texts = _drawn_texts(fig)
            assert min(t.get_fontsize() for t in texts) >= 6, name
            gap_px = fig.dpi / 72  # texts must stay 1 pt apart: touching labels read as one
            boxes = [(t.get_text(), t.get_window_extent(renderer).expanded(1, 1).padded(gap_px / 2)) for t in texts]
            for i, (text, box) in enumerate(boxes):
                assert canvas.x0 - 1 <= box.x0 and box.x1 <= canvas.x1 + 1, (name, text)
                assert canvas.y0 - 1 <= box.y0 and box.y1 <= canvas.y1 + 1, (name, text)
                for other, other_box in boxes[i + 1 :]:
                    assert not box.overlaps(other_box), (name, text, other)
            drawn += 1
            matplotlib.pyplot.close(fig)
    assert drawn == len(FIGURES)


@pytest.mark.parametrize("width_in", [3.3, 7.0])
def test_no_figure_text_overlaps_another_at_both_paper_widths(run_dirs: list[Path], width_in: float,
                                                              tmp_path: Path) -> None:
    """Every figure of a seven-model report with long labels, drawn for a paper column (3.3 in) and for the full
    text width (7 in), fits (:func:`_assert_figures_fit`)."""
    (tmp_path / "coavs.json").write_text("{}")
    _assert_figures_fit(_crowded_runs(run_dirs, tmp_path), width_in)


def test_a_very_long_hostile_label_stays_inside_every_figure(run_dirs: list[Path], tmp_path: Path) -> None:
    """A 120-character model name with mathtext and LaTeX specials is shortened where it is drawn (before, it ran
    off the figures; a "$" crashed them)."""
    (tmp_path / "coavs.json").write_text("{}")
    runs = _crowded_runs(run_dirs, tmp_path)
    runs[1].label = "my-model-" + "x" * 60 + " $\\alpha$ ^^5c {evil} trained-on-everything-with-a-very-long-name"
    _assert_figures_fit(runs, 3.3)


def test_one_colour_per_model_in_every_figure(run_dirs: list[Path]) -> None:
    """A model keeps its colour in every figure, also where a figure plots fewer models than the report."""
    import matplotlib
    from matplotlib.colors import to_hex

    matplotlib.use("Agg")
    from avsprobe.report import plots
    from avsprobe.report.build import run_labels
    from avsprobe.report.compute import load_run
    from avsprobe.report.style import paper_style

    runs = [load_run(p) for p in run_dirs]
    for run, label in zip(runs, run_labels(runs), strict=True):
        run.label = label
    expected = {m: c.lower() for m, c in plots._colours(runs).items()}
    assert len(set(expected.values())) == len(runs)
    with paper_style():
        fig, _ = plots.intensity_curves(runs)
        lines = {line.get_label(): to_hex(line.get_color()) for line in fig.axes[0].get_lines()}
        assert {m: lines[m] for m in expected} == expected
        fig, _ = plots.prior_bars(runs)
        bars = {c.get_label(): to_hex(c.patches[0].get_facecolor()) for c in fig.axes[0].containers
                if hasattr(c, "patches")}
        assert {m: bars[m] for m in expected} == expected


def test_failure_browser_ranks_failures_and_renders_in_chromium(run_dirs: list[Path], tmp_path: Path) -> None:
    """browse.html: failures ranked by severity per model and kind; opened in headless Chromium it renders
    without errors, every overlay strip loads, and its screenshot is not blank."""
    import shutil
    import subprocess

    from avsprobe.report.browse import failures
    from avsprobe.report.build import build_report

    out = tmp_path / "rep"
    build_report(run_dirs, out, formats=["browse"])
    page = (out / "browse.html").read_text()
    blind = load_records(run_dirs[2])  # the audio-blind oracle keeps its mask under silence and noise
    found = [f for f in failures(blind) if f["kind"] == "persists"]
    severities = [f["severity"] for f in found]
    assert found and severities == sorted(severities, reverse=True)
    # its worst clip's severity is that clip's predicted frame fraction under silence, white, pink, background
    ok = blind[(blind.probe == "negative") & (blind.status == "ok") & blind.annotated
               & blind.condition_label.isin(["silence", "white", "pink", "background"])]
    worst = ok[ok.sample_id == found[0]["sample_id"]]
    assert found[0]["severity"] == pytest.approx(float((worst.pred_area / worst.num_pixels).mean()), abs=1e-12)
    assert not [f for f in failures(load_records(run_dirs[0])) if f["kind"] in ("persists", "swap", "quiet")]
    cards = re.findall(r'<div class="card" data-model="([^"]+)" data-kind="([^"]+)"', page)
    assert ("audio-blind-oracle", "persists") in cards and len(cards) == page.count("<img ")
    for image in re.findall(r'<img src="([^"]+)"', page):
        assert (out / image).stat().st_size > 0
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("Chromium is not installed (.ci/run installs Debian's chromium)")
    flags = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--allow-file-access-from-files",
             "--enable-logging=stderr", "--v=0"]
    dom = subprocess.run([*flags, "--dump-dom", (out / "browse.html").as_uri()], capture_output=True, text=True,
                         timeout=120)
    body = re.search(r"<body([^>]*)>", dom.stdout).group(1)
    assert "data-errors" not in body and "Uncaught" not in dom.stderr, dom.stderr[-2000:]
    loaded = int(re.search(r'data-images-loaded="(\d+)"', body).group(1))
    assert loaded == int(re.search(r'data-images="(\d+)"', body).group(1)) == len(cards) > 0
    shot = tmp_path / "shot.png"
    subprocess.run([*flags, f"--screenshot={shot}", "--window-size=1200,900", (out / "browse.html").as_uri()],
                   capture_output=True, timeout=120, check=True)
    with Image.open(shot) as im:
        pixels = np.asarray(im.convert("RGB"), dtype=np.float64)
    assert pixels.std() > 20  # text, frames and tints: not a blank page
    # the strips show: their dimmed frames are dark, on a near-white page
    assert (pixels.mean(axis=2) < 100).mean() > 0.05


def test_qualitative_grid_rows_are_conditions_and_clips_are_selectable(run_dirs: list[Path]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from avsprobe.report import plots
    from avsprobe.report.build import run_labels
    from avsprobe.report.compute import load_run
    from avsprobe.report.style import paper_style

    runs = [load_run(p) for p in run_dirs]
    for run, label in zip(runs, run_labels(runs), strict=True):
        run.label = label
    with paper_style():
        fig, table = plots.qualitative_grid(runs)
        clip = table.sample_id.iloc[0]
        # the default clip has something sounding in its unprobed frames
        base = runs[0].records
        assert (base[(base.sample_id == clip) & base.is_baseline.astype(bool)].expected_area > 0).any()
        assert list(dict.fromkeys(table.condition_id)) == ["intensity/original", "intensity/-53LUFS",
                                                          "negative/silence", "swap/swapped", "mix/A@-41+B@-41"]
        assert fig.axes[0].get_ylabel() == "original" and len(fig.axes) == 5 * len(runs)
        # the oracle's cell under silence: an empty prediction on the frame itself (no tint); the audio-blind
        # oracle's: its original mask, tinted in its colour
        silence = table[table.condition_id == "negative/silence"].set_index("model")
        assert silence.loc["oracle", "predicted_fraction"] == 0.0 < silence.loc["audio-blind-oracle", "predicted_fraction"]
        other = sorted(set(base.sample_id) - {clip})[:2]
        fig, table = plots.qualitative_grid(runs, clips=other)
        assert list(dict.fromkeys(table.sample_id)) == other and fig.axes[0].get_ylabel().startswith(other[0])


def test_grid_clip_prefers_clips_with_every_row() -> None:
    """A one-source clip has no mix row: the grid's default clip is the one where the models differ most
    among the clips that show the most rows, not a clip with more spread and a missing row."""
    import pandas as pd

    from avsprobe.report import plots
    from avsprobe.report.compute import RunResult

    rows = [("original", "intensity/original"), ("silence", "negative/silence"), ("mix", "mix/A@-41+B@-41")]

    def records(ious: dict[str, dict[str, float]]) -> pd.DataFrame:
        return pd.DataFrame([{"sample_id": clip, "condition_id": cond, "status": "ok", "annotated": True,
                              "is_baseline": cond == "intensity/original", "expected_area": 10, "iou": iou,
                              "pred_area": 10, "num_pixels": 100, "frame": 0}
                             for clip, by_condition in ious.items() for cond, iou in by_condition.items()])

    # clip "one": a large spread but no mix row; clip "two": a smaller spread over all three rows
    a = {"one": {"intensity/original": 1.0, "negative/silence": 1.0},
         "two": {"intensity/original": 0.6, "negative/silence": 0.6, "mix/A@-41+B@-41": 0.6}}
    b = {"one": {"intensity/original": 0.0, "negative/silence": 0.0},
         "two": {"intensity/original": 0.4, "negative/silence": 0.4, "mix/A@-41+B@-41": 0.4}}
    runs = [RunResult(Path("a"), {"model": "a"}, records(a)), RunResult(Path("b"), {"model": "b"}, records(b))]
    assert plots._grid_clip(runs, rows) == "two"


def test_saved_figures_are_byte_identical_across_saves(tmp_path: Path) -> None:
    """The same figure saved twice (a second apart) gives the same PNG and PDF bytes: no creation date."""
    import time

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from avsprobe.report.style import paper_style, save_figure

    saved = []
    for name in ("a", "b"):
        with paper_style():
            fig, ax = plt.subplots(figsize=(3.3, 2.0))
            ax.plot([0, 1], [1, 0])
            saved.append(save_figure(fig, tmp_path / name))
        time.sleep(1.1)
    for first, second in zip(*saved, strict=True):
        assert first.read_bytes() == second.read_bytes(), first.suffix


HOSTILE = "evil|^^5cinput{/etc/hostname} $x$ <img src=x onerror=alert(1)> é~#%&_\\"


def _latex_is_inert(tex: str) -> None:
    """A parser check of tables.tex: ASCII only, no ^^ escapes, balanced braces, and every control sequence one
    that the tables or the escaping write."""
    allowed = {"begin", "end", "centering", "small", "caption", "label", "toprule", "midrule", "bottomrule",
               "textbackslash", "textasciitilde", "textasciicircum", "usepackage", "uparrow", "downarrow"}
    assert tex.isascii() and "^^" not in tex
    body = "\n".join(line for line in tex.splitlines() if not line.startswith("%"))
    depth = 0
    i = 0
    while i < len(body):
        ch = body[i]
        if ch == "\\":
            nxt = body[i + 1] if i + 1 < len(body) else ""
            if nxt.isalpha():
                word = re.match(r"[A-Za-z]+", body[i + 1:]).group(0)
                assert word in allowed, word
                i += 1 + len(word)
                continue
            assert nxt in "&%$#_{}\\", repr(body[i:i + 10])  # an escaped special, or \\ (end of row)
            i += 2
            continue
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            assert depth >= 0
        i += 1
    assert depth == 0


def test_hostile_names_are_escaped_in_every_format(run_dirs: list[Path], tmp_path: Path) -> None:
    """A model name carrying LaTeX, Markdown, HTML and mathtext specials: tables.tex stays inert (before,
    ^^5c became \\input), report.md shows it as text (before, the <img onerror> ran in a browser) and keeps
    its table columns, the figures are drawn (before, "$x$" crashed matplotlib)."""
    import json
    import shutil

    from avsprobe.report.build import build_report

    hostile = tmp_path / "runs" / "hostile"
    shutil.copytree(run_dirs[0], hostile)
    info = json.loads((hostile / "run.json").read_text())
    info["model"] = HOSTILE
    (hostile / "run.json").write_text(json.dumps(info))
    out = tmp_path / "rep"
    build_report([hostile, run_dirs[2]], out)
    tex = (out / "tables.tex").read_text()
    _latex_is_inert(tex)
    assert r"\textasciicircum{}\textasciicircum{}5cinput\{/etc/hostname\}" in tex
    md = (out / "report.md").read_text()
    assert "<img" not in md and "&lt;img src=x onerror=alert(1)&gt;" in md
    runs_rows = [line for line in md.splitlines() if line.startswith("| evil")]
    assert runs_rows
    for row in runs_rows:  # the escaped | does not split the cell
        assert not re.search(r"(?<!\\)\|", row.split("evil", 1)[1].split(" | ", 1)[0])
    assert "<img src=x" not in (out / "report.html").read_text()
    assert list((out / "figures").glob("*.png"))
    import shutil as sh
    import subprocess

    chromium = sh.which("chromium") or sh.which("chromium-browser")
    if chromium is None:
        pytest.skip("Chromium is not installed (.ci/run installs Debian's chromium)")
    for page in ("report.html", "browse.html"):  # opened in a browser, the name stays text
        dom = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom",
                              (out / page).as_uri()], capture_output=True, text=True, timeout=120).stdout
        assert "evil|" in dom or page == "browse.html", page  # the browser lists only models with failures
        assert "onerror=" not in dom.replace("onerror=alert(1)&gt;", ""), page
        assert not re.search(r"<img[^>]*src=\"?x", dom), page


def test_the_class_filter_matches_class_names_exactly() -> None:
    from avsprobe.report.browse import _page

    card = {"model": "m", "kind": "persists", "rank": 1, "sample_id": "s", "classes": ["grand piano", "dog"],
            "severity": 0.5, "labels": [], "image": "browse/x.jpg"}
    page = _page([card])
    assert 'data-classes="[&quot;grand piano&quot;, &quot;dog&quot;]"' in page
    assert "JSON.parse(card.dataset.classes).includes(c)" in page


def test_the_report_warns_when_runs_cover_different_clips(tmp_path: Path) -> None:
    from avsprobe.data.biaslab.world import build_world
    from avsprobe.data.source import open_data
    from avsprobe.probes.suite import ProbeSuite
    from avsprobe.report.build import build_report

    build_world(tmp_path / "w", clips=20, workers=2)
    source = open_data(tmp_path / "w")
    run_suite(resolve_model("oracle"), ProbeSuite.single("negative"), source, tmp_path / "a", limit=2)
    run_suite(resolve_model("full"), ProbeSuite.single("negative"), source, tmp_path / "b", limit=3)
    build_report([tmp_path / "a", tmp_path / "b"], tmp_path / "rep", formats=["md"])
    text = (tmp_path / "rep" / "report.md").read_text()
    assert "## Runs over different clips" in text
    assert "- oracle: 2 clips (2 shared by all of these runs)" in text and "- full: 3 clips" in text
    run_suite(resolve_model("full"), ProbeSuite.single("negative"), source, tmp_path / "c", limit=2)
    build_report([tmp_path / "a", tmp_path / "c"], tmp_path / "rep2", formats=["md"])
    assert "Runs over different clips" not in (tmp_path / "rep2" / "report.md").read_text()


def test_report_labels_orders_and_picks_figures_for_a_paper(run_dirs: list[Path], tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "paper"
    code, _, stderr = run_cli(["report", *map(str, run_dirs), "--out", str(out), "--format", "md,json",
                               "--label", "audio-blind-oracle=Prior only", "--label", "oracle=Oracle",
                               "--order", "Prior only", "--order", "Oracle", "--figures", "prior_bars"], capsys)
    assert code == 0, stderr
    content = json.loads((out / "report.json").read_text())
    names = [r["model"] for r in content["runs"]]
    assert names[:2] == ["Prior only", "Oracle"] and len(names) == 3  # the run not named follows
    assert list(content["paired_differences"])[0] == "Oracle - Prior only"  # the first is the reference
    assert content["figures"] == ["prior_bars"]
    assert sorted(p.name for p in (out / "figures").glob("*.png")) == ["prior_bars-column.png", "prior_bars.png"]
    assert "| metric | Prior only | Oracle |" in (out / "report.md").read_text()
    code, _, stderr = run_cli(["report", *map(str, run_dirs), "--out", str(tmp_path / "bad"), "--label", "orcale=X"],
                              capsys)
    assert code != 0 and "no run is labelled 'orcale'" in stderr and "Traceback" not in stderr
    code, _, stderr = run_cli(["report", *map(str, run_dirs), "--out", str(tmp_path / "bad"), "--figures", "nope"],
                              capsys)
    assert code != 0 and "unknown figure nope" in stderr


def test_headline_table_first_with_directions_and_n_in_every_table(run_dirs: list[Path], tmp_path: Path) -> None:
    """report.md opens with the headline metrics (each with its direction) and an N row; the tables by level,
    class and condition come after it; every LaTeX table ends with its N row, and a missing value is ``--``
    there (it printed ``?`` before)."""
    from avsprobe.report.build import build_report

    build_report(run_dirs, tmp_path / "rep", formats=["md", "latex"])
    md = (tmp_path / "rep" / "report.md").read_text().splitlines()
    first = md.index(next(line for line in md if line.startswith("| metric |")))
    end = next(i for i in range(first, len(md)) if not md[i].startswith("|"))
    headline = md[first + 2:end]
    assert headline[0].startswith("| miou ↑ |") and any(r.startswith("| fpr_silence ↓ |") for r in headline)
    assert not any(":" in r.split("|")[1] for r in headline)  # no group rows in the headline table
    # per model the clips its headline values rest on: a range, up to the 8 clips run (follow_rate has fewer)
    assert re.fullmatch(r"\| N \(clips\) \| (\d+–8 \| ){3}", headline[-1] + " "), headline[-1]
    assert "## miou by level" in md and md.index("## miou by level") > end
    tables = sum(line.startswith("| metric |") for line in md)
    assert tables >= 5 and sum(line.startswith("| N (clips) |") for line in md) == tables
    tex = (tmp_path / "rep" / "tables.tex").read_text()
    assert "?" not in tex and " & -- " in tex + " "
    assert tex.count(r"\begin{tabular}") == tex.count("N (clips) &")
    assert r"miou $\uparrow$ &" in tex


def test_black_is_for_reference_marks_and_every_model_stays_visible(tmp_path: Path) -> None:
    """No model is drawn in black (the colour of reference marks); models whose curves coincide keep their own
    markers; a box whose values are all equal still shows its median mark."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd
    from matplotlib.colors import to_hex

    from avsprobe.metrics.bias import MetricValue
    from avsprobe.report import plots
    from avsprobe.report.compute import RunMetrics, RunResult
    from avsprobe.report.style import PALETTE, REFERENCE_COLOUR, paper_style

    assert REFERENCE_COLOUR not in PALETTE and len(set(PALETTE)) == 14
    flat = {f"{lufs}LUFS": MetricValue("miou", 0.0, 0.0, 0.0, 4) for lufs in (-23, -35, -53)}
    runs = []
    for name in "abcdefgh":  # the 8th model was drawn in black before
        records = pd.DataFrame({"probe": ["semantic"] * 2, "is_baseline": [False] * 2, "status": ["ok"] * 2,
                                "annotated": [True] * 2, "sample_id": ["s1", "s2"], "condition_label": ["piano"] * 2,
                                "iou": [0.0, 0.0]})
        runs.append(RunResult(tmp_path, {"model": name}, records, label=name,
                              metrics=RunMetrics(groups={"miou_by_level": flat})))
    with paper_style():
        fig, _ = plots.intensity_curves(runs)
        lines = fig.axes[0].get_lines()
        assert REFERENCE_COLOUR.lower() not in {to_hex(line.get_color()) for line in lines}
        assert len({line.get_marker() for line in lines}) == len(runs)  # eight lines at zero, eight marks
        plt.close(fig)
        fig, _ = plots.semantic_boxes(runs)
        medians = [line for line in fig.axes[0].get_lines() if line.get_label().startswith("_median")]
        assert len(medians) == len(runs) and all(list(line.get_ydata()) == [0.0] for line in medians)
        plt.close(fig)


def test_runs_whose_data_folder_moved_still_report_with_a_warning(run_dirs: list[Path], tmp_path: Path) -> None:
    """Runs copied to another machine (their data folder not there): the report is written from the records,
    with a warning, instead of aborting on the qualitative grid (it raised 'data folder not found')."""
    import shutil

    from avsprobe.report.build import build_report

    moved = tmp_path / "copied-run"
    shutil.copytree(run_dirs[0], moved)
    info = json.loads((moved / "run.json").read_text())
    info["data_root"] = str(tmp_path / "gone" / "world")
    (moved / "run.json").write_text(json.dumps(info))
    content = build_report([moved], tmp_path / "rep", formats=["json", "md", "browse"])
    here = build_report([run_dirs[0]], tmp_path / "rep-here", formats=["json"])
    assert content["runs"][0]["metrics"] == here["runs"][0]["metrics"]
    assert len(content["warnings"]) == 1 and str(tmp_path / "gone" / "world") in content["warnings"][0]
    assert "qualitative_grid" not in content["figures"] and "qualitative_grid" in here["figures"]
    assert "## Warnings" in (tmp_path / "rep" / "report.md").read_text()


def test_failures_section_lists_reasons_with_their_clips(run_dirs: list[Path], tmp_path: Path) -> None:
    """Why jobs did not score, per model: reason -> clips, counted independently from the records."""
    from avsprobe.report.build import build_report

    content = build_report(run_dirs[:1], tmp_path / "rep", formats=["json", "md"])
    failures = content["runs"][0]["failures"]
    records = load_records(run_dirs[0])
    bad = records[records.status != "ok"]
    assert failures and sum(f["clips"] for f in failures) == len(bad[["probe", "reason", "sample_id"]].drop_duplicates())
    for f in failures:  # every clip named has that status and probe, and its own id where the reason reads <clip>
        for clip in f["examples"]:
            rows = bad[(bad.sample_id == clip) & (bad.probe == f["probe"])]
            assert f["reason"].replace("<clip>", clip) in set(rows.reason)
    md = (tmp_path / "rep" / "report.md").read_text()
    assert "## Failures and clips not applicable" in md and f"| {failures[0]['clips']} |" in md


def test_runs_of_another_suite_over_the_same_data_keep_the_qualitative_grid(run_dirs: list[Path],
                                                                            tmp_path: Path) -> None:
    """A temporal (or robustness) run beside the paper-suite runs shares none of the grid's conditions; the
    grid is drawn from the runs that have them (it vanished before: the conditions shared by all runs were none)."""
    from avsprobe.report.build import build_report

    info = json.loads((run_dirs[0] / "run.json").read_text())
    run_suite(resolve_model("oracle"), load_suite("temporal"), open_data(info["data_root"]), tmp_path / "t", limit=2,
              workers=0)
    content = build_report([run_dirs[0], tmp_path / "t"], tmp_path / "rep", formats=["json"],
                           figures=["qualitative_grid"])
    assert content["figures"] == ["qualitative_grid"]
