"""One paper style for every figure: serif text, the Okabe-Ito colour-blind-safe palette, 300 dpi."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from avsprobe.fileio import atomic_path

__all__ = ["PALETTE", "REFERENCE_COLOUR", "MARKERS", "FULL_WIDTH_IN", "COLUMN_WIDTH_IN", "FIGURE_WIDTHS_IN", "paper_style", "save_figure", "rgb255"]

FULL_WIDTH_IN = 7.0
"""Text width of a two-column paper (CVPR, ICCV, NeurIPS-style ``figure*``), inches."""

COLUMN_WIDTH_IN = 3.3
"""One column of a two-column paper, inches."""

FIGURE_WIDTHS_IN = {"": FULL_WIDTH_IN, "-column": COLUMN_WIDTH_IN}
"""File-name suffix -> width: every figure is written as ``NAME`` (full width) and ``NAME-column``."""

PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#CC6677",
           "#882255", "#44AA99", "#999933", "#AA4499", "#332288", "#888888")
"""Okabe-Ito's colours but black, then Paul Tol's muted ones and grey, all safe for the common colour-vision
deficiencies: a report of up to 14 models gives each its own colour. Black is kept for reference marks (the
training sounding frequency, medians), so no model is drawn in it."""

REFERENCE_COLOUR = "#000000"
"""Reference marks only: never a model's colour."""

MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<", ">", "p", "h", "*", "d", "8")
"""One marker per model in line figures: where lines coincide (two models at zero), each stays visible."""


@contextlib.contextmanager
def paper_style() -> Iterator[None]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from cycler import cycler

    rc = {
        "font.family": "serif", "font.serif": ["DejaVu Serif", "Times New Roman", "serif"], "font.size": 9,
        "axes.titlesize": 9, "axes.labelsize": 9, "legend.fontsize": 8, "xtick.labelsize": 8, "ytick.labelsize": 8,
        "axes.prop_cycle": cycler(color=list(PALETTE)), "axes.spines.top": False, "axes.spines.right": False,
        "savefig.dpi": 300, "figure.dpi": 100, "pdf.fonttype": 42,
        # names are text, never mathtext: a "$" in a model or class name crashed the report before any file
        "text.parse_math": False,
    }
    # no "tight" bounding box: the constrained layout keeps everything inside the canvas, and the saved file
    # keeps the width the figure was drawn for
    with plt.rc_context(rc):
        yield


def save_figure(fig: Any, stem: Path) -> list[Path]:
    """Write ``stem.png`` and ``stem.pdf`` atomically; close the figure; return the paths."""
    import matplotlib.pyplot as plt

    paths = []
    for suffix in (".png", ".pdf"):
        path = stem.with_suffix(suffix)
        # no creation date in the PDF: the same runs give byte-identical figures
        metadata = {"CreationDate": None} if suffix == ".pdf" else None
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=suffix[1:], metadata=metadata)
        paths.append(path)
    plt.close(fig)
    return paths


def rgb255(colour: str) -> tuple[int, int, int]:
    """``"#0072B2"`` -> ``(0, 114, 178)``: a palette colour for pixel arrays."""
    return (int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16))
