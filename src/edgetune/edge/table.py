"""The tutorial's closing table, generated: validation accuracy and time ratio per neurons per class.

Reads each ``table-train`` item's files (:mod:`.table_seeds`), computes the figures
(:mod:`.table_stats`) and writes:

* ``metrics/table.json`` — accuracies, one row per value keyed by the value so ``dvc metrics diff``
  shows the rows that changed: the mean over seeds with its 95 % interval, and the gap to the best
  value paired by seed (:mod:`edgetune.stats`). ``plateau_neurons_per_class`` — where accuracy stops
  rising — is the smallest value not significantly below the best. Same inputs, same bytes.
* ``metrics/time/table.json`` — every timing: the whole model's fit F + E(v), its ratio to the
  reference (the tutorial's column: the median over the rounds), the edge layer's own ratio, the
  minima with their spread.
  Timings differ from run to run; keeping them in their own file keeps the rest byte-stable.
* ``metrics/table.md`` (the tutorial's layout plus columns, :mod:`.table_markdown`) and the plot files
  (:mod:`.table_plots`).
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from edgetune import paths, stats
from edgetune.atomic import write_json, write_text
from edgetune.edge import chance, hardware
from edgetune.edge.table_markdown import render_markdown
from edgetune.edge.table_plots import per_class_frame, plot_frames, plot_png
from edgetune.edge.table_seeds import load_seed, value_results
from edgetune.edge.table_stats import accuracy_rows, time_rows
from edgetune.edge.table_train import time_path
from edgetune.errors import EdgetuneError
from edgetune.params import TableParams, load_params
from edgetune.timing import time_metrics_path

log = logging.getLogger(__name__)


def build_table(table: TableParams, results_dir: str | Path = paths.TABLE_RESULTS) -> tuple[dict, dict, pd.DataFrame]:
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


def run(params_path: str | Path = paths.PARAMS, results_dir: str | Path = paths.TABLE_RESULTS, metrics: str | Path = paths.TABLE_METRICS,
        markdown: str | Path = paths.TABLE_MARKDOWN, plot_csv: str | Path = paths.TABLE_CSV, time_csv: str | Path = paths.TABLE_TIME_CSV,
        per_class_csv: str | Path = paths.TABLE_PER_CLASS_CSV, png: str | Path = paths.TABLE_PNG,
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
