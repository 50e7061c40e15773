"""The one figure style of every report figure, and saving that gives the same bytes for the same data.

Matplotlib's defaults (never the user's matplotlibrc) under seaborn's whitegrid, a bundled font (DejaVu Sans),
fixed sizes and dpi, a fixed SVG hash salt, PNG without Software, PDF without CreationDate and Producer.
"""
from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import matplotlib as mpl
import seaborn as sns
from matplotlib import style
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

FIGURE_DPI = 150
FORMATS = ("png", "pdf")
POINT_COLOR = "#1f5fa8"
TRIAL_COLOR = "0.55"
PALETTE = "colorblind"
RC = {"font.family": "DejaVu Sans", "font.size": 9, "axes.labelsize": 9, "axes.titlesize": 9,
      "xtick.labelsize": 8, "ytick.labelsize": 8, "legend.fontsize": 8, "legend.title_fontsize": 8,
      "svg.hashsalt": "sedstudy-report", "svg.fonttype": "path", "pdf.fonttype": 42, "image.interpolation": "nearest"}
TICK_CHAR_WIDTH = 0.075  # inches per character of an 8 pt tick label, roughly
_METADATA = {"png": {"Software": None}, "pdf": {"CreationDate": None, "Producer": None, "Creator": None},
             "svg": {"Date": None, "Creator": None}}


@contextmanager
def _quiet(name: str) -> Iterator[None]:
    """Raise one library logger to WARNING for the duration (restored after)."""
    log = logging.getLogger(name)
    level = log.level
    log.setLevel(max(level, logging.WARNING))
    try:
        yield
    finally:
        log.setLevel(level)


@contextmanager
def figure_style() -> Iterator[None]:
    """Draw inside this context so every figure gets the same fonts, sizes and grid."""
    with style.context("default"), sns.axes_style("whitegrid"), mpl.rc_context(RC):
        yield


def set_category_ticks(ax: Axes, labels: list[str], panel_width: float) -> None:
    """Label the categories 0..n-1; tilt the labels when their longest line would not fit side by side."""
    widest = max((len(line) for label in labels for line in label.split("\n")), default=0)
    crowded = widest * len(labels) * TICK_CHAR_WIDTH > 0.85 * panel_width
    ax.set_xticks(range(len(labels)), labels, rotation=30 if crowded else 0, ha="right" if crowded else "center",
                  rotation_mode="anchor")


def save_figure(figure: Figure, path: str | Path, *, formats: tuple[str, ...] = FORMATS,
                dpi: int = FIGURE_DPI) -> tuple[Path, ...]:
    """Write `figure` to `path` with each suffix in `formats` (png, pdf, svg) on an Agg canvas; return the paths."""
    unknown = sorted(set(formats) - set(_METADATA))
    if unknown:
        raise ValueError(f"formats must be among {sorted(_METADATA)}, but got {unknown}")
    FigureCanvasAgg(figure)
    paths = []
    with figure_style(), _quiet("fontTools"):  # PDF font subsetting logs every table at INFO
        for fmt in formats:
            out = Path(path).with_suffix(f".{fmt}")
            figure.savefig(out, dpi=dpi, format=fmt, metadata=_METADATA[fmt])
            paths.append(out)
            figure.set_layout_engine("none")  # the first save laid the figure out; the others reuse it
    return tuple(paths)
