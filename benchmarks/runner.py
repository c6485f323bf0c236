"""The run engine's overhead over the bare adapter calls, on the bias lab.

A small convolutional model (random weights, 224x224 input, about the cost of a light AVS model on CPU) is
run through the intensity probe by ``run_suite``; the same batches are then prepared once and passed to
``predict`` alone. Overhead = (runner time - bare predict time) / bare predict time; it covers reading
clips, applying the probe (loudness normalisation), resizing, scoring every frame and writing parquet.
Target: at most 15 %.

    python benchmarks/runner.py [--clips 12] [--batch-size 8]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import torch

from avsprobe.adapters import InputSpec, ModelAdapter
from avsprobe.adapters.batching import prepare_batch
from avsprobe.data.source import open_data
from avsprobe.probes.suite import ProbeSuite
from avsprobe.runner import run_suite


class SmallConvNet(ModelAdapter):
    name = "small-convnet"
    input_spec = InputSpec(frame_size=(224, 224), mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225))

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.net = torch.nn.Sequential(
            torch.nn.Conv2d(3, 32, 3, stride=2, padding=1), torch.nn.ReLU(),
            torch.nn.Conv2d(32, 64, 3, padding=1), torch.nn.ReLU(),
            torch.nn.Conv2d(64, 64, 3, padding=1), torch.nn.ReLU(),
            torch.nn.Conv2d(64, 1, 1), torch.nn.Upsample(scale_factor=2, mode="bilinear"),
        ).eval()

    def predict(self, batch):  # noqa: ANN001, ANN201
        b, t = batch.frames.shape[:2]
        return self.net(batch.frames.flatten(0, 1)).view(b, t, *batch.frames.shape[-2:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=12)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    source = open_data(None)
    suite = ProbeSuite.single("intensity")
    model = SmallConvNet()
    out = Path(tempfile.mkdtemp(prefix="avsprobe-runner-bench-"))
    # the same probed batches, prepared once, for the bare predict() timing
    ids = source.reader.sample_ids()[: args.clips]
    probed = []
    for job in suite.jobs(ids, suite.build(bank=source.bank)):
        try:
            probed.append(job.probe.apply(source.reader.read(job.sample_id), job.condition, suite.rng(job.sample_id, job.condition)))
        except Exception:  # noqa: BLE001 - not-applicable jobs are not predicted by the runner either
            continue
    batches = [prepare_batch(probed[i : i + args.batch_size], model.input_spec, "cpu")
               for i in range(0, len(probed), args.batch_size)]
    runner_times, bare_times = [], []
    try:
        # warm-up on one clip: first-use imports (scipy.signal, pyarrow, ...) are not the runner's cost
        run_suite(model, suite, source, out / "warmup", batch_size=args.batch_size, limit=1)
        for repeat in range(args.repeat):  # interleaved, medians: this machine's timings drift
            t0 = time.perf_counter()
            summary = run_suite(model, suite, source, out / f"run{repeat}", batch_size=args.batch_size, limit=args.clips)
            runner_times.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            with torch.no_grad():
                for batch in batches:
                    model.predict(batch)
            bare_times.append(time.perf_counter() - t0)
    finally:
        shutil.rmtree(out, ignore_errors=True)
    t_runner, t_bare = statistics.median(runner_times), statistics.median(bare_times)
    print(f"{summary.jobs} jobs ({summary.ok} predicted) on {args.clips} bias-lab clips, batch size {args.batch_size}, "
          f"{torch.get_num_threads()} threads")
    print(f"run_suite: {t_runner:.2f} s; bare predict calls: {t_bare:.2f} s (medians of {args.repeat})")
    print(f"runner overhead: {100 * (t_runner - t_bare) / t_bare:.1f} % (target <= 15 %)")


if __name__ == "__main__":
    main()
