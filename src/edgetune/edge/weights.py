"""The weights stage: num_weights = int(factor × median spikes), and whether the factor is right.

The tutorial (§3) estimates the median number of spikes per sample on 10 % of the training set
and sets num_weights to 1.2 × that median, "which seems to give good results". The stage does the
same (fraction, factor and the subset's seed are params), then measures the factor instead of
trusting it: for each factor of ``weights.factors`` (and the chosen one) it trains the edge layer
on the whole training set once per seed of ``weights.seeds`` (each seed's shuffling order is the
same at every factor) and records validation accuracy — mean ± 95 % interval — and learned
neurons. The chosen factor is then *best*, *indistinguishable* from the best (the paired gap's
interval includes zero) or *below* it: the rule of :mod:`edgetune.stats`.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits
from tqdm import tqdm

from edgetune import charts, paths, stats
from edgetune.edge import layer as edge
from edgetune.atomic import write_json
from edgetune.errors import EdgetuneError
from edgetune.logs import muted
from edgetune.params import WeightsParams, load_params
from edgetune.edge.spikefile import SpikeSet, load_spikes
from edgetune.edge.spikestats import spike_counts
from edgetune.edge.sweep_pool import pool_context, resolve_jobs

log = logging.getLogger(__name__)


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


# What the forked workers inherit (fork: no copy of the spikes, no re-import of the engine)
_WORKER: dict = {}


def _quiet_worker() -> None:
    threadpool_limits(limits=1)  # one BLAS thread per worker: the pool is the parallelism (see sweep_pool)
    edge.log.setLevel(logging.ERROR)  # the too-many-neurons warning: said once by the parent


def _train_and_score(task: tuple[int, int]) -> tuple[float, int]:
    """One training at (num_weights, seed) on the whole training set: its validation accuracy and learned neurons."""
    num_weights, seed = task
    spikes, params, order = _WORKER["spikes"], _WORKER["params"], _WORKER["orders"][seed]
    config = edge.EdgeConfig(num_classes=spikes.num_classes, neurons_per_class=params.neurons_per_class,
                             num_weights=num_weights, learning_competition=params.learning_competition, seed=seed)
    with muted(edge.log):
        trained = edge.train(spikes.x_train[order], spikes.y_train[order], config)
    return edge.accuracy(spikes.x_val, spikes.y_val, trained), trained.num_learned


def train_all(spikes: SpikeSet, num_weights: list[int], params: WeightsParams) -> dict[tuple[int, int], tuple[float, int]]:
    """Every (num_weights, seed) training, on ``weights.jobs`` workers: each is one core's work, and the
    results do not depend on where it ran (the same seed gives the same order and initial weights)."""
    tasks = [(n, seed) for n in num_weights for seed in params.seeds]
    _WORKER.update(spikes=spikes, params=params,
                   orders={seed: edge.seeded_order(len(spikes.x_train), seed) for seed in params.seeds})
    jobs = resolve_jobs(params.jobs, len(tasks), "weights.jobs")
    try:
        with contextlib.ExitStack() as stack:
            run = map if jobs == 1 else stack.enter_context(
                ProcessPoolExecutor(jobs, mp_context=pool_context(), initializer=_quiet_worker)).map
            # both maps yield in the tasks' order
            results = list(tqdm(run(_train_and_score, tasks), total=len(tasks), desc="weights", unit="fit"))
    finally:
        _WORKER.clear()
    return dict(zip(tasks, results))


def factor_curve(spikes: SpikeSet, median: float, factors: list[float], params: WeightsParams) -> pd.DataFrame:
    """Validation accuracy (mean ± 95 % interval over seeds) and learned neurons at each factor's num_weights."""
    probe = edge.EdgeConfig(num_classes=spikes.num_classes, neurons_per_class=params.neurons_per_class, num_weights=1)
    edge.warn_if_too_many_neurons(spikes.y_train, probe, spikes.classes)  # once, by class name, not per training
    chosen = {factor: check_num_weights(factor, median, spikes.width, "weights.factors") for factor in factors}
    # same num_weights and seeds: the engine learns the same layers, so each is trained once
    start = time.perf_counter()
    trained = train_all(spikes, sorted({n for n, _ in chosen.values()}), params)
    log.info("%d trainings in %.0f s", len(trained), time.perf_counter() - start)
    rows, per_seed = [], []
    for factor in factors:
        num_weights, clamped = chosen[factor]
        accs = [trained[num_weights, seed][0] for seed in params.seeds]
        learned = [trained[num_weights, seed][1] for seed in params.seeds]
        val = stats.estimate(accs)
        units = spikes.num_classes * params.neurons_per_class
        log.info("factor %g: num_weights %d, val accuracy %.4f ± %.4f over %d seeds, %.0f/%d neurons learned",
                 factor, num_weights, val.mean, val.half_width, len(accs), np.mean(learned), units)
        rows.append({"factor": factor, "num_weights": num_weights, "clamped": int(clamped),
                     "val_accuracy": round(val.mean, 6), "val_accuracy_ci95": round(val.half_width, 6),
                     "val_accuracy_min": round(min(accs), 6), "val_accuracy_max": round(max(accs), 6),
                     "learned_neurons": round(float(np.mean(learned)), 6),
                     "learned_fraction": round(float(np.mean(learned)) / units, 6)})
        per_seed.append(accs)
    comparison = stats.compare_to_best(per_seed)
    curve = pd.DataFrame(rows)
    curve["gap_to_best"] = [round(g.mean, 6) for g in comparison.gaps]
    curve["gap_to_best_ci95"] = [round(g.half_width, 6) for g in comparison.gaps]
    curve["below_best"] = [int(b) for b in comparison.below]
    return curve


def best_row(curve: pd.DataFrame) -> pd.Series:
    """The factor with the highest mean validation accuracy; ties go to the smallest factor (fewer weights)."""
    best = curve["val_accuracy"].max()
    return curve[curve["val_accuracy"] == best].sort_values("factor").iloc[0]


def verdict(curve: pd.DataFrame, factor: float) -> str:
    """The chosen factor against the best: best | indistinguishable | below (significantly)."""
    if factor == best_row(curve)["factor"]:
        return "best"
    return "below" if curve.loc[curve["factor"] == factor, "below_best"].iloc[0] else "indistinguishable"


def write_plots(curve: pd.DataFrame, chosen: float, best: float, out_dir: str | Path) -> None:
    out = charts.plots_dir(out_dir)
    charts.write_csv(out / "factor_curve.csv", curve)
    fig, (ax_acc, ax_learn) = charts.new_figure(10.0, 4.2, ncols=2)
    ax_acc.plot(curve["factor"], curve["val_accuracy"], "o-", color="tab:blue", label="mean over seeds")
    ax_acc.fill_between(curve["factor"], curve["val_accuracy"] - curve["val_accuracy_ci95"],
                        curve["val_accuracy"] + curve["val_accuracy_ci95"], color="tab:blue", alpha=0.2,
                        label="95 % interval")
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


def run(params_path: str | Path = paths.PARAMS, spikes_path: str | Path = paths.SPIKES,
        metrics_path: str | Path = paths.WEIGHTS_METRICS, plots_path: str | Path = paths.WEIGHTS_PLOTS,
        num_weights_path: str | Path | None = None) -> dict:
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

    factors = sorted(set(params.factors) | {params.factor})
    curve = factor_curve(spikes, median, factors, params)
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
        "clamp_width": spikes.width,
        "clamped": clamped,
        "factor_neurons_per_class": params.neurons_per_class,
        "factor_seeds": list(params.seeds),
        "factor_interval": stats.INTERVAL_NAME,
        "val_accuracy": float(chosen["val_accuracy"]),
        "val_accuracy_ci95": float(chosen["val_accuracy_ci95"]),
        "learned_neurons": float(chosen["learned_neurons"]),
        "best_factor": float(best["factor"]),
        "best_num_weights": int(best["num_weights"]),
        "best_factor_val_accuracy": float(best["val_accuracy"]),
        "chosen_gap_to_best": float(chosen["gap_to_best"]),
        "chosen_gap_to_best_ci95": float(chosen["gap_to_best_ci95"]),
        "chosen_verdict": verdict(curve, params.factor),
        "indistinguishable_factors": [float(f) for f in curve.loc[curve["below_best"] == 0, "factor"]],
    }
    write_json(metrics_path, result)
    # beside metrics/, as results/num_weights.json is beside metrics/weights.json
    write_json(Path(metrics_path).parent.parent / paths.NUM_WEIGHTS if num_weights_path is None else num_weights_path,
               {"num_weights": num_weights})
    log.info("chosen factor %g: val accuracy %.4f; best factor %g (num_weights %d): val accuracy %.4f; chosen is %s",
             params.factor, result["val_accuracy"], result["best_factor"], result["best_num_weights"],
             result["best_factor_val_accuracy"], result["chosen_verdict"])
    return result
