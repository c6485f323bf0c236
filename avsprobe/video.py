"""A model on one's own video, without masks: decode, cut into the model's clips, probe the audio, and compare
each condition's prediction with the prediction on the original audio.

There is no ground truth, so nothing here is an accuracy. The metrics say how the prediction moves with the
audio (:data:`VIDEO_METRICS`): how much of the original prediction persists under digital silence and at quieter
levels, and how much it changes when the audio is swapped for another stretch of the same video.

Frames and audio are cut as AVSBench cuts its clips: a clip of ``T`` frames covers ``T`` seconds, frame ``k``
is the frame on screen :data:`FRAME_OFFSET_S` into second ``k`` (AVSBench saves frame ``floor(k fps + 15/16
fps)``), and its audio is that second, mono at 16 kHz. A video is cut into ``floor(duration / T)`` clips; the
rest is left out.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from avsprobe.adapters.batching import prepare_batch
from avsprobe.audio.gain import normalize_loudness
from avsprobe.audio.loudness import measure_loudness
from avsprobe.devices import exact_float32
from avsprobe.errors import ConfigError, DataError
from avsprobe.fileio import atomic_path, atomic_write_text
from avsprobe.metrics.bias import bootstrap
from avsprobe.probes.base import ProbedSample
from avsprobe.scoring import nearest_indices
from avsprobe.types import SAMPLE_RATE_HZ

__all__ = ["DecodedVideo", "VideoResult", "VIDEO_CONDITIONS", "VIDEO_METRICS", "decode_video", "cut_clips",
           "condition_audio", "video_metrics", "probe_video", "write_video_outputs"]

FRAME_OFFSET_S = 15 / 16
"""Where in each second a clip's frame is taken: AVSBench's frame extraction, ``floor(l fps + (15/16) fps)``."""

QUIETER_LUFS = (-41.0, -53.0)
"""The quieter levels of the intensity probe that a video's audio is brought to."""

VIDEO_CONDITIONS = ("original", "silence", "-41LUFS", "-53LUFS", "swap")
"""Conditions of a video: its own audio; digital silence; its audio at -41 and -53 LUFS; the audio of the next
clip of the same video (the last clip takes the first's; needs two clips)."""

VIDEO_METRICS = {
    "persists_silence": "share of the original prediction's pixels still predicted under digital silence",
    "persists_-41LUFS": "share of the original prediction's pixels still predicted with the audio at -41 LUFS",
    "persists_-53LUFS": "share of the original prediction's pixels still predicted with the audio at -53 LUFS",
    "changes_swap": "1 - IoU of the prediction with the next clip's audio and the original prediction",
}
"""Metrics that need no ground truth, per clip (a clip whose original prediction is empty has no persistence)."""

OVERLAY_RGB = (0, 114, 178)
"""The overlay colour (the report's first model colour)."""


@dataclass(frozen=True)
class DecodedVideo:
    """``frames`` ``uint8 [N, H, W, 3]`` RGB at ``times_s`` ``float [N]`` (s), ``audio`` ``float32 [S]`` mono
    16 kHz (zeros for a video without sound), ``duration_s``."""

    frames: np.ndarray
    times_s: np.ndarray
    audio: np.ndarray
    duration_s: float
    has_audio: bool


@dataclass
class VideoResult:
    """Per condition the predicted masks ``bool [clips, T, h, w]`` (the model's output size) and the clips'
    frames ``uint8 [clips, T, H, W, 3]``; per metric its per-clip values."""

    path: Path
    model: str
    frames: np.ndarray
    masks: dict[str, np.ndarray]
    metrics: dict[str, list[float]] = field(default_factory=dict)
    has_audio: bool = True


def decode_video(path: str | Path) -> DecodedVideo:
    """Decode every frame and the first audio stream (resampled to 16 kHz mono) with PyAV, which ships its own
    FFmpeg.

    Raises:
        DataError: the file is missing, cannot be decoded, or has no video stream.
    """
    try:
        import av
    except ImportError:
        raise ConfigError("--video needs PyAV: pip install 'avsprobe[video]' (or pip install av)") from None
    p = Path(path)
    if not p.is_file():
        raise DataError(f"{p}: no such video file")
    try:
        with av.open(str(p)) as container:
            if not container.streams.video:
                raise DataError(f"{p}: no video stream")
            frames, times = [], []
            for frame in container.decode(video=0):
                frames.append(frame.to_ndarray(format="rgb24"))
                times.append(float(frame.time) if frame.time is not None else len(times) / 25.0)
        audio = _decode_audio(av, p)
    except av.error.FFmpegError as exc:
        raise DataError(f"{p}: cannot be decoded ({exc})") from None
    if not frames:
        raise DataError(f"{p}: the video stream has no frames")
    step = float(np.median(np.diff(times))) if len(times) > 1 else 1.0
    duration_s = max(times[-1] + step, (audio.size / SAMPLE_RATE_HZ) if audio is not None else 0.0)
    silent = np.zeros(int(round(duration_s * SAMPLE_RATE_HZ)), dtype=np.float32)
    return DecodedVideo(np.stack(frames), np.asarray(times), audio if audio is not None else silent, duration_s,
                        audio is not None)


def _decode_audio(av: Any, path: Path) -> np.ndarray | None:
    """The first audio stream as ``float32 [S]`` mono 16 kHz, or None without one."""
    with av.open(str(path)) as container:
        if not container.streams.audio:
            return None
        resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE_HZ)
        parts = []
        for frame in container.decode(audio=0):
            parts += [f.to_ndarray().reshape(-1) for f in resampler.resample(frame)]
        parts += [f.to_ndarray().reshape(-1) for f in resampler.resample(None)]
    return np.concatenate(parts).astype(np.float32) if parts else np.zeros(0, dtype=np.float32)


def cut_clips(video: DecodedVideo, frames_per_clip: int) -> tuple[np.ndarray, np.ndarray]:
    """``(frames uint8 [C, T, H, W, 3], audio float32 [C, T * 16000])``: clip ``c`` covers seconds
    ``[c T, (c + 1) T)``; frame ``k`` is the one on screen at second ``c T + k + 15/16`` (the last frame shown at
    or before it).

    Raises:
        DataError: the video is shorter than one clip.
    """
    clips = int(video.duration_s // frames_per_clip)
    if clips == 0:
        raise DataError(f"the video lasts {video.duration_s:.2f} s; the model takes clips of {frames_per_clip} "
                        f"frames, one per second, so at least {frames_per_clip} s are needed")
    at_s = np.arange(clips * frames_per_clip) + FRAME_OFFSET_S
    shown = np.clip(np.searchsorted(video.times_s, at_s, side="right") - 1, 0, len(video.times_s) - 1)
    frames = video.frames[shown].reshape(clips, frames_per_clip, *video.frames.shape[1:])
    samples = clips * frames_per_clip * SAMPLE_RATE_HZ
    audio = np.zeros(samples, dtype=np.float32)
    audio[: min(samples, video.audio.size)] = video.audio[:samples]
    return frames, audio.reshape(clips, frames_per_clip * SAMPLE_RATE_HZ)


def condition_audio(audio: np.ndarray, condition: str) -> np.ndarray | None:
    """The clips' audio ``float32 [C, S]`` under ``condition`` (:data:`VIDEO_CONDITIONS`); None where it does not
    apply (a swap with one clip). A level only ever makes a clip quieter: a clip already at or below it (a silent
    stretch of the video) keeps its audio, since raising it would turn its noise floor into a sound."""
    if condition == "original":
        return audio
    if condition == "silence":
        return np.zeros_like(audio)
    if condition == "swap":
        return np.roll(audio, -1, axis=0) if len(audio) > 1 else None
    target = float(condition.removesuffix("LUFS"))
    out = np.zeros_like(audio)
    for c, clip in enumerate(audio):
        louder = measure_loudness(clip).value > target
        out[c] = normalize_loudness(clip, target, what=f"clip {c}").audio if louder else clip
    return out


def video_metrics(masks: dict[str, np.ndarray]) -> dict[str, list[float]]:
    """Per-clip values of :data:`VIDEO_METRICS` from the masks ``bool [C, T, h, w]`` per condition."""
    original = masks["original"].reshape(len(masks["original"]), -1)
    kept = original.sum(axis=1)
    out: dict[str, list[float]] = {}
    for condition in ("silence", "-41LUFS", "-53LUFS"):
        if condition in masks:
            other = masks[condition].reshape(len(original), -1)
            both = (other & original).sum(axis=1)
            out[f"persists_{condition}"] = [float(b / k) if k else float("nan") for b, k in zip(both, kept, strict=True)]
    if "swap" in masks:
        swap = masks["swap"].reshape(len(original), -1)
        union = (swap | original).sum(axis=1)
        inter = (swap & original).sum(axis=1)
        out["changes_swap"] = [float(1 - i / u) if u else 0.0 for i, u in zip(inter, union, strict=True)]
    return out


def probe_video(adapter: Any, path: str | Path, *, device: str = "cpu", batch_size: int = 8,
                on_progress: Callable[[int, int], None] | None = None) -> VideoResult:
    """Run ``adapter`` on the video's clips under every condition; masks at the model's output size, metrics."""
    import torch

    video = decode_video(path)
    spec = adapter.input_spec
    frames, audio = cut_clips(video, spec.frames_per_clip or 5)
    adapter.to(device)
    conditions = [(c, a) for c in VIDEO_CONDITIONS if (a := condition_audio(audio, c)) is not None]
    masks: dict[str, np.ndarray] = {}
    blank = np.zeros(frames.shape[1:4], dtype=bool)
    total, done = len(conditions) * len(frames), 0
    for condition, clip_audio in conditions:
        parts = []
        for start in range(0, len(frames), batch_size):
            probed = [ProbedSample(f"{Path(path).stem}-{c}", f"video/{condition}", clip_audio[c], frames[c], blank,
                                   {}, np.zeros(len(blank), dtype=bool))
                      for c in range(start, min(start + batch_size, len(frames)))]
            with torch.no_grad(), exact_float32():
                logits = adapter.predict(prepare_batch(probed, spec, device))
            parts.append(_foreground(logits, spec))
            done += len(probed)
            if on_progress is not None:
                on_progress(done, total)
        masks[condition] = np.concatenate(parts)
    return VideoResult(Path(path), getattr(adapter, "name", type(adapter).__name__), frames, masks,
                       video_metrics(masks), video.has_audio)


def _foreground(logits: Any, spec: Any) -> np.ndarray:
    """``bool [B, T, h, w]``: sigmoid > 0.5 for binary logits, argmax not background for class logits."""
    if getattr(spec, "output", "binary") == "semantic":
        return (logits.argmax(dim=2) != 0).cpu().numpy()
    return (logits.float() > 0).cpu().numpy()


def _summary(values: list[float]) -> dict[str, Any]:
    finite = np.asarray([v for v in values if np.isfinite(v)], dtype=float)
    if finite.size == 0:
        return {"value": None, "ci_low": None, "ci_high": None, "n_clips": 0, "per_clip": values}
    value, low, high = bootstrap(finite) if finite.size > 1 else (float(finite[0]), float("nan"), float("nan"))
    return {"value": _clean(value), "ci_low": _clean(low), "ci_high": _clean(high), "n_clips": int(finite.size),
            "per_clip": [_clean(v) for v in values]}


def _clean(x: float) -> float | None:
    """A JSON number: None for NaN, six decimals otherwise."""
    return None if not np.isfinite(x) else round(float(x), 6)


def write_video_outputs(result: VideoResult, out: str | Path, *, max_width_px: int = 320) -> list[Path]:
    """``metrics.json``, ``metrics.md`` and one overlay GIF per condition (``overlay-CONDITION.gif``: every
    frame of every clip, one second each, the prediction tinted) into ``out``; return the paths."""
    target = Path(out)
    target.mkdir(parents=True, exist_ok=True)
    summary = {name: _summary(values) for name, values in result.metrics.items()}
    area = {c: round(float(m.mean()), 6) for c, m in result.masks.items()}
    payload = {"video": str(result.path.resolve()), "model": result.model, "clips": int(len(result.frames)),
               "has_audio": result.has_audio, "conditions": list(result.masks),
               "note": "no ground truth: every value compares a prediction with the prediction on the original "
                       "audio", "definitions": {k: VIDEO_METRICS[k] for k in summary},
               "metrics": summary, "predicted_area": area}
    paths = [target / "metrics.json", target / "metrics.md"]
    atomic_write_text(paths[0], json.dumps(payload, indent=1) + "\n")
    atomic_write_text(paths[1], _markdown(payload))
    for condition, masks in result.masks.items():
        paths.append(target / f"overlay-{condition}.gif")
        _write_gif(paths[-1], result.frames, masks, max_width_px)
    return paths


def _markdown(payload: dict[str, Any]) -> str:
    def cell(m: dict[str, Any]) -> str:
        if m["value"] is None:
            return "–"
        ci = f" [{m['ci_low']:.3f}, {m['ci_high']:.3f}]" if m["ci_low"] is not None else ""
        return f"{m['value']:.3f}{ci}"

    lines = [f"# {payload['model']} on {Path(payload['video']).name}", "",
             f"{payload['clips']} clips. No ground truth: every value below compares a prediction with the "
             "prediction on the original audio (not an accuracy); intervals are bootstrap 95 % over clips.", ""]
    if not payload["has_audio"]:
        lines += ["The video has no audio stream: its original audio is digital silence.", ""]
    lines += ["| metric | value | clips | definition |", "|---|---|---|---|"]
    lines += [f"| {name} | {cell(m)} | {m['n_clips']} | {payload['definitions'][name]} |"
              for name, m in payload["metrics"].items()]
    lines += ["", "| condition | predicted area (share of pixels) |", "|---|---|"]
    lines += [f"| {c} | {a:.3f} |" for c, a in payload["predicted_area"].items()]
    return "\n".join(lines) + "\n"


def _write_gif(path: Path, frames: np.ndarray, masks: np.ndarray, max_width_px: int) -> None:
    """Frames ``[C, T, H, W, 3]`` with the masks ``[C, T, h, w]`` tinted in, at most ``max_width_px`` wide."""
    from PIL import Image

    h, w = frames.shape[2:4]
    scale = min(1.0, max_width_px / w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    rows, cols = nearest_indices(masks.shape[2], h), nearest_indices(masks.shape[3], w)
    images = []
    for clip_frames, clip_masks in zip(frames, masks, strict=True):
        for frame, mask in zip(clip_frames, clip_masks, strict=True):
            full = mask[rows][:, cols][..., None]
            tinted = np.where(full, 0.45 * frame + 0.55 * np.asarray(OVERLAY_RGB), frame).astype(np.uint8)
            images.append(Image.fromarray(tinted).resize(size, Image.NEAREST))
    with atomic_path(path) as tmp:
        images[0].save(tmp, format="GIF", save_all=True, append_images=images[1:], duration=1000, loop=0)
