"""Every command the README shows parses against the real CLI (options exist, values convert), and every
script it names exists. ``python scripts/check_readme.py`` goes further and runs them all."""

from __future__ import annotations

import shlex
from pathlib import Path

import click
import pytest
import typer

from avsprobe.cli.app import app

ROOT = Path(__file__).resolve().parents[1]


def readme_commands() -> list[str]:
    """Shell commands of the README's ``bash`` blocks, split at ``&&``."""
    commands, inside = [], False
    for line in (ROOT / "README.md").read_text().splitlines():
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
