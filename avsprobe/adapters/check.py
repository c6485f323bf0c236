"""Adapter conformance checks (``avsprobe models check NAME``).

On a synthetic batch of two clips the adapter must: be probe-able (take its audio from avsprobe, not from
disk), run, return a tensor of the declared shape with finite values, give the same output twice, on the
device asked for, and give each clip the same output alone as in a batch (batch independence, within 1e-5 of 1 + |logit|).
Reported beside them: whether its output changes when the audio is silenced (a warning when it does not:
such a model ignores its audio), the audio features handed over (their layout), throughput and peak memory.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from avsprobe.adapters.base import ModelAdapter
from avsprobe.adapters.batching import prepare_batch
from avsprobe.audio.features import audio_features
from avsprobe.audio.vggish import vggish_examples
from avsprobe.devices import check_device, exact_float32
from avsprobe.memory_guard import peak_rss_mb
from avsprobe.probes.base import ProbedSample

__all__ = ["CheckResult", "check_adapter", "PredictTimeout"]

BATCH_TOLERANCE = 1e-5
DEFAULT_TIMEOUT_S = 300.0
"""How long one ``predict`` call of the checks may take before the check fails (``--timeout``)."""


class PredictTimeout(TimeoutError):
    """``predict`` did not return in time."""


def _predictor(adapter: ModelAdapter, timeout_s: float) -> Callable[[object], Any]:
    """``adapter.predict`` under ``no_grad`` in a helper thread, waited for at most ``timeout_s``: an adapter that
    never returns fails its check instead of hanging the command (the thread is left to the process's exit)."""
    import torch

    def predict(batch: object) -> Any:
        result: dict[str, Any] = {}

        def call() -> None:
            try:
                with torch.no_grad(), exact_float32():
                    result["value"] = adapter.predict(batch)  # type: ignore[arg-type]
            except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
                result["error"] = exc

        thread = threading.Thread(target=call, name="avsprobe-check-predict", daemon=True)
        thread.start()
        thread.join(timeout_s)
        if thread.is_alive():
            raise PredictTimeout(f"predict did not return within {timeout_s:g} s")
        if "error" in result:
            raise result["error"]
        return result["value"]

    return predict


@dataclass
class CheckResult:
    """One check: ``passed`` False fails the adapter; ``warning`` marks a passed check worth a look."""

    name: str
    passed: bool
    detail: str
    warning: bool = False


def _probed_batch(frames: int, size: int) -> list:
    rng = np.random.default_rng(0)
    out = []
    for i in range(2):
        mask = np.zeros((frames, size, size), dtype=bool)
        mask[:, size // 4 : size // 2, size // 4 : size // 2] = True
        labels = np.where(mask, 47, 0).astype(np.int16)  # the sounding object is a piano (AVSS id 47)
        out.append(ProbedSample(f"check-{i}", "check/original", rng.uniform(-0.1, 0.1, 16_000 * frames).astype(np.float32),
                                rng.integers(0, 256, (frames, size, size, 3), dtype=np.uint8), mask, {"sounding": mask},
                                np.ones(frames, dtype=bool), {}, labels, mask))
    return out


def _peak_memory(device: str) -> str:
    import torch

    rss = peak_rss_mb()
    if device.startswith("cuda") and torch.cuda.is_available():
        return f"peak {rss:.0f} MB resident, {torch.cuda.max_memory_allocated(device) / 2**20:.0f} MB on {device}"
    return f"peak {rss:.0f} MB resident"


def check_adapter(adapter: ModelAdapter, *, device: str = "cpu", timeout_s: float = DEFAULT_TIMEOUT_S
                  ) -> list[CheckResult]:
    """Run the checks; each result says what it found (see the module docstring). A ``predict`` call that takes
    longer than ``timeout_s`` fails its check."""
    import torch

    check_device(device)
    spec = adapter.input_spec
    if spec.audio == "precomputed":
        from avsprobe.audio.features import NOT_PROBEABLE

        return [CheckResult("probe-able", False, f"the adapter {NOT_PROBEABLE}")]
    frames = spec.frames_per_clip or 5
    probed = _probed_batch(frames, 64)
    results: list[CheckResult] = [CheckResult("probe-able", True, f"takes its audio as {spec.audio!r} from avsprobe")]
    predict = _predictor(adapter, timeout_s)
    try:
        adapter.to(device)
        batch = prepare_batch(probed, spec, device)
        started = time.perf_counter()
        first = predict(batch)
        second = predict(batch)
        seconds = (time.perf_counter() - started) / 2
    except Exception as exc:  # report, do not crash: this is a diagnostic
        return [*results, CheckResult("predict runs", False, f"{type(exc).__name__}: {exc}")]
    results.append(CheckResult("predict runs", True, f"on {device}"))
    h, w = batch.frames.shape[-2:]
    if not isinstance(first, torch.Tensor):
        results.append(CheckResult("returns a torch.Tensor", False, f"predict returned {type(first).__name__}; "
                                   "return logits as a torch.Tensor [B, T, H, W]"))
        return results
    if spec.output == "semantic":
        from avsprobe.semantic_scoring import model_classes

        expected: tuple[int, ...] = (2, frames, len(model_classes(spec)), h, w)
        layout = "[B, T, K, H, W]"
    else:
        expected, layout = (2, frames, h, w), "[B, T, H, W]"
    results.append(CheckResult(f"shape {layout}", tuple(first.shape) == expected,
                               f"got {tuple(first.shape)}, expected {expected}"))
    if tuple(first.shape) != expected:
        return results
    finite = bool(torch.isfinite(first).all())
    results.append(CheckResult("finite logits", finite, f"min {float(first.min()):.3g}, max {float(first.max()):.3g}"))
    # NaN equals NaN here: the finiteness check already fails a NaN model; it is not also non-deterministic
    same = first.shape == second.shape and bool(((first == second) | (first.isnan() & second.isnan())).all())
    results.append(CheckResult("deterministic", same, "two calls on the same batch agree" if same else "two calls differ"))
    results.append(CheckResult("device", first.device.type == torch.device(device).type, f"logits on {first.device}"))
    results += _batch_independence(adapter, predict, probed, first, device)
    results += _audio_sensitivity(adapter, predict, batch, first)
    results.append(_family_round_trip(batch, probed, spec))
    results.append(CheckResult("throughput", True, f"{2 / max(seconds, 1e-9):.1f} clips/s at batch 2 on {device}; "
                               f"{_peak_memory(device)}"))
    return results


def _batch_independence(adapter: ModelAdapter, predict: Callable[[object], Any], probed: list, batched: object,
                        device: str) -> list[CheckResult]:

    try:
        alone = predict(prepare_batch(probed[:1], adapter.input_spec, device))
        a, b = alone[0].double(), batched[0].double()  # type: ignore[index]
        # float32 kernels pick other blockings for other batch sizes: the tolerance is relative to the logit
        # (as torch.allclose: |a - b| <= tol * (1 + |b|)), so saturated logits are not held to absolute 1e-5
        excess = float(((a - b).abs() / (1 + b.abs())).max())
        gap = float((a - b).abs().max())
    except Exception as exc:  # noqa: BLE001 - reported
        return [CheckResult("batch independence", False, f"B = 1 failed: {type(exc).__name__}: {exc}")]
    return [CheckResult("batch independence", excess <= BATCH_TOLERANCE,
                        f"clip 0 alone vs in a batch of 2: max difference {gap:.2e}, {excess:.2e} relative to "
                        f"1 + |logit| (limit {BATCH_TOLERANCE:g})")]


def _audio_sensitivity(adapter: ModelAdapter, predict: Callable[[object], Any], batch: object, original: object
                       ) -> list[CheckResult]:
    import torch

    silent_audio = torch.zeros_like(batch.audio)  # type: ignore[attr-defined]
    features = batch.audio_features  # type: ignore[attr-defined]
    if features is not None:
        t = batch.frames.shape[1]  # type: ignore[attr-defined]
        features = audio_features([np.zeros(a.shape[-1], np.float32) for a in batch.audio], adapter.input_spec, t,
                                  str(batch.audio.device))  # type: ignore[attr-defined]
    silent = dataclasses.replace(batch, audio=silent_audio, audio_features=features)
    try:
        muted = predict(silent)
        change = float((muted.float() - original.float()).abs().max())  # type: ignore[attr-defined]
    except Exception as exc:  # noqa: BLE001 - reported
        return [CheckResult("audio sensitivity", False, f"silenced audio failed: {type(exc).__name__}: {exc}")]
    if change == 0.0:
        return [CheckResult("audio sensitivity", True, "the output is identical under silence: the model ignores "
                            "the audio it is given (audio probes will show no effect)", warning=True)]
    return [CheckResult("audio sensitivity", True, f"silencing the audio changes the logits by up to {change:.3g}")]


def _family_round_trip(batch: object, probed: list, spec: object) -> CheckResult:
    import torch

    kind = spec.audio  # type: ignore[attr-defined]
    features = batch.audio_features  # type: ignore[attr-defined]
    t = batch.frames.shape[1]  # type: ignore[attr-defined]
    if kind == "waveform":
        return CheckResult("input family", features is None and batch.audio.ndim == 2,  # type: ignore[attr-defined]
                           f"waveform {tuple(batch.audio.shape)} at {spec.sample_rate_hz} Hz")  # type: ignore[attr-defined]
    if kind == "vggish_logmel":
        reference = vggish_examples([p.audio for p in probed], num_examples=t, short_policy=spec.short_policy)  # type: ignore[attr-defined]
        gap = float((features.cpu() - reference).abs().max())
        ok = tuple(features.shape) == (2, t, 1, 96, 64) and gap <= 1e-5
        return CheckResult("input family", ok, f"VGGish log-mel {tuple(features.shape)} float32, within {gap:.1e} of "
                           "the reference frontend of the probed waveform")
    ok = tuple(features.shape) == (2, t, 128) and bool(torch.isfinite(features).all())
    return CheckResult("input family", ok, f"VGGish embeddings {tuple(features.shape)}"
                       + (" after PCA and 8-bit quantisation" if spec.vggish_pca else ""))  # type: ignore[attr-defined]
