"""Training end to end on a tiny bias lab: checkpoints, resuming, the adapters and the CLI (a few steps only)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from avsprobe.adapters import resolve_model
from avsprobe.adapters.batching import prepare_batch
from avsprobe.adapters.check import _probed_batch, check_adapter
from avsprobe.data.biaslab.world import build_world
from avsprobe.errors import AdapterError, ConfigError
from avsprobe.reference.checkpoint import load_checkpoint
from avsprobe.reference.data import load_frames
from avsprobe.reference.train import TrainSettings, evaluate_miou, train
from tests.cli.test_app import run_cli


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("train") / "w"
    build_world(root, clips=12, workers=2)
    return root


def _settings(world: Path, **changes: object) -> TrainSettings:
    base = {"model": "ours-nodebias", "epochs": 1, "batch_size": 8, "data": str(world), "overrides": {"frame_size": 64}}
    return TrainSettings(**{**base, **changes})  # type: ignore[arg-type]


def test_train_resume_and_load(world: Path, tmp_path: Path) -> None:
    out = tmp_path / "ck"
    epochs_seen: list[int] = []
    meta = train(_settings(world), out, max_steps=2, workers=1, on_epoch=lambda r: epochs_seen.append(r["epoch"]))
    assert epochs_seen == [0] and {p.name for p in out.iterdir()} >= {"model.safetensors", "config.json", "last.json",
                                                                     "last.safetensors"}
    record = json.loads((out / "config.json").read_text())
    assert record["model"] == "ours-nodebias" and len(record["classes"]) == 8
    # the recorded val mIoU is the checkpoint's own, recomputed
    val = load_frames(world, "val", tuple(record["classes"]), 64, workers=1)
    assert record["training"]["history"][0]["val_miou"] == evaluate_miou(load_checkpoint(out)[0], val)
    assert meta["training"]["perception_fit"]["train_exact_match"] > 0.8  # Φ fits the train presence sets
    # resuming: a second call with more epochs continues at epoch 1 and keeps the history
    meta = train(_settings(world, epochs=2), out, max_steps=2, workers=1)
    with pytest.raises(ConfigError, match="other settings"):
        train(_settings(world, epochs=3, seed=5), out, max_steps=1, workers=1)
    assert [h["epoch"] for h in json.loads((out / "last.json").read_text())["history"]] == [0, 1]
    model, record = load_checkpoint(out)
    assert record["training"]["best"]["epoch"] in (0, 1) and not model.training
    # the adapters load it and conform
    adapter = resolve_model("ours-nodebias", {"checkpoint": str(out)})
    assert adapter.input_spec.frame_size == (64, 64)
    assert all(r.passed for r in check_adapter(adapter)), check_adapter(adapter)
    # the logits ensemble: (1 + alpha) main - alpha visual-only, on the foreground logits
    train(_settings(world, model="visual-only"), tmp_path / "vis", max_steps=1, workers=1)
    ensemble = resolve_model("ours", {"strategy": "logits-ensemble", "checkpoint": str(tmp_path / "vis"),
                                      "main": str(out), "alpha": 0.5})
    visual = resolve_model("visual-only", {"checkpoint": str(tmp_path / "vis")})
    batch = prepare_batch(_probed_batch(5, 64), ensemble.input_spec, "cpu")
    expected = 1.5 * adapter.predict(batch) - 0.5 * visual.predict(batch)
    assert torch.allclose(ensemble.predict(batch), expected, atol=1e-5)
    with pytest.raises(AdapterError, match="trained as 'ours-nodebias'"):  # not an 'ours' checkpoint at all
        resolve_model("ours", {"checkpoint": str(out), "strategy": "bias-only"})


def test_alpha_and_inference_options_are_honoured_and_fingerprinted(world: Path, tmp_path: Path) -> None:
    """The first release ignored ``alpha`` for uncertainty checkpoints while filing each value as its own run."""
    import copy

    from avsprobe.reference.config import LEGACY_DEFAULTS
    from avsprobe.reference.inference import foreground_logits

    out = tmp_path / "ours"
    train(_settings(world, model="ours"), out, max_steps=2, workers=1)
    batch = prepare_batch(_probed_batch(5, 64), resolve_model("ours", {"checkpoint": str(out)}).input_spec, "cpu")
    adapters = {a: resolve_model("ours", {"checkpoint": str(out), **({"alpha": a} if a is not None else {})})
                for a in (None, "0", "1", "1.0", "5")}
    logits = {a: adapter.predict(batch) for a, adapter in adapters.items()}
    assert not torch.equal(logits["0"], logits["1"]) and not torch.equal(logits["1"], logits["5"])
    assert torch.equal(logits[None], logits["1"])
    # alpha = 0 is the main branch alone: the same weights decoding without the second branch
    main_only = copy.deepcopy(adapters["0"].model)
    main_only.config = main_only.config.replace(debias="none")
    b, t, _, h, w = batch.frames.shape
    from avsprobe.audio.vggish import vggish_examples

    log_mel = vggish_examples(batch.audio, num_examples=t, precision="float32")[:, :, 0].reshape(b * t, 96, 64)
    expected = foreground_logits(main_only, batch.frames.reshape(b * t, 3, h, w), log_mel, (h, w)).reshape(b, t, h, w)
    # compared as probabilities: the decoder runs 5 branches at once there, 1 here, and float32 kernels of
    # other batch sizes differ by ~1e-7, which saturated foreground logits amplify
    assert torch.allclose(logits["0"].sigmoid(), expected.sigmoid(), atol=1e-5)
    # a fingerprint changes only when the output can: the checkpoint's own alpha (1) or another batch size
    # files no new run
    prints = {a: adapter.fingerprint() for a, adapter in adapters.items()}
    assert prints[None] == prints["1"] == prints["1.0"] and len({prints[None], prints["0"], prints["5"]}) == 3
    assert resolve_model("ours", {"checkpoint": str(out), "batch_frames": "7"}).fingerprint() == prints[None]
    contrast_fg = resolve_model("ours", {"checkpoint": str(out), "contrast_on": "foreground"})
    assert contrast_fg.fingerprint() != prints[None] and not torch.equal(contrast_fg.predict(batch), logits[None])
    # the same folder and weights with another inference setting saved in config.json: another fingerprint
    record = json.loads((out / "config.json").read_text())
    record["config"]["contrast_on"] = "foreground"
    (out / "config.json").write_text(json.dumps(record))
    saved_fg = resolve_model("ours", {"checkpoint": str(out)})
    assert saved_fg.fingerprint() != prints[None]
    assert torch.equal(saved_fg.predict(batch), contrast_fg.predict(batch))
    with pytest.raises(AdapterError, match="trained as 'ours-nodebias'"):
        resolve_model("ours", {"checkpoint": str(_nodebias(world, tmp_path)), "alpha": "2"})
    with pytest.raises(AdapterError, match="trained with debias 'uncertainty', not 'bias-only'"):
        resolve_model("ours", {"checkpoint": str(out), "strategy": "bias-only"})
    with pytest.raises(AdapterError, match="noise_draws='many' is not a int"):
        resolve_model("ours", {"checkpoint": str(out), "noise_draws": "many"})
    # a checkpoint from before the fix loads as it was trained (leaky marks, unit noise, one draw)
    legacy = tmp_path / "legacy"
    legacy.mkdir()
    train(_settings(world, model="ours", overrides={"frame_size": 64, **LEGACY_DEFAULTS}), legacy, max_steps=1, workers=1)
    record = json.loads((legacy / "config.json").read_text())
    for key in LEGACY_DEFAULTS:
        del record["config"][key]
    (legacy / "config.json").write_text(json.dumps(record))
    model, _ = load_checkpoint(legacy)
    assert {k: getattr(model.config, k) for k in LEGACY_DEFAULTS} == LEGACY_DEFAULTS


def _nodebias(world: Path, tmp_path: Path) -> Path:
    out = tmp_path / "nodebias"
    train(_settings(world), out, max_steps=1, workers=1)
    return out


def test_a_short_training_learns(tmp_path: Path) -> None:
    """Six seeded epochs on a small world: clearly better than the same model untrained, on val and train.
    (20 clips: the module's 12-clip world leaves 8 train clips, too few to learn from in world version 2.)"""
    from avsprobe.reference.train import _build_model, build_config

    world = tmp_path / "w20"
    build_world(world, clips=20, workers=2)
    settings = _settings(world, model="vanilla", epochs=6)
    meta = train(settings, tmp_path / "v", workers=1)
    classes = tuple(meta["classes"])
    untrained = _build_model(build_config(settings, len(classes)), settings.seed)
    trained, _ = load_checkpoint(tmp_path / "v")
    val = load_frames(world, "val", classes, 64, workers=1)
    train_frames = load_frames(world, "train", classes, 64, workers=1)
    assert meta["training"]["best"]["val_miou"] > evaluate_miou(untrained, val) + 0.05
    assert evaluate_miou(trained, train_frames) > 0.5 > evaluate_miou(untrained, train_frames) + 0.3


def test_training_is_deterministic(world: Path, tmp_path: Path) -> None:
    for name in ("a", "b"):
        train(_settings(world, model="vanilla"), tmp_path / name, max_steps=2, workers=1)
    a, _ = load_checkpoint(tmp_path / "a")
    b, _ = load_checkpoint(tmp_path / "b")
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values(), strict=True))


def test_missing_checkpoint_names_the_fix(tmp_path: Path) -> None:
    with pytest.raises(AdapterError, match="config.json is missing"):
        resolve_model("vanilla", {"checkpoint": str(tmp_path / "none")})


def test_train_command(world: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(["train", "--model", "vanilla", "--data", str(world), "--epochs", "1", "--out",
                              str(tmp_path / "v"), "--batch-size", "16"], capsys)
    assert code == 0, err
    assert "best val mIoU" in out and (tmp_path / "v" / "model.safetensors").is_file()
    code, out, err = run_cli(["train", "--model", "nope", "--data", str(world), "--out", str(tmp_path / "x")], capsys)
    assert code == 1 and "unknown trainable model" in err


def _ddp_worker(rank: int, world: str, out: str, port: int, results: str) -> None:
    import os

    os.environ.update({"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port), "RANK": str(rank), "WORLD_SIZE": "2",
                       "LOCAL_RANK": str(rank)})
    torch.set_num_threads(1)
    meta = train(_settings(Path(world), model="ours", batch_size=8), out, max_steps=2, workers=1)
    Path(results, f"rank{rank}.txt").write_text(meta["parameter_digest"])
    torch.distributed.destroy_process_group()


def test_two_cpu_processes_train_with_ddp(world: Path, tmp_path: Path) -> None:
    import socket

    import torch.multiprocessing as mp

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mp.spawn(_ddp_worker, args=(str(world), str(tmp_path / "ddp"), port, str(tmp_path)), nprocs=2, join=True)
    digests = {(tmp_path / f"rank{r}.txt").read_text() for r in range(2)}
    assert len(digests) == 1  # gradients were averaged: both replicas hold identical weights
    record = json.loads((tmp_path / "ddp" / "last.json").read_text())
    model, meta = load_checkpoint(tmp_path / "ddp")
    val = load_frames(world, "val", tuple(meta["classes"]), 64, workers=1)
    assert len(record["history"]) == 1 and record["history"][0]["val_miou"] == evaluate_miou(model, val)


def test_a_checkpoint_loads_only_as_the_model_it_was_trained_as(world: Path, tmp_path: Path) -> None:
    """Reports label runs and group seeds by the adapter's name: a vanilla checkpoint run as 'ours-nodebias'
    would be averaged with the real ones."""
    train(_settings(world, model="vanilla"), tmp_path / "v", max_steps=1, workers=1)
    with pytest.raises(AdapterError, match="trained as 'vanilla'.*--model vanilla"):
        resolve_model("ours-nodebias", {"checkpoint": str(tmp_path / "v")})
    with pytest.raises(AdapterError, match="trained as 'vanilla'"):
        resolve_model("ours", {"checkpoint": str(tmp_path / "v")})
    assert resolve_model("vanilla", {"checkpoint": str(tmp_path / "v")}).name == "vanilla"


def test_vanilla_debias_is_vanilla_trained_with_the_uncertainty_strategy(world: Path, tmp_path: Path) -> None:
    """The paper's Table 4 arm: the vanilla recipe plus the uncertainty strategy and the chosen loss; its
    checkpoint runs only as 'vanilla-debias', whose second branch changes the output (alpha 0 is the main
    branch alone)."""
    from avsprobe.reference.train import RECIPES, build_config

    config = build_config(_settings(world, model="vanilla-debias", debias_loss="official"), num_classes=8)
    for field, value in RECIPES["vanilla"].items():
        assert getattr(config, field) == value
    assert (config.debias, config.debias_loss, config.contrast_on) == ("uncertainty", "official", "queries")
    with pytest.raises(ConfigError, match="unknown debias loss 'nope'"):
        build_config(_settings(world, model="vanilla-debias", debias_loss="nope"), num_classes=8)
    train(_settings(world, model="vanilla-debias"), tmp_path / "vd", max_steps=2, workers=1)
    adapter = resolve_model("vanilla-debias", {"checkpoint": str(tmp_path / "vd")})
    assert adapter.name == "vanilla-debias" and adapter.model.config.debias == "uncertainty"
    batch = prepare_batch(_probed_batch(5, 64), adapter.input_spec, "cpu")
    assert torch.equal(adapter.predict(batch), adapter.predict(batch))  # the inference noise is fixed
    main_only = resolve_model("vanilla-debias", {"checkpoint": str(tmp_path / "vd"), "alpha": 0})
    assert not torch.equal(adapter.predict(batch), main_only.predict(batch))
    with pytest.raises(AdapterError, match="trained as 'vanilla-debias'"):
        resolve_model("vanilla", {"checkpoint": str(tmp_path / "vd")})
    train(_settings(world, model="vanilla"), tmp_path / "v", max_steps=1, workers=1)
    with pytest.raises(AdapterError, match="trained as 'vanilla'"):
        resolve_model("vanilla-debias", {"checkpoint": str(tmp_path / "v")})


def test_supervised_prior_hands_the_criterion_the_frames_whose_audio_names_no_class(world: Path, tmp_path: Path,
                                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The second branch's own loss counts on the frames Phi labels "no class" only (bias_rows = no presence)."""
    from avsprobe.reference import criterion as criterion_module

    seen: list[tuple[torch.Tensor | None, int]] = []
    original = criterion_module.SetCriterion.forward

    def spy(self, output, targets, generator=None):  # type: ignore[no-untyped-def]
        if output.bias is not None or output.main_branch is not None:  # the top-level call, not the nested ones
            seen.append((targets.bias_rows, int(targets.valid.shape[0])))
        return original(self, output, targets, generator)

    monkeypatch.setattr(criterion_module.SetCriterion, "forward", spy)
    train_frames = load_frames(world, "train", ("bell", "bird", "car", "dog", "drum", "guitar", "man", "piano"), 64)
    silent = int((~train_frames.presence.any(-1)).sum())
    assert 0 < silent < len(train_frames)  # the tiny world has frames of both kinds
    train(_settings(world, model="ours", debias_loss="supervised-prior", batch_size=len(train_frames)), tmp_path / "p",
          max_steps=1, workers=1)
    rows, batch = seen[0]
    assert rows is not None and rows.dtype == torch.bool and rows.shape == (batch,) and int(rows.sum()) == silent
    seen.clear()
    train(_settings(world, model="ours", debias_loss="supervised-bias", batch_size=len(train_frames)), tmp_path / "b",
          max_steps=1, workers=1)
    assert seen[0][0] is None  # supervised-bias trains the second branch on every frame
