"""The two questions the tutorial leaves open, answered from the weights, sweep and table metrics.

Kept apart from their wording (:mod:`edgetune.report.answer_text`): the figures draw the same answers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from edgetune.report.inputs import need

TUTORIAL_FACTOR = 1.2  # the tutorial's "1.2 x median of number of spikes"


@dataclass(frozen=True)
class FactorAnswer:
    """Question 1: does factor × median (the tutorial's 1.2) do as well as the best factor measured?"""

    factor: float
    tutorial_measured: bool  # False: 1.2 is not among weights.factors, the chosen factor stands in
    num_weights: int
    accuracy: float
    accuracy_ci: float
    best_factor: float
    best_num_weights: int
    best_accuracy: float
    best_ci: float
    gap: float  # best − this factor, paired by seed
    gap_ci: float
    below: bool  # significantly below the best
    seeds: int
    neurons_per_class: int

    @property
    def verdict(self) -> str:
        """best | indistinguishable | below."""
        if self.factor == self.best_factor:
            return "best"
        return "below" if self.below else "indistinguishable"


def answer_factor(curve: pd.DataFrame, chosen_factor: float, seeds: int, neurons_per_class: int) -> FactorAnswer:
    """Compare the tutorial's factor (or the chosen one, if 1.2 was not measured) with the best factor.

    Best: the highest mean validation accuracy, ties to the smallest factor — the weights stage's rule;
    the gap and whether it is significant are the weights stage's, read from its curve.
    """
    measured = bool(np.isclose(curve["factor"], TUTORIAL_FACTOR).any())
    factor = TUTORIAL_FACTOR if measured else chosen_factor
    row = curve[np.isclose(curve["factor"], factor)].iloc[0]
    best_acc = curve["val_accuracy"].max()
    best = curve[curve["val_accuracy"] == best_acc].sort_values("factor").iloc[0]
    return FactorAnswer(
        factor=float(factor), tutorial_measured=measured, num_weights=int(row["num_weights"]),
        accuracy=float(row["val_accuracy"]), accuracy_ci=float(row["val_accuracy_ci95"]),
        best_factor=float(best["factor"]), best_num_weights=int(best["num_weights"]), best_accuracy=float(best_acc),
        best_ci=float(best["val_accuracy_ci95"]), gap=float(row["gap_to_best"]), gap_ci=float(row["gap_to_best_ci95"]),
        below=bool(row["below_best"]), seeds=seeds, neurons_per_class=neurons_per_class,
    )


@dataclass(frozen=True)
class KneeAnswer:
    """Question 2, for one sweep curve: does its knee sit near the table's plateau?"""

    curve: str  # "loss" or "learned"
    knee: float | None  # median over the swept classes that have one
    classes_with_knee: int
    classes: int
    reason: str | None  # why there is no knee
    plateau: int
    values: list[int]  # the table's neurons-per-class values
    verdict: str  # near | below | above | below_range | above_range | no_knee
    accuracy_at_knee: float | None  # the table's, interpolated on log x; None outside its range
    time_ratio_at_knee: float | None
    nearest: int | None = None  # the table value nearest the knee (log x); None outside the table's range
    nearest_gap: float | None = None  # its gap to the best value, paired by seed, and the interval
    nearest_gap_ci: float | None = None
    nearest_below: bool | None = None  # significantly below the best

    @property
    def ratio(self) -> float | None:
        return None if self.knee is None else self.knee / self.plateau


def log_interp(x: float, values: list[int], ys: list[float]) -> float | None:
    """``ys`` at ``x``, linear in log10(neurons per class) between the table's values; None outside."""
    if not values[0] <= x <= values[-1]:
        return None
    return float(np.interp(math.log10(x), np.log10(values), ys))


def knee_verdict(knee: float, values: list[int], plateau: int) -> str:
    """Where the knee sits against the plateau on the table's grid of values.

    near: above the last value short of the plateau and at most the next value after it, i.e. the
    table cannot tell the two apart; below / above: further; *_range: outside the table's values,
    where the table says nothing about accuracy.
    """
    i = values.index(plateau)
    lower = values[i - 1] if i > 0 else None
    upper = values[i + 1] if i + 1 < len(values) else plateau
    if knee < values[0]:
        return "below_range" if lower is None else "below"
    if knee > values[-1]:
        return "above_range" if upper == plateau else "above"
    if (lower is None or knee > lower) and knee <= upper:
        return "near"
    return "below" if lower is not None and knee <= lower else "above"


def nearest_value(knee: float, values: list[int]) -> int | None:
    """The table value nearest ``knee`` on a log axis; None outside the table's range."""
    if not values[0] <= knee <= values[-1]:
        return None
    return min(values, key=lambda v: abs(math.log(v) - math.log(knee)))


def answer_knees(sweep: dict, table: dict, table_time: dict) -> list[KneeAnswer]:
    values = [int(v) for v in need(table, "neurons_per_class", "table")]
    rows = need(table, "rows", "table")
    accs = [need(rows, f"{v}.val_accuracy", "table") for v in values]
    ratios = [need(table_time, f"rows.{v}.time_ratio_model", "table_time") for v in values]
    plateau = int(need(table, "plateau_neurons_per_class", "table"))
    summary = need(sweep, "summary", "sweep")
    answers = []
    for curve in ("loss", "learned"):
        knee = need(summary, f"{curve}_knee_median", "sweep")
        verdict = "no_knee" if knee is None else knee_verdict(knee, values, plateau)
        near = None if knee is None else nearest_value(knee, values)
        row = rows[str(near)] if near is not None else {}
        answers.append(KneeAnswer(
            curve=curve, knee=knee, classes_with_knee=int(need(summary, f"classes_with_{curve}_knee", "sweep")),
            classes=int(need(summary, "classes", "sweep")), reason=summary.get(f"{curve}_knee_reason"),
            plateau=plateau, values=values, verdict=verdict,
            accuracy_at_knee=None if knee is None else log_interp(knee, values, accs),
            time_ratio_at_knee=None if knee is None else log_interp(knee, values, ratios),
            nearest=near, nearest_gap=row.get("gap_to_best"), nearest_gap_ci=row.get("gap_to_best_ci95"),
            nearest_below=row.get("below_best"),
        ))
    return answers
