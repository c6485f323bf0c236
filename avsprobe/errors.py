"""The one family of errors the library raises.

The CLI prints any :class:`AvsprobeError` as one red line and exits 1 (a traceback only with
``--verbose``); anything else is a bug and propagates with its traceback.
"""

from __future__ import annotations

__all__ = ["AvsprobeError", "DataError", "ProbeNotApplicable", "AdapterError", "ConfigError", "Interrupted"]


class AvsprobeError(Exception):
    """Base class of every error avsprobe raises on purpose."""


class DataError(AvsprobeError):
    """Input data is missing, unreadable or malformed; the message names the file or sample."""


class ProbeNotApplicable(AvsprobeError):
    """A probe condition cannot be applied to this sample (for example a silent source has no loudness).

    The runner records the (sample, condition) pair as not applicable; a probe never silently returns
    its input instead.
    """


class AdapterError(AvsprobeError):
    """A model adapter failed to load or returned something outside its contract."""


class ConfigError(AvsprobeError):
    """A configuration value, option string or registry name is invalid."""


class Interrupted(BaseException):
    """Ctrl-C or SIGTERM, raised in the main thread by the CLI's signal handlers.

    A ``BaseException`` like ``KeyboardInterrupt``, so no ``except Exception`` swallows it: worker pools
    and temporary files are cleaned up on the way out, and the CLI exits 130 (SIGINT) or 143 (SIGTERM).
    """

    def __init__(self, signal_number: int) -> None:
        super().__init__(signal_number)
        self.signal_number = signal_number
