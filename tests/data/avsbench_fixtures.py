"""Tiny AVSBench trees fabricated in the exact real layouts and formats (as OpenNLPLab/AVSBench's
dataloaders read them; README, "AVSBench data").

Each builder returns what it wrote, so tests can compare the readers' arrays with the truth.
"""

from __future__ import annotations

import csv
import json
import pickle
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
from PIL import Image

from avsprobe.audio.vggish import vggish_examples
from avsprobe.data.palette import AVSS_CLASSES, avss_class_index, avss_palette

H, W = 24, 32


def _rgb(rng: np.random.Generator) -> np.ndarray:
    return rng.integers(0, 256, (H, W, 3), dtype=np.uint8)


def _mask(rng: np.random.Generator) -> np.ndarray:
    m = np.zeros((H, W), bool)
    r, c = rng.integers(2, H // 2), rng.integers(2, W // 2)
    m[r : r + 8, c : c + 10] = True
    return m


def _wav(path: Path, rng: np.random.Generator, seconds: float = 5.0, channels: int = 2) -> np.ndarray:
    """A 16-bit PCM wav as moviepy wrote it (16 kHz, often stereo); returns the mono float the reader gives."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pcm = rng.integers(-8000, 8000, (int(seconds * 16000), channels), dtype=np.int16)
    sf.write(path, pcm, 16000, subtype="PCM_16")
    return (pcm.astype(np.float64) / 32768.0).mean(axis=1).astype(np.float32)


def write_reference_pkl(path: Path, audio: np.ndarray, *, non_contiguous: bool = False) -> torch.Tensor:
    """A log-mel .pkl the way the reference preprocessing wrote it: plain pickle of a float32 tensor.

    ``non_contiguous`` mimics AVSBench-Robust's files (storage laid out [5, 64, 96], viewed as [5, 1, 96, 64]).
    """
    log_mel = vggish_examples(audio.astype(np.float64), num_examples=5)
    if non_contiguous:
        tensor = log_mel[:, 0].transpose(1, 2).contiguous().transpose(1, 2)[:, None]
    else:
        tensor = log_mel.clone().requires_grad_(True)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        pickle.dump(tensor, f)
    return tensor.detach()


def build_s4(root: Path, seed: int = 0, splits: tuple[str, str] = ("train", "test")) -> dict[str, dict[str, object]]:
    """``root/Single-source`` with a piano clip and a dog clip, by default one train (frame 1 annotated)
    and one test (5 frames)."""
    rng = np.random.default_rng(seed)
    base = root / "Single-source"
    data = base / "s4_data"
    truth: dict[str, dict[str, object]] = {}
    rows = [("clipA", 0, "playing_piano", splits[0]), ("clipB", 3, "dog_barking", splits[1])]
    for name, _, category, split in rows:
        frames, masks = [], []
        for k in range(1, 6):  # 1-based names
            frame = _rgb(rng)
            fpath = data / "visual_frames" / split / category / name / f"{name}_{k}.png"
            fpath.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(frame).save(fpath)
            frames.append(frame)
            mask = _mask(rng)
            if split != "train" or k == 1:
                mpath = data / "gt_masks" / split / category / name / f"{name}_{k}.png"
                mpath.parent.mkdir(parents=True, exist_ok=True)
                Image.fromarray((mask * 255).astype(np.uint8), mode="L").save(mpath)
                masks.append(mask)
            else:
                masks.append(np.zeros((H, W), bool))
        audio = _wav(data / "audio_wav" / split / category / f"{name}.wav", rng)
        log_mel = write_reference_pkl(data / "audio_log_mel" / split / category / f"{name}.pkl", audio)
        truth[name] = {"frames": np.stack(frames), "masks": np.stack(masks), "audio": audio, "log_mel": log_mel,
                       "split": split, "category": category}
    with open(base / "s4_meta_data.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["name", "start", "category", "split"])
        writer.writerows(rows)
    return truth


def build_ms3(root: Path, seed: int = 1) -> dict[str, dict[str, object]]:
    """``root/Multi-sources``: flat ``{name}.mp4_{k}.png`` frames, 'P'-mode masks with value 255."""
    rng = np.random.default_rng(seed)
    base = root / "Multi-sources"
    data = base / "ms3_data"
    truth: dict[str, dict[str, object]] = {}
    rows = [("_fvpYLXtQHQ_1", "train"), ("abcdEFGhijk_2", "test")]
    for name, split in rows:
        frames, masks = [], []
        for k in range(1, 6):
            frame = _rgb(rng)
            fpath = data / "visual_frames" / name / f"{name}.mp4_{k}.png"
            fpath.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(frame).save(fpath)
            mask = _mask(rng)
            mpath = data / "gt_masks" / split / name / f"{name}_{k}.png"
            mpath.parent.mkdir(parents=True, exist_ok=True)
            image = Image.fromarray((mask * 255).astype(np.uint8), mode="L").convert("P")  # index 255 = object
            assert image.mode == "P" and 255 in np.asarray(image)
            image.save(mpath)
            frames.append(frame)
            masks.append(mask)
        audio = _wav(data / "audio_wav" / split / f"{name}.wav", rng, channels=1)
        log_mel = write_reference_pkl(data / "audio_log_mel" / split / f"{name}.pkl", audio, non_contiguous=True)
        truth[name] = {"frames": np.stack(frames), "masks": np.stack(masks), "audio": audio, "log_mel": log_mel,
                       "split": split}
    with open(base / "ms3_meta_data.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["video_id", "split"])
        writer.writerows(rows)
    return truth


def build_avss(root: Path, seed: int = 2, v1m_classes: str = "guitar_man", v2_classes: str = "dog",
               label2idx: bool = True) -> dict[str, dict[str, object]]:
    """``root`` with metadata.csv, label2idx.json (as released: 1-based ids in the built-in order, unless
    ``label2idx`` is False) and v1s (train: label 0 only), v1m (two classes) and v2 (10 frames) clips."""
    rng = np.random.default_rng(seed)
    palette = avss_palette()
    truth: dict[str, dict[str, object]] = {}
    clips = [("_-apT0tfo6U", "_-apT0tfo6U_16000_26000", "piano", "train", "v1s", 5),
             ("vidM", "vidM", v1m_classes, "test", "v1m", 5),
             ("vid2", "vid2_0_10000", v2_classes, "test", "v2", 10)]
    for _vid, uid, a_obj, split, label, frames_n in clips:
        folder = root / label / uid
        (folder / "frames").mkdir(parents=True, exist_ok=True)
        (folder / "labels_rgb").mkdir(parents=True, exist_ok=True)
        frames, labels = [], []
        classes = [avss_class_index(c) for c in a_obj.split("_")]
        annotated = [0] if (label == "v1s" and split == "train") else list(range(frames_n))
        for i in range(frames_n):
            Image.fromarray(_rgb(rng)).save(folder / "frames" / f"{i}.jpg", quality=95)
            with Image.open(folder / "frames" / f"{i}.jpg") as im:
                frames.append(np.asarray(im.convert("RGB")))  # JPEG is lossy: the truth is what was stored
            lab = np.zeros((H, W), np.int16)
            for j, cls in enumerate(classes):
                lab[2 + 6 * j : 6 + 6 * j, 3:12] = cls
            if i in annotated:
                Image.fromarray(palette[lab]).save(folder / "labels_rgb" / f"{i}.png")
                labels.append(lab)
            else:
                labels.append(np.zeros((H, W), np.int16))
        audio = _wav(folder / "audio.wav", rng, seconds=frames_n, channels=2)
        truth[uid] = {"frames": np.stack(frames), "labels": np.stack(labels), "audio": audio, "label": label,
                      "split": split, "annotated": annotated}
    if label2idx:
        (root / "label2idx.json").write_text(json.dumps({c: i + 1 for i, c in enumerate(AVSS_CLASSES)}, indent=1))
    with open(root / "metadata.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["vid", "uid", "s_min", "s_sec", "a_obj", "split", "label"])
        for vid, uid, a_obj, split, label, _ in clips:
            writer.writerow([vid, uid, 0, 16, a_obj, split, label])
    return truth
