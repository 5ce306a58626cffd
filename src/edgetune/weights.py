"""The weights stage: num_weights = int(factor × median spikes), and whether the factor is right.

The tutorial (§3) estimates the median number of spikes per sample on 10 % of the training set
and sets num_weights to 1.2 × that median, "which seems to give good results". The stage does the
same (fraction, factor and the subset's seed are params), then measures the factor instead of
trusting it: for each factor of ``weights.factors`` (and the chosen one) it trains the edge layer
on the whole, shuffled training set and records validation accuracy and learned neurons.
"""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path

import numpy as np
import pandas as pd

from edgetune import charts, edge
from edgetune.atomic import write_json
from edgetune.errors import EdgetuneError
from edgetune.logs import muted
from edgetune.params import WeightsParams, load_params
from edgetune.spikefile import SpikeSet, load_spikes
from edgetune.spikestats import spike_counts

log = logging.getLogger("edgetune.weights")

SPIKES = Path("data/spikes.npz")
METRICS = Path("metrics/weights.json")
PLOTS = Path("plots/weights")


def weights_for(factor: float, median: float) -> int:
    """int(factor × median); the tiny epsilon keeps float noise from flooring 0.29 × 100 to 28."""
    return int(math.floor(factor * median + 1e-9))


def subset_indices(n: int, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """A seeded random ``fraction`` of ``n`` training samples (the tutorial takes the first 10 %)."""
    size = int(fraction * n)
    if size < 1:
        raise EdgetuneError(
            f"weights.fraction = {fraction}: {fraction} × {n} training samples is no sample; "
            f"raise weights.fraction to at least {1 / n:.3g}"
        )
    return np.sort(rng.permutation(n)[:size])


def check_num_weights(factor: float, median: float, width: int, name: str) -> tuple[int, bool]:
    """num_weights for ``factor``, clamped to the spike width (a neuron cannot connect more inputs)."""
    num = weights_for(factor, median)
    if num < 1:
        raise EdgetuneError(
            f"{name} = {factor}: {factor} × median spikes {median:g} gives num_weights {num}; a neuron needs at "
            "least 1 weight — raise the factor, or check the extractor fires (metrics/spikes.json)"
        )
    if num > width:
        log.warning("%s = %g: %g × median %g = %d exceeds the spike width %d; using %d (every input connected)",
                    name, factor, factor, median, num, width, width)
        return width, True
    return num, False


def factor_curve(spikes: SpikeSet, median: float, factors: list[float], params: WeightsParams,
                 order: np.ndarray) -> pd.DataFrame:
    """Validation accuracy and learned neurons of the edge layer trained at each factor's num_weights."""
    x_train, y_train = spikes.x_train[order], spikes.y_train[order]
    probe = edge.EdgeConfig(num_classes=spikes.num_classes, neurons_per_class=params.neurons_per_class, num_weights=1)
    edge.warn_if_too_many_neurons(y_train, probe, spikes.classes)  # once, by class name, not once per factor
    rows, done = [], {}
    for factor in factors:
        num_weights, clamped = check_num_weights(factor, median, spikes.width, "weights.factors")
        if num_weights in done:  # same num_weights, seed and order: the engine learns the same layer
            rows.append({**done[num_weights], "factor": factor, "clamped": int(clamped)})
            continue
        config = edge.EdgeConfig(num_classes=spikes.num_classes, neurons_per_class=params.neurons_per_class,
                                 num_weights=num_weights, learning_competition=params.learning_competition,
                                 seed=params.seed)
        start = time.perf_counter()
        with muted(edge.log):
            trained = edge.train(x_train, y_train, config)
        acc = edge.accuracy(spikes.x_val, spikes.y_val, trained)
        log.info("factor %g: num_weights %d, val accuracy %.4f, %d/%d neurons learned (fit %.1f s, total %.1f s)",
                 factor, num_weights, acc, trained.num_learned, config.units, trained.fit_seconds,
                 time.perf_counter() - start)
        rows.append({"factor": factor, "num_weights": num_weights, "clamped": int(clamped),
                     "val_accuracy": round(acc, 6), "learned_neurons": trained.num_learned,
                     "learned_fraction": round(trained.num_learned / config.units, 6)})
        done[num_weights] = rows[-1]
    return pd.DataFrame(rows)


def best_row(curve: pd.DataFrame) -> pd.Series:
    """The factor with the highest validation accuracy; ties go to the smallest factor (fewer weights)."""
    best = curve["val_accuracy"].max()
    return curve[curve["val_accuracy"] == best].sort_values("factor").iloc[0]


def write_plots(curve: pd.DataFrame, chosen: float, best: float, out_dir: str | Path) -> None:
    out = charts.plots_dir(out_dir)
    charts.write_csv(out / "factor_curve.csv", curve)
    fig, (ax_acc, ax_learn) = charts.new_figure(10.0, 4.2, ncols=2)
    ax_acc.plot(curve["factor"], curve["val_accuracy"], "o-", color="tab:blue")
    ax_learn.plot(curve["factor"], curve["learned_neurons"], "o-", color="tab:green")
    for ax in (ax_acc, ax_learn):
        ax.axvline(chosen, color="tab:red", linestyle="--", linewidth=1, label=f"chosen factor {chosen:g}")
        if best != chosen:
            ax.axvline(best, color="tab:purple", linestyle=":", linewidth=1.5, label=f"best factor {best:g}")
        ax.set_xlabel("factor (num_weights = factor × median spikes)")
        ax.legend()
    ax_acc.set_ylabel("validation accuracy")
    ax_acc.set_title("Validation accuracy against the factor")
    ax_learn.set_ylabel("neurons that learned")
    ax_learn.set_title("Learned neurons against the factor")
    secondary = ax_acc.secondary_xaxis("top", functions=(lambda f: f, lambda f: f))
    secondary.set_ticks(curve["factor"], [str(n) for n in curve["num_weights"]])
    secondary.set_xlabel("num_weights")
    charts.save_png(fig, out / "factor_curve.png")


def run(params_path: str | Path = "params.yaml", spikes_path: str | Path = SPIKES,
        metrics_path: str | Path = METRICS, plots_path: str | Path = PLOTS) -> dict:
    params = load_params(params_path).weights
    spikes = load_spikes(spikes_path)
    n = len(spikes.x_train)
    rng = np.random.default_rng(params.seed)
    subset = subset_indices(n, params.fraction, rng)
    counts = spike_counts(spikes.x_train)
    median = float(np.median(counts[subset]))
    num_weights, clamped = check_num_weights(params.factor, median, spikes.width, "weights.factor")
    log.info("median spikes %g over %d of %d training samples → num_weights = int(%g × %g) = %d",
             median, len(subset), n, params.factor, median, num_weights)

    order = rng.permutation(n)  # one shuffle shared by every factor: only num_weights varies
    factors = sorted(set(params.factors) | {params.factor})
    curve = factor_curve(spikes, median, factors, params, order)
    chosen = curve[curve["factor"] == params.factor].iloc[0]
    best = best_row(curve)
    curve.insert(1, "chosen", (curve["factor"] == params.factor).astype(int))
    write_plots(curve, params.factor, float(best["factor"]), plots_path)
    result = {
        "num_weights": num_weights,
        "median_spikes": median,
        "all_train_median_spikes": float(np.median(counts)),
        "factor": params.factor,
        "fraction": params.fraction,
        "samples_used": int(len(subset)),
        "width": spikes.width,
        "clamped": clamped,
        "neurons_per_class": params.neurons_per_class,
        "val_accuracy": float(chosen["val_accuracy"]),
        "learned_neurons": int(chosen["learned_neurons"]),
        "best_factor": float(best["factor"]),
        "best_num_weights": int(best["num_weights"]),
        "best_val_accuracy": float(best["val_accuracy"]),
    }
    write_json(metrics_path, result)
    log.info("chosen factor %g: val accuracy %.4f; best factor %g (num_weights %d): val accuracy %.4f",
             params.factor, result["val_accuracy"], result["best_factor"], result["best_num_weights"],
             result["best_val_accuracy"])
    return result
