"""Template: AVSegFormer (AAAI 2024) through its own code, with every probe applied.

Follows vvvb-github/AVSegFormer @ 7083cb6: ``scripts/{s4,ms3}/test.py`` reads an mmcv ``Config`` from
``config/{s4,ms3}/AVSegFormer_*.py``, builds ``model.build_model(**cfg.model)``, loads the checkpoint's state
dict and calls ``model(audio, imgs)`` with the VGGish log-mel ``[B*T, 1, 96, 64]`` (the model holds its own
frozen VGGish) and ImageNet-normalised frames ``[B*T, 3, 224, 224]``; the first output is the mask logits
``[B*T, 1, 224, 224]``.

    avsprobe run --model examples/models/avsegformer.py:AVSegFormer --model-opt repo=PATH/AVSegFormer \\
        --model-opt config=config/s4/AVSegFormer_pvt2_s4.py --model-opt checkpoint=PATH/AVSegFormer_pvt2_s4.pth \\
        --suite paper --data avsbench_data --subset s4 --device cuda

Run from the AVSegFormer checkout (its configs name ``pretrained/...`` relative to it), or edit those paths.

Upstream needs torchvision, timm, resampy, ``mmcv<2`` (only its ``Config``; ``MMCV_WITH_OPS=0 pip install
mmcv==1.7.2`` builds it without compiled ops) and its own ``ops/`` MultiScaleDeformableAttention op compiled with
nvcc (``cd ops && python setup.py build_ext --inplace``, then ``ops/`` on ``PYTHONPATH``; with torch >= 2 the
op's ``value.type()`` must read ``value.scalar_type()``). The op has no CPU forward: run on a GPU, or use the
export route when that environment cannot be built. ``scripts/check_templates.py`` checks this template
against the upstream code with random weights (``reports/templates/check-cuda.md``).
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import torch

from avsprobe.adapters import InputSpec, ModelAdapter

IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


class AVSegFormer(ModelAdapter):
    """AVSegFormer (S4/MS3 configs, binary masks), built and called as its own test script does."""

    name = "avsegformer"

    def __init__(self, repo: str, config: str, checkpoint: str) -> None:
        super().__init__()
        root = Path(repo)
        if not (root / "model").is_dir():
            raise FileNotFoundError(f"{root / 'model'} not found: repo= must be a checkout of AVSegFormer")
        sys.path.insert(0, str(root))
        cfg = importlib.import_module("mmcv").Config.fromfile(str(root / config))
        self.model = importlib.import_module("model").build_model(**cfg.model)
        self.model.load_state_dict(torch.load(checkpoint, map_location="cpu", weights_only=True))
        self.model.eval()
        self.input_spec = InputSpec(frame_size=(224, 224), frames_per_clip=5, mean=IMAGENET_MEAN, std=IMAGENET_STD,
                                    audio="vggish_logmel")

    def to(self, device: str) -> ModelAdapter:
        self.model.to(device)
        return super().to(device)

    def predict(self, batch):  # noqa: ANN001, ANN201
        b, t = batch.frames.shape[:2]
        images = batch.frames.reshape(b * t, 3, 224, 224)
        log_mel = batch.audio_features.reshape(b * t, 1, 96, 64)
        logits = self.model(log_mel, images)[0]  # [B*T, 1, 224, 224]
        return logits.reshape(b, t, *logits.shape[-2:])
