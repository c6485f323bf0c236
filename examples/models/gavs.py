"""Template: GAVS (AAAI 2024, "Prompting segmentation with sound is generalizable audio-visual source
localizer") through its own code, with every probe applied.

Follows GeWu-Lab/Generalizable-Audio-Visual-Segmentation @ 753b23b. ``GAVS/segment_anything/run_v1m_x.py``
builds SAM with ``build_sam.sam_model_registry[model_type](sam_checkpoint)`` and wraps it in
``avs_model.AVSM(model_v=sam, model_t=None, config)``; training saves ``AVSM.state_dict()`` per epoch, which is
the ``checkpoint=`` loaded here. Per frame, ``AVSM.forward`` (and ``dataset/avs_bench.py``) does:

- the frame as ``cv2.imread`` reads it, i.e. **BGR** uint8 (SAM's RGB mean and std are then applied to BGR
  pixels: the template keeps that, since the weights were trained so), resized by
  ``utils.transforms.ResizeLongestSide(image_encoder.img_size).apply_image``, then ``model_v.preprocess``
  (normalise, pad to square) and ``model_v.image_encoder``;
- the frame's 128-d VGGish embedding as the prompt, ``[1, 128]`` as the upstream ``DataLoader`` (batch size 1)
  hands it over: ``AVSM.decode_with_pmp(image_embed, audio_embed)``;
- ``model_v.postprocess_masks(low_res_masks, input_size, original_size)``: logits ``[1, 1, H, W]`` at the
  frame's own size (the evaluator thresholds their sigmoid at 0.5).

The embeddings come from the VGGish network given by ``vggish_weights=`` (converted torchvggish layout),
computed by the runner from the probed waveform. The one released embedding file in the repository
(``feature_extract/v2_vggish_embs/--iSerV5DbY_68000_78000.npy``, float32 ``[10, 128]`` in [-2.26, 3.36]) is
neither 8-bit quantised nor non-negative, so GAVS did not use torchvggish's quantising post-processing:
``vggish_pca=`` stays off unless your checkpoint was trained on PCA-quantised embeddings.

Three upstream habits the template isolates:

- ``segment_anything/config.py`` parses the command line when it is imported (``--tune_v`` is required) and sets
  ``CUDA_VISIBLE_DEVICES``; the modelling code imports it. The template imports it with the arguments of the
  training script (``--tune_v``, the ``tune_v=`` option, 9 as in ``run_v1m.sh`` and ``run_v3.sh``: the image
  encoder applies its adapters from that block on, so it must match the checkpoint), then restores
  ``sys.argv`` and ``CUDA_VISIBLE_DEVICES``.
- The mask decoder moves the prompt to ``config.args.device`` (``cuda:0`` by default): the template points it,
  and ``AVSM.device``, at the adapter's device, so ``--device cpu`` works.
- Upstream needs ``opencv-python`` (``config.py`` imports ``cv2``) and torchvision besides torch; no GPU. Where
  that environment cannot be built beside avsprobe, use the export route (``avsprobe export``, then
  ``predictions:DIR``). Checked against the upstream code with random weights: ``reports/templates/check-cuda.md``.

    avsprobe run --model examples/models/gavs.py:GAVS --model-opt repo=PATH/Generalizable-Audio-Visual-Segmentation \\
        --model-opt checkpoint=PATH/epoch_59.pth --model-opt sam_checkpoint=PATH/sam_vit_b_01ec64.pth \\
        --model-opt vggish_weights=PATH/vggish-10086976.pth --suite paper --data avsbench_semantic --subset v1m \\
        --device cuda
"""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path

import torch

from avsprobe.adapters import InputSpec, ModelAdapter
from avsprobe.errors import ConfigError


class GAVS(ModelAdapter):
    """GAVS (binary masks at the data's frame size), built and called as its training script does."""

    name = "gavs"

    def __init__(self, repo: str, checkpoint: str, sam_checkpoint: str, vggish_weights: str,
                 vggish_pca: str | None = None, model_type: str = "vit_b", tune_v: int = 9) -> None:
        super().__init__()
        code = Path(repo) / "GAVS"
        needed = ("avs_model.py", "segment_anything/build_sam.py", "segment_anything/config.py")
        if not all((code / name).is_file() for name in needed):
            raise ConfigError(f"{code} lacks one of {', '.join(needed)}: repo= must be a "
                              "checkout of Generalizable-Audio-Visual-Segmentation")
        # the upstream scripts run from GAVS/segment_anything with GAVS/ on the path
        sys.path[:0] = [str(code / "segment_anything"), str(code)]
        self.upstream_args = _import_upstream_config(code / "segment_anything" / "config.py", int(tune_v)).args
        sam = importlib.import_module("build_sam").sam_model_registry[model_type](sam_checkpoint)
        self.avs = importlib.import_module("avs_model").AVSM(
            model_v=sam, model_t=None, config={"device": "cpu", "loss": None, "tune_v": int(tune_v)})
        self.avs.load_state_dict(torch.load(checkpoint, map_location="cpu", weights_only=True))
        self.avs.eval()
        self.resize = importlib.import_module("utils.transforms").ResizeLongestSide(sam.image_encoder.img_size)
        self.input_spec = InputSpec(mean=(0.0, 0.0, 0.0), std=(1 / 255,) * 3, audio="vggish_embedding",
                                    vggish_weights=vggish_weights, vggish_pca=vggish_pca)

    def to(self, device: str) -> ModelAdapter:
        self.avs.to(device)
        self.avs.device = device
        self.upstream_args.device = device  # the mask decoder moves the prompt there
        return super().to(device)

    def _frame_logits(self, frame: torch.Tensor, audio_embed: torch.Tensor) -> torch.Tensor:
        """``[H, W]`` logits for one frame ``[3, H, W]`` (RGB, 0-255) and its embedding ``[128]`` (handed over
        as ``[1, 128]``, the upstream loader's batch of one)."""
        sam = self.avs.model_v
        bgr = frame.round().clamp(0, 255).to(torch.uint8).flip(0).permute(1, 2, 0).cpu().numpy()
        resized = torch.as_tensor(self.resize.apply_image(bgr), device=self.device).permute(2, 0, 1)[None]
        image_embed = sam.image_encoder(sam.preprocess(resized.float()))
        low_res, _ = self.avs.decode_with_pmp(image_embed, audio_embed[None])
        return sam.postprocess_masks(low_res, tuple(resized.shape[-2:]), tuple(frame.shape[-2:]))[0, 0]

    def predict(self, batch):  # noqa: ANN001, ANN201
        b, t = batch.frames.shape[:2]
        return torch.stack([torch.stack([self._frame_logits(batch.frames[i, k], batch.audio_features[i, k])
                                         for k in range(t)]) for i in range(b)])


def _import_upstream_config(path: Path, tune_v: int):  # noqa: ANN202
    """Import upstream's ``config`` (it parses ``sys.argv`` at import and sets ``CUDA_VISIBLE_DEVICES``) with the
    training script's arguments; restore both afterwards."""
    argv, visible = sys.argv, os.environ.get("CUDA_VISIBLE_DEVICES")
    sys.argv = [str(path), "--tune_v", str(tune_v), "--device", "cpu"]
    try:
        return importlib.import_module("config")
    finally:
        sys.argv = argv
        if visible is None:
            os.environ.pop("CUDA_VISIBLE_DEVICES", None)
        else:
            os.environ["CUDA_VISIBLE_DEVICES"] = visible
