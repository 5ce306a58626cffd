"""The table's plot files: ``plots/table.csv`` (accuracy), ``plots/table_time.csv`` (time ratios),
``plots/table_per_class.csv`` for ``dvc plots``, and ``plots/table.png`` for reading offline."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

from edgetune import charts  # noqa: F401  (selects the headless backend)
from edgetune.atomic import atomic_path

ACCURACY_FIELDS = ("val_accuracy", "val_accuracy_low", "val_accuracy_high", "train_accuracy", "learned_neurons")
TIME_FIELDS = ("time_ratio_model", "time_ratio_edge")


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
