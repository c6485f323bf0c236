"""The upstream-model templates in ``examples/models/``, each run against a tiny *stand-in* package that this
test writes at the upstream import path with the upstream signatures (not the real model: no weights or
network here). What is checked is what a template hands over: layout, normalisation, frame size, audio
features and device, and the shape it returns."""

from __future__ import annotations

import importlib.util
import os
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

from avsprobe.adapters.batching import prepare_batch
from avsprobe.adapters.check import _probed_batch
from avsprobe.audio.vggish import vggish_examples

REPO = Path(__file__).resolve().parents[2]
IMAGENET_MEAN, IMAGENET_STD = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])
RECORDER = """
SEEN = {}


def record(key, value):
    SEEN[key] = value
"""


@pytest.fixture()
def isolated_imports(monkeypatch: pytest.MonkeyPatch):  # noqa: ANN201
    """Upstream repositories use top-level names (config, model, torchvggish, mmcv): keep them out of the
    other tests."""
    monkeypatch.setattr(sys, "path", list(sys.path))
    yield
    upstream = ("config", "model", "torchvggish", "mmcv", "standin_log", "detectron2", "models", "segment_anything",
                "build_sam", "avs_model", "utils", "combo_mask_precess_s4")
    for name in [n for n in sys.modules if n.split(".")[0] in upstream]:
        del sys.modules[name]


def _write(root: Path, files: dict[str, str]) -> None:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))


def _template(name: str, cls: str) -> type:
    spec = importlib.util.spec_from_file_location(f"template_{name}", REPO / "examples" / "models" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return getattr(module, cls)


def _check_hand_over(adapter, log) -> None:  # noqa: ANN001
    probed = _probed_batch(5, 64)
    batch = prepare_batch(probed, adapter.input_spec, "cpu")
    adapter.to("cpu")
    out = adapter.predict(batch)
    assert out.shape == (2, 5, 224, 224) and out.device.type == "cpu"
    images = log.SEEN["images"]
    assert images.shape == (10, 3, 224, 224)  # [B*T, C, 224, 224], clip-major as the upstream loaders
    # the frames were ImageNet-normalised: undoing it gives back [0, 1] pixels of the probed clip
    pixels = images[0].numpy() * IMAGENET_STD[:, None, None] + IMAGENET_MEAN[:, None, None]
    original = torch.nn.functional.interpolate(torch.from_numpy(probed[0].frames[0]).permute(2, 0, 1)[None].float()
                                               / 255, size=(224, 224), mode="bilinear", align_corners=False)[0]
    assert np.allclose(pixels, original.numpy(), atol=1e-5)
    log_mel = log.SEEN["log_mel"]
    assert log_mel.shape == (10, 1, 96, 64)  # the AVSBench audio_log_mel layout, per frame
    reference = vggish_examples([p.audio for p in probed], num_examples=5).reshape(10, 1, 96, 64)
    assert float((log_mel - reference).abs().max()) <= 1e-5


def test_tpavi_template_hands_over_what_avsbench_test_does(tmp_path: Path, isolated_imports: None) -> None:
    scripts = tmp_path / "AVSBench" / "avs_scripts" / "avs_s4"
    _write(tmp_path / "site", {"standin_log.py": RECORDER})
    _write(scripts, {
        "config.py": """
            class Namespace:
                pass

            cfg = Namespace()
            cfg.TRAIN = Namespace()
            cfg.TRAIN.FREEZE_AUDIO_EXTRACTOR = False
            cfg.TRAIN.PREPROCESS_AUDIO_TO_LOG_MEL = True
            cfg.TRAIN.PRETRAINED_VGGISH_MODEL_PATH = "../../pretrained_backbones/vggish-10086976.pth"
            """,
        "model/__init__.py": "",
        "model/PVT_AVSModel.py": """
            import torch
            from standin_log import record


            class Pred_endecoder(torch.nn.Module):  # stand-in: the upstream signature, a trivial body
                def __init__(self, channel=256, config=None, vis_dim=(64, 128, 320, 512), tpavi_stages=(),
                             tpavi_vv_flag=False, tpavi_va_flag=True):
                    super().__init__()
                    record("init", dict(channel=channel, stages=list(tpavi_stages), vv=tpavi_vv_flag, va=tpavi_va_flag))
                    self.scale = torch.nn.Parameter(torch.ones(1))

                def forward(self, x, audio_feature=None):
                    record("images", x.detach().cpu())
                    record("audio_feature", audio_feature.detach().cpu())
                    zeros = torch.zeros_like(x[:, :1]).cuda()  # as upstream's forward, once per TPAVI stage
                    return self.scale * x.mean(1, keepdim=True) + zeros, [], []
            """,
        "torchvggish/__init__.py": "",
        "torchvggish/vggish.py": """
            import torch
            from standin_log import record


            class VGGish(torch.nn.Module):  # stand-in for the frozen VGGish: the log-mel's band means
                def __init__(self, cfg, device=None):
                    super().__init__()
                    record("vggish_cfg", (cfg.TRAIN.FREEZE_AUDIO_EXTRACTOR, cfg.TRAIN.PREPROCESS_AUDIO_TO_LOG_MEL,
                                          cfg.TRAIN.PRETRAINED_VGGISH_MODEL_PATH))
                    self.device = device

                def forward(self, x):
                    record("log_mel", x.detach().cpu())
                    return x.mean(dim=(1, 2)).repeat(1, 2)  # [N, 128]
            """,
    })
    sys.path.insert(0, str(tmp_path / "site"))
    torch.save({"scale": torch.ones(1)}, tmp_path / "S4_pvt_best.pth")
    adapter = _template("tpavi", "TPAVI")(repo=str(tmp_path / "AVSBench"), checkpoint=str(tmp_path / "S4_pvt_best.pth"),
                                           vggish=str(tmp_path / "vggish.pth"))
    log = sys.modules["standin_log"]
    assert log.SEEN["init"] == {"channel": 256, "stages": [0, 1, 2, 3], "vv": False, "va": True}
    assert log.SEEN["vggish_cfg"] == (True, False, str(tmp_path / "vggish.pth"))  # frozen, no preprocessing
    assert adapter.input_spec.audio == "vggish_logmel" and adapter.input_spec.frame_size == (224, 224)
    cuda = torch.Tensor.cuda
    _check_hand_over(adapter, log)
    assert log.SEEN["audio_feature"].shape == (10, 128)
    assert torch.Tensor.cuda is cuda  # redirected only while the forward ran


def test_avsegformer_template_hands_over_what_its_test_does(tmp_path: Path, isolated_imports: None) -> None:
    _write(tmp_path / "site", {
        "standin_log.py": RECORDER,
        "mmcv/__init__.py": """
            import runpy
            from types import SimpleNamespace


            class Config:  # stand-in for mmcv.Config.fromfile: the config file's globals
                @staticmethod
                def fromfile(path):
                    return SimpleNamespace(**runpy.run_path(path))
            """,
    })
    _write(tmp_path / "AVSegFormer", {
        "config/s4/AVSegFormer_pvt2_s4.py": "model = dict(type='AVSegFormer', embed_dim=256)\n",
        "model/__init__.py": """
            import torch
            from standin_log import record


            class StandIn(torch.nn.Module):  # stand-in for the built AVSegFormer: forward(audio, frames)
                def __init__(self, **kwargs):
                    super().__init__()
                    record("built", kwargs)
                    self.scale = torch.nn.Parameter(torch.ones(1))

                def forward(self, audio, frames, vid_temporal_mask_flag=None):
                    record("log_mel", audio.detach().cpu())
                    record("images", frames.detach().cpu())
                    return self.scale * frames.mean(1, keepdim=True), None


            def build_model(type, **kwargs):
                assert type == "AVSegFormer"
                return StandIn(**kwargs)
            """,
    })
    sys.path.insert(0, str(tmp_path / "site"))
    torch.save({"scale": torch.ones(1)}, tmp_path / "ckpt.pth")
    adapter = _template("avsegformer", "AVSegFormer")(repo=str(tmp_path / "AVSegFormer"),
                                                     config="config/s4/AVSegFormer_pvt2_s4.py",
                                                     checkpoint=str(tmp_path / "ckpt.pth"))
    log = sys.modules["standin_log"]
    assert log.SEEN["built"] == {"embed_dim": 256}
    _check_hand_over(adapter, log)


PALETTE = "def ade_palette():\n    return [[10 * i % 256, 20 * i % 256, 30 * i % 256] for i in range(150)]\n"


def _combo_tree(root: Path, mapper: str = "avss4_semantic", num_classes: int = 2) -> Path:
    """A stand-in COMBO-AVS checkout plus stand-in detectron2 and segment_anything packages (upstream import
    paths and signatures; trivial bodies that record what they are handed)."""
    _write(root / "site", {
        "standin_log.py": RECORDER,
        "detectron2/__init__.py": "",
        "detectron2/config.py": """
            from types import SimpleNamespace


            class Node(SimpleNamespace):  # stand-in for a CfgNode: dotted assignments, one per line
                def merge_from_file(self, path):
                    for line in open(path):
                        if "=" in line:
                            key, value = (part.strip() for part in line.split("="))
                            *parents, leaf = key.split(".")
                            node = self
                            for name in parents:
                                node = getattr(node, name)
                            setattr(node, leaf, eval(value))

                def freeze(self):
                    pass


            def get_cfg():
                return Node(INPUT=Node(DATASET_MAPPER_NAME="semantic"), MODEL=Node(SEM_SEG_HEAD=Node(NUM_CLASSES=150)))
            """,
        "detectron2/projects/__init__.py": "",
        "detectron2/projects/deeplab.py": "def add_deeplab_config(cfg):\n    cfg.deeplab = True\n",
        "detectron2/modeling.py": """
            import torch
            from standin_log import record


            class StandIn(torch.nn.Module):  # stand-in for MaskFormer: forward(list of per-video dicts)
                def __init__(self, cfg):
                    super().__init__()
                    self.classes = cfg.MODEL.SEM_SEG_HEAD.NUM_CLASSES
                    self.scale = torch.nn.Parameter(torch.ones(1))

                def forward(self, videos):
                    record("videos", [{k: (v.detach().cpu() if torch.is_tensor(v) else v) for k, v in x.items()}
                                      for x in videos])
                    out = []
                    for x in videos:
                        for frame in x["images"]:
                            fg = self.scale * frame.mean(0) / 255  # [H, W]
                            out.append({"sem_seg": torch.stack([1 - fg] + [fg * k for k in range(1, self.classes)])})
                    return out


            def build_model(cfg):
                record("cfg", cfg)
                return StandIn(cfg)
            """,
        "detectron2/checkpoint.py": """
            import torch
            from standin_log import record


            class DetectionCheckpointer:
                def __init__(self, model, save_dir=""):
                    self.model = model

                def load(self, path):
                    record("loaded", path)
                    self.model.load_state_dict(torch.load(path))
            """,
        "segment_anything/__init__.py": """
            import numpy as np
            from standin_log import record

            sam_model_registry = {}


            class StandInSam:
                def __init__(self, checkpoint):
                    record("sam_checkpoint", checkpoint)

                def eval(self):
                    return self

                def to(self, device):
                    return self


            for kind in ("vit_h", "vit_b"):
                sam_model_registry[kind] = StandInSam


            class SamAutomaticMaskGenerator:  # stand-in: a big box and a small box inside it, from the frame's size
                def __init__(self, model):
                    self.model = model

                def generate(self, image):
                    record("sam_input", image)
                    h, w = image.shape[:2]
                    big = np.zeros((h, w), bool)
                    big[: h // 2, : w // 2] = True
                    small = np.zeros((h, w), bool)
                    small[: h // 8, : w // 8] = True
                    return [{"segmentation": big}, {"segmentation": small}]
            """,
    })
    _write(root / "COMBO-AVS", {
        "avs_tools/pre_mask2rgb/mask_precess_s4.py": PALETTE,
        "configs/avs_s4/Test.yaml": f"INPUT.DATASET_MAPPER_NAME = {mapper!r}\nMODEL.SEM_SEG_HEAD.NUM_CLASSES = {num_classes}\n",
        "models/maskformer_model.py": "",
        "models/__init__.py": """
            def add_audio_config(cfg):
                cfg.audio = True


            def add_fuse_config(cfg):
                cfg.fuse = True


            def add_maskformer2_config(cfg):
                cfg.maskformer2 = True
            """,
    })
    sys.path.insert(0, str(root / "site"))
    torch.save({"scale": torch.ones(1)}, root / "model_best.pth")
    return root / "COMBO-AVS"


def _hand_maskige(size: int) -> np.ndarray:
    """The pre-mask of the stand-in generator's two boxes, painted by hand: the small box gets id 1 (smallest
    first), the rest of the big box id 2, everything else id 0; resized (nearest) to 224; ADE-palette colours."""
    palette = np.array([[10 * i % 256, 20 * i % 256, 30 * i % 256] for i in range(150)], dtype=np.uint8)
    ids = np.zeros((224, 224), dtype=np.uint8)
    scale = size / 224
    for y in range(224):
        for x in range(224):
            sy, sx = int(y * scale), int(x * scale)
            if sy < size // 8 and sx < size // 8:
                ids[y, x] = 1
            elif sy < size // 2 and sx < size // 2:
                ids[y, x] = 2
    return palette[ids]


def test_combo_avs_template_hands_over_what_its_pred_does(tmp_path: Path, isolated_imports: None) -> None:
    repo = _combo_tree(tmp_path)
    cls = _template("combo_avs", "COMBOAVS")
    adapter = cls(repo=str(repo), config="configs/avs_s4/Test.yaml", checkpoint=str(tmp_path / "model_best.pth"),
                  sam_checkpoint=str(tmp_path / "sam_vit_h.pth"))
    log = sys.modules["standin_log"]
    cfg = log.SEEN["cfg"]
    assert (cfg.deeplab, cfg.audio, cfg.fuse, cfg.maskformer2) == (True, True, True, True)  # pred.py's setup
    assert log.SEEN["loaded"] == str(tmp_path / "model_best.pth")
    assert log.SEEN["sam_checkpoint"] == str(tmp_path / "sam_vit_h.pth")
    assert adapter.input_spec.output == "binary" and adapter.input_spec.audio == "vggish_logmel"

    probed = _probed_batch(5, 64)
    batch = prepare_batch(probed, adapter.input_spec, "cpu")
    adapter.to("cpu")
    out = adapter.predict(batch)
    videos = log.SEEN["videos"]
    assert len(videos) == 2 and videos[0]["height"] == videos[0]["width"] == 224
    images = videos[0]["images"]
    assert images.shape == (5, 3, 224, 224)  # RGB in 0-255: the model normalises with PIXEL_MEAN/STD itself
    original = torch.nn.functional.interpolate(torch.from_numpy(probed[0].frames).permute(0, 3, 1, 2).float() / 255,
                                               size=(224, 224), mode="bilinear", align_corners=False) * 255
    assert torch.allclose(images, original, atol=1e-3)
    reference = vggish_examples([p.audio for p in probed], num_examples=5)
    assert float((videos[1]["audio_log_mel"] - reference[1]).abs().max()) <= 1e-5
    # SAM ran on the probed frames as the model sees them (uint8 224 x 224 RGB); the maskige follows by hand
    assert log.SEEN["sam_input"].shape == (224, 224, 3) and log.SEEN["sam_input"].dtype == np.uint8
    pre = videos[0]["pre_masks"]
    assert pre.shape == (5, 3, 224, 224)
    assert np.array_equal(pre[0].permute(1, 2, 0).numpy().astype(np.uint8), _hand_maskige(224))
    # binary logit = sem_seg[1] - sem_seg[0], whose sigmoid is the evaluator's softmax(sem_seg)[1]
    fg = images.mean(1) / 255
    assert out.shape == (2, 5, 224, 224) and torch.allclose(out[0], fg - (1 - fg), atol=1e-6)


def test_combo_avs_pre_masks_from_disk_only_for_unchanged_frames(tmp_path: Path, isolated_imports: None) -> None:
    from PIL import Image

    from avsprobe.errors import AdapterError, ConfigError

    repo = _combo_tree(tmp_path)
    cls = _template("combo_avs", "COMBOAVS")
    with pytest.raises(ConfigError, match="exactly one of sam_checkpoint"):
        cls(repo=str(repo), config="configs/avs_s4/Test.yaml", checkpoint=str(tmp_path / "model_best.pth"))
    pre_root = tmp_path / "pre_SAM_mask" / "test"
    rng = np.random.default_rng(1)
    written = {}
    for sample in ("check-0", "check-1"):
        folder = pre_root / "playing_piano" / sample
        folder.mkdir(parents=True)
        for k in range(1, 6):
            pixels = rng.integers(0, 256, (224, 224, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(folder / f"{sample}_{k}_mask_color.png")
            written[(sample, k)] = pixels
    adapter = cls(repo=str(repo), config="configs/avs_s4/Test.yaml", checkpoint=str(tmp_path / "model_best.pth"),
                  pre_masks=str(pre_root))
    probed = _probed_batch(5, 64)
    batch = prepare_batch(probed, adapter.input_spec, "cpu")
    log = sys.modules["standin_log"]
    batch.condition_ids = ["intensity/-53LUFS", "area/original"]  # audio probes and baselines keep the frames
    adapter.predict(batch)
    pre = log.SEEN["videos"][1]["pre_masks"]
    assert np.array_equal(pre[2].permute(1, 2, 0).numpy().astype(np.uint8), written[("check-1", 3)])
    batch.condition_ids = ["negative/silence", "area/area0.05"]
    with pytest.raises(AdapterError, match="area/area0.05 changes the frames"):
        adapter.predict(batch)


def test_gavs_template_hands_over_what_its_training_script_does(tmp_path: Path, isolated_imports: None,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.adapters.test_input_families import _random_vggish

    _write(tmp_path / "site", {"standin_log.py": RECORDER})
    code = tmp_path / "GAVS-repo" / "GAVS"
    _write(code, {
        "avs_model.py": """
            import torch
            from config import args
            from standin_log import SEEN


            class AVSM(torch.nn.Module):  # stand-in: the upstream constructor and decode_with_pmp signature
                def __init__(self, model_v, model_t, config):
                    super().__init__()
                    self.model_v, self.model_t, self.config = model_v, model_t, config
                    self.device = config.get("device")
                    self.gain = torch.nn.Parameter(torch.ones(1))

                def decode_with_pmp(self, image_embed, audio_embed):
                    SEEN.setdefault("audio_embeds", []).append(audio_embed.cpu())
                    # as upstream: the prompt encoder adds a token axis, the mask decoder moves the prompt to
                    # args.device and concatenates it after its output tokens
                    sparse = audio_embed.unsqueeze(dim=0).to(args.device)
                    tokens = torch.cat([torch.zeros(1, 5, 128, device=args.device), sparse], dim=1)
                    return self.gain * image_embed + tokens[:, 5:].mean(), torch.ones(1, 1)
            """,
        "segment_anything/config.py": """
            import argparse
            import os

            parser = argparse.ArgumentParser()  # as upstream: parsed at import, --tune_v required
            parser.add_argument("--device", type=str, default="cuda:0")
            parser.add_argument("--gpu_id", type=str, default="0")
            parser.add_argument("--tune_v", type=int, required=True)
            args = parser.parse_args()
            os.environ["CUDA_VISIBLE_DEVICES"] = args.gpu_id
            """,
        "segment_anything/build_sam.py": """
            import torch
            import torch.nn.functional as F
            from config import args  # as upstream's modeling/image_encoder.py and mask_decoder.py
            from standin_log import record


            class Encoder(torch.nn.Module):
                img_size = 32

                def forward(self, x):
                    return x.mean(1, keepdim=True)[..., ::2, ::2]  # [1, 1, 16, 16] "low-res masks"


            class StandInSam(torch.nn.Module):  # stand-in for SAM: preprocess, image_encoder, postprocess_masks
                def __init__(self):
                    super().__init__()
                    self.image_encoder = Encoder()
                    self.register_buffer("pixel_mean", torch.tensor([123.675, 116.28, 103.53]).view(-1, 1, 1), False)
                    self.register_buffer("pixel_std", torch.tensor([58.395, 57.12, 57.375]).view(-1, 1, 1), False)

                def preprocess(self, x):
                    record("preprocess_input", x.cpu())
                    x = (x - self.pixel_mean) / self.pixel_std
                    h, w = x.shape[-2:]
                    return F.pad(x, (0, 32 - w, 0, 32 - h))

                def postprocess_masks(self, masks, input_size, original_size):
                    record("sizes", (input_size, original_size))
                    masks = F.interpolate(masks, (32, 32), mode="bilinear", align_corners=False)
                    masks = masks[..., : input_size[0], : input_size[1]]
                    return F.interpolate(masks, original_size, mode="bilinear", align_corners=False)


            def build_sam_vit_b(checkpoint=None):
                record("sam_checkpoint", checkpoint)
                return StandInSam()


            sam_model_registry = {"default": build_sam_vit_b, "vit_b": build_sam_vit_b}
            """,
        "segment_anything/utils/__init__.py": "",
        "segment_anything/utils/transforms.py": """
            import numpy as np
            from PIL import Image


            class ResizeLongestSide:  # stand-in: PIL resize of a uint8 HWC image to the longest side
                def __init__(self, target_length):
                    self.target_length = target_length

                def apply_image(self, image):
                    h, w = image.shape[:2]
                    scale = self.target_length / max(h, w)
                    size = (int(w * scale + 0.5), int(h * scale + 0.5))
                    return np.array(Image.fromarray(image).resize(size, Image.BILINEAR))
            """,
    })
    sys.path.insert(0, str(tmp_path / "site"))
    _random_vggish(tmp_path / "vggish.pth")
    torch.save({"gain": torch.full((1,), 2.0)}, tmp_path / "epoch_59.pth")  # AVSM.state_dict() as training saves it
    cls = _template("gavs", "GAVS")
    monkeypatch.setattr(sys, "argv", ["avsprobe", "run", "--model", "gavs.py:GAVS"])
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "2,3")
    adapter = cls(repo=str(tmp_path / "GAVS-repo"), checkpoint=str(tmp_path / "epoch_59.pth"),
                  sam_checkpoint=str(tmp_path / "sam_vit_b.pth"), vggish_weights=str(tmp_path / "vggish.pth"))
    # upstream's config parsed the training script's arguments, and left avsprobe's argv and GPUs alone
    assert sys.modules["config"].args.tune_v == 9
    assert sys.argv == ["avsprobe", "run", "--model", "gavs.py:GAVS"] and os.environ["CUDA_VISIBLE_DEVICES"] == "2,3"
    log = sys.modules["standin_log"]
    assert log.SEEN["sam_checkpoint"] == str(tmp_path / "sam_vit_b.pth") and float(adapter.avs.gain.detach()) == 2.0
    spec = adapter.input_spec
    assert spec.audio == "vggish_embedding" and spec.vggish_pca is None and spec.frame_size is None
    probed = _probed_batch(5, 64)
    batch = prepare_batch(probed, spec, "cpu")
    adapter.to("cpu")
    out = adapter.predict(batch)
    assert out.shape == (2, 5, 64, 64)  # at the frame's own size, as postprocess_masks(original_size) gives
    # the last frame handed over: BGR (as cv2.imread reads), resized by the upstream ResizeLongestSide, 0-255
    resize = sys.modules["utils.transforms"].ResizeLongestSide(32)
    expected = resize.apply_image(np.ascontiguousarray(probed[1].frames[4][..., ::-1]))
    handed = log.SEEN["preprocess_input"][0].permute(1, 2, 0).numpy()
    assert handed.shape == (32, 32, 3) and np.array_equal(handed, expected.astype(np.float32))
    assert log.SEEN["sizes"] == ((32, 32), (64, 64))
    embeds = log.SEEN["audio_embeds"]
    assert len(embeds) == 10 and embeds[0].shape == (1, 128)  # a batch of one, as upstream's DataLoader gives
    assert torch.equal(torch.cat(embeds).reshape(2, 5, 128), batch.audio_features)  # clip-major, frame by frame
