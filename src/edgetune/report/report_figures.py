"""The report's own figures: the answers to the tutorial's two open questions, and every swept class at once.

The stages' figures are copied as they are; these are drawn from the same CSV/JSON numbers, with
matplotlib's Agg backend and no timestamp (:func:`edgetune.charts.save_png`), so equal inputs give
equal bytes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from edgetune import charts

PLATEAU_STYLE = dict(color="tab:gray", ls=":", lw=1.5)
KNEE_STYLE = {"loss": dict(color="tab:red", ls="--", lw=1.2), "learned": dict(color="tab:green", ls="-.", lw=1.2)}
KNEE_LABEL = {"loss": "loss knee", "learned": "learned-neurons knee"}
MAX_LABELLED_CLASSES = 10  # beyond this a legend of classes hides the plot (and colours repeat)


def class_label(word: str, classes: int) -> str | None:
    return f"'{word}'" if classes <= MAX_LABELLED_CLASSES else None


def log_axis(ax) -> None:
    """Log x axis labelled 1, 2, 5, 10, 20, … (not 10^0, 10^1): neurons per class read as numbers."""
    ax.set_xscale("log")
    ax.xaxis.set_major_locator(LogLocator(subs=(1, 2, 5)))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.xaxis.set_minor_formatter(NullFormatter())


def _class_knee(sw: dict, word: str, curve: str) -> tuple[float | None, float | None]:
    c = sw["classes"].get(word, {})
    return c.get(f"{curve}_knee"), c.get(f"{curve}_at_knee")


def sweep_all_classes(curves: pd.DataFrame, sw: dict, path: Path) -> None:
    """Loss and learned neurons of every swept class on shared axes, each class's knees as dots."""
    fig, (ax_loss, ax_learned) = charts.new_figure(11.0, 4.4, ncols=2)
    for i, word in enumerate(sw["classes"]):
        rows = curves[curves["word"].astype(str) == word].sort_values("neurons_per_class")
        color = f"C{i % 10}"
        for ax, curve, column in ((ax_loss, "loss", "loss_min"), (ax_learned, "learned", "learned_min")):
            ax.plot(rows["neurons_per_class"], rows[column], "-", color=color, lw=1.3,
                    label=class_label(word, len(sw["classes"])))
            knee, at = _class_knee(sw, word, curve)
            if knee is not None:
                ax.plot([knee], [at], "o", color=color, ms=6, mec="black", mew=0.6)
    ax_loss.set_ylabel("loss per sample (min over repetitions)")
    ax_loss.set_title(f"Loss, {len(sw['classes'])} swept classes (dots: knees)")
    ax_learned.set_ylabel("neurons that learned (min over repetitions)")
    ax_learned.set_title(f"Neurons that learned, {len(sw['classes'])} swept classes")
    for ax in (ax_loss, ax_learned):
        log_axis(ax)
        ax.set_xlabel("neurons per class")
        ax.grid(True, which="both", alpha=0.3)
        if len(sw["classes"]) <= MAX_LABELLED_CLASSES:
            ax.legend(fontsize=8, ncols=2 if len(sw["classes"]) > 5 else 1)
    charts.save_png(fig, path)


def factor_question(curve: pd.DataFrame, answer, path: Path) -> None:
    """Accuracy against the factor, with each mean's 95 % interval: the tutorial's factor and the best one."""
    curve = curve.sort_values("factor")
    fig, ax = charts.new_figure(8.0, 4.4)
    best = 100 * answer.best_accuracy
    ax.errorbar(curve["factor"], 100 * curve["val_accuracy"], yerr=100 * curve["val_accuracy_ci95"], fmt="o-",
                color="tab:blue", capsize=3, label=f"validation accuracy, mean ± 95 % interval ({answer.seeds} seeds)")
    for row in curve.itertuples():
        ax.annotate(f"{int(row.num_weights)}", (row.factor, 100 * row.val_accuracy), textcoords="offset points",
                    xytext=(0, 7), ha="center", fontsize=7, color="tab:blue")
    name = f"{answer.factor:g} × median" if answer.tutorial_measured else f"chosen factor {answer.factor:g}"
    ax.plot([answer.factor], [100 * answer.accuracy], "o", ms=11, mfc="none", mec="tab:red", mew=2,
            label=f"{name}: {100 * answer.accuracy:.1f} %")
    ax.plot([answer.best_factor], [best], "*", ms=14, color="tab:purple",
            label=f"best factor {answer.best_factor:g}: {best:.1f} %")
    ax.set_xlabel("factor (num_weights = factor × median spikes; numbers: num_weights)")
    ax.set_ylabel("validation accuracy (%)")
    ax.set_title(f"Is {name} as good as the best factor? ({answer.neurons_per_class} neurons per class): {answer.verdict}")
    ax.margins(y=0.12)  # room for the num_weights labels above the points
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    charts.save_png(fig, path)


def knee_vs_plateau(t: dict, curves: pd.DataFrame, sw: dict, knees, path: Path) -> None:
    """The table's accuracy above the sweep's curves, one log axis of neurons per class.

    The plateau (where the table's accuracy stops rising) and the sweep's median knees are drawn
    across all three panels, so their distance reads straight off the figure.
    """
    import matplotlib.pyplot as plt

    values = [int(v) for v in t["neurons_per_class"]]
    rows = [t["rows"][str(v)] for v in values]
    acc = 100 * np.array([r["val_accuracy"] for r in rows])
    half = 100 * np.array([r["val_accuracy_ci95"] for r in rows])
    fig, (ax_acc, ax_loss, ax_learned) = plt.subplots(3, 1, figsize=(8.0, 9.0), sharex=True, layout="constrained")
    same = [v for v, r in zip(values, rows) if not r["below_best"]]
    ax_acc.plot(same, [100 * t["rows"][str(v)]["val_accuracy"] for v in same], "o", ms=10, mfc="none",
                mec="tab:green", label="indistinguishable from the best (paired, 95 %)")
    ax_acc.fill_between(values, acc - half, acc + half, color="tab:blue", alpha=0.2, label="95 % interval over seeds")
    ax_acc.plot(values, acc, "o-", color="tab:blue", label="validation accuracy (table)")
    ax_acc.set_ylabel("validation accuracy (%)")
    ax_acc.set_title("Where the table's accuracy stops rising, and where the sweep's curves bend")
    for i, word in enumerate(sw["classes"]):
        sub = curves[curves["word"].astype(str) == word].sort_values("neurons_per_class")
        label = class_label(word, len(sw["classes"]))
        ax_loss.plot(sub["neurons_per_class"], sub["loss_min"], "-", color=f"C{i % 10}", lw=1.3, label=label)
        ax_learned.plot(sub["neurons_per_class"], sub["learned_min"], "-", color=f"C{i % 10}", lw=1.3, label=label)
    ax_loss.set_ylabel("sweep: loss per sample")
    ax_learned.set_ylabel("sweep: neurons that learned")
    ax_learned.set_xlabel("neurons per class")
    for ax in (ax_acc, ax_loss, ax_learned):
        ax.axvline(t["plateau_neurons_per_class"], **PLATEAU_STYLE,
                   label=f"accuracy stops rising: {t['plateau_neurons_per_class']}")
        for k in knees:
            if k.knee is not None:
                ax.axvline(k.knee, **KNEE_STYLE[k.curve], label=f"{KNEE_LABEL[k.curve]}: {k.knee:g}")
        log_axis(ax)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7, loc="best")
    charts.save_png(fig, path)
