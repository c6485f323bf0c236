"""``avsprobe leaderboard``: the committed demo report's models ranked on one page, in CSV and Markdown; the
page sorts in headless Chromium without script errors, and every link resolves."""

from __future__ import annotations

import csv
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from avsprobe.report.leaderboard import collect_rows, write_leaderboard
from tests.cli.test_app import run_cli

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "reports" / "biaslab"


def _demo_values(metric: str) -> dict[str, float | None]:
    runs = json.loads((DEMO / "report.json").read_text())["runs"]
    return {r["model"]: (r["metrics"].get(metric) or {}).get("value") for r in runs}


def test_rows_ranked_best_first_with_intervals_in_csv_and_markdown(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(["leaderboard", str(DEMO), "--out", str(tmp_path / "lb")], capsys)
    assert code == 0, out + err
    miou = _demo_values("miou")
    with open(tmp_path / "lb" / "leaderboard.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["model"] for r in rows] == sorted(miou, key=lambda m: -miou[m])  # miou: higher is better
    assert all(float(r["miou"]) == miou[r["model"]] for r in rows)
    md = (tmp_path / "lb" / "leaderboard.md").read_text()
    assert "| rank | model | miou ↑ |" in md and "silent_object_coverage ↓" in md
    # lower is better: ranked ascending, models without the metric (Co-AVS runs) last
    write_leaderboard(collect_rows([DEMO]), tmp_path / "by-silent", sort_by="silent_object_coverage")
    silent = _demo_values("silent_object_coverage")
    with open(tmp_path / "by-silent" / "leaderboard.csv", newline="") as f:
        order = [r["model"] for r in csv.DictReader(f)]
    have = [m for m in order if silent[m] is not None]
    assert have == sorted(have, key=lambda m: silent[m]) and order[len(have):] == [m for m in order if silent[m] is None]
    code, _, err = run_cli(["leaderboard", str(DEMO), "--out", str(tmp_path / "x"), "--sort", "nope"], capsys)
    assert code == 1 and "not a column" in err


def test_the_page_sorts_in_chromium_and_every_link_resolves(tmp_path: Path) -> None:
    out = tmp_path / "lb"
    write_leaderboard(collect_rows([DEMO]), out)
    page = (out / "index.html").read_text()
    links = re.findall(r'<a href="([^"]+)"', page)
    assert links and all((out / link).resolve().is_file() for link in links)
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("Chromium is not installed (.ci/run installs Debian's chromium)")
    flags = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr", "--v=0"]
    silent = _demo_values("silent_object_coverage")
    for address, expected_by in (("#sort=silent_object_coverage", "silent_object_coverage:asc"),
                                 ("#sort=miou:asc", "miou:asc")):
        dom = subprocess.run([*flags, "--dump-dom", (out / "index.html").as_uri() + address], capture_output=True,
                             text=True, timeout=120)
        body = re.search(r"<body([^>]*)>", dom.stdout).group(1)
        assert "data-errors" not in body and "Uncaught" not in dom.stderr, dom.stderr[-2000:]
        assert f'data-sorted-by="{expected_by}"' in body
        models = re.findall(r'<td class="rank">(\d+)</td><td>([^<]+)</td>', dom.stdout)
        assert [int(rank) for rank, _ in models] == list(range(1, len(models) + 1))
        names = [name for _, name in models]
        if expected_by.startswith("silent"):
            have = [m for m in names if silent[m] is not None]
            assert have == sorted(have, key=lambda m: silent[m]) and len(have) < len(names)
        else:
            miou = _demo_values("miou")
            assert names == sorted(miou, key=lambda m: miou[m])
