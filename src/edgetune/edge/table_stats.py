"""The table's figures: accuracy over seeds (mean, 95 % interval, paired gap to the best, the plateau)
and the time ratio over rounds (median and range) — :mod:`edgetune.stats` applied to the items."""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import numpy as np

from edgetune import paths, stats
from edgetune.edge.table_train import time_path
from edgetune.errors import EdgetuneError
from edgetune.params import TableParams


def plateau(values: list[int], per_seed: list[list[float]]) -> tuple[int, stats.Comparison]:
    """Where accuracy stops rising: the smallest value not significantly below the best (paired by seed)."""
    comparison = stats.compare_to_best(per_seed)
    return values[comparison.first_indistinguishable], comparison


def accuracy_rows(results: list[dict]) -> tuple[dict, dict]:
    """metrics/table.json's rows (mean ± 95 % interval, gap to the best) and the summary keys."""
    values = [r["neurons_per_class"] for r in results]
    per_seed = [[run["val_accuracy"] for run in r["runs"]] for r in results]
    plateau_value, comparison = plateau(values, per_seed)
    rows = {}
    for r, accs, gap, below in zip(results, per_seed, comparison.gaps, comparison.below):
        val = stats.estimate(accs)
        rows[str(r["neurons_per_class"])] = {
            "val_accuracy": round(val.mean, 6),
            "val_accuracy_ci95": round(val.half_width, 6),
            "val_accuracy_min": round(min(accs), 6),
            "val_accuracy_max": round(max(accs), 6),
            "train_accuracy": round(r["train_accuracy"], 6),
            "learned_neurons": round(r["learned_neurons"], 6),
            "gap_to_best": round(gap.mean, 6),
            "gap_to_best_ci95": round(gap.half_width, 6),
            "below_best": below,
        }
    best = results[comparison.best]
    return rows, {"best_neurons_per_class": best["neurons_per_class"], "best_val_accuracy": round(best["val_accuracy"], 6),
                  "plateau_neurons_per_class": plateau_value}


class RatioSpread(NamedTuple):
    """The rounds' whole-model time ratios at one value (every seed's rounds pooled), rounded."""

    median: float
    low: float
    high: float


def time_rows(table: TableParams, times: list[dict], results_dir: str | Path = paths.TABLE_RESULTS) -> dict:
    """metrics/time/table.json: whole model = F + E(v); its ratio to the reference, the median over rounds.

    Each round timed F and every E(v) seconds apart, so its ratio is free of the drift between
    runs minutes apart; the median over all rounds (every seed's) is the column, on process
    CPU time (:mod:`edgetune.edge.table_train` says why), the wall-clock ratio beside it. The minima
    (timeit's convention) give the seconds; the rounds' range shows the noise.
    """
    def merged(key: str, clock: str, v: int | None = None) -> list[float]:
        return [x for t in times for x in (t[key] if v is None else t[key][str(v)])[clock]]

    def ratio_spread(clock: str, v: int) -> RatioSpread:
        ratios = [r for t in times for r in t["round_ratios"][clock][str(v)]]
        return RatioSpread(round(float(np.median(ratios)), 3), round(min(ratios), 3), round(max(ratios), 3))

    ref = merged("edge_fit", "cpu", table.reference)
    if not min(ref) > 0:
        raise EdgetuneError(f"{time_path(times[0]['seed'], results_dir)}: edge fit {min(ref)} s at {table.reference} "
                            "cannot be the reference of a time ratio; rerun dvc repro table-train")
    forward, forward_cpu = merged("forward", "wall"), merged("forward", "cpu")
    rows = {}
    for v in table.neurons_per_class:
        model, wall, cpu = ratio_spread("cpu", v), merged("edge_fit", "wall", v), merged("edge_fit", "cpu", v)
        rows[str(v)] = {
            "time_ratio_model": model.median,
            "time_ratio_model_low": model.low,
            "time_ratio_model_high": model.high,
            "time_ratio_model_wall": ratio_spread("wall", v).median,
            "time_ratio_edge": round(float(np.median([a / b for a, b in zip(cpu, ref)])), 3),
            "whole_model_cpu_seconds": round(min(forward_cpu) + min(cpu), 4),
            "whole_model_seconds": round(min(forward) + min(wall), 4),
            "edge_fit_cpu_seconds": round(min(cpu), 6),
            "edge_fit_seconds": round(min(wall), 6),
            "edge_fit_spread": round(max(cpu) / min(cpu) - 1, 4),
        }
    ratios = [rows[str(v)]["time_ratio_model"] for v in table.neurons_per_class]
    return {
        "time_reference": table.reference,
        "method": f"whole model (v) = F + E(v), timed in {len(forward)} rounds (per seed: F, then every "
                  f"E(v) on {times[0]['fit_workers']} worker process(es)); F: extractor forward over all "
                  f"{times[0]['samples']} training samples (timed on {times[0]['forward_timed_samples']} of them, "
                  "every k-th, and scaled); E(v): edge layer fit on the spikes, all training samples; ratio: process "
                  "CPU time, median over the rounds",
        "rounds": len(forward),
        "forward_cpu_seconds": round(min(forward_cpu), 6),
        "forward_seconds": round(min(forward), 6),
        "forward_spread": round(max(forward_cpu) / min(forward_cpu) - 1, 4),
        "check": times[0]["check"],
        "monotone": all(a <= b for a, b in zip(ratios, ratios[1:])),
        "rows": rows,
    }
