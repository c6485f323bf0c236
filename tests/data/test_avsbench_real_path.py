"""The AVSBench path gives no silently wrong number: off-screen audio, subset choice, Co-AVS, label2idx.json,
data check. Every tree is written in the real layouts, S4 + MS3 + AVSS under one root."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
from PIL import Image

from avsprobe.data.audio_bank import AudioBank, BankClip
from avsprobe.data.avsbench import AVSSReader, MS3Reader, S4Reader
from avsprobe.data.avsbench.layout import check_tree, choose_subset
from avsprobe.data.coavs import build_coavs, find_scenes
from avsprobe.data.palette import AVSS_CLASSES, avss_class_index, avss_palette
from avsprobe.data.source import open_data
from avsprobe.errors import ConfigError, ProbeNotApplicable
from avsprobe.probes.audio_probes import NegativeProbe
from avsprobe.results import load_records
from avsprobe.seeding import rng_for
from tests.cli.test_app import run_cli
from tests.data.avsbench_fixtures import build_avss, build_ms3, build_s4


def _tree(root: Path, *, s4: bool = True, ms3: bool = True, **avss: object) -> Path:
    """``root/avsbench_data`` holding Single-source, Multi-sources and AVSBench-semantic, as a user lays them out."""
    data = root / "avsbench_data"
    if s4:
        build_s4(data, splits=("train", "test"))
    if ms3:
        build_ms3(data)
    build_avss(data / "AVSBench-semantic", **avss)  # type: ignore[arg-type]
    return data


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _tree(tmp_path_factory.mktemp("avsbench"), v1m_classes="guitar_man", v2_classes="dog_piano")


def _bank(data: Path, classes: list[str]) -> AudioBank:
    wav = data / "Single-source/s4_data/audio_wav/train/playing_piano/clipA.wav"
    return AudioBank([BankClip(f"clip-{c}", c, wav) for c in classes])


# --- 1. the off-screen negative never plays a class that is on screen ---------------------------------------

def _offscreen_partners(sample: object, bank: AudioBank, seeds: int = 30) -> list[dict]:
    probe = NegativeProbe(bank=bank)
    condition = probe.condition("offscreen")
    return [probe.apply(sample, condition, rng_for(seed, "test", sample.sample_id)).applied  # type: ignore[attr-defined]
            for seed in range(seeds)]


def test_offscreen_skips_the_s4_category_through_the_avss_map(data: Path) -> None:
    sample = S4Reader(data / "Single-source", "test").read("clipB")  # dog_barking
    assert sample.visible_classes == ("dog",)
    applied = _offscreen_partners(sample, _bank(data, ["dog", "piano", "guitar"]))
    assert {a["partner_class"] for a in applied} == {"piano", "guitar"}  # dog (on screen) never, in 30 seeds
    assert all(a["visible_classes"] == ["dog"] for a in applied)


def test_offscreen_skips_every_class_of_a_two_class_avss_clip(data: Path) -> None:
    reader = AVSSReader(data / "AVSBench-semantic", "test")
    sample = reader.read("vidM")  # a_obj guitar_man, both painted in the label masks
    assert sample.visible_classes == ("guitar", "man")
    applied = _offscreen_partners(sample, _bank(data, ["guitar", "man", "dog", "piano"]))
    assert {a["partner_class"] for a in applied} == {"dog", "piano"}


def test_offscreen_counts_classes_of_the_label_masks_that_a_obj_omits(tmp_path: Path) -> None:
    data = _tree(tmp_path, s4=False, ms3=False, v2_classes="dog_piano")
    meta = data / "AVSBench-semantic/metadata.csv"
    meta.write_text(meta.read_text().replace("dog_piano", "dog"))  # piano still painted in every frame
    sample = AVSSReader(data / "AVSBench-semantic", "test").read("vid2_0_10000")
    assert sample.visible_classes == ("dog", "piano")
    applied = _offscreen_partners(sample, AudioBank([
        BankClip(c, c, data / "AVSBench-semantic/v2/vid2_0_10000/audio.wav") for c in ("dog", "piano", "bell")]))
    assert {a["partner_class"] for a in applied} == {"bell"}


def test_offscreen_is_not_applicable_when_every_bank_class_is_visible_or_classes_are_unknown(data: Path) -> None:
    sample = AVSSReader(data / "AVSBench-semantic", "test").read("vidM")
    probe = NegativeProbe(bank=_bank(data, ["guitar", "man"]))
    with pytest.raises(ProbeNotApplicable, match="every bank class .* is on screen in 'vidM'"):
        probe.apply(sample, probe.condition("offscreen"), np.random.default_rng(0))
    ms3 = MS3Reader(data / "Multi-sources", "test").read("abcdEFGhijk_2")
    assert ms3.visible_classes is None
    with pytest.raises(ProbeNotApplicable, match="classes on screen .* are unknown"):
        probe.apply(ms3, probe.condition("offscreen"), np.random.default_rng(0))


# --- 2. a root with several layouts is never run silently ----------------------------------------------------

def test_a_root_with_several_layouts_needs_subset(data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ConfigError, match="several data sets: avss at .*labels v1m, v1s, v2.*ms3 at .*s4 at .*--subset"):
        choose_subset(data)
    code, _, err = run_cli(["run", "--model", "oracle", "--probe", "negative", "--data", str(data),
                            "--out", str(tmp_path / "r")], capsys)
    assert code == 1 and "--subset" in err and "ms3 at" in err and "s4 at" in err
    assert not (tmp_path / "r").exists()
    assert choose_subset(data, "v1s").layout.kind == "s4"  # the alias takes the S4 layout where it exists
    assert choose_subset(data, "MS3").layout.kind == "ms3"
    assert (choose_subset(data, "avss").label, choose_subset(data, "v2").label) == (None, "v2")
    with pytest.raises(ConfigError, match="subset 'v3' not found"):
        choose_subset(data, "v3")


def test_an_avss_run_from_a_shared_root_gets_frequency_and_s4_bank(data: Path, tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "runs"
    code, stdout, err = run_cli(["run", "--model", "oracle", "--probe", "negative", "--data", str(data),
                                 "--subset", "avss", "--out", str(out)], capsys)
    assert code == 0, stdout + err
    info = json.loads((out / "oracle/negative/run.json").read_text())
    assert info["subset"] == "avss" and info["split"] == "test"
    assert info["train_sounding_frequency"] == {"piano": 1.0}  # the one AVSS train clip is a piano
    assert info["audio_bank"].startswith("S4 train clips")
    assert "label2idx.json" in info["class_list"]
    records = load_records(out / "oracle/negative")
    offscreen = records[records.condition_label == "offscreen"].drop_duplicates("sample_id").set_index("sample_id")
    assert set(offscreen.index) == {"vidM", "vid2_0_10000"}
    # the S4 train bank holds only piano: the dog + piano v2 clip has no absent class left
    assert offscreen.loc["vid2_0_10000", "status"] == "not_applicable"
    assert "every bank class (piano) is on screen" in offscreen.loc["vid2_0_10000", "reason"]
    applied = json.loads(offscreen.loc["vidM", "applied"])
    assert applied["partner_class"] == "piano" and applied["visible_classes"] == ["guitar", "man"]


def test_without_s4_the_bank_is_single_class_avss_train_clips(tmp_path: Path) -> None:
    data = _tree(tmp_path, s4=False, v1m_classes="guitar_man")
    source = open_data(data, subset="avss")
    assert source.bank is not None and source.bank.classes() == ["piano"]
    assert source.bank.clips("piano")[0].clip_id == "_-apT0tfo6U_16000_26000"
    assert source.bank_source.startswith("single-class AVSS train clips")
    only_s4 = open_data(data / "AVSBench-semantic", subset="s4")  # the AVSS root's v1s clips
    assert only_s4.subset == "v1s" and only_s4.reader.sample_ids() == []  # type: ignore[attr-defined]


# --- 3. Co-AVS from AVSBench: 5-s, 5-frame scenes, never a looped clip ---------------------------------------

def test_coavs_from_v2_takes_the_first_five_seconds_and_pads_short_clips(data: Path, tmp_path: Path) -> None:
    reader = AVSSReader(data / "AVSBench-semantic", "test")
    scenes = {s.sample.sample_id: s for s in find_scenes(reader)}
    assert set(scenes) == {"vidM", "vid2_0_10000"}
    v2 = scenes["vid2_0_10000"]
    full = reader.read("vid2_0_10000")
    assert v2.sample.num_frames == 5 and v2.sample.audio.shape == (5 * 16000,)
    assert np.array_equal(v2.sample.frames, full.frames[:5]) and np.array_equal(v2.sample.audio, full.audio[:80000])
    assert v2.classes == ("dog", "piano") and v2.masks[0].shape[0] == 5
    short = tmp_path / "short.wav"
    sf.write(short, np.full(3 * 16000, 0.25, dtype=np.float32), 16000, subtype="FLOAT")
    bank = AudioBank([BankClip(c, c, short) for c in ("dog", "piano")])
    build_coavs(tmp_path / "co", [v2], bank, videos=2, workers=1)
    co = AVSSReader(tmp_path / "co", "test")
    for uid in co.sample_ids():
        video = co.read(uid)
        assert video.num_frames == 5 and video.audio.shape == (80000,)
        for obj in video.objects:
            source, _ = sf.read(obj.source_path)
            assert np.all(source[48000:] == 0) and np.all(source[:48000] != 0)  # silence after 3 s, not a loop


# --- 4. label2idx.json gives the class order -------------------------------------------------------------------

def test_label2idx_order_is_read_and_its_absence_is_recorded(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = _tree(tmp_path, s4=False, ms3=False)
    avss = data / "AVSBench-semantic"
    order = list(AVSS_CLASSES)
    g, m = order.index("guitar"), order.index("man")
    order[g], order[m] = order[m], order[g]  # this tree calls palette colour of 'guitar' "man" and vice versa
    (avss / "label2idx.json").write_text(json.dumps({c: i + 1 for i, c in enumerate(order)}))
    sample = AVSSReader(avss, "test").read("vidM")
    assert sample.visible_classes == ("guitar", "man")
    guitar_pixels = sample.semantic_mask == avss_class_index("guitar")
    assert guitar_pixels.any() and AVSSReader(avss, "test").class_list.names[avss_class_index("guitar")] == "man"
    (avss / "label2idx.json").write_text(json.dumps({"background": 1, "piano": 3}))
    with pytest.raises(Exception, match="ids must count up by one"):
        AVSSReader(avss, "test")
    (avss / "label2idx.json").unlink()
    code, stdout, err = run_cli(["run", "--model", "oracle", "--probe", "intensity", "--data", str(avss),
                                 "--out", str(tmp_path / "r"), "--limit", "1"], capsys)
    assert code == 0, stdout + err
    info = json.loads((tmp_path / "r/oracle/intensity/run.json").read_text())
    assert info["class_list"].startswith("built-in AVSS order") and "no label2idx.json" in info["class_list"]


# --- 5. data check decodes what it checks ---------------------------------------------------------------------

def test_data_check_names_every_unusable_file_with_its_reason(data: Path, tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad"
    shutil.copytree(data, bad)
    code, out, err = run_cli(["data", "check", str(bad)], capsys)
    assert code == 0, out + err
    s4 = bad / "Single-source/s4_data"
    nan_wav = s4 / "audio_wav/test/dog_barking/clipB.wav"
    sf.write(nan_wav, np.array([0.1, np.nan, 0.2] * 1000, dtype=np.float32), 16000, subtype="FLOAT")
    empty_wav = bad / "Multi-sources/ms3_data/audio_wav/test/abcdEFGhijk_2.wav"
    sf.write(empty_wav, np.zeros(0, dtype=np.int16), 16000, subtype="PCM_16")
    small_mask = s4 / "gt_masks/test/dog_barking/clipB/clipB_2.png"
    Image.fromarray(np.zeros((10, 10), np.uint8), mode="L").save(small_mask)
    odd_frame = bad / "Multi-sources/ms3_data/visual_frames/abcdEFGhijk_2/abcdEFGhijk_2.mp4_4.png"
    Image.fromarray(np.zeros((30, 40, 3), np.uint8)).save(odd_frame)
    off_palette = bad / "AVSBench-semantic/v1m/vidM/labels_rgb/1.png"
    rgb = avss_palette()[np.zeros((24, 32), np.int64)].copy()
    rgb[0:2, 0:3] = (1, 2, 3)
    Image.fromarray(rgb).save(off_palette)
    code, out, _ = run_cli(["data", "check", str(bad)], capsys)
    assert code == 1
    lines = out.replace("\n", " ")
    for file in (nan_wav, empty_wav, small_mask, odd_frame, off_palette):
        assert str(file) in lines, file
    assert "NaN or infinite" in lines and "mask is 10x10, its clip's frames are 32x24" in lines
    assert "frame is 40x30, but abcdEFGhijk_2.mp4_1.png of the same clip is 32x24" in lines
    assert "6 pixels have colours outside the palette" in lines
    assert "0 missing, 5 unreadable" in lines
    report = check_tree(bad, subset="s4")
    assert {k[0] for k in report.counts} == {"s4"} and {f for f, _ in report.unreadable} == {nan_wav, small_mask}


def test_export_takes_subset(data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(["export", "--probe", "intensity", "--data", str(data), "--out", str(tmp_path / "x")], capsys)
    assert code == 1 and "--subset" in err
    code, out, err = run_cli(["export", "--probe", "intensity", "--data", str(data), "--subset", "ms3",
                              "--layout", "ms3", "--out", str(tmp_path / "x")], capsys)
    assert code == 0, out + err
    manifest = pd.read_csv(tmp_path / "x/manifest.csv")
    assert set(manifest.sample_id) == {"abcdEFGhijk_2"}
