"""``avsprobe run`` and ``avsprobe models``: a model through probes, and the adapters available."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from avsprobe.cli import console
from avsprobe.cli.options import BatchSize, DataDir, Device, Limit, Subset
from avsprobe.errors import ConfigError

models_app = typer.Typer(help="List model adapters and check that one conforms.", invoke_without_command=True)

ModelOpt = Annotated[list[str] | None, typer.Option("--model-opt", help="Adapter option key=value (repeatable).")]


def run_command(
    model: Annotated[str, typer.Option("--model", "-m", help="Adapter: a name (avsprobe models), audio-blind:NAME, predictions:DIR, module:Class or file.py:Class.")],
    probe: Annotated[list[str] | None, typer.Option("--probe", "-p", help="A probe with its defaults (repeatable: several probes run as one suite named after them).")] = None,
    suite: Annotated[str | None, typer.Option("--suite", help="A suite name (probes/*.toml) or file.")] = None,
    data: DataDir = None,
    subset: Subset = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Runs folder; the run goes to OUT/<model>/<suite>.")] = Path("runs"),
    device: Device = "auto",
    batch_size: BatchSize = 8,
    limit: Limit = None,
    split: Annotated[str, typer.Option("--split", help="Split of the data.")] = "test",
    model_opt: ModelOpt = None,
    debias: Annotated[str | None, typer.Option("--debias", help="contrastive:alpha=A wraps the model.")] = None,
    workers: Annotated[int | None, typer.Option("--workers", "-w", min=0, help="Processes that read and probe ahead of the model (default: one per core but one, up to 4; 0: none). Records do not depend on it.")] = None,
    shard: Annotated[str | None, typer.Option("--shard", help="I/N: run only shard I of N of the clips (job arrays); the shards share the run folder. Under torchrun each rank is a shard.")] = None,
    threads: Annotated[int | None, typer.Option("--threads", min=1, help="A CPU model's threads (default: the machine's cores, up to 8, whatever OMP_NUM_THREADS says). Recorded: a resume under another count is refused.")] = None,
    keep_predictions: Annotated[bool, typer.Option("--keep-predictions/--no-keep-predictions", help="Keep each scored job's predictions in the run folder (about 1.2-1.4 kB a 128 x 128 frame of the bias lab), so that avsprobe rescore recomputes the records without the model.")] = True,
    video: Annotated[Path | None, typer.Option("--video", help="Your own video (mp4, mov, mkv, ...; no masks): cut into the model's clips and probed with silence, quieter levels and a swap; overlay GIFs and metrics that need no ground truth go to OUT/<model>/video-<name>/.")] = None,
) -> None:
    """Run a model through a probe or suite and record per-frame statistics (resumes if interrupted).

    Under ``torchrun --nproc_per_node=G -m avsprobe run ...`` each rank runs its shard of the clips on
    ``cuda:LOCAL_RANK`` (with ``--device cuda``) into the same run folder."""
    from avsprobe.adapters import resolve_model
    from avsprobe.adapters.builtin import parse_options
    from avsprobe.cli.progress import progress_bar
    from avsprobe.data.source import open_data
    from avsprobe.distributed import distributed_shard, finish_distributed, parse_shard
    from avsprobe.heap import keep_freed_memory
    from avsprobe.probes.suite import ProbeSuite, load_suite
    from avsprobe.runner import model_folder_name, run_suite

    keep_freed_memory()  # the process is ours: a library caller (a notebook) keeps its own malloc policy

    if video is not None:
        if probe or suite or data:
            raise ConfigError("--video runs its own conditions on the video: leave out --probe, --suite and --data")
        _run_video(resolve_model(model, parse_options(model_opt or []), debias=debias), video, out, device,
                   batch_size)
        return
    if (not probe) == (suite is None):
        raise ConfigError("give --probe (one or more) or --suite, not both")
    chosen = ProbeSuite.of(probe) if probe else load_suite(suite)  # type: ignore[arg-type]
    adapter = resolve_model(model, parse_options(model_opt or []), debias=debias)
    with progress_bar("preparing data (the default bias lab is built on first use)") as on_progress:
        source = open_data(data, split=split, subset=subset, on_progress=on_progress)
    run_dir = out / model_folder_name(adapter) / chosen.name
    from avsprobe.devices import resolve_device

    chosen_shard, device, is_distributed = distributed_shard(parse_shard(shard), resolve_device(device))
    where = f" (shard {chosen_shard[0]}/{chosen_shard[1]})" if chosen_shard else ""
    try:
        with progress_bar(f"{adapter.name} x {chosen.name}{where}") as on_progress:
            summary = run_suite(adapter, chosen, source, run_dir, batch_size=batch_size, limit=limit, device=device,
                                on_progress=on_progress, workers=workers, shard=chosen_shard, threads=threads,
                                keep_predictions=keep_predictions)
    finally:
        if is_distributed:
            finish_distributed()
    resumed = f", {summary.resumed} resumed from an earlier run" if summary.resumed else ""
    if summary.batch is not None and summary.batch.shrunk:
        console.stderr().print(f"[yellow]memory:[/] {summary.batch.describe()}", soft_wrap=True)
    console.stdout().print(
        f"{summary.jobs} jobs{where}: {summary.ok} ok, {summary.failed} failed, {summary.not_applicable} not "
        f"applicable{resumed}\nrecords written to [bold]{run_dir}[/] (parts/*.parquet, run.json)", soft_wrap=True)
    if summary.kept_bytes:
        console.stdout().print(f"predictions kept: {summary.kept_bytes / 1e6:.1f} MB, "
                               f"{summary.kept_bytes / max(summary.ok, 1) / 1e3:.1f} kB a job (predictions/*.npz; "
                               "avsprobe rescore recomputes the records from them)", soft_wrap=True)
    for status, probe, reason, count in summary.reasons[:TOP_REASONS]:
        kind = "failed" if status == "failed" else "not applicable"
        console.stdout().print(f"  {count} {kind} ({probe}): {reason}", soft_wrap=True, markup=False)
    if len(summary.reasons) > TOP_REASONS:
        console.stdout().print(f"  ... and {len(summary.reasons) - TOP_REASONS} other reasons (the records' reason "
                               "column has them all)", soft_wrap=True)
    if summary.failed and not summary.ok and not summary.resumed:
        raise ConfigError(f"every job that ran failed ({summary.failed}); the reasons are above")


TOP_REASONS = 5
"""Reasons ``run`` prints after its counts (most frequent first)."""


def _run_video(adapter, video: Path, out: Path, device: str, batch_size: int) -> None:  # noqa: ANN001
    """``run --video``: probe one's own video, write overlays and the metrics that need no ground truth."""
    from avsprobe.cli.progress import progress_bar
    from avsprobe.devices import check_device, resolve_device
    from avsprobe.runner import model_folder_name
    from avsprobe.video import probe_video, write_video_outputs

    device = check_device(resolve_device(device))
    with progress_bar(f"{adapter.name} on {video.name}") as on_progress:
        result = probe_video(adapter, video, device=device, batch_size=batch_size, on_progress=on_progress)
    target = out / model_folder_name(adapter) / f"video-{video.stem}"
    write_video_outputs(result, target)
    console.stdout().print((target / "metrics.md").read_text(), markup=False, soft_wrap=True)
    console.stdout().print(f"overlays and metrics written to [bold]{target}[/] (no ground truth: each value compares "
                           "a prediction with the one on the original audio)", soft_wrap=True)


@models_app.callback()
def models_command(ctx: typer.Context) -> None:
    """List the registered model adapters."""
    if ctx.invoked_subcommand is not None:
        return
    from rich.table import Table

    from avsprobe.adapters import MODELS, accepted_options, entry_point_adapters

    table = Table(title="model adapters (also: audio-blind:NAME, predictions:DIR, module:Class, file.py:Class)")
    table.add_column("name")
    table.add_column("source")
    table.add_column("--model-opt keys", overflow="fold")
    table.add_column("what it is", overflow="fold")
    for name in MODELS.names():
        cls = MODELS.get(name)
        table.add_row(name, MODELS.origin(name), ", ".join(accepted_options(cls)),
                      ((cls.__doc__ or "").strip().splitlines() or [""])[0])
    for name, target in sorted(entry_point_adapters().items()):  # listed without importing them
        if name not in MODELS:
            table.add_row(name, f"entry point {target}", "", "registered by an installed package")
    console.stdout().print(table)


@models_app.command("check")
def models_check_command(
    model: Annotated[str, typer.Argument(help="Adapter to check (any --model string).")],
    device: Device = "auto",
    model_opt: ModelOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the results as JSON.")] = False,
    timeout: Annotated[float, typer.Option("--timeout", min=0.001,
                                           help="Seconds one predict call may take before its check fails.")] = 300.0,
) -> None:
    """Conformance checks: probe-able, shape, finite values, determinism, device, batch independence, audio
    sensitivity, the input family handed over, throughput and peak memory. Exit 1 when a check fails."""
    import json

    from avsprobe.adapters import resolve_model
    from avsprobe.adapters.builtin import parse_options
    from avsprobe.adapters.check import check_adapter
    from avsprobe.devices import resolve_device

    results = check_adapter(resolve_model(model, parse_options(model_opt or [])), device=resolve_device(device),
                            timeout_s=timeout)
    if as_json:
        console.stdout().print_json(json.dumps([{"check": r.name, "passed": r.passed, "warning": r.warning,
                                                 "detail": r.detail} for r in results]))
    else:
        for r in results:
            mark = "[red]FAIL[/]" if not r.passed else ("[yellow]WARN[/]" if r.warning else "[green]pass[/]")
            console.stdout().print(f"{mark}  {r.name}: {r.detail}", soft_wrap=True)
    if not all(r.passed for r in results):
        raise typer.Exit(1)
