"""The tutorial's closing table, generated: validation accuracy and time ratio per neurons per class.

Reads the per-value results of the ``table-train`` items for exactly the values listed in
``table.neurons_per_class`` (never a glob: a value removed from params leaves its old file behind,
and it must not come back as a stale row), and writes:

* ``metrics/table.json`` — one row per value, keyed by the value so ``dvc metrics diff`` shows the
  rows that changed, and ``plateau_neurons_per_class``: the value where accuracy stops rising,
  the first one within ``table.tolerance`` of the best validation accuracy;
* ``metrics/table.md`` — the tutorial's layout (neurons, val accuracy, time ratio) plus columns;
* ``plots/table.csv`` (``dvc plots``), ``plots/table_per_class.csv`` and ``plots/table.png``.

Two time ratios, both relative to ``table.reference``: the whole model (extractor + edge layer fit
on the MFCCs, what the tutorial timed) and the edge layer alone (its fit on the spikes).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from edgetune import hardware  # noqa: E402
from edgetune.atomic import atomic_path, write_json, write_text  # noqa: E402
from edgetune.errors import EdgetuneError  # noqa: E402
from edgetune.params import TableParams, load_params  # noqa: E402
from edgetune.table_train import RESULTS_DIR, result_path  # noqa: E402

METRICS = "metrics/table.json"
MARKDOWN = "metrics/table.md"
PLOT_CSV = "plots/table.csv"
PER_CLASS_CSV = "plots/table_per_class.csv"
PNG = "plots/table.png"
ROW_FIELDS = ("val_accuracy", "train_accuracy", "time_ratio_model", "time_ratio_edge", "learned_neurons",
              "whole_model_seconds", "fit_seconds", "val_accuracy_min", "val_accuracy_max")
log = logging.getLogger("edgetune.table")


def load_result(npc: int, table: TableParams, results_dir: str | Path) -> dict:
    """One item's result, checked to come from the current params (else it is stale)."""
    path = result_path(npc, results_dir)
    try:
        result = json.loads(path.read_text())
    except FileNotFoundError:
        raise EdgetuneError(f"{path}: not found; train that value first (dvc repro table-train@{npc})") from None
    except json.JSONDecodeError as exc:
        raise EdgetuneError(f"{path}: not valid JSON ({exc}); rerun dvc repro table-train@{npc}") from None
    expected = {"neurons_per_class": npc, "seeds": list(table.seeds),
                "learning_competition": table.learning_competition, "whole_model_seeds": table.whole_model_seeds}
    for key, value in expected.items():
        if result.get(key) != value:
            raise EdgetuneError(
                f"{path}: made with {key} = {result.get(key)!r}, but the params say {value!r}; "
                f"it is stale, rerun dvc repro table-train@{npc}"
            )
    return result


def plateau(values: list[int], accuracies: list[float], tolerance: float) -> int:
    """First value (ascending) whose accuracy is within ``tolerance`` of the best: where accuracy stops rising."""
    best = max(accuracies)
    # inclusive, robust to float rounding: 0.926 - 0.005 must still admit 0.921
    return next(v for v, a in sorted(zip(values, accuracies)) if a >= best - tolerance - 1e-12)


def build_table(table: TableParams, results_dir: str | Path = RESULTS_DIR) -> tuple[dict, pd.DataFrame]:
    """The table (what metrics/table.json holds) and the per-class validation accuracies."""
    results = [load_result(npc, table, results_dir) for npc in table.neurons_per_class]
    ref = results[table.neurons_per_class.index(table.reference)]
    num_weights = {r["num_weights"] for r in results}
    if len(num_weights) > 1:
        raise EdgetuneError(f"{results_dir}: results made with different num_weights {sorted(num_weights)}; "
                            "rerun dvc repro table-train")
    for key in ("fit_seconds", "whole_model_seconds"):
        if not ref[key] > 0:
            raise EdgetuneError(f"{result_path(table.reference, results_dir)}: {key} = {ref[key]}, "
                                "cannot be the reference of a time ratio; rerun it")
    rows = {}
    for r in results:
        rows[str(r["neurons_per_class"])] = {
            **{key: round(r[key], 6) for key in ("val_accuracy", "val_accuracy_min", "val_accuracy_max",
                                                  "train_accuracy", "learned_neurons")},
            "fit_seconds": round(r["fit_seconds"], 4),
            "whole_model_seconds": round(r["whole_model_seconds"], 4),
            "time_ratio_edge": round(r["fit_seconds"] / ref["fit_seconds"], 3),
            "time_ratio_model": round(r["whole_model_seconds"] / ref["whole_model_seconds"], 3),
        }
    values = [r["neurons_per_class"] for r in results]
    accs = [r["val_accuracy"] for r in results]
    best = max(zip(accs, [-v for v in values]))  # best accuracy; the smallest value on a tie
    return {
        "reference": table.reference,
        "tolerance": table.tolerance,
        "seeds": list(table.seeds),
        "whole_model_seeds": table.whole_model_seeds,
        "learning_competition": table.learning_competition,
        "num_weights": ref["num_weights"],
        "num_classes": ref["num_classes"],
        "train_samples": ref["train_samples"],
        "val_samples": ref["val_samples"],
        "whole_model_mode": ref["whole_model_mode"],
        # the tutorial-way fit learned exactly what the edge layer learned on the spikes (None: not composed)
        "whole_model_same_weights": same_weights(results),
        "neurons_per_class": values,
        "best_neurons_per_class": -best[1],
        "best_val_accuracy": round(best[0], 6),
        "plateau_neurons_per_class": plateau(values, accs, table.tolerance),
        "rows": rows,
    }, per_class_frame(results)


def same_weights(results: list[dict]) -> bool | None:
    checks = [run["whole_model_same_weights"] for r in results for run in r["runs"] if run["whole_model_seconds"]]
    return None if any(c is None for c in checks) else all(checks)


def _first_seeds(n: int) -> str:
    return "first seed" if n == 1 else f"first {n} seeds (median)"


def _pct(x: float) -> str:
    return f"{100 * x:.1f} %"


def render_markdown(t: dict) -> str:
    seeds = ", ".join(str(s) for s in t["seeds"])
    lines = [
        "# Validation accuracy and time ratio per neurons per class",
        "",
        f"Full trainings of the edge layer on all {t['train_samples']} training samples "
        f"({t['num_classes']} classes, num_weights = {t['num_weights']}, learning_competition = "
        f"{t['learning_competition']}), validated on {t['val_samples']} samples; mean over seeds {seeds}. "
        f"Time ratios are relative to {t['reference']} neurons per class: *time ratio* is the whole model's "
        f"fit from the MFCCs ({t['whole_model_mode']}), as the tutorial timed it, on the "
        f"{_first_seeds(t['whole_model_seeds'])}; *edge layer* is the edge layer's own fit on precomputed "
        "spikes, median over the seeds.",
        "",
        "| Nb. neurons | Val accuracy | Time ratio | Time ratio (edge layer) | Val accuracy range (seeds) "
        "| Train accuracy | Learned neurons | Fit time, whole model | Fit time, edge layer |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for key in map(str, t["neurons_per_class"]):
        r = t["rows"][key]
        mark = " ←" if int(key) == t["plateau_neurons_per_class"] else ""
        units = int(key) * t["num_classes"]
        lines.append(
            f"| {key}{mark} | {_pct(r['val_accuracy'])} | {r['time_ratio_model']:.2f} | {r['time_ratio_edge']:.2f} "
            f"| {_pct(r['val_accuracy_min'])} – {_pct(r['val_accuracy_max'])} | {_pct(r['train_accuracy'])} "
            f"| {r['learned_neurons']:g} / {units} | {r['whole_model_seconds']:.2f} s | {r['fit_seconds']:.2f} s |"
        )
    lines += [
        "",
        f"Accuracy stops rising at **{t['plateau_neurons_per_class']}** neurons per class (←): the first value "
        f"within {100 * t['tolerance']:g} points of the best validation accuracy, "
        f"{_pct(t['best_val_accuracy'])} at {t['best_neurons_per_class']}.",
        "",
    ]
    if t["whole_model_same_weights"] is False:
        lines += ["**Warning:** the whole model learned other weights than the edge layer on the spikes: "
                  "are `data/spikes.npz` and `models/extractor.fbz` from the same run?", ""]
    return "\n".join(lines)


def plot_frame(t: dict) -> pd.DataFrame:
    rows = [{"neurons_per_class": v, **t["rows"][str(v)]} for v in t["neurons_per_class"]]
    return pd.DataFrame(rows, columns=["neurons_per_class", *ROW_FIELDS])


def per_class_frame(results: list[dict]) -> pd.DataFrame:
    """Long format (neurons_per_class, class, val_accuracy): mean over seeds, per class."""
    return pd.DataFrame(
        [{"neurons_per_class": r["neurons_per_class"], "class": name, "val_accuracy": acc}
         for r in results for name, acc in r["per_class_val_accuracy"].items()],
        columns=["neurons_per_class", "class", "val_accuracy"],
    )


def plot_png(t: dict, path: str | Path) -> None:
    df = plot_frame(t)
    fig, (ax_acc, ax_time) = plt.subplots(1, 2, figsize=(10, 4), constrained_layout=True)
    ax_acc.plot(df.neurons_per_class, 100 * df.val_accuracy, "o-", label="validation")
    ax_acc.fill_between(df.neurons_per_class, 100 * df.val_accuracy_min, 100 * df.val_accuracy_max, alpha=0.2,
                        label="range over seeds")
    ax_acc.plot(df.neurons_per_class, 100 * df.train_accuracy, "s--", label="train")
    ax_acc.axvline(t["plateau_neurons_per_class"], color="grey", ls=":", label="accuracy stops rising")
    ax_acc.set(xscale="log", xlabel="neurons per class", ylabel="accuracy (%)", title="Accuracy after a full training")
    ax_time.plot(df.neurons_per_class, df.time_ratio_model, "o-", label="whole model (tutorial)")
    ax_time.plot(df.neurons_per_class, df.time_ratio_edge, "s--", label="edge layer alone")
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
        markdown: str | Path = MARKDOWN, plot_csv: str | Path = PLOT_CSV, per_class_csv: str | Path = PER_CLASS_CSV,
        png: str | Path = PNG, hardware_metrics: str | Path | None = None) -> dict:
    t, per_class = build_table(load_params(params_path).table, results_dir)
    if hardware_metrics is not None:  # the hardware stage's columns (issue 12)
        t = hardware.merge_into_table(t, hardware_metrics)
    write_json(metrics, t)
    write_text(markdown, render_markdown(t) + hardware.markdown(t))
    write_text(plot_csv, plot_frame(t).to_csv(index=False))
    write_text(per_class_csv, per_class.to_csv(index=False))
    plot_png(t, png)
    log.info("table of %d values written to %s; accuracy stops rising at %d neurons per class",
             len(t["neurons_per_class"]), markdown, t["plateau_neurons_per_class"])
    return t
