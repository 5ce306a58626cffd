"""The files the report reads, each with the stage that writes it, and their loading.

A missing file or key is one error naming the file and the stage to rerun, so a stale or partial
run is never reported as if it were whole.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from edgetune import paths
from edgetune.errors import EdgetuneError
from edgetune.timing import time_metrics_path


@dataclass(frozen=True)
class Input:
    """An upstream file the report reads, and the stage that writes it."""

    path: str
    stage: str
    command: str = ""  # what writes it, where that is not `dvc repro <stage>`
    optional: bool = False  # a pipeline without its stage leaves the report's section out

    @property
    def make(self) -> str:
        return self.command or f"dvc repro {self.stage}"


# Every file the report reads (dvc.yaml lists the same as the stage's deps).
INPUTS = {
    "data": Input(paths.DATA_METRICS, "fetch"),
    "extractor": Input(paths.EXTRACTOR_METRICS, "extractor"),
    "identity": Input(paths.EXTRACTOR_IDENTITY, "extractor"),
    # committed, not a stage's output: the extractor's figures over seeds, measured with DVC experiments
    "seeds": Input(paths.EXTRACTOR_SEEDS, "seed spread",
                   f"python tools/seed_spread.py --arm base --seeds 0 1 2 3 --record {paths.EXTRACTOR_SEEDS}"),
    "spikes": Input(paths.SPIKES_METRICS, "spikes"),
    "spike_histogram_png": Input(f"{paths.SPIKES_PLOTS}/count_histogram.png", "spikes"),
    "spike_per_class_png": Input(f"{paths.SPIKES_PLOTS}/per_class.png", "spikes"),
    "spike_rates_png": Input(f"{paths.SPIKES_PLOTS}/neuron_rates.png", "spikes"),
    "weights": Input(paths.WEIGHTS_METRICS, "weights"),
    "factor_curve": Input(f"{paths.WEIGHTS_PLOTS}/factor_curve.csv", "weights"),
    "factor_curve_png": Input(f"{paths.WEIGHTS_PLOTS}/factor_curve.png", "weights"),
    "sweep": Input(paths.SWEEP_METRICS, "sweep"),
    "sweep_curves": Input(paths.SWEEP_CURVES, "sweep"),
    "sweep_dir": Input(paths.SWEEP_PLOTS, "sweep"),
    "table": Input(paths.TABLE_METRICS, "table"),
    "table_time": Input(str(time_metrics_path(paths.TABLE_METRICS, "table")), "table"),
    "table_png": Input(paths.TABLE_PNG, "table"),
    "extractor_confusion": Input(paths.EXTRACTOR_CONFUSION, "extractor"),
    "edge_confusion": Input(paths.EDGE_CONFUSION, "confusion"),
    "fewshot": Input(paths.FEWSHOT_METRICS, "fewshot", optional=True),
}


def _missing(inp: Input, path: Path) -> str:
    what = "write it" if inp.command else f"run the {inp.stage} stage"
    return f"{path}: not found; {what} first ({inp.make})"


def check_inputs(root: Path) -> None:
    """Every input present, or one error naming each missing file and the stage that writes it."""
    missing = [_missing(inp, root / inp.path) for inp in INPUTS.values()
               if not inp.optional and not (root / inp.path).exists()]
    if missing:
        raise EdgetuneError("; ".join(missing))


def load_json(root: Path, key: str) -> dict:
    inp = INPUTS[key]
    path = root / inp.path
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError:
        raise EdgetuneError(_missing(inp, path)) from None
    except json.JSONDecodeError as exc:
        raise EdgetuneError(f"{path}: not valid JSON ({exc}); rerun {inp.make}") from None
    if not isinstance(doc, dict):
        raise EdgetuneError(f"{path}: expected a JSON object; rerun {inp.make}")
    return doc


def load_csv(root: Path, key: str, columns: list[str]) -> pd.DataFrame:
    inp = INPUTS[key]
    path = root / inp.path
    try:
        frame = pd.read_csv(path)
    except FileNotFoundError:
        raise EdgetuneError(_missing(inp, path)) from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise EdgetuneError(f"{path}: not a readable CSV ({exc}); rerun {inp.make}") from None
    absent = [c for c in columns if c not in frame.columns]
    if absent:
        raise EdgetuneError(f"{path}: no column {', '.join(absent)}; it is older than this code, rerun {inp.make}")
    return frame


def need(doc: dict, dotted: str, key: str):
    """``doc[a][b]`` for ``"a.b"``; a missing key is an error naming the file and the stage to rerun.

    Only the keys the report uses are required: extra keys (a newer stage) are ignored.
    """
    value = doc
    for part in dotted.split("."):
        if not isinstance(value, dict) or part not in value:
            inp = INPUTS[key]
            raise EdgetuneError(f"{inp.path}: no '{dotted}'; it is older than this code, rerun {inp.make}")
        value = value[part]
    return value
