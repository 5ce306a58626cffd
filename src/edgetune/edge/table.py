"""The tutorial's closing table, generated: validation accuracy and time ratio per neurons per class.

Reads each ``table-train`` item's file (one per seed in ``table.seeds``, never a glob: a seed removed
from params leaves its files behind, and they must not come back), checked to hold exactly the
values of ``table.neurons_per_class``: their accuracies, and the rounds that timed the extractor's
forward pass and every edge fit side by side. Writes:

* ``metrics/table.json`` — accuracies, one row per value keyed by the value so ``dvc metrics diff``
  shows the rows that changed: the mean over seeds with its 95 % interval, and the gap to the best
  value paired by seed (:mod:`edgetune.stats`). ``plateau_neurons_per_class`` — where accuracy stops
  rising — is the smallest value not significantly below the best. Same inputs, same bytes.
* ``metrics/time/table.json`` — every timing: the whole model's fit F + E(v), its ratio to the
  reference (the tutorial's column: the median over the rounds), the edge layer's own ratio, the
  minima with their spread.
  Timings differ from run to run; keeping them in their own file keeps the rest byte-stable.
* ``metrics/table.md`` (the tutorial's layout plus columns, :mod:`edgetune.table_markdown`), ``plots/table.csv`` (accuracy),
  ``plots/table_time.csv`` (time ratios), ``plots/table_per_class.csv`` and ``plots/table.png``.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import NamedTuple

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from edgetune import stats  # noqa: E402
from edgetune.edge import chance, hardware  # noqa: E402
from edgetune.atomic import atomic_path, write_json, write_text  # noqa: E402
from edgetune.errors import EdgetuneError  # noqa: E402
from edgetune.params import TableParams, load_params  # noqa: E402
from edgetune.edge.table_markdown import render_markdown  # noqa: E402
from edgetune.edge.table_train import EDGE_TIMING, RESULTS_DIR, result_path, time_path  # noqa: E402
from edgetune.timing import time_metrics_path  # noqa: E402

METRICS = "metrics/table.json"
MARKDOWN = "metrics/table.md"
PLOT_CSV = "plots/table.csv"
TIME_CSV = "plots/table_time.csv"
PER_CLASS_CSV = "plots/table_per_class.csv"
PNG = "plots/table.png"
ACCURACY_FIELDS = ("val_accuracy", "val_accuracy_low", "val_accuracy_high", "train_accuracy", "learned_neurons")
TIME_FIELDS = ("time_ratio_model", "time_ratio_edge")
log = logging.getLogger("edgetune.table")


def _read(path: Path, redo: str) -> dict:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise EdgetuneError(f"{path}: not found; {redo}") from None
    except json.JSONDecodeError as exc:
        raise EdgetuneError(f"{path}: not valid JSON ({exc}); {redo}") from None


def _check_current(path: Path, found: dict, expected: dict, redo: str) -> dict:
    for key, value in expected.items():
        if found.get(key) != value:
            raise EdgetuneError(f"{path}: made with {key} = {found.get(key)!r}, but the params say {value!r}; "
                                f"it is stale, {redo}")
    return found


def load_seed(seed: int, table: TableParams, results_dir: str | Path) -> tuple[dict, dict]:
    """One item's accuracies and times, checked to come from the current params (else stale)."""
    redo = f"rerun dvc repro table-train@{seed}"
    expected = {"seed": seed, "neurons_per_class": list(table.neurons_per_class),
                "learning_competition": table.learning_competition}
    path = result_path(seed, results_dir)
    result = _check_current(path, _read(path, f"train that seed first (dvc repro table-train@{seed})"), expected, redo)
    path = time_path(seed, results_dir)
    times = _check_current(path, _read(path, redo), {**expected, "num_weights": result["num_weights"],
                                                     "reference": table.reference}, redo)
    if times.get("timing") != EDGE_TIMING or times.get("timing_repeats") != table.timing_repeats:
        raise EdgetuneError(f"{path}: timed as {times.get('timing')!r} for {times.get('timing_repeats')} repeats, "
                            f"not as the other seeds ({EDGE_TIMING!r}, {table.timing_repeats}); {redo}")
    return result, times


def value_results(seeds: list[dict], table: TableParams) -> list[dict]:
    """The seeds' files turned into one result per value: its runs paired by seed, their means."""
    first = seeds[0]
    results = []
    for v in table.neurons_per_class:
        runs = [{"seed": s["seed"], **{k: s["runs"][str(v)][k] for k in ("train_accuracy", "val_accuracy",
                                                                          "learned_neurons")}} for s in seeds]
        per_class = [s["runs"][str(v)]["per_class_val_accuracy"] for s in seeds]
        results.append({
            "neurons_per_class": v,
            "num_weights": first["num_weights"],
            "num_classes": first["num_classes"],
            "train_samples": first["train_samples"],
            "val_samples": first["val_samples"],
            "train_accuracy": runs[0]["train_accuracy"],  # the first seed's
            "val_accuracy": float(np.mean([r["val_accuracy"] for r in runs])),
            "learned_neurons": float(np.mean([r["learned_neurons"] for r in runs])),
            "per_class_val_accuracy": {
                name: (None if any(p[name] is None for p in per_class) else float(np.mean([p[name] for p in per_class])))
                for name in per_class[0]
            },
            "runs": runs,
        })
    return results


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


def time_rows(table: TableParams, times: list[dict], results_dir: str | Path = RESULTS_DIR) -> dict:
    """metrics/time/table.json: whole model = F + E(v); its ratio to the reference, the median over rounds.

    Each round timed F and every E(v) seconds apart in one process, so its ratio is free of the
    drift between processes; the median over all rounds (every seed's) is the column, on process
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
        "method": f"whole model (v) = F + E(v), timed in {len(forward)} rounds (one process per seed, F then every "
                  f"E(v) in each); F: extractor forward over all {times[0]['samples']} training samples; E(v): edge "
                  "layer fit on the spikes, all training samples; ratio: process CPU time, median over the rounds",
        "rounds": len(forward),
        "forward_cpu_seconds": round(min(forward_cpu), 6),
        "forward_seconds": round(min(forward), 6),
        "forward_spread": round(max(forward_cpu) / min(forward_cpu) - 1, 4),
        "check": times[0]["check"],
        "monotone": all(a <= b for a, b in zip(ratios, ratios[1:])),
        "rows": rows,
    }


def build_table(table: TableParams, results_dir: str | Path = RESULTS_DIR) -> tuple[dict, dict, pd.DataFrame]:
    """The table (metrics/table.json), its timings (metrics/time/table.json), per-class accuracies."""
    loaded = [load_seed(seed, table, results_dir) for seed in table.seeds]
    seeds, times = [r for r, _ in loaded], [t for _, t in loaded]
    num_weights = {s["num_weights"] for s in seeds}
    if len(num_weights) > 1:
        raise EdgetuneError(f"{results_dir}: seeds trained with different num_weights {sorted(num_weights)}; "
                            "rerun dvc repro table-train")
    if "check" not in times[0]:
        raise EdgetuneError(f"{time_path(table.seeds[0], results_dir)}: no direct whole-model check (the first "
                            f"seed makes it); rerun dvc repro table-train@{table.seeds[0]}")
    results = value_results(seeds, table)
    ref = results[table.neurons_per_class.index(table.reference)]
    rows, summary = accuracy_rows(results)
    return {
        "reference": table.reference,
        "seeds": list(table.seeds),
        "interval": stats.INTERVAL_NAME,
        "learning_competition": table.learning_competition,
        "table_num_weights": ref["num_weights"],
        "table_num_classes": ref["num_classes"],
        "train_samples": ref["train_samples"],
        "val_samples": ref["val_samples"],
        "neurons_per_class": list(table.neurons_per_class),
        **summary,
        "rows": rows,
    }, time_rows(table, times, results_dir), per_class_frame(results)


def plot_frames(t: dict, tm: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    """plots/table.csv (accuracy, with the interval's bounds) and plots/table_time.csv (ratios)."""
    acc, times = [], []
    for v in t["neurons_per_class"]:
        r = t["rows"][str(v)]
        acc.append({"neurons_per_class": v, "val_accuracy": r["val_accuracy"],
                    "val_accuracy_low": round(r["val_accuracy"] - r["val_accuracy_ci95"], 6),
                    "val_accuracy_high": round(r["val_accuracy"] + r["val_accuracy_ci95"], 6),
                    "train_accuracy": r["train_accuracy"], "learned_neurons": r["learned_neurons"]})
        times.append({"neurons_per_class": v, **{k: tm["rows"][str(v)][k] for k in TIME_FIELDS}})
    return (pd.DataFrame(acc, columns=["neurons_per_class", *ACCURACY_FIELDS]),
            pd.DataFrame(times, columns=["neurons_per_class", *TIME_FIELDS]))


def per_class_frame(results: list[dict]) -> pd.DataFrame:
    """Long format (neurons_per_class, class, val_accuracy): mean over seeds, per class."""
    return pd.DataFrame(
        [{"neurons_per_class": r["neurons_per_class"], "class": name, "val_accuracy": acc}
         for r in results for name, acc in r["per_class_val_accuracy"].items()],
        columns=["neurons_per_class", "class", "val_accuracy"],
    )


def plot_png(t: dict, tm: dict, path: str | Path) -> None:
    acc, times = plot_frames(t, tm)
    fig, (ax_acc, ax_time) = plt.subplots(1, 2, figsize=(10, 4), constrained_layout=True)
    ax_acc.plot(acc.neurons_per_class, 100 * acc.val_accuracy, "o-", label="validation (mean)")
    ax_acc.fill_between(acc.neurons_per_class, 100 * acc.val_accuracy_low, 100 * acc.val_accuracy_high, alpha=0.2,
                        label="95 % interval over seeds")
    ax_acc.plot(acc.neurons_per_class, 100 * acc.train_accuracy, "s--", label="train")
    ax_acc.axvline(t["plateau_neurons_per_class"], color="grey", ls=":", label="accuracy stops rising")
    ax_acc.set(xscale="log", xlabel="neurons per class", ylabel="accuracy (%)", title="Accuracy after a full training")
    ax_time.plot(times.neurons_per_class, times.time_ratio_model, "o-", label="whole model (tutorial)")
    ax_time.plot(times.neurons_per_class, times.time_ratio_edge, "s--", label="edge layer alone")
    ax_time.axhline(1, color="grey", lw=0.5)
    ax_time.set(xscale="log", xlabel="neurons per class", ylabel=f"fit time / fit time at {t['reference']}",
                title="Time ratio")
    for ax in (ax_acc, ax_time):
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, format="png", dpi=100, metadata={"Software": None})
    plt.close(fig)


def run(params_path: str | Path = "params.yaml", results_dir: str | Path = RESULTS_DIR, metrics: str | Path = METRICS,
        markdown: str | Path = MARKDOWN, plot_csv: str | Path = PLOT_CSV, time_csv: str | Path = TIME_CSV,
        per_class_csv: str | Path = PER_CLASS_CSV, png: str | Path = PNG,
        hardware_metrics: str | Path | None = None) -> dict:
    t, tm, per_class = build_table(load_params(params_path).table, results_dir)
    if hardware_metrics is not None:  # the hardware stage's columns
        t = hardware.merge_into_table(t, hardware_metrics)
    acc, times = plot_frames(t, tm)
    write_json(metrics, t)
    write_json(time_metrics_path(metrics, "table"), tm)
    write_text(markdown, render_markdown(t, tm) + hardware.markdown(t))
    write_text(plot_csv, acc.to_csv(index=False))
    write_text(time_csv, times.to_csv(index=False))
    write_text(per_class_csv, per_class.to_csv(index=False))
    plot_png(t, tm, png)
    log.info("table of %d values written to %s; accuracy stops rising at %d neurons per class; time ratios %s",
             len(t["neurons_per_class"]), markdown, t["plateau_neurons_per_class"],
             "monotone" if tm["monotone"] else "NOT monotone")
    near_chance = chance.warning(t["best_val_accuracy"], t["table_num_classes"])
    if near_chance:
        log.warning("%s", near_chance)
    return t
