"""Plot data (CSV for ``dvc plots``) and PNG figures, both written atomically.

``dvc plots show`` needs vega from a CDN (blank offline), so every figure also exists as a PNG
rendered by matplotlib's Agg backend (no display needed). PNGs carry no timestamp, so equal
data give byte-identical files and DVC sees no change.
"""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless: stages run under DVC, CI and queued experiments

import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from edgetune.atomic import atomic_path  # noqa: E402

FLOAT_FORMAT = "%.6g"  # fixed text form: same numbers → same bytes, and short enough to read


def write_csv(path: str | os.PathLike, table: pd.DataFrame) -> None:
    with atomic_path(path, suffix=".csv") as tmp:
        table.to_csv(tmp, index=False, float_format=FLOAT_FORMAT, lineterminator="\n")


def new_figure(width: float = 8.0, height: float = 4.5, ncols: int = 1):
    fig, axes = plt.subplots(1, ncols, figsize=(width, height), layout="constrained")
    return fig, axes


def save_png(fig, path: str | os.PathLike, dpi: int = 110) -> None:
    """Save and close ``fig``; ``metadata`` drops matplotlib's version so upgrades don't churn files."""
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, format="png", dpi=dpi, metadata={"Software": None})
    plt.close(fig)


def plots_dir(path: str | os.PathLike) -> Path:
    out = Path(path)
    out.mkdir(parents=True, exist_ok=True)
    return out
