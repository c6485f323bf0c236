"""Write a short test video (H.264 + AAC in MP4, as a phone records) for ``avsprobe run --video``: a white
square on black, the first half silent and the second half a 440 Hz tone.

    python examples/make_video.py sample.mp4 [--seconds 10]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np


def write_video(path: str | Path, seconds: int = 10, fps: int = 10, size: int = 64, tone_from_s: float | None = None,
                rate_hz: int = 48_000) -> None:
    """``seconds`` of a ``size`` x ``size`` white square at ``fps``; audio silent until ``tone_from_s`` (half
    the video by default), then a 440 Hz tone at 0.1 amplitude, mono at ``rate_hz``."""
    import av

    tone_from_s = seconds / 2 if tone_from_s is None else tone_from_s
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=fps)
        video.width = video.height = size
        video.pix_fmt = "yuv420p"
        audio = container.add_stream("aac", rate=rate_hz)
        audio.layout = "mono"
        frame = np.zeros((size, size, 3), dtype=np.uint8)
        frame[size // 4 : 3 * size // 4, size // 4 : 3 * size // 4] = 255
        for _ in range(seconds * fps):
            for packet in video.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in video.encode():
            container.mux(packet)
        t = np.arange(seconds * rate_hz) / rate_hz
        wave = np.where(t >= tone_from_s, 0.1 * np.sin(2 * np.pi * 440 * t), 0.0).astype(np.float32)
        for start in range(0, wave.size, 1024):
            chunk = av.AudioFrame.from_ndarray(wave[None, start : start + 1024], format="flt", layout="mono")
            chunk.sample_rate = rate_hz
            chunk.pts = start
            for packet in audio.encode(chunk):
                container.mux(packet)
        for packet in audio.encode():
            container.mux(packet)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--seconds", type=int, default=10)
    args = parser.parse_args()
    write_video(args.out, seconds=args.seconds)


if __name__ == "__main__":
    main()
