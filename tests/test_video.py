"""``run --video``: one's own video cut into the model's clips, probed, and compared with its own prediction.

The video is written here with PyAV (H.264 + AAC in MP4, as a phone records): 10 s, a white square on black,
the first 5 s digitally silent and the last 5 s a 440 Hz tone. A known-answer adapter segments the bright
pixels of a frame when that frame's second of audio is above -45 dBFS RMS, so every metric has a value that
follows from the construction."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from avsprobe.adapters import InputSpec, ModelAdapter
from avsprobe.errors import DataError
from avsprobe.video import DecodedVideo, cut_clips, probe_video, video_metrics, write_video_outputs

av = pytest.importorskip("av")

GATE_DBFS = -45.0
REPO = Path(__file__).resolve().parents[1]


class LoudBright(ModelAdapter):
    """Bright pixels where the frame's second of audio is above :data:`GATE_DBFS` RMS, nothing elsewhere."""

    name = "loud-bright"

    def __init__(self) -> None:
        super().__init__()
        self.input_spec = InputSpec(frames_per_clip=5, mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0), audio="waveform")

    def predict(self, batch):  # noqa: ANN001, ANN201
        b, t = batch.frames.shape[:2]
        seconds = batch.audio.reshape(b, t, -1).double()
        rms_dbfs = 10 * torch.log10(seconds.pow(2).mean(-1) + 1e-20)
        bright = batch.frames.mean(2) > 0.5  # [B, T, H, W]
        on = (rms_dbfs > GATE_DBFS)[..., None, None]
        return torch.where(bright & on, 10.0, -10.0)


def _write_video(path: Path) -> None:
    """The example script's video: 10 s, silent for 5 s, then the tone."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_video", REPO / "examples" / "make_video.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    module.write_video(path, seconds=10, fps=10, size=64, tone_from_s=5.0)


def test_cut_clips_takes_avsbenchs_frame_of_each_second_and_its_second_of_audio() -> None:
    times = np.arange(0, 11, 0.25)  # 4 fps, 11 s
    frames = np.broadcast_to(np.arange(len(times), dtype=np.uint8)[:, None, None, None], (len(times), 2, 2, 3))
    audio = np.repeat(np.arange(11, dtype=np.float32), 16_000)
    clip_frames, clip_audio = cut_clips(DecodedVideo(frames, times, audio, 11.0, True), 5)
    assert clip_frames.shape == (2, 5, 2, 2, 3) and clip_audio.shape == (2, 5 * 16_000)  # the 11th second left out
    # the frame on screen 15/16 s into each second, as AVSBench's floor(k fps + 15/16 fps) at 4 fps
    assert clip_frames[:, :, 0, 0, 0].tolist() == [[3, 7, 11, 15, 19], [23, 27, 31, 35, 39]]
    assert clip_audio[1, ::16_000].tolist() == [5, 6, 7, 8, 9]
    with pytest.raises(DataError, match="at least 5 s"):
        cut_clips(DecodedVideo(frames[:8], times[:8], audio[:32_000], 2.0, True), 5)


def test_video_metrics_by_hand() -> None:
    square = np.zeros((1, 2, 4, 4), dtype=bool)
    square[..., :2, :2] = True  # 8 pixels per clip
    half = square.copy()
    half[..., 1, :] = False  # 4 of them
    masks = {"original": np.concatenate([square, np.zeros_like(square)]),
             "silence": np.concatenate([half, square]),
             "swap": np.concatenate([half, square])}
    got = video_metrics(masks)
    assert got["persists_silence"][0] == 0.5 and np.isnan(got["persists_silence"][1])  # nothing to persist
    assert got["changes_swap"] == [0.5, 1.0]


def test_a_recorded_video_gives_the_known_answers(tmp_path: Path) -> None:
    path = tmp_path / "clip.mp4"
    _write_video(path)
    result = probe_video(LoudBright(), path, batch_size=1)
    assert result.frames.shape == (2, 5, 64, 64, 3) and result.has_audio
    original = result.masks["original"]
    assert not original[0].any() and original[1].all(axis=0)[20:44, 20:44].all()  # the tone's clip, the square
    m = result.metrics
    assert np.isnan(m["persists_silence"][0]) and m["persists_silence"][1] == 0.0
    assert m["persists_-41LUFS"][1] == 1.0  # about -40 dBFS RMS: above the gate
    assert m["persists_-53LUFS"][1] == 0.0  # about -52 dBFS RMS: below it
    assert m["changes_swap"] == [1.0, 1.0]  # each clip took the other's audio
    paths = write_video_outputs(result, tmp_path / "out")
    payload = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert payload["metrics"]["persists_-41LUFS"]["value"] == 1.0 and payload["clips"] == 2
    assert "No ground truth" in (tmp_path / "out" / "metrics.md").read_text()
    # the silent clip was not raised to -41 LUFS (its codec noise would have become a sound): same area
    assert payload["predicted_area"]["-41LUFS"] == payload["predicted_area"]["original"]
    gifs = sorted(p.name for p in paths if p.suffix == ".gif")
    assert gifs == sorted(f"overlay-{c}.gif" for c in ("original", "silence", "-41LUFS", "-53LUFS", "swap"))
    from PIL import Image

    with Image.open(tmp_path / "out" / "overlay-original.gif") as gif:  # 10 frames of 1 s (equal ones merged)
        durations = []
        for k in range(gif.n_frames):
            gif.seek(k)
            durations.append(gif.info["duration"])
        assert sum(durations) == 10_000 and gif.n_frames == 2  # silent clip: no tint; tone clip: tinted


def test_run_video_from_the_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.cli.test_app import run_cli

    path = tmp_path / "mine.mp4"
    _write_video(path)
    adapter = tmp_path / "adapter.py"
    adapter.write_text(Path(__file__).read_text().split("av = pytest.importorskip")[0].split('"""', 2)[2]
                       + "\n\n" + _adapter_source())
    code, out, err = run_cli(["run", "--model", f"{adapter}:LoudBright", "--video", str(path), "--out",
                              str(tmp_path / "runs"), "--device", "cpu"], capsys)
    assert code == 0, out + err
    folder = next((tmp_path / "runs").glob("*/video-mine"))
    assert (folder / "overlay-swap.gif").is_file() and "persists_silence" in out
    code, _, err = run_cli(["run", "--model", f"{adapter}:LoudBright", "--video", str(tmp_path / "none.mp4")], capsys)
    assert code == 1 and "none.mp4" in err and "Traceback" not in err


def _adapter_source() -> str:
    import inspect

    return f"GATE_DBFS = {GATE_DBFS}\n\n\n" + inspect.getsource(LoudBright)
