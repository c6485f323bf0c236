"""Every command the README and the docs pages show parses against the real CLI (options exist, values
convert), and every script they name exists. ``python scripts/check_readme.py`` goes further and runs them all.
The docs site builds with ``mkdocs build --strict``."""

from __future__ import annotations

import shlex
from pathlib import Path

import click
import pytest
import typer

from avsprobe.cli.app import app

ROOT = Path(__file__).resolve().parents[1]


DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
"""The README (the front page) and the docs pages: every command in them runs as written."""


def readme_commands() -> list[str]:
    """Shell commands of the ``bash`` blocks of the README and the docs pages, in order, split at ``&&``."""
    commands = []
    for document in DOCUMENTS:
        commands += _bash_commands(document.read_text())
    return commands


def _bash_commands(text: str) -> list[str]:
    commands, inside = [], False
    for line in text.splitlines():
        if line.strip().startswith("```"):
            inside = line.strip() == "```bash"
            continue
        if inside and line.strip() and not line.lstrip().startswith("#"):
            command = line.split("  #", 1)[0].strip()
            commands += [part.strip() for part in command.split("&&")]
    return commands


def _parse(args: list[str]) -> None:
    command: click.Command = typer.main.get_command(app)
    ctx = command.make_context("avsprobe", list(args))
    while isinstance(command, click.Group):
        rest = ctx.protected_args + ctx.args
        if not rest:
            return
        name, command, rest = command.resolve_command(ctx, rest)
        assert command is not None, f"no command {name!r}"
        ctx = command.make_context(name, rest, parent=ctx)


def test_readme_has_the_quick_start_commands() -> None:
    commands = readme_commands()
    assert "avsprobe demo" in commands and "python -m pytest -q" in commands


@pytest.mark.parametrize("command", [c for c in readme_commands() if c.startswith("avsprobe")])
def test_readme_avsprobe_command_parses(command: str) -> None:
    _parse(shlex.split(command)[1:])


@pytest.mark.parametrize("command", [c for c in readme_commands() if c.startswith("python ") and ".py" in c])
def test_readme_script_exists(command: str) -> None:
    script = next(a for a in shlex.split(command)[1:] if a.endswith(".py") or ".py:" in a)
    assert (ROOT / script.split(":")[0]).is_file()


def test_the_readme_is_a_front_page_and_the_docs_site_builds_strictly(tmp_path: Path) -> None:
    """About 100-250 lines with the two quick-start commands first; every docs page in the site's navigation;
    ``mkdocs build --strict`` (broken links, pages left out of the navigation) passes."""
    import subprocess
    import sys

    readme = (ROOT / "README.md").read_text()
    assert 100 <= len(readme.splitlines()) <= 250
    assert _bash_commands(readme)[:6] == ["pip install torch==2.13.0", "pip install -e .", "avsprobe demo",
                                          "pip install torch==2.13.0", 'pip install -e ".[dev]"', "python -m pytest -q"]
    pytest.importorskip("mkdocs")
    pytest.importorskip("material")
    nav = (ROOT / "mkdocs.yml").read_text()
    assert all(f": {page.name}" in nav for page in DOCUMENTS[1:])
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
                          cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    assert (tmp_path / "site" / "metrics" / "index.html").is_file()
