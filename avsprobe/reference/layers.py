"""Decoder layers of the reference model, with interaction enhancement (paper Sec. 4.3).

One layer is Mask2Former's: masked cross-attention to the pixel features, self-attention among queries,
then an FFN, each with a residual and LayerNorm (post-norm). With interaction enhancement only the active
queries take part: they are *gathered* (per clip, padded to the largest active count with a key-padding
mask), updated, and scattered back, so the attention really costs O(active^2) and dormant queries neither
change nor receive gradient. Tensors are batch-first: queries ``[B, Q, C]``, memory ``[B, L, C]``.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["ActiveQueryLayer", "gather_active", "scatter_active"]


def gather_active(x: torch.Tensor, active: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Pack the active rows of ``x [B, Q, ...]`` first.

    Returns:
        ``packed [B, A, ...]`` (A = the largest active count), ``valid bool [B, A]``, and ``index [B, A]``
        (the source row of each packed row; padding rows point at dormant rows and are ignored).
    """
    order = torch.argsort((~active).to(torch.int8), dim=1, stable=True)  # active rows first, in order
    count = active.sum(dim=1)
    width = int(count.max()) if count.numel() else 0
    index = order[:, :width]
    valid = torch.arange(width, device=x.device)[None, :] < count[:, None]
    gathered = torch.gather(x, 1, index.view(*index.shape, *([1] * (x.dim() - 2))).expand(-1, -1, *x.shape[2:]))
    return gathered, valid, index


def scatter_active(x: torch.Tensor, packed: torch.Tensor, valid: torch.Tensor, index: torch.Tensor, *,
                   inplace: bool = False) -> torch.Tensor:
    """``x`` with its active rows replaced by ``packed`` (the inverse of ``gather_active``); out of place
    unless ``inplace`` (for a tensor just made to receive them)."""
    b, a = index.shape
    rows = index[valid]
    batch = torch.arange(b, device=x.device)[:, None].expand(b, a)[valid]
    out = x if inplace else x.clone()
    out[batch, rows] = packed[valid]
    return out


class ActiveQueryLayer(nn.Module):
    """One decoder layer over the active queries.

    Args:
        dim: hidden size C.
        heads: attention heads.
        ffn_dim: FFN hidden size.
        dropout: attention and FFN dropout.
    """

    def __init__(self, dim: int, heads: int, ffn_dim: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.heads = heads
        self.cross = nn.MultiheadAttention(dim, heads, dropout=dropout, batch_first=True)
        self.self_attn = nn.MultiheadAttention(dim, heads, dropout=dropout, batch_first=True)
        self.ffn = nn.Sequential(nn.Linear(dim, ffn_dim), nn.ReLU(), nn.Dropout(dropout), nn.Linear(ffn_dim, dim))
        self.norm_cross, self.norm_self, self.norm_ffn = nn.LayerNorm(dim), nn.LayerNorm(dim), nn.LayerNorm(dim)

    def _update(self, q: torch.Tensor, pos: torch.Tensor, memory: torch.Tensor, memory_pos: torch.Tensor,
                blocked: torch.Tensor | None, padding: torch.Tensor | None) -> torch.Tensor:
        """The layer on queries ``q [B, A, C]``; ``blocked [B, A, L]`` is True where attention is masked."""
        mask = None
        if blocked is not None:
            # a query whose mask blocks every location attends everywhere (Mask2Former's guard against NaN)
            blocked = blocked & ~blocked.all(dim=-1, keepdim=True)
            mask = blocked.repeat_interleave(self.heads, dim=0)
        attended, _ = self.cross(q + pos, memory + memory_pos, memory, attn_mask=mask, need_weights=False)
        q = self.norm_cross(q + attended)
        attended, _ = self.self_attn(q + pos, q + pos, q, key_padding_mask=padding, need_weights=False)
        q = self.norm_self(q + attended)
        return self.norm_ffn(q + self.ffn(q))

    def forward(self, queries: torch.Tensor, query_pos: torch.Tensor, memory: torch.Tensor, memory_pos: torch.Tensor,
                blocked: torch.Tensor | None = None, active: torch.Tensor | None = None) -> torch.Tensor:
        """Update ``queries [B, Q, C]``; with ``active bool [B, Q]`` only active queries interact and change.

        Args:
            query_pos: ``[B, Q, C]`` query positional embeddings.
            memory, memory_pos: ``[B, L, C]`` pixel features and their positional encodings.
            blocked: ``bool [B, Q, L]`` masked cross-attention (True = do not attend), from the previous
                layer's mask prediction.
        """
        if active is None:
            return self._update(queries, query_pos, memory, memory_pos, blocked, None)
        q, valid, index = gather_active(queries, active)
        if q.shape[1] == 0:
            return queries
        pos = torch.gather(query_pos, 1, index[..., None].expand(-1, -1, query_pos.shape[-1]))
        block = None if blocked is None else torch.gather(blocked, 1, index[..., None].expand(-1, -1, blocked.shape[-1]))
        updated = self._update(q, pos, memory, memory_pos, block, ~valid)
        return scatter_active(queries, updated, valid, index)
