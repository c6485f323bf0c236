"""AVSBench (S4, MS3, AVSS) readers, layout detection and checks, and safe loading of the pickled features."""

from avsprobe.data.avsbench.layout import CheckReport, check_tree, detect_layouts, open_reader
from avsprobe.data.avsbench.pkl import convert_pkl_tree, load_log_mel_pkl
from avsprobe.data.avsbench.readers import AVSSReader, MS3Reader, S4Reader, canonical_subset

__all__ = [
    "AVSSReader",
    "CheckReport",
    "MS3Reader",
    "S4Reader",
    "canonical_subset",
    "check_tree",
    "convert_pkl_tree",
    "detect_layouts",
    "load_log_mel_pkl",
    "open_reader",
]
