"""``avsprobe report --log``: each model's metadata and headline metrics reach W&B (offline, read back from
its run file) and MLflow (a local folder, read back through its client), with the report's own values."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from avsprobe.errors import ConfigError
from avsprobe.report.tracking import log_report, tracked_runs
from tests.cli.test_app import run_cli

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "reports" / "biaslab"


def _expected() -> dict[str, dict[str, float]]:
    """Per model, the demo report's headline values and interval ends, as the trackers should hold them."""
    out = {}
    for run in json.loads((DEMO / "report.json").read_text())["runs"]:
        values = {}
        for name, m in run["metrics"].items():
            for key, suffix in (("value", ""), ("ci_low", ".ci_low"), ("ci_high", ".ci_high")):
                if m.get(key) is not None:
                    values[name + suffix] = float(m[key])
        out[run["model"]] = values
    return out


def _wandb_records(path: Path) -> list:
    """The protobuf records of a W&B run file, read independently of wandb's writer (LevelDB-style log: a
    7-byte file header, 32 KiB blocks, each chunk with a 7-byte header: checksum, length, type)."""
    from wandb.proto import wandb_internal_pb2 as pb

    data, block, pos, records, pending = path.read_bytes(), 32768, 7, [], b""
    while pos + 7 <= len(data):
        if block - pos % block < 7:
            pos += block - pos % block
            continue
        length, kind = int.from_bytes(data[pos + 4 : pos + 6], "little"), data[pos + 6]
        if length == 0 and kind == 0:
            break
        chunk, pos = data[pos + 7 : pos + 7 + length], pos + 7 + length
        pending = chunk if kind in (1, 2) else pending + chunk
        if kind in (1, 4):
            record = pb.Record()
            record.ParseFromString(pending)
            records.append(record)
    return records


def test_wandb_offline_run_files_hold_the_report(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("wandb")
    for key, value in {"WANDB_MODE": "offline", "WANDB_DIR": str(tmp_path), "WANDB_SILENT": "true"}.items():
        monkeypatch.setenv(key, value)
    assert log_report(DEMO, "wandb", project="bias-test") == len(_expected())
    found: dict[str, dict[str, float]] = {}
    for run_file in sorted(tmp_path.glob("wandb/offline-run-*/run-*.wandb")):
        name, summary, config = None, {}, {}
        for record in _wandb_records(run_file):
            kind = record.WhichOneof("record_type")
            if kind == "run":
                name = record.run.display_name
                assert record.run.project == "bias-test"
                config = {item.key: json.loads(item.value_json) for item in record.run.config.update}
            elif kind == "summary":
                summary.update({item.key: json.loads(item.value_json) for item in record.summary.update if item.key
                                and not item.key.startswith("_")})
        assert name and config["model"] == name and len(config["model_fingerprint"]) == 64
        found[name] = summary
    assert found == _expected()


def test_mlflow_local_store_holds_the_report(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    mlflow = pytest.importorskip("mlflow")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", (tmp_path / "mlruns").as_uri())
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # MLflow 3 keeps its folder store behind an opt-in
    assert log_report(DEMO, "mlflow", project="bias-test") == len(_expected())
    client = mlflow.tracking.MlflowClient()
    experiment = client.get_experiment_by_name("bias-test")
    runs = client.search_runs([experiment.experiment_id])
    found = {r.info.run_name: dict(r.data.metrics) for r in runs}
    assert found == _expected()
    params = runs[0].data.params
    assert params["model"] == runs[0].info.run_name and params["report"] == str(DEMO.resolve())


def test_metadata_comes_from_the_report_and_run_json(tmp_path: Path) -> None:
    runs = tracked_runs(DEMO)
    assert [name for name, _, _ in runs] == list(_expected())
    _, meta, metrics = runs[0]
    assert {"model_fingerprint", "data_fingerprint", "suite", "clips_evaluated"} <= set(meta)
    assert all(v == v for v in metrics.values())  # no NaN reaches a tracker


def test_unknown_or_missing_tracker_is_one_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ConfigError, match="unknown tracker"):
        log_report(DEMO, "tensorboard")
    code, _, err = run_cli(["report", str(tmp_path), "--log", "neptune"], capsys)
    assert code == 1 and "use one of wandb, mlflow" in err


def test_a_tracker_that_refuses_is_one_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    mlflow = pytest.importorskip("mlflow")

    def refuse(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        raise RuntimeError("backend unreachable\ntraceback detail")

    monkeypatch.setattr(mlflow, "set_experiment", refuse)
    with pytest.raises(ConfigError, match=r"^mlflow refused the runs: backend unreachable$"):
        log_report(DEMO, "mlflow")
