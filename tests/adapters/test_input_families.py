"""Audio input families: the runner hands VGGish log-mel or embeddings computed from the probed waveform;
precomputed-feature adapters are refused; ``models check`` checks batch independence and audio sensitivity."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from avsprobe.adapters import ModelAdapter
from avsprobe.adapters.base import InputSpec
from avsprobe.adapters.batching import prepare_batch
from avsprobe.adapters.check import _probed_batch, check_adapter
from avsprobe.audio.features import postprocess_embeddings
from avsprobe.audio.vggish import vggish_examples
from avsprobe.audio.vggish_net import VGGish
from avsprobe.errors import ConfigError, DataError
from tests.cli.test_app import run_cli


class Recorder(ModelAdapter):
    """Keeps what it was handed; segments nothing."""

    name = "recorder"

    def __init__(self, spec: InputSpec) -> None:
        super().__init__()
        self.input_spec = spec
        self.seen: list = []

    def predict(self, batch):  # noqa: ANN001, ANN201
        self.seen.append(batch)
        b, t, _, h, w = batch.frames.shape
        return torch.full((b, t, h, w), -10.0)


def test_log_mel_is_the_reference_frontend_of_the_probed_waveform() -> None:
    from avsprobe.probes.audio_probes import IntensityProbe

    probed = _probed_batch(5, 32)
    probe = IntensityProbe()
    sample_audio = probed[0].audio
    quiet = dataclass_replace(probed[0], audio=probe.apply(_as_sample(probed[0]), probe.condition("-53LUFS"),
                                                           np.random.default_rng(0)).audio)
    batch = prepare_batch([quiet, probed[1]], InputSpec(audio="vggish_logmel"), "cpu")
    features = batch.audio_features
    assert features.shape == (2, 5, 1, 96, 64) and features.dtype == torch.float32
    reference = vggish_examples([quiet.audio, probed[1].audio], num_examples=5)  # the float64 reference
    assert float((features - reference).abs().max()) <= 1e-5
    # probes act before the frontend: the quiet clip's features are not those of its original audio
    assert float((features[0] - vggish_examples(sample_audio, num_examples=5)).abs().max()) > 1.0


def test_short_clips_follow_the_spec_policy() -> None:
    probed = _probed_batch(5, 32)
    short = dataclass_replace(probed[0], audio=probed[0].audio[: 3 * 16000])
    batch = prepare_batch([short], InputSpec(audio="vggish_logmel", short_policy="pad_silence"), "cpu")
    assert torch.allclose(batch.audio_features[0, 4], torch.full((1, 96, 64), float(np.log(0.01))), atol=1e-5)


def _random_vggish(path: Path, seed: int = 0) -> VGGish:
    torch.manual_seed(seed)
    net = VGGish()
    for p in net.parameters():
        torch.nn.init.normal_(p, std=0.01)
    torch.save(net.state_dict(), path)  # the converted layout: features.N / embeddings.N keys
    return net.eval()


def test_embeddings_come_from_the_vggish_weights_given(tmp_path: Path) -> None:
    net = _random_vggish(tmp_path / "vggish.pth")
    probed = _probed_batch(5, 32)
    spec = InputSpec(audio="vggish_embedding", vggish_weights=str(tmp_path / "vggish.pth"))
    batch = prepare_batch(probed, spec, "cpu")
    assert batch.audio_features.shape == (2, 5, 128)
    log_mel = vggish_examples([p.audio for p in probed], num_examples=5, precision="float32")
    with torch.no_grad():
        expected = net(log_mel.reshape(10, 1, 96, 64)).reshape(2, 5, 128)
    assert torch.allclose(batch.audio_features, expected, atol=1e-6)
    with pytest.raises(ConfigError, match="needs InputSpec.vggish_weights"):
        prepare_batch(probed, InputSpec(audio="vggish_embedding"), "cpu")


def test_pca_post_processing_by_hand_and_a_refused_pickle(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    vectors, means = rng.normal(0, 0.1, (128, 128)), rng.normal(0, 1, (128, 1))
    torch.save({"pca_eigen_vectors": vectors, "pca_means": means}, tmp_path / "pca.pth")  # numpy arrays, as released
    embeddings = torch.from_numpy(rng.uniform(0, 3, (2, 5, 128)).astype(np.float32))
    got = postprocess_embeddings(embeddings, tmp_path / "pca.pth")
    e = embeddings.reshape(10, 128).numpy().astype(np.float64)
    projected = (vectors @ (e.T - means)).T
    expected = np.round((np.clip(projected, -2, 2) + 2) * 255 / 4).reshape(2, 5, 128)
    assert got.shape == (2, 5, 128) and np.abs(got.numpy() - expected).max() <= 1.0  # float32 rounding at .5 edges
    assert (np.abs(got.numpy() - expected) > 0).mean() < 0.01 and got.min() >= 0 and got.max() <= 255

    class Evil:
        def __reduce__(self) -> tuple:
            return (open, (str(tmp_path / "pwned"), "w"))

    with open(tmp_path / "evil.pth", "wb") as f:
        pickle.dump({"pca_eigen_vectors": Evil()}, f)
    with pytest.raises(DataError, match="not a weights-only VGGish PCA"):
        postprocess_embeddings(embeddings, tmp_path / "evil.pth")
    assert not (tmp_path / "pwned").exists()


class DiskFeatures(Recorder):
    name = "disk-features"

    def __init__(self) -> None:
        super().__init__(InputSpec(audio="precomputed"))


def test_precomputed_features_are_refused_as_not_probeable(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    results = check_adapter(DiskFeatures())
    assert [(r.name, r.passed) for r in results] == [("probe-able", False)]
    assert "reads precomputed audio features from disk, so no probe can change what it hears" in results[0].detail
    adapter = tmp_path / "disk.py"
    adapter.write_text("from avsprobe.adapters.base import InputSpec\nfrom tests.adapters.test_input_families import "
                       "DiskFeatures as Disk\n")
    code, _, err = run_cli(["run", "--model", f"{adapter}:Disk", "--probe", "negative", "--limit", "1", "--out",
                            str(tmp_path / "o")], capsys)
    assert code == 1 and "reads precomputed audio features from disk" in err


class BatchNormalised(Recorder):
    """Normalises each batch by its own mean: outputs depend on the other clips of the batch."""

    name = "batch-normalised"

    def __init__(self) -> None:
        super().__init__(InputSpec())

    def predict(self, batch):  # noqa: ANN001, ANN201
        x = batch.frames.mean(dim=2)
        return (x - x.mean()) + batch.audio.abs().mean(dim=1)[:, None, None, None]


def test_models_check_finds_batch_dependence_and_reports_audio_sensitivity(capsys: pytest.CaptureFixture[str],
                                                                            tmp_path: Path) -> None:
    results = {r.name: r for r in check_adapter(BatchNormalised())}
    assert not results["batch independence"].passed and "max difference" in results["batch independence"].detail
    assert results["audio sensitivity"].passed and not results["audio sensitivity"].warning
    blind = {r.name: r for r in check_adapter(Recorder(InputSpec(audio="vggish_logmel")))}
    assert blind["audio sensitivity"].warning and blind["input family"].passed
    assert "within" in blind["input family"].detail
    adapter = tmp_path / "bn.py"
    adapter.write_text("from tests.adapters.test_input_families import BatchNormalised\n")
    code, out, _ = run_cli(["models", "check", f"{adapter}:BatchNormalised", "--json"], capsys)
    assert code == 1
    parsed = {r["check"]: r for r in json.loads(out)}
    assert parsed["batch independence"]["passed"] is False and parsed["predict runs"]["passed"] is True


def dataclass_replace(probed, **changes):  # noqa: ANN001, ANN201
    import dataclasses

    return dataclasses.replace(probed, **changes)


def _as_sample(probed):  # noqa: ANN001, ANN201
    from avsprobe.types import AVSample

    return AVSample(probed.sample_id, probed.frames, probed.audio, probed.expected_mask, probed.annotated)


def test_new_input_spec_fields_at_their_defaults_keep_old_fingerprints() -> None:
    """The fingerprints avsprobe 0.x gave before the input families existed (landed main c8dd41a): runs
    recorded then must still resume, so fields added later count only when set."""
    from avsprobe.adapters import resolve_model

    assert resolve_model("empty").fingerprint() == "3457b9aea1152635490ee5775618917a41ddd0c37b692d681eab9057c5b4e15e"
    assert resolve_model("oracle").fingerprint() == "ac678aadf2f9ef3a7f2f19f2b7c67cbf3e10731b23fff5018a5d8791016183e4"
    logmel = Recorder(InputSpec(audio="vggish_logmel"))
    assert logmel.fingerprint() != Recorder(InputSpec()).fingerprint()  # a set field changes the output, and counts
