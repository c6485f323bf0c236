"""AVSBench readers, safe pickle loading, data check and the audio bank, on fabricated real-format trees."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from avsprobe.data.audio_bank import biaslab_audio_bank, load_category_map, s4_audio_bank
from avsprobe.data.avsbench import (
    AVSSReader,
    MS3Reader,
    S4Reader,
    canonical_subset,
    check_tree,
    convert_pkl_tree,
    load_log_mel_pkl,
    open_reader,
)
from avsprobe.errors import ConfigError, DataError
from tests.cli.test_app import run_cli
from tests.data.avsbench_fixtures import build_avss, build_ms3, build_s4


@pytest.fixture(scope="module")
def trees(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    root = tmp_path_factory.mktemp("avsbench")
    return {"root": root, "s4": build_s4(root / "avsbench_data"), "ms3": build_ms3(root / "avsbench_data"),
            "avss": build_avss(root / "AVSBench-semantic")}


def test_s4_reads_back_exact_arrays(trees: dict) -> None:
    base = trees["root"] / "avsbench_data" / "Single-source"
    for name, truth in trees["s4"].items():
        sample = S4Reader(base, truth["split"]).read(name)
        assert np.array_equal(sample.frames, truth["frames"])
        assert np.array_equal(sample.mask, truth["masks"])
        assert np.array_equal(sample.audio, truth["audio"])
        assert sample.category == truth["category"] and sample.subset == "v1s"
        expected = [True, False, False, False, False] if truth["split"] == "train" else [True] * 5
        assert sample.annotated.tolist() == expected
        assert np.array_equal(load_log_mel_pkl(sample.meta["log_mel_path"]), truth["log_mel"].numpy())


def test_ms3_reads_p_mode_masks_and_flat_frames(trees: dict) -> None:
    base = trees["root"] / "avsbench_data" / "Multi-sources"
    for name, truth in trees["ms3"].items():
        sample = MS3Reader(base, truth["split"]).read(name)
        assert np.array_equal(sample.frames, truth["frames"])
        assert np.array_equal(sample.mask, truth["masks"])  # value 255 in a 'P' image -> foreground
        assert sample.annotated.all()
        assert np.array_equal(sample.audio, truth["audio"])
        # the non-contiguous ROB-style tensor comes back with the right values
        assert np.array_equal(load_log_mel_pkl(sample.meta["log_mel_path"]), truth["log_mel"].numpy())


def test_avss_decodes_the_palette_and_honours_annotation_flags(trees: dict) -> None:
    root = trees["root"] / "AVSBench-semantic"
    for uid, truth in trees["avss"].items():
        sample = AVSSReader(root, truth["split"]).read(uid)
        assert np.array_equal(sample.frames, truth["frames"])
        assert np.array_equal(sample.semantic_mask, truth["labels"])
        assert np.array_equal(sample.mask, truth["labels"] > 0)
        assert np.flatnonzero(sample.annotated).tolist() == truth["annotated"]
        assert sample.num_frames == (10 if truth["label"] == "v2" else 5)
        assert np.array_equal(sample.audio, truth["audio"])
    assert AVSSReader(root, "test", subset="V1M").sample_ids() == ["vidM"]
    assert AVSSReader(root, "test", subset="ms3").sample_ids() == ["vidM"]


def test_colour_outside_the_palette_is_an_error_naming_file_and_pixels(tmp_path: Path) -> None:
    build_avss(tmp_path)
    label = tmp_path / "v2" / "vid2_0_10000" / "labels_rgb" / "3.png"
    rgb = np.asarray(Image.open(label)).copy()
    rgb[0, :7] = (1, 2, 3)
    Image.fromarray(rgb).save(label)
    with pytest.raises(DataError, match=r"3\.png: 7 pixels have colours outside the palette \(most common \(1, 2, 3\)"):
        AVSSReader(tmp_path, "test").read("vid2_0_10000")


def test_split_aliases_and_layout_detection(trees: dict) -> None:
    data = trees["root"] / "avsbench_data"
    assert canonical_subset("S4") == canonical_subset("V1S") == "v1s"
    assert canonical_subset("MS3") == canonical_subset("v1m") == "v1m"
    assert isinstance(open_reader(data, subset="S4"), S4Reader)
    assert isinstance(open_reader(data, subset="v1m"), MS3Reader)
    assert isinstance(open_reader(data / "Multi-sources", split="train"), MS3Reader)
    with pytest.raises(ConfigError, match="subset 'v2' not found"):
        open_reader(data, subset="v2")
    with pytest.raises(DataError, match="no AVSBench layout"):
        open_reader(trees["root"] / "avsbench_data" / "Single-source" / "s4_data")


class _WritesAFile:
    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self) -> tuple:
        return (open, (self.path, "w"))


def test_malicious_pickle_is_refused_and_creates_nothing(tmp_path: Path) -> None:
    victim = tmp_path / "pwned.txt"
    evil = tmp_path / "evil.pkl"
    evil.write_bytes(pickle.dumps(_WritesAFile(str(victim))))
    with pytest.raises(DataError, match="evil.pkl is not a plain tensor pickle, refused"):
        load_log_mel_pkl(evil)
    assert not victim.exists()
    # the same attack hidden in the storage blob that torch's own _load_from_bytes would torch.load unsafely
    import torch.storage

    class Nested:
        def __reduce__(self) -> tuple:
            return (torch.storage._load_from_bytes, (pickle.dumps(_WritesAFile(str(victim))),))

    nested = tmp_path / "nested.pkl"
    nested.write_bytes(pickle.dumps(Nested()))
    with pytest.raises(DataError, match="refused"):
        load_log_mel_pkl(nested)
    assert not victim.exists()
    os_system = tmp_path / "system.pkl"
    os_system.write_bytes(b"cos\nsystem\n(S'touch " + str(victim).encode() + b"'\ntR.")
    with pytest.raises(DataError, match="refusing to load os.system"):
        load_log_mel_pkl(os_system)
    assert not victim.exists()


def test_convert_pkl_tree(tmp_path: Path) -> None:
    truth = build_s4(tmp_path)
    written = convert_pkl_tree(tmp_path)
    assert len(written) == 2
    for path in written:
        name = path.stem
        assert np.array_equal(np.load(path), truth[name]["log_mel"].numpy())


def test_data_check_names_missing_files_and_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    build_s4(tmp_path)
    build_ms3(tmp_path)
    code, out, err = run_cli(["data", "check", str(tmp_path)], capsys)
    assert code == 0, out + err
    assert "all files present and decodable" in out
    gone = [tmp_path / "Single-source/s4_data/gt_masks/test/dog_barking/clipB/clipB_3.png",
            tmp_path / "Multi-sources/ms3_data/audio_wav/train/_fvpYLXtQHQ_1.wav"]
    for f in gone:
        f.unlink()
    broken = tmp_path / "Multi-sources/ms3_data/visual_frames/abcdEFGhijk_2/abcdEFGhijk_2.mp4_2.png"
    broken.write_bytes(b"not a png")
    code, out, _ = run_cli(["data", "check", str(tmp_path)], capsys)
    assert code == 1
    for f in gone:
        assert f"missing: {f}" in out
    assert str(broken) in out and "2 missing, 1 unreadable" in out
    report = check_tree(tmp_path)
    assert sorted(report.missing) == sorted(gone)
    assert report.counts[("s4", "v1s", "test")] == 1 and report.counts[("ms3", "v1m", "train")] == 1


def test_bias_lab_world_reads_through_the_avss_reader(tmp_path: Path) -> None:
    from avsprobe.data.biaslab.world import build_world, plan_clip, render_clip

    build_world(tmp_path / "w", clips=4, workers=1)
    reader = open_reader(tmp_path / "w", split="test")
    assert isinstance(reader, AVSSReader) and reader.sample_ids() == ["test_00000"]
    sample = reader.read("test_00000")
    from avsprobe.data.biaslab.spec import load_world_spec

    spec = load_world_spec()
    rendered = render_clip(spec, plan_clip(spec, spec.seed, "test", 0))
    assert np.array_equal(sample.frames, rendered.frames)
    assert [o.class_name for o in sample.objects] == [o.class_name for o in rendered.plan.objects]
    assert check_tree(tmp_path / "w").ok


def test_audio_bank_from_s4_and_from_the_bias_lab(trees: dict, tmp_path: Path) -> None:
    table = load_category_map()
    assert len(table) == 23 and table["playing_piano"] == "piano" and table["ambulance_siren"] == "emergency-car"
    base = trees["root"] / "avsbench_data" / "Single-source"
    bank = s4_audio_bank(base, "train")
    assert bank.classes() == ["piano"]
    clip = bank.sample("piano", np.random.default_rng(0))
    assert np.array_equal(bank.load(clip), trees["s4"]["clipA"]["audio"])
    custom = s4_audio_bank(base, "test", category_map={"dog_barking": "wolf"})
    assert custom.classes() == ["wolf"]
    with pytest.raises(ConfigError, match="not in the category map"):
        s4_audio_bank(base, "test", category_map={})
    bad = tmp_path / "map.toml"
    bad.write_text('[s4_to_avss]\nplaying_piano = "grand-piano"\n')
    with pytest.raises(ConfigError, match="grand-piano"):
        load_category_map(bad)
    from avsprobe.data.biaslab.world import build_world

    build_world(tmp_path / "w", clips=6, workers=1)
    lab = biaslab_audio_bank(tmp_path / "w", "train")
    assert len(lab) >= 4 and set(lab.classes()) <= {"piano", "guitar", "drum", "car", "dog", "man", "bird", "bell"}
    with pytest.raises(DataError, match="no clips of class 'violin'"):
        lab.clips("violin")


def test_prior_metrics_on_avss_group_by_class_not_by_category_string(tmp_path: Path) -> None:
    """On AVSS, negative-audio coverage is per class of the label masks: a ``guitar_man`` clip gives a guitar
    and a man (before: one object of class "guitar_man", so prior_corr saw single-class clips only)."""
    from avsprobe.adapters import resolve_model
    from avsprobe.data.source import open_data
    from avsprobe.metrics import bias
    from avsprobe.probes.suite import ProbeSuite
    from avsprobe.results import load_records
    from avsprobe.runner import run_suite

    build_avss(tmp_path / "t")
    source = open_data(tmp_path / "t")
    run_suite(resolve_model("audio-blind-oracle"), ProbeSuite.single("negative"), source, tmp_path / "r")
    records = load_records(tmp_path / "r")
    scores = bias.prior_scores(records)
    assert {"guitar", "man", "dog"} <= set(scores) and "guitar_man" not in scores
    # the audio-blind oracle segments what sounded: every class object fully covered under negative audio
    assert all(v.value == 1.0 for v in scores.values())


def test_the_files_fingerprint_follows_symlinked_folders(tmp_path: Path) -> None:
    """Audio behind a symlinked folder changes the fingerprint too (before, a changed v1m behind a link
    resumed silently); a link cycle ends."""
    import os

    from avsprobe.data.fingerprint import data_files_fingerprint

    real = tmp_path / "elsewhere" / "v1m"
    real.mkdir(parents=True)
    (real / "audio.wav").write_bytes(b"a" * 10)
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "metadata.csv").write_text("uid,split,label\n")
    (tree / "v1m").symlink_to(real, target_is_directory=True)
    (real / "loop").symlink_to(tree, target_is_directory=True)  # a cycle back to the tree
    before = data_files_fingerprint(tree)
    (real / "audio.wav").write_bytes(b"b" * 11)
    assert data_files_fingerprint(tree) != before
    os.utime(real / "audio.wav", ns=(1, 1))
    assert data_files_fingerprint(tree) != before


def test_a_wav_shorter_than_its_header_is_a_data_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A wav cut short (its header declares more samples than the file holds) is refused and data check names
    it; before, it loaded short, scored ok, and data check passed it."""
    from avsprobe.audio.io import load_audio

    build_s4(tmp_path)
    wav = tmp_path / "Single-source/s4_data/audio_wav/test/dog_barking/clipB.wav"
    load_audio(wav)
    wav.write_bytes(wav.read_bytes()[:-4000])
    with pytest.raises(DataError, match="truncated"):
        load_audio(wav)
    code, out, _ = run_cli(["data", "check", str(tmp_path)], capsys)
    assert code == 1 and str(wav) in out and "truncated" in out


def test_a_cmyk_mask_is_read_by_colour(tmp_path: Path) -> None:
    """A mask saved as CMYK reads like its RGB original (before, read inverted: the background counted)."""
    from avsprobe.data.avsbench.decode import read_binary_mask

    mask = np.zeros((20, 30), dtype=bool)
    mask[5:9, 10:30] = True
    rgb = np.where(mask[..., None], 255, 0).astype(np.uint8).repeat(3, axis=-1)
    Image.fromarray(rgb).convert("CMYK").save(tmp_path / "m.jpg", quality=100)
    Image.fromarray(rgb).convert("CMYK").save(tmp_path / "m.tif")
    assert np.array_equal(read_binary_mask(tmp_path / "m.tif"), mask)
    assert read_binary_mask(tmp_path / "m.jpg").sum() == pytest.approx(mask.sum(), abs=20)
