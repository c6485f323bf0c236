"""Paper-scale visual side: the HuggingFace ``transformers`` Mask2Former (Swin-B, ADE20k) backbone and pixel
decoder, loaded from a local folder, frozen, with residual two-layer MLP adapters (extra ``hf``).

The adapters follow the authors' placement: one after each Swin block's attention output projection and one
after its MLP, each ``h + W2 relu(W1 h)`` with a d/4 bottleneck (their parameter names contain ``adapter``,
so training gives them the adapters' learning rate). Output matches the ``tiny`` pixel decoder's: three memory
levels (strides 32, 16, 8) and mask features at stride 4, projected to the decoder width when it differs.

    pip install -e ".[hf]"    # then config backbone="hf-mask2former", backbone_path=DIR (save_pretrained layout)
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from avsprobe.errors import ConfigError, DataError

__all__ = ["HFMask2FormerBackbone", "BottleneckAdapter"]


class BottleneckAdapter(nn.Module):
    """``h + up(relu(down(h)))`` with a ``dim // 4`` bottleneck; the up-projection starts at zero (identity)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.down = nn.Linear(dim, max(dim // 4, 1))
        self.up = nn.Linear(max(dim // 4, 1), dim)
        nn.init.zeros_(self.up.weight)
        nn.init.zeros_(self.up.bias)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return h + self.up(torch.relu(self.down(h)))


def _swin_hook_targets(block: nn.Module) -> tuple[nn.Module, nn.Module]:
    """The attention output projection and the MLP output of one Swin block (transformers 4.x and 5.x names)."""
    attention = block.attention
    attn_out = getattr(attention, "o_proj", None) or getattr(attention, "output", None)
    mlp_out = getattr(getattr(block, "mlp", None), "fc2", None) or getattr(block, "output", None)
    if attn_out is None or mlp_out is None:
        raise ConfigError(f"unsupported Swin block layout in this transformers version: {type(block).__name__}")
    return attn_out, mlp_out


class HFMask2FormerBackbone(nn.Module):
    """Frozen Mask2Former pixel-level module with trainable adapters.

    Args:
        path: a folder written by ``save_pretrained`` (``config.json`` + weights), read with
            ``local_files_only=True``; nothing is downloaded.
        hidden_dim: the decoder width C.
    """

    def __init__(self, path: str | Path, hidden_dim: int) -> None:
        super().__init__()
        try:
            from transformers import Mask2FormerModel
        except ImportError as exc:
            raise ConfigError("the paper-scale backbone needs transformers: pip install -e '.[hf]'") from exc
        path = Path(path)
        if not (path / "config.json").is_file():
            raise DataError(f"{path} is not a saved Mask2Former model: {path / 'config.json'} is missing")
        hf = Mask2FormerModel.from_pretrained(str(path), local_files_only=True)
        self.pixel_level_module = hf.pixel_level_module
        for p in self.pixel_level_module.parameters():
            p.requires_grad_(False)
        blocks = [m for m in self.pixel_level_module.encoder.modules() if type(m).__name__ == "SwinLayer"]
        if not blocks:
            raise ConfigError(f"{path}: the Mask2Former backbone is not a Swin transformer")
        adapters = []
        for block in blocks:
            for target in _swin_hook_targets(block):
                dim = target.out_features if isinstance(target, nn.Linear) else target.dense.out_features
                adapter = BottleneckAdapter(dim)
                target.register_forward_hook(lambda _m, _i, out, a=adapter: a(out))
                adapters.append(adapter)
        self.swin_adapters = nn.ModuleList(adapters)
        feature_size = hf.config.feature_size
        mask_size = hf.config.mask_feature_size
        self.level_proj = nn.Identity() if feature_size == hidden_dim else nn.Conv2d(feature_size, hidden_dim, 1)
        self.mask_proj = nn.Identity() if mask_size == hidden_dim else nn.Conv2d(mask_size, hidden_dim, 1)

    def train(self, mode: bool = True) -> HFMask2FormerBackbone:
        super().train(mode)
        self.pixel_level_module.eval()  # frozen: dropout and drop-path stay off
        return self

    def forward(self, frames: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
        """``frames [B, 3, H, W]`` (ImageNet-normalised) -> (three levels coarse first, mask features)."""
        out = self.pixel_level_module(frames)
        levels = [self.level_proj(x) for x in out.decoder_hidden_states[:3]]
        return levels, self.mask_proj(out.decoder_last_hidden_state)
