"""Sending a report's runs to an experiment tracker (``avsprobe report --log wandb|mlflow``).

One tracker run per model of the report: its metadata (model, fingerprints, suite, data, split, seed, clips,
avsprobe version and commit from ``run.json``) as the run's config or parameters, and every headline metric
as ``name`` with its interval as ``name.ci_low`` / ``name.ci_high`` (metrics without a value are left out).
The trackers are optional extras (``pip install avsprobe[tracking]``), imported only here; where the run goes
is the tracker's own setting (``WANDB_MODE``, ``WANDB_DIR``, ``MLFLOW_TRACKING_URI``, ...).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from avsprobe.errors import ConfigError
from avsprobe.results import read_run_info

__all__ = ["TRACKERS", "tracked_runs", "log_report"]

TRACKERS = ("wandb", "mlflow")

_RUN_FIELDS = ("model", "model_fingerprint", "data", "data_fingerprint", "suite", "suite_fingerprint", "seed",
               "clips_evaluated", "clips_total")
_RUN_JSON_FIELDS = ("split", "subset", "device", "avsprobe_version", "git_hash", "model_seed", "records_format")


def tracked_runs(report_dir: str | Path, content: dict[str, Any] | None = None
                 ) -> list[tuple[str, dict[str, Any], dict[str, float]]]:
    """``(name, metadata, metrics)`` per model of the report in ``report_dir`` (``content``: the report's
    content, by default read from its ``report.json``)."""
    folder = Path(report_dir)
    if content is None:
        content = json.loads((folder / "report.json").read_text())
    out = []
    for run in content["runs"]:
        meta: dict[str, Any] = {k: run[k] for k in _RUN_FIELDS if k in run}
        if run.get("path") and (Path(run["path"]) / "run.json").is_file():
            info = read_run_info(run["path"])
            meta.update({k: info[k] for k in _RUN_JSON_FIELDS if info.get(k) is not None})
        meta["report"] = str(folder.resolve())
        metrics: dict[str, float] = {}
        for name, metric in run["metrics"].items():
            for key, suffix in (("value", ""), ("ci_low", ".ci_low"), ("ci_high", ".ci_high")):
                value = metric.get(key)
                if isinstance(value, (int, float)) and not math.isnan(value):
                    metrics[name + suffix] = float(value)
        out.append((str(run["model"]), meta, metrics))
    return out


def log_report(report_dir: str | Path, tracker: str, *, project: str = "avsprobe",
               content: dict[str, Any] | None = None) -> int:
    """Send every model of the report in ``report_dir`` (``content``: as :func:`tracked_runs`) to ``tracker``
    (``wandb`` or ``mlflow``) under ``project`` (a W&B project, an MLflow experiment); returns the number of
    runs logged.

    Raises:
        ConfigError: an unknown tracker, one that is not installed, or one that refuses (its first line).
    """
    if tracker not in TRACKERS:
        raise ConfigError(f"unknown tracker {tracker!r}; use one of {', '.join(TRACKERS)}")
    runs = tracked_runs(report_dir, content)
    try:
        log = _log_wandb if tracker == "wandb" else _log_mlflow
        for name, meta, metrics in runs:
            log(project, name, meta, metrics)
    except ImportError:
        raise ConfigError(f"--log {tracker} needs the {tracker} package: pip install 'avsprobe[tracking]'") from None
    except Exception as exc:  # noqa: BLE001 - a tracker raises its own types (a refused backend, no login)
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ConfigError(f"{tracker} refused the runs: {first}") from None
    return len(runs)


def _log_wandb(project: str, name: str, meta: dict[str, Any], metrics: dict[str, float]) -> None:
    import wandb

    run = wandb.init(project=project, name=name, config=meta, job_type="avsprobe-report", reinit="create_new")
    try:
        for key, value in metrics.items():
            run.summary[key] = value
    finally:
        run.finish()


def _log_mlflow(project: str, name: str, meta: dict[str, Any], metrics: dict[str, float]) -> None:
    import mlflow

    mlflow.set_experiment(project)
    with mlflow.start_run(run_name=name):
        mlflow.log_params({k: str(v) for k, v in meta.items()})
        mlflow.log_metrics(metrics)
