"""Decoding masks and frames the way the reference reads them: colour only (never alpha), 16-bit grey scaled."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

from avsprobe.adapters.builtin import PredictionsAdapter  # noqa: E402
from avsprobe.data.avsbench.decode import read_binary_mask, read_rgb  # noqa: E402
from avsprobe.errors import DataError  # noqa: E402
from avsprobe.probes.export import exported_name  # noqa: E402
from avsprobe.types import AVBatch  # noqa: E402


def test_an_all_black_imsave_mask_is_empty_not_full(tmp_path: Path) -> None:
    path = tmp_path / "m.png"
    plt.imsave(path, np.zeros((6, 8)), cmap="gray", vmin=0, vmax=1)
    with Image.open(path) as im:
        assert im.mode == "RGBA" and np.asarray(im)[..., 3].min() == 255  # opaque black
    assert not read_binary_mask(path).any()
    mask = np.zeros((6, 8))
    mask[1:3, 2:5] = 1
    plt.imsave(path, mask, cmap="gray", vmin=0, vmax=1)
    assert np.array_equal(read_binary_mask(path), mask > 0)


def test_la_and_transparent_masks_read_colour_only(tmp_path: Path) -> None:
    grey = np.zeros((4, 5), np.uint8)
    grey[1, 1] = 255
    la = np.stack([grey, np.full_like(grey, 255)], axis=-1)
    Image.fromarray(la, mode="LA").save(tmp_path / "la.png")
    assert np.array_equal(read_binary_mask(tmp_path / "la.png"), grey > 0)
    rgba = np.zeros((4, 5, 4), np.uint8)  # fully transparent white would be "foreground" by colour only
    rgba[..., 3] = 255
    rgba[2, 3, :3] = 200
    Image.fromarray(rgba, mode="RGBA").save(tmp_path / "rgba.png")
    assert read_binary_mask(tmp_path / "rgba.png").sum() == 1


def test_sixteen_bit_grey_frames_are_scaled_not_saturated(tmp_path: Path) -> None:
    values = np.array([[0, 257, 32768, 65535]], dtype=np.uint16)
    Image.fromarray(values).save(tmp_path / "f.png")  # a 16-bit greyscale PNG
    with Image.open(tmp_path / "f.png") as im:
        assert im.mode in ("I;16", "I")
    rgb = read_rgb(tmp_path / "f.png")
    assert rgb.shape == (1, 4, 3) and rgb[0, :, 0].tolist() == [0, 1, 128, 255]
    assert read_binary_mask(tmp_path / "f.png").tolist() == [[False, True, True, True]]


def test_a_decompression_bomb_is_one_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    Image.fromarray(np.zeros((40, 40, 3), np.uint8)).save(tmp_path / "big.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # 1600 pixels is then over twice the limit
    with pytest.raises(DataError, match="refusing image .*big.png"):
        read_rgb(tmp_path / "big.png")


def test_predictions_saved_with_imsave_score_as_drawn(tmp_path: Path) -> None:
    name = exported_name("clip", "negative/silence")
    for k in range(2):
        plt.imsave(tmp_path / f"{name}_{k}.png", np.zeros((6, 8)), cmap="gray", vmin=0, vmax=1)
    batch = AVBatch(frames=torch.zeros(1, 2, 3, 6, 8), audio=torch.zeros(1, 32000), sample_ids=["clip"],
                    condition_ids=["negative/silence"])
    logits = PredictionsAdapter(tmp_path).predict(batch)
    assert (logits < 0).all()  # black: nothing predicted, so fpr 0 (it was 1.0 with alpha counted)
