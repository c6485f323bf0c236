"""Graded visual corruptions against their known answers: occlusion covers the stated share of the object within
one pixel row and the expected mask keeps the visible part; blur and JPEG give the same bytes on every run and
in worker processes; brightness and contrast scale as stated."""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pytest

from avsprobe.probes.visual_corruptions import (
    OCCLUDER_GREY,
    VISUAL_SEVERITIES,
    corrupt_frames,
    occlude_object,
)


def _clip(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    frames = rng.integers(0, 256, (3, 48, 64, 3), dtype=np.uint8)
    yy, xx = np.mgrid[:48, :64]
    ellipse = ((yy - 24) / 15) ** 2 + ((xx - 30) / 20) ** 2 <= 1
    return frames, np.repeat(ellipse[None], 3, axis=0)


@pytest.mark.parametrize("share", VISUAL_SEVERITIES["occlusion"])
def test_occlusion_covers_the_share_within_one_row_and_the_mask_keeps_the_visible_part(share: float) -> None:
    frames, mask = _clip()
    occluded, visible = occlude_object(frames, mask, share)
    rows = mask[0].sum(axis=1)
    total = rows.sum()
    covered = (mask[0] & ~visible[0]).sum()
    assert covered >= share * total  # reached ...
    last_row = np.flatnonzero((mask[0] & ~visible[0]).any(axis=1))[-1]
    assert covered - rows[last_row] < share * total  # ... with the last row, not before it
    assert np.all(occluded[0][mask[0] & ~visible[0]] == OCCLUDER_GREY)
    assert np.array_equal(occluded[0][visible[0]], frames[0][visible[0]])  # the visible part untouched
    assert not (visible & ~mask).any()


def test_a_frame_without_the_object_is_left_alone() -> None:
    frames, mask = _clip()
    mask[1] = False
    occluded, visible = occlude_object(frames, mask, 0.5)
    assert np.array_equal(occluded[1], frames[1]) and not visible[1].any()


def _all_families(seed: int) -> list[bytes]:
    frames, mask = _clip(seed)
    return [corrupt_frames(frames, family, severity, mask)[0].tobytes()
            for family in VISUAL_SEVERITIES for severity in (1, 5)]


def test_every_family_is_deterministic_across_runs_and_processes() -> None:
    here = _all_families(3)
    assert here == _all_families(3)
    with ProcessPoolExecutor(max_workers=2) as pool:
        assert list(pool.map(_all_families, [3, 3])) == [here, here]


def test_brightness_contrast_and_blur_do_what_they_say() -> None:
    frames, _ = _clip()
    dark, _ = corrupt_frames(frames, "brightness", 5)
    assert np.array_equal(dark, np.clip(np.rint(frames * 0.2), 0, 255).astype(np.uint8))
    flat, _ = corrupt_frames(frames, "contrast", 5)
    assert flat.std() == pytest.approx(0.2 * frames.std(), rel=0.02)
    assert abs(flat.mean() - frames.mean()) < 0.5
    for family in ("gaussian_blur", "motion_blur", "jpeg"):
        mild, harsh = corrupt_frames(frames, family, 1)[0], corrupt_frames(frames, family, 5)[0]
        error = [np.abs(x.astype(float) - frames).mean() for x in (mild, harsh)]
        assert 0 < error[0] < error[1], family  # harsher severities move the pixels more
    with pytest.raises(ValueError, match="needs the sounding object's mask"):
        corrupt_frames(frames, "occlusion", 2)
