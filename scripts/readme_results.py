"""The README's and the docs' generated blocks: result sentences from the committed reports, tables from the
code and data they describe (never typed by hand).

These marked blocks of README.md and docs/*.md are written here and checked by ``tests/test_readme_results.py``:

* ``demo-results``: what the demo report (``reports/biaslab/report.json``) shows, per reference model;
* ``debias-results``: the three-seed comparison (``reports/debias/seeds.md``: its table and goal lines);
* ``bias-metrics``: the metric table, from the bias-metric catalog (``avsprobe.metrics.catalog``);
* ``worldv3-results``: five seeds of vanilla on bias lab world v3 (``reports/worldv3/must-show.json``);
* ``cli-reference``: every command, its options and their help, from the typer app;
* ``benchmarks``: the benchmark table, each entry with its date, machine and command (``benchmarks/results.toml``);
* ``records-schema``: the records columns, from ``avsprobe.records``;
* ``robustness-results``: what the demo's robustness runs show (``reports/biaslab/report.json``).

    python scripts/readme_results.py          # rewrite every block
    python scripts/readme_results.py --check  # exit 1 if a block differs from what it is generated from
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODELS = ("vanilla", "ours-nodebias", "ours")


def _value(run: dict, *path: str) -> float:
    node = run
    for key in path:
        node = node[key]
    return float(node["value"])


def demo_block(report: dict) -> str:
    """Sentences on audio priming and the visual prior, for the reference models of the demo report."""
    runs = {r["model"]: r for r in report["runs"] if r["model"] in MODELS}
    clips = runs["vanilla"]["clips_evaluated"]

    def drop(model: str, quiet: str) -> float:
        levels = runs[model]["groups"]["miou_by_level"]
        return float(levels["-23LUFS"]["value"] - levels[quiet]["value"])

    levels = [v for m in MODELS for k, v in runs[m]["groups"]["miou_by_level"].items() if k.endswith("LUFS")]
    half_width = sum((v["ci_high"] - v["ci_low"]) / 2 for v in levels) / len(levels)
    full = ", ".join(f"{m} {drop(m, '-53LUFS'):.2f}" for m in MODELS)
    mid = ", ".join(f"{m} {drop(m, '-41LUFS'):.2f}" for m in MODELS)

    def listed(metric: str, digits: int = 3) -> str:
        return ", ".join(f"{m} {_value(runs[m], 'metrics', metric):.{digits}f}" for m in MODELS)

    return "\n".join([
        f"*Audio priming:* on the demo's {clips} clips the mIoU lost from -23 to -53 LUFS is {full}; from -23 to "
        f"-41 LUFS it is {mid}. A level's mIoU has a 95 % interval of about +-{half_width:.2f} (mean half-width "
        f"over these models and levels).",
        "",
        f"*Visual prior, in distribution:* under the world's own background bed alone, the mean coverage of the "
        f"visible objects (`prior_coverage`) is {listed('prior_coverage')}; the Spearman correlation of the "
        f"per-class coverage there with P(sounds | class, bed-only audio) of the training plans "
        f"(`prior_calibration`) is {listed('prior_calibration', 2)}. Under the original audio, the coverage of "
        f"visible objects that do not sound (`silent_object_coverage`) is {listed('silent_object_coverage')}, the "
        f"slope of its per-class values on the training sounding frequency (`prior_slope`) is "
        f"{listed('prior_slope', 2)}, and the threshold-free within-class AUROC of sounding against silent objects "
        f"(`sounding_auroc`) is {listed('sounding_auroc', 2)}.",
        "",
        f"*Out of distribution:* under digital silence, an input no training clip resembles, the coverage "
        f"(`silence_coverage`) is {listed('silence_coverage')}; it says how a model extrapolates, not what prior "
        f"it learned.",
    ])


def worldv3_block(must_show: dict) -> str:
    """The five-seed vanilla measurement on world v3 (``reports/worldv3/must-show.json``) and its criteria."""
    per_seed = must_show["per_seed"]

    def seeds(metric: str, digits: int = 3) -> str:
        return ", ".join(f"{v[metric]:.{digits}f}" for v in per_seed.values())

    lines = [f"Five training seeds of `vanilla` on world v3, all 200 balanced test clips (`reports/worldv3/"
             f"must-show.md`): `prior_calibration` per seed {seeds('prior_calibration', 2)}; `prior_coverage` under "
             f"the bed {seeds('prior_coverage')}; `prior_slope` {seeds('prior_slope', 2)}; `sounding_auroc` "
             f"{seeds('sounding_auroc', 2)}; out of distribution, `silence_coverage` {seeds('silence_coverage')}.",
             ""]
    lines += [f"- {'met' if c['met'] else 'not met'}: {c['criterion']} ({c['numbers']})" for c in must_show["criteria"]]
    sd = must_show["seed_sd"]
    lines += ["", f"Between seeds the in-distribution `prior_coverage` varies with SD {sd['prior_coverage']:.3f}, the "
                  f"out-of-distribution `silence_coverage` with SD {sd['silence_coverage']:.3f}."]
    more = ROOT / "reports/worldv3/more-clips.json"
    if more.is_file():
        verdict = json.loads(more.read_text())["verdict"]
        per_seed = json.loads(more.read_text())["by_subset"]["400 new"]
        lines += ["", "Measured again on 400 new test clips (and on all 600) under a rule committed before they were "
                      "generated (`reports/worldv3/more-clips.md`): `prior_calibration` per seed on the new clips "
                      + ", ".join(f"{v['prior_calibration']:.2f}" for v in per_seed.values()) + "; "
                      + "; ".join(f"{'met' if v['met'] else 'not met'}: {v['criterion']}" for v in verdict)
                      + ". The spread between seeds is the models', not the clips': more test clips do not reach the "
                        "calibration criterion."]
    score = ROOT / "reports/worldv3/score-calibration.json"
    if score.is_file():
        content = json.loads(score.read_text())
        new = content["by_subset"]["400 new"]
        every = content["by_subset"]["all 600"]
        lines += ["", "A calibrated model scores only 0.756 on the coverage-based `prior_calibration` (coverage at 0.5 is "
                      "a step for it), so the threshold-free `prior_score_calibration` (mean probability per class; a "
                      "calibrated model scores 1) was measured under a rule committed before it existed "
                      "(`reports/worldv3/score-calibration.md`): per seed "
                      + ", ".join(f"{v['prior_score_calibration']['value']:.2f}" for v in new.values())
                      + " on the 400 new clips and "
                      + ", ".join(f"{v['prior_score_calibration']['value']:.2f}" for v in every.values())
                      + f" on all 600; the restated criterion is {'met' if content['restated_criterion_met'] else 'not met'}"
                      ". The models squeeze the classes whose posterior is below 0.2 towards probability 0."]
    size = ROOT / "reports/worldv3/train-size.json"
    if size.is_file():
        content = json.loads(size.read_text())

        def per_seed(train: str, metric: str) -> str:
            return ", ".join(f"{v[metric]:.2f}" for v in content["by_size"][train].values())

        lines += ["", "Twice the train clips (1280, same recipe, seeds 0-2, on val) under a rule committed before the "
                      "runs (`reports/worldv3/train-size.md`): `prior_calibration` per seed "
                      f"{per_seed('640', 'prior_calibration')} at 640 clips and {per_seed('1280', 'prior_calibration')} "
                      f"at 1280; `prior_score_calibration` {per_seed('640', 'prior_score_calibration')} and "
                      f"{per_seed('1280', 'prior_score_calibration')}; "
                      + "; ".join(f"{train} clips " + ("pass" if content["passes"][train] else "miss " + ", ".join(
                          f"`{c['criterion']}` ({c['numbers']})" for c in checks if not c["met"]))
                                  for train, checks in content["checks"].items())
                      + (". Under the rule the train split stays 640." if not any(content["passes"].values()) else ".")]
    return "\n".join(lines)


def debias_block(seeds_md: str, seeds: dict | None = None) -> str:
    """The seed table of ``seeds.md``, verbatim, then what the paired differences say (``seeds.json``): per
    metric, the mean over seeds of ``ours`` minus vanilla of the same seed with its seed-level 95 % t-interval
    (the per-seed "holds in every seed" goal lines are left out: with three seeds they cannot discriminate)."""
    from avsprobe.metrics.stats import seed_interval

    lines = seeds_md.splitlines()
    table = [line for line in lines if line.startswith("| model |") or line.startswith("|---")
             or any(line.startswith(f"| {family} |") for family in MODELS)]
    out = ["Measured on world v2 (before `ambiguous_fraction`), where `prior_coverage` was the coverage under "
           "digital silence, now named `silence_coverage` (out of distribution). On world v3 the remedy is measured as "
           "same-architecture pairs (below).", "", *table[: 2 + len(MODELS)]]
    if seeds is not None:
        cells = []
        for metric, rows in seeds["paired"].items():
            mean, low, high = seed_interval([r["value"] for r in rows])
            excludes = "excludes 0" if low > 0 or high < 0 else "includes 0"
            cells.append(f"`{metric}` {mean:+.3f} [{low:+.3f}, {high:+.3f}] ({excludes})")
        out += ["", f"`ours` minus vanilla of the same seed, mean over the {len(next(iter(seeds['paired'].values())))} "
                    f"seeds with its seed-level 95 % t-interval: {'; '.join(cells)}."]
        ablation_table = [line for line in lines[lines.index("## Seed-0 ablations"):] if line.startswith("|")]
        out += ["", "Seed-0 ablations on the same clips (each run's per-clip mean):", "", *ablation_table]
        main = seeds["ablations"].get("ablation: ours main branch only (alpha 0)")
        if main is not None:
            ours0 = {m: v["seeds"][0] for m, v in seeds["summary"]["ours"].items()}
            out += ["", "Against its own main branch (seed 0, alpha 0, same weights), the contrast changes "
                        + ", ".join(f"`{m}` {main[m]:.3f} -> {ours0[m]:.3f}" for m in
                                    ("prior_coverage", "fpr_silence", "silent_object_coverage", "miou")) + "."]
    return "\n".join(out)


def debias_v3_block() -> str:
    """The same-architecture pairs measured on world v3 (``reports/debias/v3/*.json``, one per pair): per pair the
    paired differences with their seed-level intervals and each criterion of its rule, met or not."""
    pairs = _v3_pairs()
    if not pairs:
        return "No same-architecture pair has been measured on world v3 yet."
    out = []
    choice_path = ROOT / "reports/debias/v3/val/prior-branch-choice.json"
    for path, pair in pairs.items():
        seeds = len(pair["seeds"])
        treated = pair.get("treated_label", pair["treated"])
        cells = [f"`{m}` {d['mean']:+.3f} [{d['ci_low']:+.3f}, {d['ci_high']:+.3f}]" for m, d in pair["paired"].items()]
        met = sum(c["met"] for c in pair["criteria"])
        if path.stem == "prior-branch" and choice_path.is_file():
            choice = json.loads(choice_path.read_text())
            cands = "; ".join(f"`{c}` mIoU {d['miou']['mean']:+.3f}, prior_coverage {d['prior_coverage']['mean']:+.3f}"
                              for c, d in choice["paired"].items())
            out += [f"The prior-shaped second branch, chosen on val (`reports/debias/v3/val/prior-branch-choice.md`, "
                    f"rule `reports/debias/v3/prior-branch-rule.md`; each candidate minus `ours-nodebias`, seeds 0-2, "
                    f"all 160 val clips): {cands}; chosen `{choice['chosen']}`"
                    + ("" if choice["admissible"] else " (no candidate within 2 mIoU points: the higher mIoU)")
                    + ". The other candidate is a val ablation only.", ""]
        out += [f"`{treated}` against `{pair['control']}` on world v3, {seeds} seeds, all 200 balanced test "
                f"clips (`reports/debias/v3/{path.stem}.md`, criteria fixed before the runs in "
                f"`reports/debias/v3/{path.stem}-rule.md`): {treated} minus {pair['control']} of the same "
                f"seed, mean over seeds with its seed-level 95 % t-interval: {'; '.join(cells)}. "
                f"{met} of {len(pair['criteria'])} criteria met:", ""]
        out += [f"- {'met' if c['met'] else 'not met'}: {c['criterion']} ({c['numbers']})" for c in pair["criteria"]]
        out += ["", pair["what_follows"], ""]
    return "\n".join(out).rstrip()


def _v3_pairs() -> dict[Path, dict]:
    """The committed world-v3 pair reports (``reports/debias/v3/*.json``), by path."""
    return {p: json.loads(p.read_text()) for p in sorted((ROOT / "reports/debias/v3").glob("*.json"))}


def remedy_summary() -> str:
    """README's sentence on the remedy: per world-v3 pair, the prior metrics' and mIoU's paired differences and
    how many of the rule's criteria were met."""
    pairs = _v3_pairs()
    if not pairs:
        return "No same-architecture pair has been measured on world v3 yet."
    parts = []
    for pair in pairs.values():
        treated = pair.get("treated_label", pair["treated"])
        cells = ", ".join(f"`{m}` {pair['paired'][m]['mean']:+.3f} [{pair['paired'][m]['ci_low']:+.3f}, "
                          f"{pair['paired'][m]['ci_high']:+.3f}]"
                          for m in ("prior_coverage", "silent_object_coverage", "prior_slope", "miou"))
        met = sum(c["met"] for c in pair["criteria"])
        parts.append(f"{treated} minus {pair['control']} {cells} ({met} of {len(pair['criteria'])} criteria met)")
    prior = ("prior_coverage", "silent_object_coverage", "prior_slope")
    lowered = [pair.get("treated_label", pair["treated"]) for pair in pairs.values()
               if any(pair["paired"][m]["ci_high"] < 0 for m in prior)]
    raised = [(pair.get("treated_label", pair["treated"]),
               [f"`{m}`, lower end {pair['paired'][m]['ci_low']:+.4f}" for m in prior if pair["paired"][m]["ci_low"] > 0])
              for pair in pairs.values()]
    raised = [(t, ms) for t, ms in raised if ms]
    verdict = ("In no pair does the strategy lower an in-distribution prior metric beyond what the seeds allow."
               if not lowered else "A prior metric is lowered beyond what the seeds allow for: " + ", ".join(lowered) + ".")
    if raised:
        verdict += " Raised beyond what the seeds allow: " + "; ".join(
            f"{t} ({'; '.join(ms)})" for t, ms in raised) + "."
    return ("*The remedy, same architecture, world v3* (five training seeds per arm, 200 test clips, criteria fixed "
            "before the runs; mean paired difference over seeds [seed-level 95 % interval]): " + "; ".join(parts)
            + ". " + verdict + " Details: [docs/reference-model.md](docs/reference-model.md).")


BLOCKS = {
    "debias-v3-results": lambda: debias_v3_block(),
    "remedy-summary": lambda: remedy_summary(),
    "demo-results": lambda: demo_block(json.loads((ROOT / "reports/biaslab/report.json").read_text())),
    "debias-results": lambda: debias_block((ROOT / "reports/debias/seeds.md").read_text(),
                                           json.loads((ROOT / "reports/debias/seeds.json").read_text())),
    "bias-metrics": lambda: _catalog_table(),
    "worldv3-results": lambda: worldv3_block(json.loads((ROOT / "reports/worldv3/must-show.json").read_text())),
    "cli-reference": lambda: cli_reference(),
    "benchmarks": lambda: benchmarks_table(),
    "records-schema": lambda: records_table(),
    "robustness-results": lambda: robustness_block(json.loads((ROOT / "reports/biaslab/report.json").read_text())),
}


def robustness_block(report: dict) -> str:
    """What the demo's robustness runs show: per reference model, the relative mIoU change under audio and visual
    corruption (over every family and severity), and the family each model loses most to."""
    runs = {r["model"]: r for r in report["runs"] if r["model"].endswith("(robustness)")}
    if not runs:
        return "The demo report has no robustness runs yet."

    def cell(m: dict) -> str:
        return f"{m['value']:+.1%} [{m['ci_low']:+.1%}, {m['ci_high']:+.1%}]"

    parts, worst = [], []
    for label, run in runs.items():
        model = label.removesuffix(" (robustness)")
        parts.append(f"{model} {cell(run['metrics']['audio_corruption_change'])} under audio corruption and "
                     f"{cell(run['metrics']['visual_corruption_change'])} under visual corruption")
        families = {**run["groups"].get("change_by_audio_corruption", {}),
                    **run["groups"].get("change_by_visual_corruption", {})}
        name, value = min(((n, v) for n, v in families.items() if v["value"] is not None), key=lambda nv: nv[1]["value"])
        worst.append(f"{model} {name.replace('_', ' ')} ({value['value']:+.1%})")
    clips = next(iter(runs.values()))["clips_evaluated"]
    return (f"*Robustness* (graded corruptions, five severities per family, {clips} test clips; the relative change of "
            f"mIoU over every family and severity, with its clip-bootstrap interval): " + "; ".join(parts) + ". "
            "The family each model loses most to: " + ", ".join(worst) + ". Per family and severity: the report's "
            "`robustness_curves` figure and its `change by ... corruption` tables.")


def records_table() -> str:
    """Every records column with its type, the rows that carry it, the format that added it and its meaning."""
    from avsprobe.records import RECORDS_FORMAT, SCHEMA

    lines = [f"Records format {RECORDS_FORMAT}.", "", "| column | type | rows | since | meaning |",
             "|---|---|---|---|---|"]
    lines += [f"| `{c.name}` | {c.kind} | {c.rows} | {c.since} | {c.meaning.replace('|', '/')} |" for c in SCHEMA]
    return "\n".join(lines)


def documents() -> list[Path]:
    """The files that hold generated blocks: the README and the docs pages."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def cli_reference() -> str:
    """Each command (subcommands too) with its usage line, first help paragraph and options, from the CLI."""
    import typer

    from avsprobe.cli.app import app

    def walk(command, path: list[str]) -> list[str]:  # noqa: ANN001 - typer's own (vendored) click command
        out = []
        group = hasattr(command, "list_commands")
        try:  # typer >= 0.20 carries its own click
            from typer._click.core import Context as context
        except ImportError:
            from click import Context as context
        if not group or len(path) > 1:
            ctx = context(command, info_name=" ".join(path))
            usage = " ".join(command.collect_usage_pieces(ctx))
            help_text = (command.help or "").strip().split("\n\n")[0].replace("\n", " ")
            out += [f"### `{' '.join(path)}`", "", f"`{' '.join(path)} {usage}`".rstrip(), "", help_text, ""]
            rows = []
            for param in command.params:
                if param.param_type_name == "option" and not param.hidden:
                    names = ", ".join(f"`{o}`" for o in param.opts + param.secondary_opts)
                    rows.append(f"| {names} | {(param.help or '').replace('|', '/')} |")
            if rows:
                out += ["| option | meaning |", "|---|---|", *rows, ""]
        if group:
            ctx = context(command)
            for name in sorted(command.list_commands(ctx)):
                out += walk(command.get_command(ctx, name), [*path, name])
        return out

    return "\n".join(walk(typer.main.get_command(app), ["avsprobe"])).rstrip()


def benchmarks_table() -> str:
    """The benchmark entries of ``benchmarks/results.toml`` as one table, each with its date and machine."""
    import tomllib

    entries = tomllib.loads((ROOT / "benchmarks" / "results.toml").read_text())["benchmark"]
    lines = ["| benchmark | command | measured | target | date | machine |", "|---|---|---|---|---|---|"]
    lines += [f"| {e['what']} | `{e['command']}` | {e['measured']} | {e['target']} | {e['date']} | {e['machine']} |"
              for e in entries]
    return "\n".join(lines)


def _catalog_table() -> str:
    from avsprobe.metrics.catalog import markdown_table

    return markdown_table()


def replace_block(readme: str, name: str, text: str) -> str:
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    head, rest = readme.split(start, 1)
    _, tail = rest.split(end, 1)
    return f"{head}{start}\n{text}\n{end}{tail}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true")
    parser.add_argument("--block", choices=list(BLOCKS), action="append", help="only these blocks (default: all)")
    args = parser.parse_args()
    generated = {name: BLOCKS[name]() for name in args.block or list(BLOCKS)}
    stale = []
    for path in documents():
        text = path.read_text()
        updated = text
        for name, block in generated.items():
            if f"<!-- {name}:start -->" in updated:
                updated = replace_block(updated, name, block)
        if updated != text:
            stale.append(path.relative_to(ROOT))
            if not args.check:
                path.write_text(updated)
    if args.check and stale:
        print(f"generated blocks differ in {', '.join(map(str, stale))}; run python scripts/readme_results.py")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
