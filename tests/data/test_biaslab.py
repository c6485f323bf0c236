"""The synthetic bias lab: determinism, planted statistics, learnability, layout and the reader."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from avsprobe.data.biaslab.reader import BiasLabWorld
from avsprobe.data.biaslab.spec import load_world_spec
from avsprobe.data.biaslab.world import (
    build_world,
    default_world_dir,
    ensure_default_world,
    plan_clip,
    plan_statistics,
    plan_world,
    render_clip,
    split_counts,
)
from avsprobe.data.palette import avss_class_index, avss_palette
from avsprobe.errors import ConfigError, DataError

SPEC = load_world_spec()


def tree_hashes(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def small_world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("world") / "w"
    build_world(root, clips=12, workers=2)
    return root


def test_same_seed_same_bytes_whatever_the_worker_count(small_world: Path, tmp_path: Path) -> None:
    again = tmp_path / "again"
    build_world(again, clips=12, workers=1)
    first, second = tree_hashes(small_world), tree_hashes(again)
    assert len(first) > 12 * 15  # frames, masks, sources, audio, json for every clip
    assert first == second


def test_another_seed_changes_the_world(tmp_path: Path, small_world: Path) -> None:
    other = tmp_path / "other"
    build_world(other, clips=12, seed=1, workers=1)
    a, b = tree_hashes(small_world), tree_hashes(other)
    assert a["biaslab/train_00000/audio.wav"] != b["biaslab/train_00000/audio.wav"]


def test_a_clip_plan_depends_only_on_seed_split_and_index() -> None:
    assert plan_clip(SPEC, 0, "train", 17) == plan_world(SPEC, 0, {"train": 20})[17]
    assert plan_clip(SPEC, 0, "train", 17) != plan_clip(SPEC, 0, "val", 17)


def test_train_sounding_frequency_matches_the_spec_on_1000_clips() -> None:
    counts = split_counts(SPEC, 1000)
    assert sum(counts.values()) == 1000
    stats = plan_statistics(SPEC, plan_world(SPEC, SPEC.seed, counts))
    for cls in SPEC.classes:
        measured = stats["train"][cls.name]["sounding_frequency"]
        assert abs(measured - cls.sounding_probability) <= 0.05, (cls.name, measured)
        assert abs(stats["train"][cls.name]["mean_loudness_lufs"] - cls.loudness_mean_lufs) <= 1.0
        # the balanced test split: every class sounds about half the time
        assert abs(stats["test"][cls.name]["sounding_frequency"] - 0.5) <= 0.2


def test_world_json_records_the_measured_statistics(small_world: Path) -> None:
    world = json.loads((small_world / "world.json").read_text())
    assert world["seed"] == SPEC.seed and world["splits"] == split_counts(SPEC, 12)
    plans = plan_world(SPEC, SPEC.seed, world["splits"])
    planned = plan_statistics(SPEC, plans)
    for split in ("train", "val", "test"):
        for cls in SPEC.class_names:
            assert world["statistics"][split][cls]["sounding"] == planned[split][cls]["sounding"]
            assert world["statistics"][split][cls]["occurrence"] == planned[split][cls]["occurrence"]


def test_layout_and_labels(small_world: Path) -> None:
    meta = (small_world / "metadata.csv").read_text().splitlines()
    assert meta[0] == "vid,uid,s_min,s_sec,a_obj,split,label"
    assert len(meta) == 13
    label2idx = json.loads((small_world / "label2idx.json").read_text())
    assert len(label2idx) == 71 and label2idx["background"] == 1 and label2idx["piano"] == 48
    reader = BiasLabWorld(small_world)
    palette = avss_palette()
    for uid in reader.uids():
        folder = reader.clip_dir(uid)
        objects = json.loads((folder / "objects.json").read_text())["objects"]
        for t in range(SPEC.frames_per_clip):
            rgb = np.asarray(Image.open(folder / "labels_rgb" / f"{t}.png"))
            inst = np.asarray(Image.open(folder / "instances" / f"{t}.png"))
            assert rgb.shape == (128, 128, 3) and inst.dtype == np.uint8
            for o in objects:
                colour = palette[avss_class_index(o["class_name"])] if o["is_sounding"] else np.zeros(3)
                assert (rgb[inst == o["instance_value"]] == colour).all()
            assert (rgb[inst == 0] == 0).all()
        for o in objects:
            assert (folder / o["source"]).is_file()
            assert min(o["area_frac"]) > 0.005


def test_reader_round_trip_equals_rendering(small_world: Path) -> None:
    reader = BiasLabWorld(small_world)
    uid = reader.uids("test")[0]
    sample = reader.read(uid)
    plan = plan_clip(SPEC, SPEC.seed, "test", 0)
    rendered = render_clip(SPEC, plan)
    assert sample.sample_id == uid == plan.uid
    assert np.array_equal(sample.frames, rendered.frames)
    for k, obj in enumerate(sample.objects):
        assert np.array_equal(obj.mask, rendered.instances == k + 1)
        assert obj.is_sounding == plan.objects[k].is_sounding
        assert obj.loudness_lufs == pytest.approx(plan.objects[k].target_loudness_lufs, abs=0.1)
    expected_mask = np.isin(rendered.instances, [k + 1 for k, o in enumerate(plan.objects) if o.is_sounding])
    assert np.array_equal(sample.mask, expected_mask)
    # 16-bit PCM on disk: the audio read back is the rendered mixture to within one quantisation step
    assert np.abs(sample.audio - rendered.mixture).max() <= 1 / 32767 + 1e-7


def test_sources_are_at_their_loudness(small_world: Path) -> None:
    from avsprobe.audio import load_audio, measure_loudness

    reader = BiasLabWorld(small_world)
    for uid in reader.uids()[:4]:
        for obj in reader.read(uid).objects:
            measured = measure_loudness(load_audio(obj.source_path).audio).value
            assert measured == pytest.approx(obj.loudness_lufs, abs=0.1)


def test_existing_output_is_refused_and_nothing_half_written(small_world: Path) -> None:
    before = tree_hashes(small_world)
    with pytest.raises(DataError, match="already exists"):
        build_world(small_world, clips=3)
    assert tree_hashes(small_world) == before
    assert not [p for p in small_world.parent.iterdir() if ".building-" in p.name]


def test_default_world_is_cached_and_built_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tiny = dataclasses.replace(SPEC, split_clips={"train": 2, "val": 1, "test": 1})
    monkeypatch.setenv("AVSPROBE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr("avsprobe.data.biaslab.world.load_world_spec", lambda path=None: tiny)
    path = ensure_default_world()
    assert path == default_world_dir(tiny) and path.parent == tmp_path / "cache"
    stamp = (path / "world.json").stat().st_mtime_ns
    assert ensure_default_world() == path
    assert (path / "world.json").stat().st_mtime_ns == stamp
    assert len(BiasLabWorld(path).uids()) == 4


def test_spec_errors_name_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[world\n")
    with pytest.raises(ConfigError, match="bad.toml is not valid TOML"):
        load_world_spec(bad)
    text = (Path(__file__).parents[2] / "probes/worlds/biaslab.toml").read_text()
    wrong = tmp_path / "wrong.toml"
    wrong.write_text(text.replace("sounding_probability = 0.78", "sounding_probability = 1.5"))
    with pytest.raises(ConfigError, match="piano.sounding_probability"):
        load_world_spec(wrong)
    with pytest.raises(ConfigError, match="not found"):
        load_world_spec(tmp_path / "missing.toml")


def test_world_v3_bed_only_clips_and_their_posterior(tmp_path: Path) -> None:
    """ambiguous_fraction: that share of train/val clips carries only its bed (labels kept), test none; world.json's
    posterior_bed equals a recount from the written objects.json files; with the fraction at 0 nothing changes."""
    from avsprobe.audio.io import load_audio
    from avsprobe.audio.loudness import measure_loudness
    from avsprobe.data.biaslab.world import plan_world, posterior_bed, split_counts

    spec = dataclasses.replace(load_world_spec(), ambiguous_fraction=0.4)
    plans = plan_world(spec, 0, split_counts(spec, 1000))
    share = np.mean([p.bed_only for p in plans if p.split != "test"])
    assert abs(share - 0.4) < 0.05 and not any(p.bed_only for p in plans if p.split == "test")
    v2 = plan_world(dataclasses.replace(spec, ambiguous_fraction=0.0), 0, split_counts(spec, 1000))
    assert [dataclasses.replace(p, bed_only=False) for p in plans] == v2  # every other draw unchanged
    post = posterior_bed(spec, plans)
    assert post["piano"] > post["bell"]  # the planted prior: pianos usually sound, bells rarely

    world = build_world(tmp_path / "w3", spec=spec, clips=40, workers=2)
    heard: dict[str, int] = {}
    seen: dict[str, int] = {}
    bed_only = 0
    for objects_file in sorted((tmp_path / "w3" / "biaslab").glob("train_*/objects.json")):
        content = json.loads(objects_file.read_text())
        quiet = content["mixture"].get("bed_only", False)
        bed_only += quiet
        if quiet:  # the mixture is the -60 LUFS bed alone
            audio = load_audio(objects_file.parent / "audio.wav").audio
            assert measure_loudness(audio).value == pytest.approx(-60.0, abs=0.5)
        if quiet or not any(o["is_sounding"] for o in content["objects"]):
            for o in content["objects"]:
                seen[o["class_name"]] = seen.get(o["class_name"], 0) + 1
                heard[o["class_name"]] = heard.get(o["class_name"], 0) + int(o["is_sounding"])
    assert bed_only == world["bed_only_clips"]["train"] > 0
    for cls, value in world["posterior_bed"].items():
        if cls in seen:
            assert value == pytest.approx(heard[cls] / seen[cls], abs=1e-6), cls
        else:
            assert np.isnan(value)
    assert json.loads((tmp_path / "w3" / "world.json").read_text())["spec"]["ambiguous_fraction"] == 0.4


def test_world_v2_has_no_bed_only_clips(tmp_path: Path) -> None:
    spec = dataclasses.replace(load_world_spec(), ambiguous_fraction=0.0, version=2)
    world = build_world(tmp_path / "v2", spec=spec, clips=6, workers=1)
    assert "posterior_bed" not in world and "ambiguous_fraction" not in world["spec"]


def test_the_default_world_is_v3() -> None:
    """The default bias lab carries the ambiguous share chosen on val (reports/worldv3/selection.md)."""
    spec = load_world_spec()
    assert spec.version == 3 and spec.ambiguous_fraction == pytest.approx(0.30)
