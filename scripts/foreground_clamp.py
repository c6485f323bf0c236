"""Issue 29: what the clamp before the foreground contrast's logit changed (``reports/debias/foreground-clamp.md``).

Runs the bundled ``ours`` with ``contrast_on=foreground`` over the ``negative`` suite on the default bias lab's
test split three times: with the exact logit of each branch's foreground probability (``foreground_logit``, what
the model does now) and with the readout it replaced, ``logit(clamp(p, eps))``, at eps = 1e-6 (the old constant)
and 1e-8. Writes ``OUT/foreground-clamp.md`` and ``.json``.

    python scripts/foreground_clamp.py --runs RUNS --out reports/debias
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path

import torch

from avsprobe.adapters import resolve_model
from avsprobe.data.source import open_data
from avsprobe.fileio import atomic_write_text
from avsprobe.probes.suite import load_suite
from avsprobe.reference import model as reference_model
from avsprobe.report.compute import compute_metrics, load_run
from avsprobe.runner import run_models

METRICS = ("silent_object_coverage", "prior_coverage", "sounding_auroc", "miou")
EXACT = reference_model.foreground_logit


def _clamped(eps: float) -> Callable[..., torch.Tensor]:
    """The replaced readout: the branch's foreground probability clamped to [eps, 1 - eps], then its logit."""
    def readout(mask_logits: torch.Tensor, class_logits: torch.Tensor, active: torch.Tensor) -> torch.Tensor:
        p = reference_model.foreground_probability(mask_logits, class_logits, active)
        return torch.logit(p.clamp(eps, 1 - eps))
    return readout


READOUTS = {"exact logit": EXACT, "clamp 1e-6 (before)": _clamped(1e-6), "clamp 1e-8": _clamped(1e-8)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=Path, required=True)
    parser.add_argument("--out", type=Path, default=Path("reports/debias"))
    args = parser.parse_args()
    values = {}
    for k, (name, readout) in enumerate(READOUTS.items()):
        folder = args.runs / f"readout-{k}"
        if not (folder / "run.json").is_file():  # made once; a rerun only re-reads it
            reference_model.foreground_logit = readout
            try:
                run_models([resolve_model("ours", {"contrast_on": "foreground"})], load_suite("negative"),
                           open_data(None, split="test"), [folder], threads=1, workers=0)
            finally:
                reference_model.foreground_logit = EXACT
        headline = compute_metrics(load_run(folder)).headline
        values[name] = {m: {"value": headline[m].value, "ci_low": headline[m].ci_low, "ci_high": headline[m].ci_high}
                        for m in METRICS}
    exact, before = values["exact logit"], values["clamp 1e-6 (before)"]
    lines = ["# The foreground contrast with and without a clamp before its logit", "",
             "Made by `python scripts/foreground_clamp.py --runs RUNS --out reports/debias`: the bundled `ours` with "
             "`contrast_on=foreground`, the `negative` suite, all 200 balanced test clips of the default world "
             "(clip-bootstrap 95 % intervals).", "",
             "| readout | " + " | ".join(METRICS) + " |", "|---|" + "---|" * len(METRICS)]
    lines += [f"| {name} | " + " | ".join(f"{v[m]['value']:.4f} [{v[m]['ci_low']:.4f}, {v[m]['ci_high']:.4f}]"
                                         for m in METRICS) + " |" for name, v in values.items()]
    shift = {m: before[m]["value"] - exact[m]["value"] for m in METRICS}
    lines += ["", "The old clamp minus the exact logit: " + ", ".join(f"{m} {shift[m]:+.4f}" for m in METRICS)
              + ". A constant that moves the numbers is a parameter of the result; the exact logit has none."]
    atomic_write_text(args.out / "foreground-clamp.md", "\n".join(lines) + "\n")
    atomic_write_text(args.out / "foreground-clamp.json",
                      json.dumps({"by_readout": values, "clamp_minus_exact": shift}, indent=2) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
