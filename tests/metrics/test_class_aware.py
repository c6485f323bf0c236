"""Semantic models: AVSS scores from the runner's records against the reference loops, and the class-aware
bias metrics on known-answer semantic adapters."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from avsprobe.adapters import resolve_model
from avsprobe.adapters.base import InputSpec, ModelAdapter
from avsprobe.data.palette import AVSS_CLASSES
from avsprobe.data.source import open_data
from avsprobe.metrics import class_aware
from avsprobe.probes.suite import ProbeSuite
from avsprobe.results import load_records
from avsprobe.runner import run_suite
from tests.conftest import built_world
from tests.metrics.reference_impl import ref_avss


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return built_world(tmp_path_factory, "semantic", 60)


def _random_logits(sample_id: str, t: int, h: int, w: int) -> torch.Tensor:
    """Class logits of a sample, the same under every condition: low-resolution noise, upsampled, with
    the bias lab's classes favoured so the prediction is not all background."""
    seed = int.from_bytes(sample_id.encode()[-8:].rjust(8, b"\0"), "little") % 2**32
    g = torch.Generator().manual_seed(seed)
    coarse = torch.randn(t, len(AVSS_CLASSES), 4, 4, generator=g)
    for name in ("piano", "guitar", "drum", "car", "dog", "man", "bird", "bell"):
        coarse[:, AVSS_CLASSES.index(name)] += 1.5
    return torch.nn.functional.interpolate(coarse, size=(h, w), mode="bilinear", align_corners=False)


class RandomSemantic(ModelAdapter):
    """A deterministic semantic model: noise class logits per sample (independent of the audio)."""

    name = "random-semantic"

    def __init__(self) -> None:
        super().__init__()
        self.input_spec = InputSpec(output="semantic")

    def predict(self, batch):  # noqa: ANN001, ANN201
        _, t, _, h, w = batch.frames.shape
        return torch.stack([_random_logits(s, t, h, w) for s in batch.sample_ids])


def test_semantic_scores_equal_the_reference_loops(world: Path, tmp_path: Path) -> None:
    source = open_data(world)
    run_suite(RandomSemantic(), ProbeSuite.single("intensity"), source, tmp_path / "r", limit=6)
    records = load_records(tmp_path / "r")
    assert records[records.status == "ok"].sem_intersection.notna().all()
    scores = class_aware.semantic_scores(records)
    preds, labels = [], []
    for sample_id in sorted(set(records.sample_id)):
        sample = source.reader.read(sample_id)  # type: ignore[attr-defined]
        t, h, w = sample.mask.shape
        preds.append(_random_logits(sample_id, t, h, w))
        labels.append(torch.from_numpy(sample.semantic_mask.astype(np.int64)))
    miou, fscore = ref_avss(torch.cat(preds), torch.cat(labels))
    assert scores["miou_avss"].value == pytest.approx(miou, abs=1e-6)
    assert scores["fscore_avss"].value == pytest.approx(fscore, abs=1e-6)
    for v in scores.values():
        assert v.ci_low <= v.value <= v.ci_high and v.n_clips == 6
    # the foreground (argmax not background) feeds every binary metric
    first = records[(records.status == "ok") & records.is_baseline].iloc[0]
    sample = source.reader.read(first.sample_id)  # type: ignore[attr-defined]
    t, h, w = sample.mask.shape
    fg = torch.softmax(_random_logits(first.sample_id, t, h, w), dim=1).argmax(dim=1)[first.frame] != 0
    assert first.pred_area == int(fg.sum())


def test_known_answer_semantic_models(world: Path, tmp_path: Path) -> None:
    source = open_data(world, split="train")  # more clips with silent objects: swaps and off-screen partners
    suite = ProbeSuite.of(["negative", "swap", "semantic"])
    runs = {}
    for name in ("semantic-oracle", "piano-everywhere"):
        run_suite(resolve_model(name), suite, source, tmp_path / name, limit=12)
        runs[name] = load_records(tmp_path / name)
    classes = list(AVSS_CLASSES)
    oracle, piano = runs["semantic-oracle"], runs["piano-everywhere"]
    assert class_aware.semantic_scores(oracle)["miou_avss_present"].value == 1.0
    assert class_aware.class_follow_rate(oracle, classes).value == 1.0
    assert class_aware.offscreen_class_paint(oracle, classes).value == 0.0  # it paints nothing under negatives
    accuracy = class_aware.semantic_class_accuracy(oracle, classes)
    assert accuracy and all(v.value == 1.0 for v in accuracy.values())
    accuracy = class_aware.semantic_class_accuracy(piano, classes)
    assert accuracy["piano"].value == 1.0 and all(v.value == 0.0 for k, v in accuracy.items() if k != "piano")
    # piano everywhere follows a swap exactly when the swapped-in sound is a piano; off-screen likewise
    swaps = piano[(piano.probe == "swap") & ~piano.is_baseline & (piano.status == "ok") & piano.annotated]
    expected = swaps.assign(f=[float(json.loads(a)["partner_class"] == "piano") for a in swaps.applied])
    assert class_aware.class_follow_rate(piano, classes).value == pytest.approx(
        expected.groupby("sample_id").f.mean().mean(), abs=1e-12)
    offscreen = piano[(piano.condition_label == "offscreen") & (piano.status == "ok") & piano.annotated]
    per_clip = offscreen.drop_duplicates("sample_id")
    expected_paint = np.mean([json.loads(a)["partner_class"] == "piano" for a in per_clip.applied])
    assert class_aware.offscreen_class_paint(piano, classes).value == pytest.approx(expected_paint, abs=1e-12)
    assert len(per_clip) > 0 and len(swaps) > 0


def _permuted_copy(world: Path, out: Path) -> tuple[str, ...]:
    """``world`` copied to ``out`` with another ``label2idx.json`` order (background first, the other 70 classes
    reversed) and every colour mask repainted to match: the same content under other label ids."""
    import shutil

    from PIL import Image

    from avsprobe.data.avsbench.decode import read_palette_mask
    from avsprobe.data.palette import avss_palette

    shutil.copytree(world, out)
    order = (AVSS_CLASSES[0], *reversed(AVSS_CLASSES[1:]))
    new_id = np.array([order.index(name) for name in AVSS_CLASSES])
    (out / "label2idx.json").write_text(json.dumps({c: i + 1 for i, c in enumerate(order)}))
    for png in sorted(out.rglob("labels_rgb/*.png")):
        ids = read_palette_mask(png, avss_palette())
        Image.fromarray(avss_palette()[new_id[ids]]).save(png)
    return order


def test_a_trees_label_order_does_not_change_semantic_scores(world: Path, tmp_path: Path) -> None:
    """Semantic scoring maps the expected classes to the model's channels by name, in the tree's own order:
    the same clips under a permuted ``label2idx.json`` score the same (before, a correct model scored 0.111)."""
    permuted = tmp_path / "permuted"
    _permuted_copy(world, permuted)
    suite = ProbeSuite.of(["intensity", "swap"])
    scores = {}
    for tree in (world, permuted):
        for adapter in (resolve_model("semantic-oracle"), RandomSemantic()):
            out = tmp_path / f"{tree.name}-{adapter.name}"
            run_suite(adapter, suite, open_data(tree), out, limit=4)
            records = load_records(out)
            scores[tree.name, adapter.name] = (
                {k: v.value for k, v in class_aware.semantic_scores(records).items()},
                np.stack(records[records.status == "ok"].sem_intersection.to_numpy()))
    assert scores["w", "semantic-oracle"][0]["miou_avss_present"] == 1.0
    assert scores["permuted", "semantic-oracle"][0]["miou_avss_present"] == 1.0
    assert scores["w", "random-semantic"][0] == scores["permuted", "random-semantic"][0]
    assert np.array_equal(scores["w", "random-semantic"][1], scores["permuted", "random-semantic"][1])


def test_an_avss_export_keeps_class_names_under_a_permuted_label_order(world: Path, tmp_path: Path) -> None:
    from avsprobe.data.avsbench import AVSSReader
    from avsprobe.probes.export import export_probe_set, exported_name

    permuted = tmp_path / "permuted"
    order = _permuted_copy(world, permuted)
    reader = AVSSReader(permuted, "test")
    suite = ProbeSuite.of(["intensity", "swap"])
    probes = suite.build(bank=None)
    export_probe_set(tmp_path / "export", reader, probes, suite, "avss", limit=3)
    back = AVSSReader(tmp_path / "export", "test")
    checked = 0
    for sample_id in reader.sample_ids()[:3]:
        sample = reader.read(sample_id)
        for probe in probes:
            for condition in probe.conditions():
                try:
                    probed = probe.apply(sample, condition, suite.rng(sample_id, condition))
                except Exception:  # noqa: BLE001 - a condition that does not apply was not exported
                    continue
                exported = back.read(exported_name(sample_id, condition.condition_id))
                names_back = np.array(back.class_list.names)[exported.semantic_mask]
                names_here = np.array(order)[probed.expected_labels]
                assert np.array_equal(names_back, names_here), (sample_id, condition.condition_id)
                checked += 1
    assert checked > 5
