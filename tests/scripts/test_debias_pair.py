"""scripts/debias_pair.py: the rule's criteria on hand-made per-seed values."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
from debias_pair import METRICS, _criteria  # noqa: E402

from avsprobe.metrics.stats import seed_interval  # noqa: E402


def _paired(control: dict[str, list[float]], treated: dict[str, list[float]]) -> dict[str, dict]:
    out = {}
    for m in METRICS:
        per_seed = [t - c for t, c in zip(treated[m], control[m], strict=True)]
        mean, low, high = seed_interval(per_seed)
        out[m] = {"per_seed": per_seed, "mean": mean, "ci_low": low, "ci_high": high}
    return out


def _values(**given: list[float]) -> dict[str, list[float]]:
    return {m: given.get(m, [0.5] * 5) for m in METRICS}


def test_every_criterion_met_by_a_clear_remedy() -> None:
    control = _values(silent_object_coverage=[0.30, 0.32, 0.28, 0.31, 0.29], prior_coverage=[0.3, 0.2, 0.2, 0.3, 0.27],
                      prior_slope=[1.3, 0.9, 1.1, 1.3, 1.2], miou=[0.57, 0.61, 0.60, 0.58, 0.57])
    treated = _values(silent_object_coverage=[0.10, 0.12, 0.09, 0.11, 0.10], prior_coverage=[0.1, 0.08, 0.09, 0.1, 0.1],
                      prior_slope=[0.5, 0.3, 0.4, 0.6, 0.5], miou=[0.575, 0.605, 0.60, 0.585, 0.57])
    criteria = _criteria(_paired(control, treated), {"control": control, "treated": treated}, [0.1] * 5)
    assert [c["met"] for c in criteria] == [True] * 7


def test_each_criterion_fails_on_its_own() -> None:
    control = _values(silent_object_coverage=[0.30] * 4 + [0.31], miou=[0.60, 0.61, 0.59, 0.60, 0.60],
                      intensity_gap=[0.20] * 5, dominance=[0.10] * 5)
    # 40 % lower (not 50 %), mIoU 3 points lower, intensity gap 0.05 wider, dominance 0.02 higher (allowed)
    treated = _values(silent_object_coverage=[0.18] * 4 + [0.186], miou=[0.57, 0.58, 0.56, 0.57, 0.57],
                      intensity_gap=[0.25] * 5, dominance=[0.12] * 5)
    criteria = {c["criterion"].split(":")[0].split(" ")[0]: c for c in
                _criteria(_paired(control, treated), {"control": control, "treated": treated}, [0.04] * 5)}
    assert not criteria["silent_object_coverage"]["met"] and "-40%" in criteria["silent_object_coverage"]["numbers"]
    assert not criteria["silent-object"]["met"]  # 0.04 < 0.05 at matched recall
    assert not criteria["mIoU"]["met"]
    assert not criteria["intensity_gap"]["met"] and criteria["dominance"]["met"]
    # prior_coverage and prior_slope unchanged: 0 % lower, interval of a zero difference does not exclude 0
    assert not criteria["prior_coverage"]["met"] and criteria["prior_coverage"]["numbers"].startswith("0.500 -> 0.500")


def test_a_reduction_whose_interval_includes_zero_is_not_met() -> None:
    control = _values(silent_object_coverage=[0.30, 0.02, 0.30, 0.02, 0.30])
    treated = _values(silent_object_coverage=[0.02, 0.30, 0.02, 0.02, 0.02])
    criteria = _criteria(_paired(control, treated), {"control": control, "treated": treated}, [0.1] * 5)
    first = criteria[0]
    assert first["criterion"].startswith("silent_object_coverage")
    assert "-60%" in first["numbers"] and not first["met"]  # 0.188 -> 0.076 (-59.6 %), but the seeds disagree
    assert pytest.approx(-0.112) == float(first["numbers"].split("paired ")[1].split(" ")[0])


ROOT = Path(__file__).resolve().parents[2]
SMALL = ROOT / "reports" / "debias" / "v3" / "small"


def test_the_committed_small_comparison_regenerates_byte_for_byte(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                                                  ) -> None:
    """The shipped seed checkpoints regenerate the committed pair report on a fresh clone (the first clips of the
    test split: the whole comparison takes about 25 min of CPU, the same code path)."""
    from debias_pair import main

    name = "ours-pair-first4"
    # the report names its folders as given, relative to the repository: a scratch root that sees its checkpoints
    (tmp_path / "checkpoints").symlink_to(ROOT / "checkpoints", target_is_directory=True)
    monkeypatch.chdir(tmp_path)
    main(["--control", "ours-nodebias", "--control-checkpoints", "checkpoints/worldv3", "--treated", "ours",
          "--treated-checkpoints", "checkpoints/worldv3", "--runs", str(tmp_path / "runs"), "--out",
          "reports/debias/v3/small", "--name", name, "--limit", "4"])
    for suffix in (".md", ".json"):
        made = tmp_path / "reports" / "debias" / "v3" / "small" / f"{name}{suffix}"
        assert made.read_bytes() == (SMALL / f"{name}{suffix}").read_bytes()


def test_the_prior_branch_rule_gates_on_miou_then_takes_the_lowest_prior() -> None:
    from prior_branch_choice import choose

    def cand(miou: float, prior: float) -> dict[str, dict]:
        return {"miou": {"mean": miou}, "prior_coverage": {"mean": prior}}

    assert choose({"a": cand(-0.01, -0.02), "b": cand(-0.019, -0.05)}) == ("b", True)
    assert choose({"a": cand(-0.01, -0.02), "b": cand(-0.021, -0.20)}) == ("a", True)  # b loses too much mIoU
    assert choose({"a": cand(-0.03, -0.02), "b": cand(-0.05, -0.20)}) == ("a", False)  # none admissible


def test_a_checkpoint_still_training_is_refused_before_any_run(tmp_path: Path) -> None:
    """A training writes its best-so-far checkpoint every epoch: the script must not measure it as the seed's model."""
    import argparse
    import json
    import shutil

    from debias_pair import _runs, _training_unfinished

    for model in ("ours-nodebias", "ours"):
        for seed in (0, 1):
            folder = tmp_path / "ck" / f"{model}-s{seed}"
            shutil.copytree(ROOT / "checkpoints" / "worldv3" / f"{model}-s{seed}", folder)
    record = json.loads((tmp_path / "ck" / "ours-s1" / "config.json").read_text())
    assert _training_unfinished(tmp_path / "ck" / "ours-s1") is None  # a finished training: 14 of 14 epochs
    record["training"]["history"] = record["training"]["history"][:6]
    (tmp_path / "ck" / "ours-s1" / "config.json").write_text(json.dumps(record))
    assert _training_unfinished(tmp_path / "ck" / "ours-s1") == f"{tmp_path / 'ck' / 'ours-s1'} has 6 of 14 epochs"
    args = argparse.Namespace(control="ours-nodebias", control_checkpoints=tmp_path / "ck", treated="ours",
                              treated_checkpoints=tmp_path / "ck", treated_label=None, treated_opt=[], seeds=[0, 1],
                              runs=tmp_path / "runs", split="test", threads=1, limit=1)
    with pytest.raises(SystemExit, match="1 checkpoints are still training: .*ours-s1 has 6 of 14 epochs"):
        _runs(args)
    assert not (tmp_path / "runs").exists()  # nothing was run
