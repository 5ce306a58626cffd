"""The table's trainings: one DVC matrix item per seed, every neurons-per-class value in it.

The tutorial's time ratio compares values with each other, so their times must be taken under the
same conditions: timed in separate processes minutes apart, the host's drift moved the largest
rows by up to 0.04 between runs. An item therefore times, in rounds, the extractor's forward pass F
over all training samples, then the edge layer's fit E(v) at every value, seconds after F. Each
round gives each value's whole-model ratio (F + E(v)) / (F + E(reference)) from measurements
seconds apart; the table takes their median (:mod:`edgetune.edge.table`).

The ratio is taken on process CPU time, wall clock kept beside it. The engine's forward pass uses
every core it gets while the edge fit uses one, so wall-clock F depends on how many cores were
free: measured here, the same F took 7.3 s on an idle machine and 18–26 s beside other jobs
(CPU time 14.3–16.0 s), and the wall-clock ratio at 10 moved from 0.78 to 0.84. On CPU time,
the ratio is what the fit costs, the same on a busy or a quiet machine of any core count.

Because an edge fit uses one core, a round's fits run on ``table.jobs`` worker processes
(:mod:`edgetune.edge.task_pool`, one thread each, biggest layers first), F alone in the item's
process before them: on 2 cores the item takes half the time. Each E(v) is its own worker's CPU
time; the fit beside it slows it by a few per cent, which moves the whole-model ratio, dominated by
F, by at most 0.002 (docs/table.md gives the measurement).

F is timed on every k-th training sample (:data:`FORWARD_TIMED_SAMPLES` of them) and scaled to all:
the engine's forward pass costs the same per sample at any count, so timing all 33,000 default
samples in every item (half of each item's time) bought nothing; the first seed's direct fit of the
whole model (below) checks F + E against a measurement on the same samples.

The first round's fits are the seed's full trainings: the training set in the seed's order, the
layer from the seed's initial weights, the same order at every value (paired seeds). Two files:

* ``seed-<k>.json``: accuracies and learned neurons per value — the same bytes whenever the
  inputs are the same, on any number of workers;
* ``seed-<k>.time.json``: F and E(v) of every round, minima and spread (:mod:`edgetune.timing`).

Adding a seed trains only that seed; adding a value retrains every seed, which it must: its time
is only comparable when measured beside the others. The first seed also checks the decomposition
with one direct fit of the whole model (:mod:`edgetune.edge.whole_check`).
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import NamedTuple

import numpy as np

from edgetune import paths
from edgetune.edge import layer as edge, task_pool
from edgetune.atomic import write_json
from edgetune.dataset import load_dataset
from edgetune.errors import EdgetuneError
from edgetune.logs import muted
from edgetune.params import TableParams, load_params
from edgetune.edge.spikefile import SpikeSet, load_spikes
from edgetune.edge.sweep_pool import resolve_jobs
from edgetune.timing import Timing
from edgetune.edge.whole_check import check_same_samples, direct_check
from edgetune.edge.whole_model import forward_in_chunks
from edgetune.extractor.check import load_extractor

# Scoring holds a (batch × units) float32 block: 2**24 elements = 64 MB whatever the layer size.
SCORE_ELEMENTS = 2**24
log = logging.getLogger(__name__)

CLOCKS = ("cpu", "wall")  # process CPU time (the ratio's clock: see the module's docstring), wall clock beside it
# How the times are taken, recorded with every measurement: the table refuses to mix files timed
# otherwise. 1: rounds in one process, F then E(v) at every value, all training samples, process CPU
# time and wall clock; 2: the same, F timed on every k-th sample (about 4,096) and scaled to all of
# them, and the direct check made on those samples; 3: the same on about 2,048 samples; 4: the same,
# each round's fits on table.jobs worker processes after F, each E(v) its worker's CPU time.
TIMING_VERSION = 4
FORWARD_TIMED_SAMPLES = 2048  # at least: every k-th training sample, k = samples // this


def result_path(seed: int, results_dir: str | Path = paths.TABLE_RESULTS) -> Path:
    return Path(results_dir) / f"seed-{seed}.json"


def time_path(seed: int, results_dir: str | Path = paths.TABLE_RESULTS) -> Path:
    return Path(results_dir) / f"seed-{seed}.time.json"


def forward_stride(samples: int) -> int:
    """k: F is timed on every k-th sample, about :data:`FORWARD_TIMED_SAMPLES` of them, and scaled to all."""
    return max(1, samples // FORWARD_TIMED_SAMPLES)


def timed_forward_samples(x: np.ndarray) -> np.ndarray:
    """Every k-th sample, spread over the whole set (its classes and voices)."""
    return np.ascontiguousarray(x[::forward_stride(len(x))])


def score_batch(units: int) -> int:
    return max(1, SCORE_ELEMENTS // units)


def shuffled(spikes: SpikeSet, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The training set in seed ``seed``'s order: the same order at every value (paired seeds)."""
    order = edge.seeded_order(len(spikes.x_train), seed)
    return spikes.x_train[order], spikes.y_train[order]


def rounds_per_seed(table: TableParams) -> int:
    """Enough rounds that every time is measured ``timing_repeats`` times over all the seeds."""
    return max(1, math.ceil(table.timing_repeats / len(table.seeds)))


def score(config: edge.EdgeConfig, trained: edge.TrainedEdge, spikes: SpikeSet, score_train: bool) -> dict:
    """One value's accuracies. Train accuracy (a diagnostic of overfitting, not in the tutorial's
    table) only when ``score_train``: on every seed it was a tenth of the table's cost."""
    batch = score_batch(config.units)
    pred = edge.predict_classes(spikes.x_val, trained, batch)
    rates = edge.per_class_rates(pred, spikes.y_val, config.num_classes)
    return {
        "val_accuracy": float((pred == spikes.y_val).mean()),
        "train_accuracy": edge.accuracy(spikes.x_train, spikes.y_train, trained, batch) if score_train else None,
        "learned_neurons": trained.num_learned,
        "per_class_val_accuracy": {str(name): (None if np.isnan(r) else float(r))
                                   for name, r in zip(spikes.classes, rates)},
    }


class Rounds(NamedTuple):
    """What the timed rounds measured, by name: the item's two files are written from it."""

    runs: dict[int, dict]  # value → the first round's scores
    forward: Timing  # F: the extractor's forward pass, every round
    fits: dict[int, Timing]  # value → E(v): the edge layer's fit, every round
    timed_samples: int  # the samples F was timed on (scaled to all of them)
    reference: edge.EdgeConfig  # the layer at table.reference


class FitInputs(NamedTuple):
    """What every fit of the item shares, sent once to each worker."""

    x: np.ndarray  # the training spikes in the seed's order
    y: np.ndarray
    spikes: SpikeSet  # scored on: validation (and training, when score_train)
    configs: dict[int, edge.EdgeConfig]  # value → its layer
    score_train: bool


class Fit(NamedTuple):
    value: int
    scores: dict | None  # the first round's accuracies, None in later rounds
    wall: float
    cpu: float


def fit_value(shared: FitInputs, task: tuple[int, bool]) -> Fit:
    """One value's fit (its worker's CPU time and wall clock), scored when ``task`` says so."""
    value, scored = task
    with muted(edge.log):  # the layer-size warning: the item says it once, before the fits
        trained = edge.train(shared.x, shared.y, shared.configs[value])
    scores = score(shared.configs[value], trained, shared.spikes, shared.score_train) if scored else None
    return Fit(value, scores, trained.fit_seconds, trained.fit_cpu_seconds)


def timed_rounds(seed: int, table: TableParams, num_weights: int, spikes: SpikeSet, extractor, x_mfcc: np.ndarray,
                 score_train: bool) -> Rounds:
    """The rounds: F alone, then every value's fit on ``table.jobs`` workers; the first round's layers are scored."""
    values = list(table.neurons_per_class)
    configs = {v: edge.EdgeConfig(spikes.num_classes, v, num_weights, table.learning_competition, seed)
               for v in values}
    x, y = shuffled(spikes, seed)
    edge.warn_if_too_many_neurons(y, configs[max(values)], spikes.classes)
    shared = FitInputs(x, y, spikes, configs, score_train)
    forward, fits, runs = Timing(), {v: Timing() for v in values}, {}
    x_timed = timed_forward_samples(x_mfcc)
    for r in range(rounds_per_seed(table)):
        forward.measure(lambda: forward_in_chunks(extractor, x_timed), scale=len(x_mfcc) / len(x_timed))
        # biggest layers first: on several workers the long fits start early and the short ones fill the end
        tasks = [(v, r == 0) for v in sorted(values, reverse=True)]
        for fit in task_pool.map_tasks(fit_value, shared, tasks, table.jobs, "table.jobs",
                                       f"table seed={seed} round {r + 1}", unit="fit"):
            fits[fit.value].wall.append(fit.wall)
            fits[fit.value].cpu.append(fit.cpu)
            if fit.scores is not None:
                runs[fit.value] = fit.scores
                log.info("seed %d npc %d: val %.4f, %d learned, fit %.2f s", seed, fit.value,
                         fit.scores["val_accuracy"], fit.scores["learned_neurons"], fit.wall)
    return Rounds(runs, forward, fits, len(x_timed), configs[table.reference])


def round_ratios(forward: Timing, fits: dict[int, Timing], reference: int, clock: str) -> dict[str, list[float]]:
    """Each round's whole-model ratio (F + E(v)) / (F + E(reference)) on ``clock`` (cpu or wall)."""
    f, ref = getattr(forward, clock), getattr(fits[reference], clock)
    return {str(v): [round((a + e) / (a + r), 6) for a, e, r in zip(f, getattr(t, clock), ref)]
            for v, t in fits.items()}


def train_seed(seed: int, table: TableParams, num_weights: int, spikes: SpikeSet, extractor_path: str | Path,
               x_mfcc: np.ndarray) -> tuple[dict, dict]:
    """One seed at every value → (accuracy result, timing result) of the item."""
    edge.check_config(edge.EdgeConfig(spikes.num_classes, max(table.neurons_per_class), num_weights,
                                      table.learning_competition, seed), spikes.width)
    extractor = load_extractor(extractor_path, spikes.width)
    x_mfcc = np.ascontiguousarray(x_mfcc, dtype=np.uint8)
    first = seed == table.seeds[0]
    rounds = timed_rounds(seed, table, num_weights, spikes, extractor, x_mfcc, score_train=first)
    forward, fits = rounds.forward, rounds.fits
    common = {"seed": seed, "num_weights": num_weights, "learning_competition": table.learning_competition,
              "neurons_per_class": list(table.neurons_per_class)}
    result = {**common, "num_classes": spikes.num_classes, "train_samples": len(spikes.x_train),
              "val_samples": len(spikes.x_val), "runs": {str(v): rounds.runs[v] for v in table.neurons_per_class}}
    times = {**common, "reference": table.reference, "timing": TIMING_VERSION,
             "timing_repeats": table.timing_repeats, "rounds": len(forward.wall), "samples": len(spikes.x_train),
             "forward_timed_samples": rounds.timed_samples,
             "fit_workers": resolve_jobs(table.jobs, len(table.neurons_per_class), "table.jobs"),
             "forward": forward.as_dict(), "edge_fit": {str(v): t.as_dict() for v, t in fits.items()},
             "round_ratios": {clock: round_ratios(forward, fits, table.reference, clock) for clock in CLOCKS}}
    if first:  # the decomposition F + E checked once against a direct fit of the whole model
        times["check"] = direct_check(extractor_path, spikes, x_mfcc, rounds.reference,
                                      forward_stride(len(x_mfcc)))
    return result, times


def run(seed: int, params_path: str | Path = paths.PARAMS, spikes_path: str | Path = paths.SPIKES,
        dataset_path: str | Path = paths.DATASET, extractor_path: str | Path = paths.EXTRACTOR,
        weights_path: str | Path = paths.NUM_WEIGHTS, results_dir: str | Path = paths.TABLE_RESULTS) -> dict:
    """The stage item: train seed ``seed`` at every value, write ``seed-<k>.json`` and ``seed-<k>.time.json``."""
    table = load_params(params_path).table
    if seed not in table.seeds:
        raise EdgetuneError(f"--seed {seed}: not in table.seeds {list(table.seeds)}; the table would not use it")
    num_weights = edge.load_num_weights(weights_path)
    spikes = load_spikes(spikes_path)
    ds = load_dataset(dataset_path)
    check_same_samples(spikes, ds, spikes_path, dataset_path)
    result, times = train_seed(seed, table, num_weights, spikes, extractor_path, ds.x_train)
    write_json(result_path(seed, results_dir), result)
    write_json(time_path(seed, results_dir), times)
    return result
