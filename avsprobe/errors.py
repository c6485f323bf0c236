"""The one family of errors the library raises.

The CLI prints any :class:`AvsprobeError` as one red line and exits 1 (a traceback only with
``--verbose``); anything else is a bug and propagates with its traceback.
"""

from __future__ import annotations

__all__ = ["AvsprobeError", "DataError", "ProbeNotApplicable", "AdapterError", "ConfigError"]


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
