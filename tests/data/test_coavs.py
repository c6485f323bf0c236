"""The Co-AVS builder: balanced level pairs, reproducible hash, scene selection."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from avsprobe.data.audio_bank import AudioBank, BankClip, biaslab_audio_bank
from avsprobe.data.avsbench.readers import AVSSReader
from avsprobe.data.biaslab.world import build_world
from avsprobe.data.coavs import build_coavs, content_hash, find_scenes, level_pair_schedule
from avsprobe.data.palette import avss_class_index, avss_palette
from tests.cli.test_app import run_cli
from tests.data.avsbench_fixtures import build_avss, build_s4


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("coavs-world") / "w"
    build_world(root, clips=80, workers=2)
    return root


def test_level_pair_schedule_is_balanced() -> None:
    levels = [-53.0, -47.0, -41.0, -35.0, -29.0, -23.0]
    schedule = level_pair_schedule(450, levels, seed=0)
    counts = {}
    for pair in schedule:
        counts[pair] = counts.get(pair, 0) + 1
    assert len(counts) == 36 and set(counts.values()) == {12, 13}
    assert schedule == level_pair_schedule(450, levels, seed=0) != level_pair_schedule(450, levels, seed=1)


def test_450_videos_from_the_bias_lab_balanced_and_reproducible(lab: Path, tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "coavs"
    code, stdout, stderr = run_cli(["build-coavs", "--source", str(lab), "--out", str(out)], capsys)
    assert code == 0, stdout + stderr
    info = json.loads((out / "coavs.json").read_text())
    assert info["videos"] == 450 and set(info["level_pair_counts"].values()) == {12, 13}
    assert f"content hash: {info['content_hash']}" in stdout
    assert content_hash(out) == info["content_hash"]
    with open(out / "manifest.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 450
    reader = AVSSReader(out, "test")
    sample = reader.read("coavs_0007")
    row = rows[7]
    assert [o.class_name for o in sample.objects] == [row["class_a"], row["class_b"]]
    for obj, level in zip(sample.objects, (row["level_a"], row["level_b"]), strict=True):
        assert obj.loudness_lufs == pytest.approx(float(level), abs=0.05)
        assert obj.is_sounding and obj.mask.any()
    assert not (sample.objects[0].mask & sample.objects[1].mask).any()
    again = tmp_path / "again"
    code, stdout2, _ = run_cli(["build-coavs", "--source", str(lab), "--out", str(again)], capsys)
    assert code == 0 and f"content hash: {info['content_hash']}" in stdout2


def test_scene_selection_from_avss_needs_two_single_component_classes(tmp_path: Path) -> None:
    build_avss(tmp_path)
    build_s4(tmp_path)
    scenes = find_scenes(AVSSReader(tmp_path, "test"))
    assert [s.sample.sample_id for s in scenes] == ["vidM"]  # the v2 clip has one class
    assert scenes[0].classes == ("guitar", "man")
    wav = tmp_path / "Single-source/s4_data/audio_wav/train/playing_piano/clipA.wav"
    bank = AudioBank([BankClip("g", "guitar", wav), BankClip("m", "man", wav)])
    info = build_coavs(tmp_path / "co", scenes, bank, videos=36, workers=1)
    assert set(info["level_pair_counts"].values()) == {1}
    # split the guitar into two blobs in one frame: the scene no longer qualifies
    label = tmp_path / "v1m/vidM/labels_rgb/2.png"
    rgb = np.asarray(Image.open(label)).copy()
    rgb[20:23, 20:25] = avss_palette()[avss_class_index("guitar")]
    Image.fromarray(rgb).save(label)
    assert find_scenes(AVSSReader(tmp_path, "test")) == []


def test_bank_without_the_scene_classes_is_a_clear_error(lab: Path, tmp_path: Path) -> None:
    from avsprobe.errors import DataError

    scenes = find_scenes(AVSSReader(lab, "test"))
    assert scenes
    with pytest.raises(DataError, match="no clips for the classes"):
        build_coavs(tmp_path / "x", scenes, AudioBank([]), videos=3)
    from avsprobe.data.biaslab.reader import BiasLabWorld

    assert biaslab_audio_bank(lab, "train").classes() == sorted(BiasLabWorld(lab).training_sounding_frequency())


def test_build_coavs_from_avsbench_uses_avss_scenes_and_the_s4_bank(tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    build_s4(tmp_path, splits=("train", "train"))  # piano and dog clips in the bank's split
    build_avss(tmp_path, v1m_classes="dog_piano")
    out = tmp_path / "co"
    code, stdout, stderr = run_cli(["build-coavs", "--avsbench", str(tmp_path), "--out", str(out), "--videos", "36"], capsys)
    assert code == 0, stdout + stderr
    info = json.loads((out / "coavs.json").read_text())
    assert info["scenes_available"] == 1 and set(info["level_pair_counts"].values()) == {1}
    # one scene in 36 videos: said, not silent (issue 35)
    assert "each of the 1 scenes appears in about 36 videos" in stderr
    with open(out / "manifest.csv") as f:
        rows = list(csv.DictReader(f))
    assert {r["clip_a"] for r in rows} == {"clipB"} and {r["clip_b"] for r in rows} == {"clipA"}  # dog, piano
    code, _, stderr = run_cli(["build-coavs", "--avsbench", str(tmp_path / "Single-source"), "--out", str(tmp_path / "n")], capsys)
    assert code == 1 and "--avsbench needs AVSS" in stderr


def test_scene_roles_follow_class_names_not_label_ids() -> None:
    """The same content under two label orders makes the same scene: A and B by name (before: by label id)."""
    from avsprobe.data.coavs import scene_of
    from avsprobe.types import AVSample

    t, h, w = 5, 16, 16
    semantic = np.zeros((t, h, w), dtype=np.int16)
    semantic[:, 2:6, 2:6] = 1
    semantic[:, 9:14, 9:14] = 2
    common = {"sample_id": "s", "frames": np.zeros((t, h, w, 3), np.uint8), "audio": np.zeros(5 * 16000, np.float32),
              "mask": semantic > 0, "annotated": np.ones(t, bool)}
    one = scene_of(AVSample(**common, semantic_mask=semantic, meta={"class_names": ("background", "piano", "dog")}))
    swapped = np.where(semantic == 1, 2, np.where(semantic == 2, 1, 0)).astype(np.int16)
    two = scene_of(AVSample(**common, semantic_mask=swapped, meta={"class_names": ("background", "dog", "piano")}))
    assert one is not None and two is not None
    assert one.classes == two.classes == ("dog", "piano")
    assert all(np.array_equal(a, b) for a, b in zip(one.masks, two.masks, strict=True))


def test_coavs_drop_found_when_the_source_ran_as_a_subset_of_a_larger_tree(tmp_path: Path,
                                                                           capsys: pytest.CaptureFixture[str]) -> None:
    """Co-AVS built with --avsbench ROOT names the AVSS folder as its source; the original run made with
    --data ROOT --subset avss read that folder too, so the report pairs them (the drop went missing before)."""
    from avsprobe.report.build import build_report

    tree = tmp_path / "avsbench_data"
    build_s4(tree, splits=("train", "train"))
    build_avss(tree / "AVSS", v1m_classes="dog_piano")
    code, out, err = run_cli(["build-coavs", "--avsbench", str(tree), "--out", str(tmp_path / "co"), "--videos", "6"],
                             capsys)
    assert code == 0, out + err
    assert json.loads((tmp_path / "co" / "coavs.json").read_text())["source_root"] == str((tree / "AVSS").resolve())
    for name, args in (("orig", ["--data", str(tree), "--subset", "avss"]), ("co", ["--data", str(tmp_path / "co")])):
        code, out, err = run_cli(["run", "--model", "oracle", "--probe", "intensity", "--out", str(tmp_path / name),
                                  "--device", "cpu", "--workers", "0", *args], capsys)
        assert code == 0, out + err
    content = build_report([tmp_path / "orig", tmp_path / "co"], tmp_path / "rep", formats=["json"])
    by_data = {Path(r["path"]).parts[-3]: r for r in content["runs"]}
    assert "coavs_drop" in by_data["co"]["metrics"] and by_data["co"]["metrics"]["coavs_drop"]["value"] == 0.0
    # a run from before data_layout_root was recorded: found again through its --data folder and subset
    info_file = next((tmp_path / "orig").rglob("run.json"))
    info = json.loads(info_file.read_text())
    del info["data_layout_root"]
    info_file.write_text(json.dumps(info))
    content = build_report([tmp_path / "orig", tmp_path / "co"], tmp_path / "rep2", formats=["json"])
    assert "coavs_drop" in {Path(r["path"]).parts[-3]: r for r in content["runs"]}["co"]["metrics"]
