"""Adapters: registry contract, model-string resolution, wrappers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from avsprobe.adapters import MODELS, ModelAdapter, resolve_model
from avsprobe.adapters.batching import prepare_batch
from avsprobe.adapters.builtin import AudioBlind, Contrastive, parse_options
from avsprobe.adapters.check import _probed_batch, check_adapter
from avsprobe.errors import AdapterError, ConfigError
from avsprobe.seeding import rng_for

EXAMPLE = Path(__file__).parents[2] / "examples" / "custom_adapter.py"


@pytest.mark.parametrize("name", MODELS.names())
def test_every_registered_adapter_conforms(name: str) -> None:
    results = check_adapter(resolve_model(name))
    assert all(r.passed for r in results), [(r.name, r.detail) for r in results if not r.passed]


def test_resolution_paths(monkeypatch: pytest.MonkeyPatch) -> None:
    assert resolve_model("avsprobe.adapters.builtin:EmptyAdapter").name == "empty"
    custom = resolve_model(f"{EXAMPLE}:BrightnessAdapter", {"min_rms": 0.5})
    assert custom.name == "brightness" and custom.min_rms == 0.5 and custom.options == {"min_rms": 0.5}
    assert all(r.passed for r in check_adapter(custom))
    with pytest.raises(ConfigError, match="Did you mean 'oracle'"):
        resolve_model("oracel")
    with pytest.raises(ConfigError, match="adapter file not found"):
        resolve_model("nope/missing.py:X")
    with pytest.raises(ConfigError, match="not a ModelAdapter"):
        resolve_model("json:dumps")

    class EntryPoint:
        name = "third-party"

        @staticmethod
        def load() -> type:
            from avsprobe.adapters.builtin import FullAdapter

            return FullAdapter

    monkeypatch.setattr("importlib.metadata.entry_points", lambda group: [EntryPoint()] if group == "avsprobe.adapters" else [])
    assert resolve_model("third-party").name == "full"


def test_parse_options() -> None:
    assert parse_options(["a=1", "b=0.5", "c=true", "d=x=y"]) == {"a": 1, "b": 0.5, "c": True, "d": "x=y"}
    with pytest.raises(AdapterError):
        parse_options(["novalue"])


class AudioEcho(ModelAdapter):
    """Logits equal to the first audio sample of each clip, everywhere."""

    name = "echo"

    def predict(self, batch):  # noqa: ANN001, ANN201
        b, t, _, h, w = batch.frames.shape
        return batch.audio[:, 0].view(b, 1, 1, 1).expand(b, t, h, w).clone()


def test_audio_blind_zeroes_the_audio() -> None:
    batch = prepare_batch(_probed_batch(5, 16), AudioEcho.input_spec, "cpu")
    assert AudioEcho().predict(batch).abs().sum() > 0
    assert torch.equal(AudioBlind(AudioEcho()).predict(batch), torch.zeros(2, 5, 16, 16))
    assert resolve_model("audio-blind:oracle").name == "audio-blind:oracle"


def test_contrastive_arithmetic_and_determinism() -> None:
    batch = prepare_batch(_probed_batch(5, 16), AudioEcho.input_spec, "cpu")
    wrapped = resolve_model(f"{__name__}:AudioEcho", debias="contrastive:alpha=2")
    assert isinstance(wrapped, Contrastive) and wrapped.alpha == 2.0
    out = wrapped.predict(batch)
    assert torch.equal(out, wrapped.predict(batch))
    from avsprobe.audio.loudness import measure_loudness
    from avsprobe.audio.noise import noise_at_loudness

    for i, (s, c) in enumerate(zip(batch.sample_ids, batch.condition_ids, strict=True)):
        noise = noise_at_loudness("white", batch.audio.shape[1] / 16000, -23.0, rng_for("contrastive", s, c)).audio
        assert measure_loudness(noise).value == pytest.approx(-23.0, abs=0.1)
        expected = 3 * float(batch.audio[i, 0]) - 2 * float(noise[0])
        assert float(out[i, 0, 0, 0]) == pytest.approx(expected, rel=1e-5, abs=1e-6)
    with pytest.raises(ConfigError, match="unknown debias"):
        resolve_model("full", debias="mean:1")


def test_the_contrast_acts_under_digital_silence() -> None:
    """Noise scaled to the clip's RMS was silence under digital silence, so the wrapper was the identity there."""
    batch = prepare_batch(_probed_batch(5, 16), AudioEcho.input_spec, "cpu")
    batch.audio = torch.zeros_like(batch.audio)
    inner = AudioEcho()
    wrapped = resolve_model(f"{__name__}:AudioEcho", debias="contrastive:alpha=1")
    assert torch.equal(inner.predict(batch), torch.zeros(2, 5, 16, 16))
    out = wrapped.predict(batch)
    assert not torch.equal(out, inner.predict(batch))
    # a level other than the default is an option of its own
    quieter = resolve_model(f"{__name__}:AudioEcho", debias="contrastive:alpha=1,noise_lufs=-43")
    ratio = float(quieter.predict(batch)[0, 0, 0, 0] / out[0, 0, 0, 0])
    assert ratio == pytest.approx(10 ** (-20 / 20), rel=1e-3)  # 20 dB quieter noise, the same draw


def test_known_answer_adapters_need_the_truth() -> None:
    batch = prepare_batch(_probed_batch(5, 16), MODELS.get("oracle").input_spec, "cpu")
    truth = batch.truth
    oracle = resolve_model("oracle")
    assert torch.equal(oracle.predict(batch) > 0, torch.from_numpy(np.stack([p.expected_mask for p in truth])))
    batch.truth = None
    with pytest.raises(AdapterError, match="ground truth"):
        oracle.predict(batch)


class _NeverReturns(ModelAdapter):
    """An adapter whose predict waits for ever (a deadlocked data loader, a remote call that hangs)."""

    name = "never-returns"

    def predict(self, batch):  # noqa: ANN001, ANN201
        import threading

        threading.Event().wait()


def test_models_check_times_out_on_an_adapter_that_never_returns() -> None:
    import time

    start = time.monotonic()
    results = check_adapter(_NeverReturns(), timeout_s=0.5)
    assert time.monotonic() - start < 10
    failed = [r for r in results if not r.passed]
    assert [r.name for r in failed] == ["predict runs"] and "did not return within 0.5 s" in failed[0].detail


class _WeightsFromFile(ModelAdapter):
    """Predicts a constant read from a 'checkpoint' file (the weights a user's adapter would load)."""

    name = "weights-from-file"

    def __init__(self, checkpoint: str) -> None:
        super().__init__()
        self.level = float(Path(checkpoint).read_text())

    def predict(self, batch):  # noqa: ANN001, ANN201
        b, t, _, h, w = batch.frames.shape
        return torch.full((b, t, h, w), self.level)


def test_retrained_weights_at_the_same_path_are_another_model(tmp_path: Path) -> None:
    """The weights a path option names are part of the model's identity: retraining into the same path, the
    resume is refused (before, it resumed stale records, and a larger --limit mixed two models in one folder)."""
    from avsprobe.data.biaslab.world import build_world
    from avsprobe.data.source import open_data
    from avsprobe.errors import ConfigError
    from avsprobe.probes.suite import ProbeSuite
    from avsprobe.runner import run_suite

    build_world(tmp_path / "w", clips=10, workers=1)
    ckpt = tmp_path / "ckpt.pth"
    ckpt.write_text("5.0")
    first = _WeightsFromFile.from_options(checkpoint=str(ckpt))
    source, suite = open_data(tmp_path / "w"), ProbeSuite.single("negative")
    run_suite(first, suite, source, tmp_path / "r", limit=1, workers=0)
    before = first.fingerprint()
    ckpt.write_text("-5.0")  # retrained, same path
    again = _WeightsFromFile.from_options(checkpoint=str(ckpt))
    assert again.fingerprint() != before
    with pytest.raises(ConfigError, match="model_fingerprint differs"):
        run_suite(again, suite, source, tmp_path / "r", limit=2, workers=0)
    copy = tmp_path / "copy.pth"
    copy.write_text("-5.0")
    moved = _WeightsFromFile.from_options(checkpoint=str(copy))
    # a copy elsewhere: another path option (so another fingerprint), but the same content identity
    assert _content(moved) == _content(again)


def _content(adapter: ModelAdapter) -> str:
    from avsprobe.adapters.base import _named_files

    return next(iter(_named_files(adapter.options).values()))


def test_option_values_become_numbers_only_when_written_as_numbers() -> None:
    from avsprobe.adapters.builtin import parse_options

    parsed = parse_options(["a=1", "b=-0.5", "c=1e-3", "d=007", "e=nan", "f=inf", "g=true", "h=0.25"])
    assert parsed == {"a": 1, "b": -0.5, "c": 0.001, "d": "007", "e": "nan", "f": "inf", "g": True, "h": 0.25}


def test_bad_option_values_are_one_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    """alpha=abc and a misspelt contrastive option: one error line naming the option (before: tracebacks)."""
    from tests.cli.test_app import run_cli

    code, _, err = run_cli(["models", "check", "ours", "--model-opt", "alpha=abc"], capsys)
    assert code == 1 and "Traceback" not in err and "alpha" in err and "abc" in err
    with pytest.raises(ConfigError, match="takes alpha=A and noise_lufs=L only, not alpa"):
        resolve_model("oracle", debias="contrastive:alpa=1")
    with pytest.raises(ConfigError, match="could not convert"):
        resolve_model("oracle", debias="contrastive:alpha=abc")


class _AllNaN(ModelAdapter):
    name = "all-nan"

    def predict(self, batch):  # noqa: ANN001, ANN201
        b, t, _, h, w = batch.frames.shape
        return torch.full((b, t, h, w), float("nan"))


def test_models_check_fails_nan_as_not_finite_not_as_non_deterministic() -> None:
    results = {r.name: r for r in check_adapter(_AllNaN())}
    assert not results["finite logits"].passed and results["deterministic"].passed


def test_module_class_from_the_working_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``--model mymodel:MyAdapter`` with mymodel.py in the working folder (before: "cannot import module")."""
    import sys

    (tmp_path / "my_working_model.py").write_text(
        "from avsprobe.adapters.testing import OracleAdapter\n\nclass MyAdapter(OracleAdapter):\n    name = 'mine'\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(tmp_path))])
    assert resolve_model("my_working_model:MyAdapter").name == "mine"
