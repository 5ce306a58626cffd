"""One class's sweep as curves: the CSV table, its knees, the summary over classes, its file names."""

from __future__ import annotations

import re

import numpy as np

from edgetune.edge import knee
from edgetune.edge.sweep_pool import ClassSweep


CSV_COLUMNS = ["neurons_per_class", "loss_min", "loss_mean", "loss_std", "learned_min", "learned_mean"]


def file_stem(word: str) -> str:
    """A class name as a file name: anything but letters, digits, '_' and '-' becomes '_'."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", word) or "_"


def curve_table(result: ClassSweep):
    """The per-class CSV: min (the tutorial's statistic), mean and spread over repetitions."""
    import pandas as pd

    losses = result.losses
    return pd.DataFrame(
        {
            "neurons_per_class": result.neurons_per_class,
            "loss_min": losses.min(axis=1),
            "loss_mean": losses.mean(axis=1),
            "loss_std": losses.std(axis=1),
            "learned_min": result.learned.min(axis=1),
            "learned_mean": result.learned.mean(axis=1),
        },
        columns=CSV_COLUMNS,
    )


def class_knees(table, sensitivity: float) -> dict[str, knee.Knee]:
    npc = table["neurons_per_class"].to_numpy()
    return {
        "loss": knee.find_knee(npc, table["loss_min"].to_numpy(), "convex", "decreasing", sensitivity),
        "learned": knee.find_knee(npc, table["learned_min"].to_numpy(), "concave", "increasing", sensitivity),
    }


def summarise(knees_by_word: dict[str, dict[str, knee.Knee]]) -> dict:
    """Median knee over classes, per curve; null with a reason when no class has one."""
    summary: dict = {"classes": len(knees_by_word)}
    for curve in ("loss", "learned"):
        found = [k[curve].value for k in knees_by_word.values() if k[curve].found]
        summary[f"classes_with_{curve}_knee"] = len(found)
        summary[f"{curve}_knee_median"] = float(np.median(found)) if found else None
        summary[f"{curve}_knee_reason"] = None if found else f"no class has a knee on its {curve} curve"
    return summary
