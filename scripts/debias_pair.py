"""Issue 29: one same-architecture pair (a model with the debias strategy against its own control), five seeds
on the bias lab's balanced test split, judged by the criteria of a rule committed before the runs.

Runs the ``debias`` suite (intensity, negative audio, two-level mixes) over every test clip of the default
world for ``CONTROL`` from ``CONTROL_CHECKPOINTS/{control}-s{seed}`` and ``TREATED`` from
``TREATED_CHECKPOINTS/{treated}-s{seed}`` (a run is made once: a rerun only re-reads it). Per seed and metric it
takes the paired difference treated - control, and over seeds its mean with a seed-level 95 % t-interval;
silent-object coverage is also compared at matched recall (the two runs of a seed matched as the report
does). Writes ``OUT/{name}.md`` and ``OUT/{name}.json``.

``--treated-opt KEY=VALUE`` (repeatable) sets an inference option of the treated model (``contrast_on=...``);
``--treated-label`` then names its runs and its column. ``--split val --seeds 0 1 2`` makes the val comparison a
rule chooses on; ``--limit N`` keeps the first N clips (the committed small comparison a test regenerates).

    python scripts/debias_pair.py --control vanilla --control-checkpoints checkpoints/worldv3 \\
        --treated vanilla-debias --treated-checkpoints checkpoints/worldv3 --runs RUNS --out reports/debias/v3 \\
        --name vanilla-pair
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np

from avsprobe.adapters import resolve_model
from avsprobe.data.source import open_data
from avsprobe.fileio import atomic_write_text
from avsprobe.metrics.stats import seed_interval
from avsprobe.metrics.threshold_free import matched_recall, operating_curve
from avsprobe.probes.suite import load_suite
from avsprobe.report.compute import RunResult, compute_metrics, load_run
from avsprobe.runner import run_models

SEEDS = (0, 1, 2, 3, 4)
METRICS = ("silent_object_coverage", "prior_coverage", "prior_slope", "miou", "intensity_gap", "dominance",
           "sounding_auroc", "silence_coverage")
REDUCED = ("silent_object_coverage", "prior_coverage", "prior_slope")  # criterion 1: at least 50 % lower
NOT_WORSE = ("intensity_gap", "dominance")  # criterion 4: higher is worse for both
MATCHED_MARGIN = 0.05
MIOU_LOSS = 0.02
NOT_WORSE_MARGIN = 0.03


def _interval(d: dict, digits: int = 3) -> str:
    """``mean [low, high]`` of one paired difference, signed."""
    return f"{d['mean']:+.{digits}f} [{d['ci_low']:+.{digits}f}, {d['ci_high']:+.{digits}f}]"


def _load_finished(folder: Path) -> RunResult | None:
    """The run in ``folder`` when it is whole; None when missing or stopped half-way (it has its run.json then,
    and is resumed, not read)."""
    if not (folder / "run.json").is_file():
        return None
    run = load_run(folder)
    return run if run.incomplete is None else None


def _options(pairs: list[str]) -> dict[str, str]:
    """``KEY=VALUE`` strings as a dict (a bad one stops the script naming it)."""
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise SystemExit(f"--treated-opt {pair!r}: use KEY=VALUE")
        out[key] = value
    return out


def _training_unfinished(folder: Path) -> str | None:
    """Why the checkpoint in ``folder`` is not a finished training (fewer epochs in its record than its settings
    ask for), or None."""
    try:
        training = json.loads((folder / "config.json").read_text())["training"]
        done, planned = len(training["history"]), int(training["settings"]["epochs"])
    except (OSError, ValueError, KeyError, TypeError):
        return None  # not a training record this script can read: the adapter reports what is wrong
    return f"{folder} has {done} of {planned} epochs" if done < planned else None


def _runs(args: argparse.Namespace) -> dict[str, dict[int, RunResult]]:
    """The loaded runs per arm and seed; those whose checkpoint exists and that are not whole are made now."""
    seeds = args.seeds
    arms = {"control": (args.control, args.control, args.control_checkpoints, {}),
            "treated": (args.treated, args.treated_label or args.treated, args.treated_checkpoints,
                        _options(args.treated_opt))}
    folders = {arm: {s: args.runs / f"{label}-s{s}" for s in seeds} for arm, (_, label, _, _) in arms.items()}
    runs = {arm: {s: _load_finished(d) for s, d in per_seed.items()} for arm, per_seed in folders.items()}
    todo = [(model, root / f"{model}-s{s}", opts, arm, s) for arm, (model, _, root, opts) in arms.items() for s in seeds
            if runs[arm][s] is None and (root / f"{model}-s{s}").is_dir()]
    unfinished = [m for m in (_training_unfinished(checkpoint) for _, checkpoint, *_ in todo) if m]
    if unfinished:  # a training still running has a best-so-far checkpoint that would be measured as if final
        raise SystemExit(f"{len(unfinished)} checkpoints are still training: {'; '.join(unfinished)}")
    if todo:
        adapters = [resolve_model(model, {"checkpoint": str(checkpoint), **opts}) for model, checkpoint, opts, _, _ in todo]
        run_models(adapters, load_suite("debias"), open_data(None, split=args.split),
                   [folders[arm][s] for *_, arm, s in todo], threads=args.threads, workers=0, limit=args.limit)
        for *_, arm, s in todo:
            runs[arm][s] = _load_finished(folders[arm][s])
    missing = [str(folders[arm][s]) for arm, per_seed in runs.items() for s, run in per_seed.items() if run is None]
    if missing:
        raise SystemExit(f"{len(missing)} runs have no checkpoint yet (first {missing[0]}); train them first")
    return runs  # type: ignore[return-value]


def _criteria(diff: dict[str, dict], values: dict[str, dict[str, list[float]]], matched: list[float]) -> list[dict]:
    """The rule's four criteria: ``{criterion, met, numbers}``."""
    out = []
    for m in REDUCED:
        control, treated = np.mean(values["control"][m]), np.mean(values["treated"][m])
        relative = treated / control - 1 if control else math.nan
        d = diff[m]
        met = relative <= -0.5 and d["ci_high"] < 0
        out.append({"criterion": f"{m}: treated at least 50 % below control, seed-level interval of the paired "
                                 "difference below 0", "met": bool(met),
                    "numbers": f"{control:.3f} -> {treated:.3f} ({relative:+.0%}); paired {_interval(d)}"})
    gap = float(np.mean(matched))
    out.append({"criterion": f"silent-object coverage at matched recall lower than control's by >= {MATCHED_MARGIN}",
                "met": bool(gap >= MATCHED_MARGIN),
                "numbers": f"control - treated per seed {', '.join(f'{g:+.3f}' for g in matched)}; mean {gap:+.3f}"})
    d = diff["miou"]
    out.append({"criterion": f"mIoU loss <= {MIOU_LOSS * 100:.0f} points (lower end of the seed-level interval)",
                "met": bool(d["ci_low"] >= -MIOU_LOSS),
                "numbers": f"paired {_interval(d, 4)}"})
    for m in NOT_WORSE:
        d = diff[m]
        out.append({"criterion": f"{m} not worse by more than {NOT_WORSE_MARGIN}", "met": bool(d["mean"] <= NOT_WORSE_MARGIN),
                    "numbers": f"paired {_interval(d)}"})
    return out


def _count(n: int) -> str:
    return {2: "two", 3: "three", 4: "four", 5: "five"}.get(n, str(n))


def _what_follows(treated: str, control: str, diff: dict[str, dict], matched: list[float], num_seeds: int) -> str:
    """Which paired differences the seeds resolve (interval excluding 0) and which they do not, from the numbers."""
    def cell(m: str) -> str:
        return f"`{m}` {_interval(diff[m])}"

    resolved = [m for m in METRICS if diff[m]["ci_low"] > 0 or diff[m]["ci_high"] < 0]
    open_ = [m for m in METRICS if m not in resolved]
    text = (f"**What follows.** {treated} minus {control}, seed-level 95 % intervals. Resolved by {_count(num_seeds)} seeds: "
            + (", ".join(cell(m) for m in resolved) if resolved else "none")
            + ". Not resolved (the interval includes 0): " + (", ".join(cell(m) for m in open_) if open_ else "none")
            + f". At matched recall the mean difference in silent-object coverage is {np.mean(matched):+.3f}.")
    prior = [m for m in REDUCED if m in open_]
    if len(prior) == len(REDUCED):
        text += (" The strategy does not lower this architecture's in-distribution prior measurably: none of "
                 + ", ".join(f"`{m}`" for m in REDUCED) + " moves beyond what the seeds allow.")
    return text


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--control", required=True)
    parser.add_argument("--control-checkpoints", type=Path, required=True)
    parser.add_argument("--treated", required=True)
    parser.add_argument("--treated-checkpoints", type=Path, required=True)
    parser.add_argument("--runs", type=Path, required=True)
    parser.add_argument("--out", type=Path, default=Path("reports/debias/v3"))
    parser.add_argument("--name", required=True)
    parser.add_argument("--rule", default=None, help="the rule file the criteria come from (named in the report)")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--treated-opt", action="append", default=[], metavar="KEY=VALUE",
                        help="an inference option of the treated model (repeatable)")
    parser.add_argument("--treated-label", default=None, help="names the treated arm's runs and column")
    parser.add_argument("--split", default="test", choices=("val", "test"))
    parser.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS))
    parser.add_argument("--limit", type=int, default=None, help="the first N clips only")
    args = parser.parse_args(argv)
    loaded = _runs(args)
    values: dict[str, dict[str, list[float]]] = {arm: {m: [] for m in METRICS} for arm in loaded}
    matched, target_recall = [], []
    seeds = args.seeds
    for s in seeds:
        runs = {arm: loaded[arm][s] for arm in loaded}
        for arm, run in runs.items():
            headline = compute_metrics(run).headline
            for m in METRICS:
                values[arm][m].append(headline[m].value if m in headline else math.nan)
        target, points = matched_recall({arm: operating_curve(run.records) for arm, run in runs.items()})
        at = {p.model: p.silent_at_matched.value for p in points}
        matched.append(at.get("control", math.nan) - at.get("treated", math.nan))
        target_recall.append(target)
    diff = {}
    for m in METRICS:
        per_seed = [t - c for t, c in zip(values["treated"][m], values["control"][m], strict=True)]
        mean, low, high = seed_interval(per_seed)
        diff[m] = {"per_seed": per_seed, "mean": mean, "ci_low": low, "ci_high": high}
    criteria = _criteria(diff, values, matched)
    control, treated = args.control, args.treated_label or args.treated
    extra = (f" --out {args.out}" if args.out != Path("reports/debias/v3") else "") + "".join(
        f" --treated-opt {o}" for o in args.treated_opt) + (
        f" --treated-label {args.treated_label}" if args.treated_label else "") + (
        f" --split {args.split}" if args.split != "test" else "") + (
        f" --seeds {' '.join(map(str, seeds))}" if list(seeds) != list(SEEDS) else "") + (
        f" --limit {args.limit}" if args.limit is not None else "")
    total = len(list(open_data(None, split=args.split).reader.sample_ids()))
    clips = (f"the first {args.limit} of the {total} {args.split} clips" if args.limit is not None and args.limit < total
             else f"all {total} {args.split} clips")
    where = "balanced test split" if args.split == "test" else "val split"
    lines = [f"# {treated} against {control}: {_count(len(seeds))} seeds on world v3, {where}"
             + (f", first {args.limit} clips" if args.limit is not None else ""), "",
             f"Made by `python scripts/debias_pair.py --control {control} --control-checkpoints "
             f"{args.control_checkpoints} --treated {args.treated} --treated-checkpoints {args.treated_checkpoints} "
             "--runs RUNS --name "
             f"{args.name}" + (f" --rule {args.rule}" if args.rule else "") + extra + "` (the `debias` "
             f"suite over {clips} of the default world, one run per seed and arm"
             + (f"; criteria from `{args.rule}`, committed before the runs" if args.rule else "") + ").", "",
             "| metric | " + " | ".join(f"{control} s{s}" for s in seeds) + " | " + " | ".join(
                 f"{treated} s{s}" for s in seeds) + " | paired mean [seed 95 % interval] |",
             "|---|" + "---|" * (2 * len(seeds) + 1)]
    for m in METRICS:
        d = diff[m]
        lines.append(f"| {m} | " + " | ".join(f"{v:.3f}" for v in values["control"][m]) + " | " + " | ".join(
            f"{v:.3f}" for v in values["treated"][m]) + f" | {_interval(d)} |")
    lines += ["", "`silence_coverage` (digital silence) is out of distribution and is shown for comparison only; "
                  "`prior_coverage` is under the bed alone, in distribution.", "",
              "At matched recall, per seed (target recall; control minus treated silent-object coverage): "
              + "; ".join(f"s{s} {r:.3f}: {g:+.3f}" for s, r, g in zip(seeds, target_recall, matched, strict=True)) + ".",
              "", "## Criteria", ""]
    lines += [f"- {'met' if c['met'] else 'NOT met'}: {c['criterion']} ({c['numbers']})" for c in criteria]
    met = sum(c["met"] for c in criteria)
    follows = _what_follows(treated, control, diff, matched, len(seeds))
    lines += ["", f"**Outcome.** {met} of {len(criteria)} criteria met.", "", follows]
    atomic_write_text(args.out / f"{args.name}.md", "\n".join(lines) + "\n")
    atomic_write_text(args.out / f"{args.name}.json", json.dumps(
        {"control": control, "treated": args.treated, "seeds": list(seeds),
         **({"treated_label": args.treated_label} if args.treated_label else {}),
         **({"treated_options": _options(args.treated_opt)} if args.treated_opt else {}),
         **({"split": args.split} if args.split != "test" else {}),
         **({"limit": args.limit} if args.limit is not None else {}), "values": values, "paired": diff,
         "matched_recall": {"target": target_recall, "control_minus_treated": matched}, "criteria": criteria,
         "what_follows": follows.removeprefix("**What follows.** ")},
        indent=2) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
