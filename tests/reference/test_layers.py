"""Interaction enhancement: the gathered computation equals a dense one with dormant queries masked out."""

from __future__ import annotations

import torch

from avsprobe.reference.layers import ActiveQueryLayer, gather_active, scatter_active


def _inputs(seed: int = 0) -> tuple:
    g = torch.Generator().manual_seed(seed)
    b, q, length, c = 3, 12, 20, 16
    queries = torch.randn(b, q, c, generator=g)
    pos = torch.randn(b, q, c, generator=g)
    memory = torch.randn(b, length, c, generator=g)
    memory_pos = torch.randn(b, length, c, generator=g)
    blocked = torch.rand(b, q, length, generator=g) > 0.6
    blocked[0, 1] = True  # a fully blocked query row
    active = torch.rand(b, q, generator=g) > 0.6
    active[:, 0] = True  # mark 0 is always active
    active[2] = True  # one clip with every query active
    return queries, pos, memory, memory_pos, blocked, active


def test_gather_and_scatter_are_inverse() -> None:
    queries, *_, active = _inputs()
    packed, valid, index = gather_active(queries, active)
    assert packed.shape[1] == int(active.sum(1).max()) and valid.sum() == active.sum()
    assert torch.equal(scatter_active(queries, packed, valid, index), queries)


def test_gathered_equals_dense_masked_for_active_queries() -> None:
    torch.manual_seed(0)
    layer = ActiveQueryLayer(16, 4, 32).eval()
    queries, pos, memory, memory_pos, blocked, active = _inputs()
    gathered = layer(queries, pos, memory, memory_pos, blocked, active)
    # dense: all queries computed, dormant ones excluded as self-attention keys
    guard = blocked & ~blocked.all(dim=-1, keepdim=True)
    with torch.no_grad():
        dense_cross, _ = layer.cross(queries + pos, memory + memory_pos, memory,
                                     attn_mask=guard.repeat_interleave(4, dim=0), need_weights=False)
        q = layer.norm_cross(queries + dense_cross)
        dense_self, _ = layer.self_attn(q + pos, q + pos, q, key_padding_mask=~active, need_weights=False)
        q = layer.norm_self(q + dense_self)
        dense = layer.norm_ffn(q + layer.ffn(q))
    assert torch.allclose(gathered[active], dense[active], atol=1e-5)
    assert torch.equal(gathered[~active], queries[~active])  # dormant queries are left as they were


def test_dormant_queries_receive_no_gradient() -> None:
    layer = ActiveQueryLayer(16, 4, 32)
    queries, pos, memory, memory_pos, blocked, active = _inputs(1)
    queries.requires_grad_(True)
    out = layer(queries, pos, memory, memory_pos, blocked, active)
    out[active].pow(2).sum().backward()
    assert queries.grad is not None
    assert torch.count_nonzero(queries.grad[~active]) == 0
    assert torch.count_nonzero(queries.grad[active]) > 0
