"""Template: the AVSBench baseline (TPAVI, ECCV 2022) through its own code, with every probe applied.

Follows OpenNLPLab/AVSBench @ f7414af: ``avs_scripts/avs_{s4,ms3}/test.py`` builds
``model.PVT_AVSModel.Pred_endecoder(channel=256, config=cfg, tpavi_stages=[0, 1, 2, 3], tpavi_vv_flag=...,
tpavi_va_flag=True)`` (or ``ResNet_AVSModel``), loads the checkpoint's state dict, and calls
``model(imgs [B*T, 3, 224, 224], audio_backbone(log_mel [B*T, 1, 96, 64]))`` with the frozen
``torchvggish.vggish.VGGish(cfg, device)``; the first output is the mask logits ``[B*T, 1, 224, 224]``.
Frames are ImageNet-normalised at 224x224; the audio is the VGGish log-mel of the probed waveform.

    avsprobe run --model examples/models/tpavi.py:TPAVI --model-opt repo=PATH/AVSBench \\
        --model-opt checkpoint=PATH/S4_pvt_best.pth --model-opt vggish=PATH/vggish-10086976.pth \\
        --model-opt pvt=PATH/pvt_v2_b5.pth --suite paper --data avsbench_data --subset s4 --device cuda

Upstream's forward calls ``torch.zeros_like(feature).cuda()`` once per TPAVI stage, so as it is it runs on a
GPU only. On another device (``--device cpu``, ``models check`` on a laptop) the template sends what those calls
make to the adapter's device instead, for the duration of the forward. Upstream needs ``easydict`` and
``pyyaml`` (its ``config.py``), ``timm`` (its PVT) and ``resampy`` (its ``torchvggish``), besides torch and
torchvision; no GPU. Where that environment cannot be built beside avsprobe, use the export route (``avsprobe
export``, upstream's ``test.py``, ``predictions:DIR``). Checked against the upstream code with random weights:
``reports/templates/check-cuda.md``.

Options: ``subset`` (``s4`` or ``ms3``: which scripts folder), ``backbone`` (``pvt`` or ``resnet``, with
``resnet=PATH`` for its ImageNet weights), ``vv=true`` for the ``tpavi_vv_flag`` checkpoints.
"""

from __future__ import annotations

import contextlib
import importlib
import sys
from collections.abc import Iterator
from pathlib import Path

import torch

from avsprobe.adapters import InputSpec, ModelAdapter

IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


class TPAVI(ModelAdapter):
    """The AVSBench TPAVI baseline (S4/MS3, binary masks), built and called as its own test script does."""

    name = "tpavi"

    def __init__(self, repo: str, checkpoint: str, vggish: str | None = None, pvt: str | None = None,
                 resnet: str | None = None, subset: str = "s4", backbone: str = "pvt", vv: bool = False) -> None:
        super().__init__()
        scripts = Path(repo) / "avs_scripts" / f"avs_{subset}"
        if not scripts.is_dir():
            raise FileNotFoundError(f"{scripts} not found: repo= must be a checkout of OpenNLPLab/AVSBench")
        sys.path.insert(0, str(scripts))  # the upstream scripts import config, model and torchvggish from here
        cfg = importlib.import_module("config").cfg
        cfg.TRAIN.FREEZE_AUDIO_EXTRACTOR = True  # the VGGish weights are loaded, and frozen
        cfg.TRAIN.PREPROCESS_AUDIO_TO_LOG_MEL = False  # avsprobe hands over the log-mel of the probed audio
        cfg.TRAIN.POSTPROCESS_LOG_MEL_WITH_PCA = False
        for key, value in (("PRETRAINED_VGGISH_MODEL_PATH", vggish), ("PRETRAINED_PVTV2_PATH", pvt),
                           ("PRETRAINED_RESNET50_PATH", resnet)):
            if value:
                setattr(cfg.TRAIN, key, value)
        module = importlib.import_module("model.PVT_AVSModel" if backbone == "pvt" else "model.ResNet_AVSModel")
        self.model = module.Pred_endecoder(channel=256, config=cfg, tpavi_stages=[0, 1, 2, 3], tpavi_vv_flag=bool(vv),
                                           tpavi_va_flag=True)
        self.model.load_state_dict(torch.load(checkpoint, map_location="cpu", weights_only=True))
        self.model.eval()
        self.audio_backbone = importlib.import_module("torchvggish.vggish").VGGish(cfg, torch.device("cpu")).eval()
        self.input_spec = InputSpec(frame_size=(224, 224), frames_per_clip=5, mean=IMAGENET_MEAN, std=IMAGENET_STD,
                                    audio="vggish_logmel")

    def to(self, device: str) -> ModelAdapter:
        self.model.to(device)
        self.audio_backbone.to(device)
        self.audio_backbone.device = torch.device(device)
        return super().to(device)

    def predict(self, batch):  # noqa: ANN001, ANN201
        b, t = batch.frames.shape[:2]
        images = batch.frames.reshape(b * t, 3, 224, 224)
        log_mel = batch.audio_features.reshape(b * t, 1, 96, 64)
        with _cuda_calls_to(self.device):
            logits = self.model(images, self.audio_backbone(log_mel))[0]  # [B*T, 1, 224, 224]
        return logits.reshape(b, t, *logits.shape[-2:])


@contextlib.contextmanager
def _cuda_calls_to(device: str) -> Iterator[None]:
    """While upstream's forward runs: ``Tensor.cuda()`` moves to ``device`` when that is not a CUDA device."""
    if torch.device(device).type == "cuda":
        yield
        return
    cuda = torch.Tensor.cuda
    torch.Tensor.cuda = lambda tensor, *args, **kwargs: tensor.to(device)  # type: ignore[method-assign]
    try:
        yield
    finally:
        torch.Tensor.cuda = cuda  # type: ignore[method-assign]
