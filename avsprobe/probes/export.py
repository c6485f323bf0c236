"""Writing a probe set in an AVSBench layout, so any existing AVS code base can predict on it.

Every (sample, condition) that applies becomes one clip: frames, the probed wav, its VGGish log-mel as
``.npy`` (``[T, 1, 96, 64]``, the same frontend as the original audio), and the expected mask as ground truth.
``manifest.csv`` maps each exported clip to its (sample, condition) and what was applied; conditions that do
not apply are listed in ``export.json``.

Layouts: ``s4`` (``Single-source/``, split ``test``, 1-based frame names), ``ms3`` (``Multi-sources/``,
flat ``{name}.mp4_{k}.png`` frames) and ``avss`` (``metadata.csv`` + ``probe/{uid}/``, colour masks; needs
class labels, which the bias lab and AVSS provide).
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Literal

import numpy as np

from avsprobe.audio.io import save_audio
from avsprobe.audio.vggish import vggish_examples
from avsprobe.errors import ConfigError, ProbeNotApplicable
from avsprobe.fileio import atomic_dir
from avsprobe.probes.base import Probe, ProbedSample

__all__ = ["Layout", "export_probe_set", "exported_name"]

Layout = Literal["s4", "ms3", "avss"]
_LABEL = "probe"


def exported_name(sample_id: str, condition_id: str) -> str:
    """File-safe clip name: ``{sample}__{probe}__{label}`` with anything but ``[A-Za-z0-9._-]`` as ``_``."""
    probe, _, label = condition_id.partition("/")
    return re.sub(r"[^A-Za-z0-9._-]", "_", f"{sample_id}__{probe}__{label}")


def _png(path: Path, array: np.ndarray) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path, compress_level=1)  # uint8 [H, W] saves as 'L', [H, W, 3] as 'RGB'


def _write_clip(root: Path, layout: Layout, name: str, category: str, probed: ProbedSample) -> None:
    t = probed.frames.shape[0]
    log_mel = vggish_examples(probed.audio.astype(np.float64), num_examples=t).numpy()
    masks = (probed.expected_mask * 255).astype(np.uint8)
    if layout == "s4":
        data = root / "Single-source" / "s4_data"
        for k in range(t):
            _png(data / "visual_frames" / "test" / category / name / f"{name}_{k + 1}.png", probed.frames[k])
            _png(data / "gt_masks" / "test" / category / name / f"{name}_{k + 1}.png", masks[k])
        wav = data / "audio_wav" / "test" / category / f"{name}.wav"
        npy = data / "audio_log_mel" / "test" / category / f"{name}.npy"
    elif layout == "ms3":
        data = root / "Multi-sources" / "ms3_data"
        for k in range(t):
            _png(data / "visual_frames" / name / f"{name}.mp4_{k + 1}.png", probed.frames[k])
            _png(data / "gt_masks" / "test" / name / f"{name}_{k + 1}.png", masks[k])
        wav = data / "audio_wav" / "test" / f"{name}.wav"
        npy = data / "audio_log_mel" / "test" / f"{name}.npy"
    else:
        from avsprobe.data.palette import AVSS_CLASSES, avss_palette

        # colour i is class i of the data's own order, which the export's label2idx.json writes down
        palette = avss_palette(len(probed.label_names or AVSS_CLASSES))
        folder = root / _LABEL / name
        for i in range(t):
            _png(folder / "frames" / f"{i}.png", probed.frames[i])
            _png(folder / "labels_rgb" / f"{i}.png", palette[probed.expected_labels[i]])  # type: ignore[index]
        wav, npy = folder / "audio.wav", folder / "audio_log_mel.npy"
    save_audio(wav, probed.audio)
    npy.parent.mkdir(parents=True, exist_ok=True)
    np.save(npy, log_mel)


def export_probe_set(
    out_dir: str | Path,
    reader: object,
    probes: Sequence[Probe],
    suite: object,
    layout: Layout,
    *,
    limit: int | None = None,
    overwrite: bool = False,
    on_progress: Callable[[int, int], None] | None = None,
) -> dict[str, object]:
    """Export every applicable (sample, condition) of ``probes`` over ``reader``'s samples.

    Args:
        reader: ``sample_ids()`` / ``read(id)``.
        probes: built probes; ``suite`` (a ``ProbeSuite``) gives the seed of each job.
        layout: ``"s4"``, ``"ms3"`` or ``"avss"``.
        limit: only the first N samples.

    Returns:
        ``export.json`` content: layout, suite fingerprint, counts and the not-applicable jobs.
    """
    if layout not in ("s4", "ms3", "avss"):
        raise ConfigError(f"unknown layout {layout!r}; use s4, ms3 or avss")
    sample_ids = reader.sample_ids()[:limit] if limit else reader.sample_ids()  # type: ignore[attr-defined]
    jobs = list(suite.jobs(sample_ids, probes))  # type: ignore[attr-defined]
    rows, skipped = [], []
    label_names: set[tuple[str, ...]] = set()
    with atomic_dir(out_dir, overwrite=overwrite) as tmp:
        cache: dict[str, object] = {}
        for done, job in enumerate(jobs, start=1):
            if job.sample_id not in cache:
                cache = {job.sample_id: reader.read(job.sample_id)}  # type: ignore[attr-defined]
            sample = cache[job.sample_id]
            try:
                probed = job.probe.apply(sample, job.condition, suite.rng(job.sample_id, job.condition))  # type: ignore[attr-defined]
            except ProbeNotApplicable as exc:
                skipped.append({"sample_id": job.sample_id, "condition_id": job.condition.condition_id, "reason": str(exc)})
                continue
            if layout in ("s4", "ms3") and probed.frames.shape[0] != 5:
                raise ConfigError(f"the {layout} layout holds 5 frames; {job.sample_id!r} has {probed.frames.shape[0]}: use --layout avss")
            if layout == "avss" and probed.expected_labels is None:
                raise ConfigError(f"{job.sample_id!r} has no class labels (binary data): use --layout s4 or ms3")
            if layout == "avss":
                from avsprobe.data.palette import AVSS_CLASSES

                label_names.add(probed.label_names or AVSS_CLASSES)
                if len(label_names) > 1:
                    raise ConfigError(f"{job.sample_id!r} names its classes in another order than the clips before "
                                      "it; an AVSS export holds one label2idx.json")
            name = exported_name(job.sample_id, job.condition.condition_id)
            category = re.sub(r"[^A-Za-z0-9._-]", "_", getattr(sample, "category", "") or "probed")
            _write_clip(tmp, layout, name, category, probed)
            rows.append({"name": name, "category": category, "sample_id": job.sample_id,
                         "condition_id": job.condition.condition_id, "probe": job.probe.name,
                         "annotated": "".join("1" if a else "0" for a in probed.annotated),
                         "applied": json.dumps(probed.applied, sort_keys=True, default=float)})
            if on_progress:
                on_progress(done, len(jobs))
        if len({r["name"] for r in rows}) != len(rows):
            raise ConfigError("two exported clips got the same name; sample ids differ only in punctuation")
        _write_metadata(tmp, layout, rows)
        for names in label_names:  # the AVSS layout's class list (1-based ids, background first, as released)
            (tmp / "label2idx.json").write_text(json.dumps({c: i + 1 for i, c in enumerate(names)}, indent=1) + "\n")
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=["name", "category", "sample_id", "condition_id", "probe", "annotated", "applied"],
                                lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        (tmp / "manifest.csv").write_text(buf.getvalue())
        info = {"layout": layout, "suite": suite.to_dict(), "suite_fingerprint": suite.fingerprint(),  # type: ignore[attr-defined]
                "exported": len(rows), "not_applicable": skipped}
        (tmp / "export.json").write_text(json.dumps(info, indent=1, sort_keys=True) + "\n")
    return info


def _write_metadata(root: Path, layout: Layout, rows: list[dict[str, str]]) -> None:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    if layout == "s4":
        writer.writerow(["name", "start", "category", "split"])
        writer.writerows([r["name"], 0, r["category"], "test"] for r in rows)
        path = root / "Single-source" / "s4_meta_data.csv"
    elif layout == "ms3":
        writer.writerow(["video_id", "split"])
        writer.writerows([r["name"], "test"] for r in rows)
        path = root / "Multi-sources" / "ms3_meta_data.csv"
    else:
        writer.writerow(["vid", "uid", "s_min", "s_sec", "a_obj", "split", "label"])
        writer.writerows([r["name"], r["name"], 0, 0, r["category"], "test", _LABEL] for r in rows)
        path = root / "metadata.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(buf.getvalue())
