"""``exact_float32``: full-precision, deterministic float32 math while a model predicts, settings restored after;
on a GPU, the bundled models' logits do not depend on how clips are batched."""

from __future__ import annotations

import pytest
import torch

from avsprobe.devices import exact_float32


def test_exact_float32_turns_tf32_off_inside_and_restores_the_caller_settings() -> None:
    cudnn, matmul = torch.backends.cudnn, torch.backends.cuda.matmul
    before = (cudnn.allow_tf32, cudnn.deterministic, cudnn.benchmark, matmul.allow_tf32)
    cudnn.allow_tf32, cudnn.deterministic, cudnn.benchmark, matmul.allow_tf32 = True, False, True, True
    try:
        with exact_float32():
            assert (cudnn.allow_tf32, cudnn.deterministic, cudnn.benchmark, matmul.allow_tf32) == (False, True, False,
                                                                                                 False)
        assert (cudnn.allow_tf32, cudnn.deterministic, cudnn.benchmark, matmul.allow_tf32) == (True, False, True, True)
    finally:
        cudnn.allow_tf32, cudnn.deterministic, cudnn.benchmark, matmul.allow_tf32 = before


def test_the_runner_and_the_check_predict_under_exact_float32(monkeypatch: pytest.MonkeyPatch) -> None:
    """What the model sees inside predict: TF32 off although the caller had it on."""
    from avsprobe.adapters.check import _predictor
    from avsprobe.runner import _Call, _predict_call

    seen = []

    class Spy:
        def predict(self, batch: object) -> torch.Tensor:
            seen.append((torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32))
            return torch.zeros(1)

    monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", True)
    monkeypatch.setattr(torch.backends.cuda.matmul, "allow_tf32", True)
    _predictor(Spy(), 30.0)(None)
    _predict_call(Spy(), _Call(items=[], batch=None))  # type: ignore[arg-type]
    assert seen == [(False, False), (False, False)]


@pytest.mark.gpu
@pytest.mark.parametrize("model", ["vanilla", "ours"])
def test_bundled_models_are_batch_independent_on_cuda(model: str) -> None:
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    from avsprobe.adapters import resolve_model
    from avsprobe.adapters.check import check_adapter

    results = {r.name: r for r in check_adapter(resolve_model(model, {}), device="cuda")}
    assert results["batch independence"].passed, results["batch independence"].detail
