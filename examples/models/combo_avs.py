"""Template: COMBO-AVS (CVPR 2024) through its own detectron2 code, with every probe applied.

Follows yannqi/COMBO-AVS @ cb8af1c. ``pred.py``'s ``setup`` builds a detectron2 config (``get_cfg``, then
``add_deeplab_config``, ``add_audio_config``, ``add_fuse_config``, ``add_maskformer2_config``,
``merge_from_file``), builds the model with detectron2's ``build_model`` (what ``Trainer.build_model`` calls)
and loads it with ``DetectionCheckpointer``. ``models/maskformer_model.py``'s ``MaskFormer.forward`` takes one
dict per video:

- ``images`` ``[T, 3, H, W]``: RGB in 0-255 (the model subtracts ``PIXEL_MEAN`` and divides by ``PIXEL_STD``);
- ``pre_masks`` ``[T, 3, H, W]``: the "maskige" of each frame, SAM's class-agnostic masks painted with ids
  (smallest mask first, larger ones only where nothing is painted yet), resized to 224 (nearest) and coloured
  with the ADE20K palette (``avs_tools/pre_mask2rgb/mask_precess_*.py``), read back as an RGB image;
- ``audio_log_mel`` ``[T, 1, 96, 64]`` (the model runs its own frozen VGGish);
- for AVSS data (``INPUT.DATASET_MAPPER_NAME == "avss_semantic"``) the temporal flags, all ones here.

It returns one ``{"sem_seg": [K, H, W]}`` per frame. For S4 and MS3 ``K = 2`` and the upstream evaluator's
foreground probability is ``softmax(sem_seg)[1]``, i.e. ``sigmoid(sem_seg[1] - sem_seg[0])``: that difference
is the binary logit handed back. For AVSS ``K = 71`` and the scores are handed back as a semantic output.

The pre-masks come from SAM run on the frames, so they must follow the visual probes:

- ``sam_checkpoint=PATH`` (with ``sam_type=vit_h``, the upstream default) computes them from the probed frames
  with ``segment_anything``'s ``SamAutomaticMaskGenerator``, as ``avs_tools/pre_mask/make_SAM_mask.py
  --sam_type sam`` does (on the frames at 224, the size the model sees);
- ``pre_masks=DIR`` reads the precomputed ``*_mask_color.png`` files (COMBO's ``pre_SAM_mask/<split>`` tree,
  found by video folder name). They were made from the original frames, so a condition whose probe changes
  the frames (``area``, ``semantic``) fails its clip with that reason instead of being scored against stale
  pre-masks.

    avsprobe run --model examples/models/combo_avs.py:COMBOAVS --model-opt repo=PATH/COMBO-AVS \\
        --model-opt config=configs/avs_s4/Test_COMBO_PVTV2B5_bs8_90k.yaml \\
        --model-opt checkpoint=PATH/model_best.pth --model-opt sam_checkpoint=PATH/sam_vit_h_4b8939.pth \\
        --suite paper --data avsbench_data --subset s4 --device cuda

Upstream needs detectron2 (no wheel: build it from source against your torch and CUDA), segment_anything for
the SAM pre-masks and Mask2Former's compiled MultiScaleDeformableAttention op, so a GPU. It was not run against
the upstream code here (``reports/templates/check-cuda.md``: detectron2 could not be installed); where that
environment cannot be built next to avsprobe, use the export route (``avsprobe export``, predict with
``pred.py``, score with ``predictions:DIR``).
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path

import numpy as np
import torch

from avsprobe.adapters import InputSpec, ModelAdapter
from avsprobe.errors import AdapterError, ConfigError
from avsprobe.probes import PROBES

PRE_MASK_SIZE = 224
VIDEO_SUBFOLDERS = ("frames", "processed_frames")  # AVSS trees keep frames one level below the video


def maskige(masks: np.ndarray, palette: np.ndarray, size: int = PRE_MASK_SIZE) -> np.ndarray:
    """COMBO's pre-mask image of one frame.

    Args:
        masks: ``bool [N, H, W]`` SAM's class-agnostic masks (N may be 0).
        palette: ``uint8 [P, 3]`` the ADE20K palette (id ``i`` gets colour ``i``).

    Returns:
        ``uint8 [size, size, 3]`` RGB.
    """
    from PIL import Image

    ids = np.zeros(masks.shape[1:], dtype=np.uint8)
    for rank, index in enumerate(np.argsort(masks.reshape(len(masks), -1).sum(1), kind="stable")):
        ids = np.where((ids == 0) & masks[index], rank + 1, ids).astype(np.uint8)
    image = Image.fromarray(ids).resize((size, size), Image.NEAREST)
    image.putpalette(palette.astype(np.uint8).reshape(-1).tolist())
    return np.asarray(image.convert("RGB"))


def _upstream_palette(root: Path) -> np.ndarray:
    path = root / "avs_tools" / "pre_mask2rgb" / "mask_precess_s4.py"
    spec = importlib.util.spec_from_file_location("combo_mask_precess_s4", path)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return np.asarray(module.ade_palette(), dtype=np.uint8)


def _pre_mask_index(root: Path) -> dict[str, list[Path]]:
    """Video folder name -> its ``*_mask_color.png`` files in frame order."""
    index: dict[str, list[Path]] = {}
    for file in sorted(root.rglob("*_mask_color.png")):
        folder = file.parent
        key = folder.parent.name if folder.name in VIDEO_SUBFOLDERS else folder.name
        index.setdefault(key, []).append(file)
    return index


class COMBOAVS(ModelAdapter):
    """COMBO-AVS (S4/MS3 binary, AVSS semantic), built and called as its ``pred.py`` does."""

    name = "combo-avs"

    def __init__(self, repo: str, config: str, checkpoint: str, pre_masks: str | None = None,
                 sam_checkpoint: str | None = None, sam_type: str = "vit_h") -> None:
        super().__init__()
        root = Path(repo)
        if not (root / "models" / "maskformer_model.py").is_file():
            raise ConfigError(f"{root / 'models'} has no maskformer_model.py: repo= must be a checkout of COMBO-AVS")
        if (pre_masks is None) == (sam_checkpoint is None):
            raise ConfigError("COMBO-AVS needs its SAM pre-masks: give exactly one of sam_checkpoint= (computed from "
                              "the probed frames) or pre_masks= (precomputed, original frames only)")
        sys.path.insert(0, str(root))
        get_cfg = importlib.import_module("detectron2.config").get_cfg
        add_deeplab_config = importlib.import_module("detectron2.projects.deeplab").add_deeplab_config
        combo = importlib.import_module("models")
        cfg = get_cfg()
        add_deeplab_config(cfg)
        combo.add_audio_config(cfg)
        combo.add_fuse_config(cfg)
        combo.add_maskformer2_config(cfg)
        cfg.merge_from_file(str(root / config))
        cfg.freeze()
        self.model = importlib.import_module("detectron2.modeling").build_model(cfg)
        importlib.import_module("detectron2.checkpoint").DetectionCheckpointer(self.model).load(checkpoint)
        self.model.eval()
        self.avss = cfg.INPUT.DATASET_MAPPER_NAME == "avss_semantic"
        num_classes = int(cfg.MODEL.SEM_SEG_HEAD.NUM_CLASSES)
        if not self.avss and num_classes != 2:
            raise ConfigError(f"{config}: an S4/MS3 COMBO-AVS model has 2 classes, this one {num_classes}")
        if self.avss and num_classes != 71:
            raise ConfigError(f"{config}: an AVSS COMBO-AVS model has the 71 AVSS classes, this one {num_classes}")
        self.palette = _upstream_palette(root)
        self.pre_mask_files = _pre_mask_index(Path(pre_masks)) if pre_masks is not None else None
        self.generator = None
        if sam_checkpoint is not None:
            sam_lib = importlib.import_module("segment_anything")
            self.sam = sam_lib.sam_model_registry[sam_type](checkpoint=sam_checkpoint).eval()
            self.generator = sam_lib.SamAutomaticMaskGenerator(self.sam)
        self.input_spec = InputSpec(frame_size=(224, 224), mean=(0.0, 0.0, 0.0), std=(1 / 255,) * 3,
                                    audio="vggish_logmel", output="semantic" if self.avss else "binary")

    def to(self, device: str) -> ModelAdapter:
        self.model.to(device)
        if self.generator is not None:
            self.sam.to(device)
        return super().to(device)

    def _pre_masks(self, frames: torch.Tensor, sample_id: str, condition_id: str) -> torch.Tensor:
        """``[T, 3, 224, 224]`` RGB 0-255 for one clip's frames ``[T, 3, H, W]`` (0-255)."""
        if self.generator is not None:
            pixels = frames.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
            images = []
            for frame in pixels:
                found = self.generator.generate(frame)
                masks = np.stack([m["segmentation"] for m in found]) if found else np.zeros((0, *frame.shape[:2]), bool)
                images.append(maskige(masks, self.palette))
            return torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).float()
        probe, label = condition_id.split("/", 1)
        if PROBES.get(probe).modality != "audio" and label != "original":
            raise AdapterError(f"{condition_id} changes the frames; pre_masks= were made from the original frames "
                               "(give sam_checkpoint= to compute them from the probed frames)")
        files = self.pre_mask_files.get(sample_id)  # type: ignore[union-attr]
        if not files or len(files) != frames.shape[0]:
            raise AdapterError(f"pre_masks=: {len(files or [])} *_mask_color.png files for {sample_id!r}, "
                               f"expected {frames.shape[0]}")
        from PIL import Image

        return torch.from_numpy(np.stack([np.asarray(Image.open(f).convert("RGB")) for f in files])
                                ).permute(0, 3, 1, 2).float()

    def predict(self, batch):  # noqa: ANN001, ANN201
        b, t = batch.frames.shape[:2]
        videos = []
        for i in range(b):
            video = {"images": batch.frames[i], "audio_log_mel": batch.audio_features[i], "height": 224,
                     "width": 224,
                     "pre_masks": self._pre_masks(batch.frames[i], batch.sample_ids[i], batch.condition_ids[i])}
            if self.avss:
                video["vid_temporal_mask_flag"] = torch.ones(t)
                video["gt_temporal_mask_flag"] = torch.ones(t)
            videos.append(video)
        scores = torch.stack([r["sem_seg"] for r in self.model(videos)]).reshape(b, t, -1, 224, 224)
        return scores if self.avss else scores[:, :, 1] - scores[:, :, 0]
