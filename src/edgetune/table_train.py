"""One row of the table: full trainings of the edge layer at one neurons-per-class value.

Run as one DVC matrix item per value (``table-train@300``), so adding a value trains only that
value and the items run one after another — their timings do not disturb each other.
For each seed the training set is shuffled with that seed and the layer starts from weights drawn
with it; the layer is trained twice in the same order:

* on the precomputed spikes (``edge.train``): its accuracies, learned neurons and fit time;
* the tutorial's way, appended to the extractor and fit on the MFCCs: the time the tutorial's
  ratio measures. Both must learn the same weights; the result records whether they did.
"""

from __future__ import annotations

import logging
import statistics
from pathlib import Path

import numpy as np
from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from edgetune import edge
from edgetune.atomic import write_json
from edgetune.dataset import load_dataset
from edgetune.errors import EdgetuneError
from edgetune.params import load_params
from edgetune.spikefile import SpikeSet, load_spikes
from edgetune.whole_model import fit_whole_model

SPIKES = "data/spikes.npz"
DATASET = "data/kws.npz"
EXTRACTOR = "models/extractor.fbz"
WEIGHTS = "metrics/weights.json"
RESULTS_DIR = "results/table"
# Scoring holds a (batch × units) float32 block: 2**24 elements = 64 MB whatever the layer size.
SCORE_ELEMENTS = 2**24
log = logging.getLogger("edgetune.table_train")


def result_path(npc: int, results_dir: str | Path = RESULTS_DIR) -> Path:
    return Path(results_dir) / f"npc-{npc}.json"


def score_batch(units: int) -> int:
    return max(1, SCORE_ELEMENTS // units)


def check_same_samples(spikes: SpikeSet, ds, spikes_path, dataset_path) -> None:
    """The spikes must be the dataset forwarded through the extractor, sample for sample."""
    if len(spikes.x_train) != len(ds.x_train) or not np.array_equal(spikes.y_train, ds.y_train):
        raise EdgetuneError(
            f"{spikes_path}: its {len(spikes.x_train)} training samples do not match the "
            f"{len(ds.x_train)} of {dataset_path}; the spikes are stale, rerun dvc repro spikes"
        )


def train_one(npc: int, seed: int, spikes: SpikeSet, x_mfcc: np.ndarray | None, num_weights: int,
              learning_competition: float, extractor_path: str | Path) -> tuple[dict, np.ndarray]:
    """One seed's training; with ``x_mfcc``, timed the tutorial's way too. Returns the run and per-class val accuracy."""
    config = edge.EdgeConfig(spikes.num_classes, npc, num_weights, learning_competition, seed)
    order = np.random.default_rng(seed).permutation(len(spikes.x_train))
    x, y = spikes.x_train[order], spikes.y_train[order]
    trained = edge.train(x, y, config)
    whole = same = None
    if x_mfcc is not None:
        whole = fit_whole_model(extractor_path, x_mfcc[order], y, config, spikes.width, trained.fit_seconds)
    if whole is not None and whole.trained is not None:
        same = bool(np.array_equal(whole.trained.weights, trained.weights)
                    and np.array_equal(whole.trained.learned, trained.learned))
        if not same:
            log.warning("npc %d seed %d: the whole model learned other weights than the edge layer on the "
                        "spikes; are data/spikes.npz and the extractor from the same run?", npc, seed)
    batch = score_batch(config.units)
    per_class = edge.per_class_accuracy(spikes.x_val, spikes.y_val, trained, batch)
    run = {
        "seed": seed,
        "train_accuracy": edge.accuracy(spikes.x_train, spikes.y_train, trained, batch),
        "val_accuracy": edge.accuracy(spikes.x_val, spikes.y_val, trained, batch),
        "learned_neurons": trained.num_learned,
        "fit_seconds": trained.fit_seconds,
        "whole_model_seconds": whole.seconds if whole else None,
        "whole_model_mode": whole.mode if whole else None,
        "whole_model_same_weights": same,
    }
    return run, per_class


def train_value(npc: int, seeds: list[int], learning_competition: float, num_weights: int,
                spikes: SpikeSet, x_mfcc: np.ndarray, extractor_path: str | Path, whole_model_seeds: int = 1) -> dict:
    """All seeds at one value → the item's result (means over seeds, median fit times).

    Only the first ``whole_model_seeds`` seeds are also timed the tutorial's way: each such fit
    forwards the whole training set through the extractor, by far the largest cost of the stage.
    """
    edge.check_config(edge.EdgeConfig(spikes.num_classes, npc, num_weights, learning_competition), spikes.width)
    runs, per_class = [], []
    with logging_redirect_tqdm():
        for i, seed in enumerate(tqdm(seeds, desc=f"table npc={npc}", unit="seed")):
            mfcc = x_mfcc if i < whole_model_seeds else None
            run, acc = train_one(npc, seed, spikes, mfcc, num_weights, learning_competition, extractor_path)
            whole = "" if run["whole_model_seconds"] is None else f", whole model {run['whole_model_seconds']:.2f} s"
            log.info("npc %d seed %d: val %.4f, train %.4f, %d learned, fit %.2f s%s", npc, seed,
                     run["val_accuracy"], run["train_accuracy"], run["learned_neurons"], run["fit_seconds"], whole)
            runs.append(run)
            per_class.append(acc)
    val = [r["val_accuracy"] for r in runs]
    timed = [r for r in runs if r["whole_model_seconds"] is not None]
    return {
        "neurons_per_class": npc,
        "num_weights": num_weights,
        "learning_competition": learning_competition,
        "seeds": list(seeds),
        "whole_model_seeds": whole_model_seeds,
        "num_classes": spikes.num_classes,
        "units": spikes.num_classes * npc,
        "train_samples": len(spikes.x_train),
        "val_samples": len(spikes.x_val),
        "train_accuracy": float(np.mean([r["train_accuracy"] for r in runs])),
        "val_accuracy": float(np.mean(val)),
        "val_accuracy_min": float(min(val)),
        "val_accuracy_max": float(max(val)),
        "learned_neurons": float(np.mean([r["learned_neurons"] for r in runs])),
        "fit_seconds": statistics.median(r["fit_seconds"] for r in runs),
        "whole_model_seconds": statistics.median(r["whole_model_seconds"] for r in timed),
        "whole_model_mode": timed[0]["whole_model_mode"],
        "per_class_val_accuracy": {
            str(name): (None if np.isnan(v) else float(v))
            for name, v in zip(spikes.classes, np.mean(per_class, axis=0))
        },
        "runs": runs,
    }


def run(npc: int, params_path: str | Path = "params.yaml", spikes_path: str | Path = SPIKES,
        dataset_path: str | Path = DATASET, extractor_path: str | Path = EXTRACTOR,
        weights_path: str | Path = WEIGHTS, results_dir: str | Path = RESULTS_DIR) -> dict:
    """The stage item: train at ``npc`` neurons per class, write ``results/table/npc-{npc}.json``."""
    if npc < 1:
        raise EdgetuneError(f"--npc {npc}: neurons per class must be ≥ 1")
    table = load_params(params_path).table
    if npc not in table.neurons_per_class:
        log.warning("npc %d is not in table.neurons_per_class %s: the table will not show it",
                    npc, table.neurons_per_class)
    num_weights = edge.load_num_weights(weights_path)
    spikes = load_spikes(spikes_path)
    ds = load_dataset(dataset_path)
    check_same_samples(spikes, ds, spikes_path, dataset_path)
    result = train_value(npc, table.seeds, table.learning_competition, num_weights, spikes, ds.x_train,
                         extractor_path, table.whole_model_seeds)
    write_json(result_path(npc, results_dir), result)
    return result
