"""Process-wide CLI settings set by the top-level options."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class CliState:
    verbose: bool = False


STATE = CliState()
