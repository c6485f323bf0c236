"""The ``avsprobe`` command: app setup, global options and the error boundary.

Only typer is imported at start-up; each command imports the library (and torch, pandas, ...) when it
runs, so ``avsprobe --help`` is instant.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from avsprobe._version import __version__
from avsprobe.cli.commands.coavs import build_coavs_command
from avsprobe.cli.commands.data import data_app
from avsprobe.cli.commands.demo import demo_command
from avsprobe.cli.commands.examples import examples_command
from avsprobe.cli.commands.export import export_command
from avsprobe.cli.commands.leaderboard import leaderboard_command
from avsprobe.cli.commands.metrics import metrics_command
from avsprobe.cli.commands.probes import probes_command
from avsprobe.cli.commands.report import report_command
from avsprobe.cli.commands.rescore import rescore_command
from avsprobe.cli.commands.run import models_app, run_command
from avsprobe.cli.commands.synth import synth_command
from avsprobe.cli.commands.train import train_command
from avsprobe.cli.state import STATE


def _flags_without_type() -> None:
    """Show on/off flags without a value type in ``--help``: typer >= 0.2x renders ``--force <bool>`` (and
    ``--help <bool>``) as if the flag took a value."""
    option = getattr(typer.core, "TyperOption", None)
    original = getattr(option, "display_type_rich", None)
    if original is None or getattr(original, "_avsprobe_flags", False):
        return

    def display_type_rich(self: typer.core.TyperOption, ctx: object) -> str | None:
        return None if getattr(self, "is_flag", False) else original(self, ctx)

    display_type_rich._avsprobe_flags = True  # type: ignore[attr-defined]
    option.display_type_rich = display_type_rich  # type: ignore[union-attr]


_flags_without_type()

app = typer.Typer(
    name="avsprobe",
    help="Measure the audio priming bias and visual prior of audio-visual segmentation models.",
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"avsprobe {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool | None,
        typer.Option("--version", callback=_print_version, is_eager=True, help="Print the version and exit."),
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show tracebacks and debug detail.")] = False,
) -> None:
    STATE.verbose = verbose


app.command("metrics")(metrics_command)
app.command("synth")(synth_command)
app.command("probes")(probes_command)
app.command("build-coavs")(build_coavs_command)
app.command("export")(export_command)
app.command("run")(run_command)
app.add_typer(models_app, name="models")
app.command("report")(report_command)
app.command("leaderboard")(leaderboard_command)
app.command("rescore")(rescore_command)
app.command("train")(train_command)
app.command("demo")(demo_command)
app.command("examples")(examples_command)
app.add_typer(data_app, name="data")


def _raise_interrupted(signal_number: int, _frame: object) -> None:
    from avsprobe.errors import Interrupted

    raise Interrupted(signal_number)


def _error_line(message: str) -> None:
    from rich.markup import escape

    from avsprobe.cli import console

    if STATE.verbose:
        console.stderr().print_exception()
    console.stderr().print(f"[bold red]error:[/] [red]{escape(message)}[/]", soft_wrap=True)


def _os_error_message(exc: OSError) -> str:
    import errno

    where = f" ({exc.filename})" if exc.filename else ""
    if exc.errno == errno.ENOSPC:
        return f"no space left on the device while writing{where or ' a file'}; free some space and rerun to resume"
    return f"{exc.strerror or exc}{where}"


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI. An ``AvsprobeError`` or an operating-system error (a full disk, a folder
    that cannot be written) becomes one red line and exit status 1; Ctrl-C and SIGTERM one line and 130 / 143."""
    import signal

    from avsprobe.errors import AvsprobeError, Interrupted

    command = typer.main.get_command(app)
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    for sig in previous:
        signal.signal(sig, _raise_interrupted)
    try:
        command.main(args=argv, prog_name="avsprobe", standalone_mode=True)
    except AvsprobeError as exc:
        _error_line(str(exc))
        sys.exit(1)
    except OSError as exc:
        _error_line(_os_error_message(exc))
        sys.exit(1)
    except Interrupted as exc:
        from avsprobe.cli import console

        console.stderr().print("[yellow]interrupted; rerun the same command to resume[/]")
        sys.exit(128 + exc.signal_number)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
