"""avsprobe: measure the audio priming bias and visual prior of audio-visual segmentation models.

Heavy dependencies (torch, pandas, librosa, matplotlib) are imported by the submodules that need them,
never here, so ``import avsprobe`` and ``avsprobe --help`` stay fast.
"""

from avsprobe._version import __version__
from avsprobe.errors import AdapterError, AvsprobeError, ConfigError, DataError, ProbeNotApplicable

__all__ = ["__version__", "AvsprobeError", "DataError", "ProbeNotApplicable", "AdapterError", "ConfigError"]
