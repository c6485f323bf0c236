"""The CLI shell: version, help, error boundary, lazy imports."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from avsprobe import __version__
from avsprobe.cli.app import main
from avsprobe.cli.state import STATE

REPO_ROOT = Path(__file__).resolve().parents[2]


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        main(args)
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    finally:
        STATE.verbose = False
    out, err = capsys.readouterr()
    return code, out, err


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(["--version"], capsys)
    assert code == 0 and out.strip() == f"avsprobe {__version__}"


@pytest.mark.parametrize("flag", ["-h", "--help"])
def test_help(flag: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli([flag], capsys)
    assert code == 0, out
    assert "metrics" in out and "--verbose" in out


def test_avsprobe_error_is_one_red_line_and_exit_1(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(["metrics", "miou.canonicl"], capsys)
    assert code == 1, out + err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("error: unknown metric 'miou.canonicl'") and "Did you mean 'miou.canonical'" in lines[0]
    assert "Traceback" not in err


def test_verbose_shows_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(["--verbose", "metrics", "nope"], capsys)
    assert code == 1
    assert "Traceback" in err and "ConfigError" in err


def test_usage_error_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, _ = run_cli(["no-such-command"], capsys)
    assert code == 2


def test_metrics_lists_every_definition(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "250")  # sources unfolded
    code, out, _ = run_cli(["metrics"], capsys)
    assert code == 0
    for metric_id in ("miou.canonical", "fscore.avsbench@bs4", "miou.avss", "jandf.canonical", "miou.pooled",
                      "negative_audio_ssl.aoc", "avsbench_robust.fpr"):
        assert metric_id in out
    code, out, _ = run_cli(["metrics", "negative_audio_ssl.aoc"], capsys)
    assert code == 0 and "vssl_eval@e8ebbc9" in out and "↑" in out and "miou.canonical" not in out


def test_help_imports_no_heavy_module() -> None:
    code = (
        "import sys\n"
        "from avsprobe.cli.app import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('torch', 'pandas', 'matplotlib', 'librosa', 'numpy') if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "HEAVY []" in out


@pytest.mark.parametrize("args", [["-m", "avsprobe", "--help"], ["-m", "avsprobe", "--version"]])
def test_python_dash_m(args: list[str]) -> None:
    proc = subprocess.run([sys.executable, *args], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "avsprobe" in proc.stdout


def test_run_ends_with_its_reasons_and_fails_when_every_job_failed(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: ANN001
    """An empty predictions folder: every job fails; run prints the top reason with its count and exits 1
    (before: exit 0 and no reason)."""
    from avsprobe.data.biaslab.world import build_world

    build_world(tmp_path / "w", clips=10, workers=1)
    (tmp_path / "preds").mkdir()
    code, out, err = run_cli(["run", "--model", f"predictions:{tmp_path / 'preds'}", "--probe", "negative",
                              "--data", str(tmp_path / "w"), "--limit", "2", "--out", str(tmp_path / "runs")], capsys)
    assert code == 1, out + err
    assert "failed (negative):" in out and "every job that ran failed" in err
    code, out, _ = run_cli(["run", "--model", "oracle", "--probe", "swap", "--data", str(tmp_path / "w"),
                            "--limit", "3", "--out", str(tmp_path / "runs")], capsys)
    assert code == 0 and "not applicable (swap):" in out


def test_examples_copies_the_templates_and_refuses_to_overwrite(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: ANN001
    code, out, _ = run_cli(["examples", str(tmp_path / "ex")], capsys)
    assert code == 0 and f"{len(list((REPO_ROOT / 'examples').rglob('*.py')))} files" in out
    assert (tmp_path / "ex" / "models" / "tpavi.py").is_file()
    code, _, err = run_cli(["examples", str(tmp_path / "ex")], capsys)
    assert code == 1 and "already exists" in err and "Traceback" not in err
