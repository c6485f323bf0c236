"""The failure browser: ``browse.html`` beside a report, a static page (no server, no network) listing, for
each model and kind of failure, the clips ranked by severity, each with an overlay strip across its
conditions, filterable by model, kind and class.

Kinds and their severity (per clip, from the records):

* ``persists``: the mask persists under silence, noise or the background bed: the mean fraction of the frame
  predicted under those conditions;
* ``swap``: the mask does not move to the newly sounding object: the mean over swapped frames of
  ``max(0, cov_old - cov_new)``;
* ``quiet``: a quiet source is lost: IoU at -23 LUFS minus IoU at -53 LUFS;
* ``mix``: one source dominates a two-source mix at equal levels: the largest dominance over those mixes;
* ``offscreen``: an off-screen sound is painted on a visible object: the mean coverage of the visible
  objects under the off-screen condition.

Each strip shows one annotated frame of the clip under the kind's conditions, regenerated from ``run.json``
(probes are deterministic): the frame dimmed except where the model predicts (the stored 64x64 thumbnail,
upsampled), the prediction outlined in the model's colour, the expected mask of that condition outlined in
white.
"""

from __future__ import annotations

import html
import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from avsprobe.data.source import open_data
from avsprobe.fileio import atomic_write_bytes, atomic_write_text
from avsprobe.metrics import bias
from avsprobe.probes.suite import ProbeSuite, make_probe
from avsprobe.records import object_values, unpack_thumbnail
from avsprobe.report.style import rgb255

if TYPE_CHECKING:
    import pandas as pd

    from avsprobe.report.compute import RunResult

__all__ = ["KINDS", "failures", "write_browser", "overlay", "ClipRegenerator"]

KINDS = {
    "persists": "mask persists under silence or noise",
    "swap": "swap does not move the mask",
    "quiet": "quiet source lost",
    "mix": "one source dominates a mix",
    "offscreen": "off-screen sound painted on a visible object",
}
PER_KIND = 8  # clips shown per model and kind
TILE = 128
_PERSIST_LABELS = ("silence", "white", "pink", "background")


def _per_clip(rows: pd.DataFrame, values: np.ndarray) -> pd.Series:
    return rows.assign(value=values).groupby("sample_id").value.mean()


def failures(records: pd.DataFrame) -> list[dict[str, Any]]:
    """Every (kind, clip) with its severity and the condition ids its strip shows, most severe first per kind."""
    out: list[dict[str, Any]] = []

    def add(kind: str, severity: pd.Series, conditions: dict[str, list[str]] | list[str]) -> None:
        for clip, value in severity.sort_values(ascending=False, kind="stable").items():
            if np.isfinite(value) and value > 0:
                shown = conditions[clip] if isinstance(conditions, dict) else conditions
                out.append({"kind": kind, "sample_id": str(clip), "severity": float(value), "conditions": shown})

    neg = bias.ok_rows(records, "negative")
    neg = neg[neg.annotated.astype(bool)]
    if not neg.empty:
        held = neg[neg.condition_label.isin(_PERSIST_LABELS)]
        present = set(held.condition_label)
        labels = ["negative/original", *(f"negative/{label}" for label in _PERSIST_LABELS if label in present)]
        add("persists", _per_clip(held, (held.pred_area / held.num_pixels).to_numpy()), labels)
        off = neg[neg.condition_label == "offscreen"]
        cover = [np.nanmean([v for v in c.values() if v is not None] or [np.nan]) for c in object_values(off, "coverage")]
        add("offscreen", _per_clip(off, np.asarray(cover, dtype=np.float64)), ["negative/original", "negative/offscreen"])
    swap = bias.ok_rows(records, "swap", baseline=False)
    swap = swap[swap.annotated.astype(bool)]
    if not swap.empty:
        lost = [max(0.0, (c.get("old") or 0.0) - (c.get("new") or 0.0)) for c in object_values(swap, "coverage")]
        add("swap", _per_clip(swap, np.asarray(lost)), ["swap/original", "swap/swapped"])
    inten = bias.ok_rows(records, "intensity")
    inten = inten[inten.annotated.astype(bool)]
    if not inten.empty:
        by = inten.groupby(["sample_id", "condition_label"]).iou.mean().unstack()
        if {"-23LUFS", "-53LUFS"} <= set(by.columns):
            add("quiet", by["-23LUFS"] - by["-53LUFS"],
                [f"intensity/{c}" for c in ("-23LUFS", "-35LUFS", "-41LUFS", "-47LUFS", "-53LUFS") if c in by.columns])
    mixes = bias._mix_dominance(records)
    equal = mixes[mixes.level_a == mixes.level_b].dropna(subset=["dominance"])
    if not equal.empty:
        worst = equal.groupby("sample_id").dominance.max()
        conditions = {clip: ["mix/original", *[f"mix/{c}" for c in g.condition_label]]
                      for clip, g in equal.groupby("sample_id")}
        add("mix", worst, conditions)
    return out


def _edges(mask: np.ndarray) -> np.ndarray:
    """The pixels of ``mask`` with a 4-neighbour outside it."""
    inner = np.roll(mask, 1, 0) & np.roll(mask, -1, 0) & np.roll(mask, 1, 1) & np.roll(mask, -1, 1)
    return mask & ~inner


def overlay(frame: np.ndarray, predicted: np.ndarray | None, expected: np.ndarray, colour: tuple[int, int, int]
             ) -> np.ndarray:
    """``uint8 [TILE, TILE, 3]``: the frame dimmed except where the model predicts, the prediction's outline
    in the model's colour, the expected mask's outline in white (visible whatever the objects' colours)."""
    from PIL import Image

    h, w = frame.shape[:2]
    tile = frame.astype(np.float32) * 0.35
    if predicted is not None:
        pred = np.asarray(Image.fromarray(predicted.astype(np.uint8) * 255).resize((w, h), Image.NEAREST)) > 127
        tile[pred] = frame[pred]
        tile[_edges(pred)] = colour
    tile[_edges(expected)] = 255
    return np.asarray(Image.fromarray(tile.clip(0, 255).astype(np.uint8)).resize((TILE, TILE), Image.NEAREST))


class ClipRegenerator:
    """Regenerates probed clips of one run (its data, suite and seed), caching samples and probes."""

    def __init__(self, info: dict[str, Any]) -> None:
        self.source = open_data(info["data_root"], split=info.get("split") or "test", subset=info.get("subset") or None)
        self.suite = ProbeSuite.from_dict(info["suite"])
        self.samples: dict[str, Any] = {}
        self.probes: dict[str, Any] = {}

    def probed(self, sample_id: str, condition_id: str) -> Any:
        if sample_id not in self.samples:
            self.samples[sample_id] = self.source.reader.read(sample_id)
        sample = self.samples[sample_id]
        name = condition_id.split("/", 1)[0]
        if name not in self.probes:
            spec = next(s for s in self.suite.probes if s.probe == name)
            self.probes[name] = make_probe(spec.probe, spec.params, bank=self.source.bank,
                                           classes=self.source.classes or None)
        probe = self.probes[name]
        condition = next(c for c in probe.conditions() if c.condition_id == condition_id)
        return probe.apply(sample, condition, self.suite.rng(sample_id, condition))

    def classes(self, sample_id: str) -> list[str]:
        sample = self.samples[sample_id]
        sounding = sorted({o.class_name for o in sample.objects if o.is_sounding})
        return sounding or ([sample.category] if sample.category else [])


def _strip(run: RunResult, probing: ClipRegenerator, item: dict[str, Any], colour: tuple[int, int, int]
           ) -> tuple[np.ndarray, list[str]]:

    r = run.records
    rows = r[(r.sample_id == item["sample_id"]) & (r.status == "ok") & r.annotated.astype(bool)]
    frame = int(rows.frame.min())
    tiles, labels = [], []
    for condition_id in item["conditions"]:
        hit = rows[(rows.condition_id == condition_id) & (rows.frame == frame)]
        if hit.empty:
            continue
        probed = probing.probed(item["sample_id"], condition_id)
        tiles.append(overlay(probed.frames[frame], unpack_thumbnail(hit.pred_thumb.iloc[0]),
                              probed.expected_mask[frame], colour))
        labels.append(condition_id.split("/", 1)[1])
    return np.concatenate(tiles, axis=1), labels


def write_browser(runs: Sequence[RunResult], out_dir: str | Path, colours: dict[str, str]) -> Path:
    """Write ``out_dir/browse.html`` and its strips in ``out_dir/browse/``; return the page's path."""
    from PIL import Image

    out = Path(out_dir)
    (out / "browse").mkdir(parents=True, exist_ok=True)
    cards = []
    for m, run in enumerate(runs):
        if "data_root" not in run.info:
            continue
        try:
            probing = ClipRegenerator(run.info)
        except Exception:  # noqa: BLE001 - data moved or gone: the run is listed without strips
            continue
        colour = rgb255(colours[run.model])
        found = failures(run.records)
        for kind in KINDS:
            for rank, item in enumerate([f for f in found if f["kind"] == kind][:PER_KIND], start=1):
                strip, labels = _strip(run, probing, item, colour)  # type: ignore[arg-type]
                name = f"m{m}-{kind}-{rank:02d}.jpg"
                buffer = io.BytesIO()
                Image.fromarray(strip).save(buffer, format="JPEG", quality=88)  # a quarter of a PNG's bytes
                atomic_write_bytes(out / "browse" / name, buffer.getvalue())
                cards.append({"model": run.model, "kind": kind, "rank": rank, "sample_id": item["sample_id"],
                              "classes": probing.classes(item["sample_id"]), "severity": item["severity"],
                              "labels": labels, "image": f"browse/{name}"})
    page = out / "browse.html"
    atomic_write_text(page, _page(cards))
    return page


def _page(cards: list[dict[str, Any]]) -> str:
    def options(values: list[str]) -> str:
        return "".join(f'<option value="{html.escape(v)}">{html.escape(v)}</option>' for v in values)

    models = list(dict.fromkeys(c["model"] for c in cards))
    classes = sorted({cls for c in cards for cls in c["classes"]})
    body = []
    for c in cards:
        caption = " · ".join(html.escape(label) for label in c["labels"])
        body.append(
            f'<div class="card" data-model="{html.escape(c["model"])}" data-kind="{c["kind"]}" '
            f'data-classes="{html.escape(json.dumps(c["classes"]))}">'
            f'<h3>{html.escape(c["model"])} · {html.escape(KINDS[c["kind"]])} · #{c["rank"]}</h3>'
            f'<p>clip <code>{html.escape(c["sample_id"])}</code> ({html.escape(", ".join(c["classes"]) or "no class")}), '
            f'severity {c["severity"]:.3f}</p><img src="{html.escape(c["image"])}" alt="{html.escape(c["sample_id"])}">'
            f'<p class="labels">{caption}</p></div>')
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>avsprobe failure browser</title>
<style>body{{font-family:sans-serif;margin:1em;background:#fafafa}}.card{{display:inline-block;vertical-align:top;
margin:6px;padding:6px;background:white;border:1px solid #ddd}}.card h3{{font-size:13px;margin:0}}.card p{{font-size:12px;
margin:2px 0}}img{{image-rendering:pixelated;display:block}}</style></head>
<body data-cards="{len(cards)}">
<h1>Failure browser</h1>
<p>Per model and kind of failure, the clips ranked by severity. Each strip: one annotated frame under the
conditions named below it, dimmed except where the model predicts, the prediction outlined in the model's
colour, the expected mask outlined in white.</p>
<label>model <select id="model"><option value="">all</option>{options(models)}</select></label>
<label>kind <select id="kind"><option value="">all</option>{"".join(f'<option value="{k}">{html.escape(v)}</option>' for k, v in KINDS.items())}</select></label>
<label>class <select id="class"><option value="">all</option>{options(classes)}</select></label>
<p id="count"></p>
<div id="cards">{"".join(body)}</div>
<script>
window.addEventListener("error", e => {{ document.body.dataset.errors = (document.body.dataset.errors || "") + e.message + ";"; }});
function filter() {{
  const m = document.getElementById("model").value, k = document.getElementById("kind").value,
        c = document.getElementById("class").value;
  let shown = 0;
  for (const card of document.querySelectorAll(".card")) {{
    const ok = (!m || card.dataset.model === m) && (!k || card.dataset.kind === k)
      && (!c || JSON.parse(card.dataset.classes).includes(c));
    card.style.display = ok ? "" : "none";
    shown += ok ? 1 : 0;
  }}
  document.getElementById("count").textContent = shown + " of {len(cards)} clips shown";
}}
for (const id of ["model", "kind", "class"]) document.getElementById(id).addEventListener("change", filter);
filter();
window.addEventListener("load", () => {{
  const images = [...document.images];
  document.body.dataset.imagesLoaded = images.filter(i => i.complete && i.naturalWidth > 0).length;
  document.body.dataset.images = images.length;
}});
</script></body></html>
"""
