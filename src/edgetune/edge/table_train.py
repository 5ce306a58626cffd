"""One row of the table: full trainings of the edge layer at one neurons-per-class value.

Run as one DVC matrix item per value (``table-train@300``), so adding a value trains only that
value and the items run one after another — their timings do not disturb each other.
For each seed the training set is shuffled with that seed and the layer starts from weights drawn
with it. Two files per value:

* ``npc-<v>.json``: accuracies and learned neurons per seed and summarised — the same bytes
  whenever the inputs are the same;
* ``npc-<v>.time.json``: the edge layer's fit time E(v), one measurement per seed (and repeats
  of the first seed's fit up to ``table.timing_repeats``), reported as the minimum. Timings
  differ from run to run, so they are kept apart from what must not.

The tutorial's whole-model time is E(v) plus the extractor's forward pass over the same samples,
which does not depend on v: the ``extractor-time`` stage measures it once (:mod:`edgetune.extractor_time`).
"""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path

import numpy as np
from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from edgetune.edge import layer as edge
from edgetune.atomic import write_json
from edgetune.logs import muted
from edgetune.errors import EdgetuneError
from edgetune.params import TableParams, load_params
from edgetune.edge.spikefile import SpikeSet, load_spikes
from edgetune.timing import Timing

SPIKES = "data/spikes.npz"
WEIGHTS = "results/num_weights.json"  # the weights stage's choice, alone
RESULTS_DIR = "results/table"
# Scoring holds a (batch × units) float32 block: 2**24 elements = 64 MB whatever the layer size.
SCORE_ELEMENTS = 2**24
log = logging.getLogger("edgetune.table_train")


# What E(v) is, recorded with every measurement: the table refuses to mix rows timed otherwise.
EDGE_TIMING = "edge layer fit on the spikes, all training samples, wall clock, min over repeats"


def result_path(npc: int, results_dir: str | Path = RESULTS_DIR) -> Path:
    return Path(results_dir) / f"npc-{npc}.json"


def time_path(npc: int, results_dir: str | Path = RESULTS_DIR) -> Path:
    return Path(results_dir) / f"npc-{npc}.time.json"


def score_batch(units: int) -> int:
    return max(1, SCORE_ELEMENTS // units)


def shuffled(spikes: SpikeSet, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The training set in seed ``seed``'s order: the same order at every value (paired seeds)."""
    order = edge.seeded_order(len(spikes.x_train), seed)
    return spikes.x_train[order], spikes.y_train[order]


def train_one(config: edge.EdgeConfig, spikes: SpikeSet, timing: Timing, score_train: bool) -> tuple[dict, np.ndarray]:
    """One seed's training, its fit timed into ``timing``. Returns the run and per-class val accuracy.

    Train accuracy (a diagnostic of overfitting, not in the tutorial's table) is scored only when
    ``score_train``: scoring all 10k training samples at every seed was a tenth of the table's cost.
    """
    x, y = shuffled(spikes, config.seed)
    trained = edge.train(x, y, config)
    timing.wall.append(trained.fit_seconds)
    timing.cpu.append(trained.fit_cpu_seconds)
    batch = score_batch(config.units)
    pred = edge.predict_classes(spikes.x_val, trained, batch)
    run = {
        "seed": config.seed,
        "train_accuracy": edge.accuracy(spikes.x_train, spikes.y_train, trained, batch) if score_train else None,
        "val_accuracy": float((pred == spikes.y_val).mean()),
        "learned_neurons": trained.num_learned,
    }
    return run, edge.per_class_rates(pred, spikes.y_val, config.num_classes)


def time_more(config: edge.EdgeConfig, spikes: SpikeSet, timing: Timing, repeats: int) -> None:
    """Refit the first seed until ``timing`` holds ``repeats`` measurements (fewer seeds than repeats)."""
    x, y = shuffled(spikes, config.seed)
    with muted(edge.log):
        while len(timing.wall) < repeats:
            trained = edge.train(x, y, config)
            timing.wall.append(trained.fit_seconds)
            timing.cpu.append(trained.fit_cpu_seconds)


def train_value(npc: int, table: TableParams, num_weights: int, spikes: SpikeSet) -> tuple[dict, dict]:
    """All seeds at one value → (accuracy result, timing result) of the item."""
    configs = [edge.EdgeConfig(spikes.num_classes, npc, num_weights, table.learning_competition, seed)
               for seed in table.seeds]
    edge.check_config(configs[0], spikes.width)
    runs, per_class, timing = [], [], Timing()
    with logging_redirect_tqdm():
        for i, config in enumerate(tqdm(configs, desc=f"table npc={npc}", unit="seed")):
            with muted(edge.log) if i else contextlib.nullcontext():  # a warning of the layer's size, said once
                run, acc = train_one(config, spikes, timing, score_train=i == 0)
            log.info("npc %d seed %d: val %.4f, %d learned, fit %.2f s", npc, config.seed,
                     run["val_accuracy"], run["learned_neurons"], timing.wall[-1])
            runs.append(run)
            per_class.append(acc)
        time_more(configs[0], spikes, timing, table.timing_repeats)
    val = [r["val_accuracy"] for r in runs]
    result = {
        "neurons_per_class": npc,
        "num_weights": num_weights,
        "learning_competition": table.learning_competition,
        "seeds": list(table.seeds),
        "num_classes": spikes.num_classes,
        "units": spikes.num_classes * npc,
        "train_samples": len(spikes.x_train),
        "val_samples": len(spikes.x_val),
        "train_accuracy": runs[0]["train_accuracy"],  # the first seed's
        "val_accuracy": float(np.mean(val)),
        "val_accuracy_min": float(min(val)),
        "val_accuracy_max": float(max(val)),
        "learned_neurons": float(np.mean([r["learned_neurons"] for r in runs])),
        "per_class_val_accuracy": {
            str(name): (None if np.isnan(v) else float(v))
            for name, v in zip(spikes.classes, np.mean(per_class, axis=0))
        },
        "runs": runs,
    }
    times = {"neurons_per_class": npc, "num_weights": num_weights, "seeds": list(table.seeds),
             "timing": EDGE_TIMING, "samples": len(spikes.x_train), "edge_fit": timing.as_dict()}
    return result, times


def run(npc: int, params_path: str | Path = "params.yaml", spikes_path: str | Path = SPIKES,
        weights_path: str | Path = WEIGHTS, results_dir: str | Path = RESULTS_DIR) -> dict:
    """The stage item: train at ``npc`` neurons per class, write ``npc-{npc}.json`` and ``npc-{npc}.time.json``."""
    if npc < 1:
        raise EdgetuneError(f"--npc {npc}: neurons per class must be ≥ 1")
    table = load_params(params_path).table
    if npc not in table.neurons_per_class:
        log.warning("npc %d is not in table.neurons_per_class %s: the table will not show it",
                    npc, table.neurons_per_class)
    num_weights = edge.load_num_weights(weights_path)
    spikes = load_spikes(spikes_path)
    result, times = train_value(npc, table, num_weights, spikes)
    write_json(result_path(npc, results_dir), result)
    write_json(time_path(npc, results_dir), times)
    return result
