"""The Akida edge-learning layer, built as the tutorial builds it, trained by the real engine.

Learning always goes through ``akida.Model.fit`` (the CPU software backend). Two things are
added around it:

* Reproducibility. ``compile`` draws each neuron's initial 1-bit weights from a hardware random
  source with no seed API, so two runs learn differently. After ``compile`` the weights are
  replaced by a numpy-seeded draw with exactly ``num_weights`` ones per neuron (what the engine
  itself draws), which makes the same seed give the same trained weights in any process.
* Fast scoring. The potentials of a binary layer are the integer product ``spikes @ weights``.
  numpy computes them in bounded blocks faster, and with far less memory, than the engine's
  ``forward`` (bench/bench_scoring.py, 13.2k × 9,900 units, one core: about 2× faster and
  ~50× less peak memory, 20 MB against 1 GB; the engine's cost also grows with num_weights,
  numpy's does not); tests check them equal to the engine's
  ``forward``/``predict_classes`` on trained layers, ties included (the lowest class wins, as
  ``np.argmax``).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from akida import AkidaUnsupervised, FullyConnected, InputData, Model

from edgetune import paths
from edgetune.errors import EdgetuneError
from edgetune.timing import Timing

LAYER_NAME = "akida_edge_layer"
DEFAULT_BATCH = 4096
BLOCK_POTENTIALS = 1 << 21  # potentials per scoring block (8 MB of float32)
# The engine's fit returns every sample's potentials (N × units int32): 10,560 samples × 16,500
# units is 700 MB at once. Fitting in chunks of samples learns the same weights (tested) with
# the returned potentials bounded to 64 MB.
FIT_OUTPUT_POTENTIALS = 1 << 24
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EdgeConfig:
    """What defines one training of the edge layer."""

    num_classes: int
    neurons_per_class: int
    num_weights: int
    learning_competition: float = 0.1
    seed: int = 0

    @property
    def units(self) -> int:
        return self.num_classes * self.neurons_per_class


@dataclass(frozen=True)
class TrainedEdge:
    """The trained layer: its 0/1 weights as (D, units) and which neurons learned."""

    config: EdgeConfig
    weights: np.ndarray
    learned: np.ndarray
    fit_seconds: float  # wall clock
    fit_cpu_seconds: float = 0.0  # this process's CPU time

    @property
    def num_learned(self) -> int:
        return int(self.learned.sum())


def as_spike_matrix(x: np.ndarray, name: str = "spikes", width: int | None = None) -> np.ndarray:
    """Check spikes are binary and return them as uint8 (N, D); (N, 1, 1, D) is accepted too."""
    x = np.asarray(x)
    if x.ndim == 4 and x.shape[1:3] == (1, 1):
        x = x.reshape(len(x), -1)
    if x.ndim != 2:
        raise EdgetuneError(f"{name}: shape {x.shape}, expected (N, D) or (N, 1, 1, D) binary spikes")
    if width is not None and x.shape[1] != width:
        raise EdgetuneError(f"{name}: width {x.shape[1]}, expected {width} (the extractor's spike width)")
    if x.size and (x.min() < 0 or x.max() > 1):
        raise EdgetuneError(f"{name}: values span {x.min()}..{x.max()}; an edge layer takes 0/1 spikes")
    return x.astype(np.uint8, copy=False)


def check_labels(y: np.ndarray, n: int, num_classes: int, name: str = "labels") -> np.ndarray:
    y = np.asarray(y)
    if y.shape != (n,):
        raise EdgetuneError(f"{name}: shape {y.shape}, expected ({n},) — one label per spike sample")
    if not np.issubdtype(y.dtype, np.integer):
        raise EdgetuneError(f"{name}: dtype {y.dtype}, expected integer class labels")
    if n and (y.min() < 0 or y.max() >= num_classes):
        raise EdgetuneError(f"{name}: labels span {y.min()}..{y.max()}, expected 0..{num_classes - 1}")
    return y.astype(np.int32, copy=False)


def check_config(config: EdgeConfig, width: int) -> None:
    if config.num_classes < 1:
        raise EdgetuneError(f"num_classes = {config.num_classes}: must be ≥ 1")
    if config.neurons_per_class < 1:
        raise EdgetuneError(f"neurons_per_class = {config.neurons_per_class}: must be ≥ 1")
    if not 1 <= config.num_weights <= width:
        raise EdgetuneError(
            f"num_weights = {config.num_weights}: must be between 1 and the spike width {width}"
        )
    if not 0 <= config.learning_competition <= 1:
        raise EdgetuneError(f"learning_competition = {config.learning_competition}: must be in [0, 1]")


def seeded_order(n: int, seed: int) -> np.ndarray:
    """The training order of seed ``seed``: every stage shuffles with it, so seeds pair across settings."""
    return np.random.default_rng(seed).permutation(n)


def seeded_initial_weights(width: int, units: int, num_weights: int, seed: int) -> np.ndarray:
    """Exactly ``num_weights`` ones per neuron at seeded positions, shaped as the engine's (1, 1, D, units)."""
    rng = np.random.default_rng(seed)
    # argsort of uniform keys = an independent random permutation per neuron, in one vectorised call
    order = np.argsort(rng.random((units, width)), axis=1)[:, :num_weights]
    weights = np.zeros((units, width), dtype=np.int8)
    np.put_along_axis(weights, order, 1, axis=1)
    return weights.T.reshape(1, 1, width, units)


def build_model(width: int, config: EdgeConfig) -> Model:
    """The tutorial's trainable layer on 1-bit inputs, compiled, with seeded initial weights."""
    check_config(config, width)
    model = Model()
    model.add(InputData(input_shape=(1, 1, width), input_bits=1))
    model.add(FullyConnected(name=LAYER_NAME, units=config.units, activation=False))
    model.compile(
        optimizer=AkidaUnsupervised(
            num_weights=config.num_weights,
            num_classes=config.num_classes,
            learning_competition=config.learning_competition,
        )
    )
    layer = model.get_layer(LAYER_NAME)
    layer.set_variable("weights", seeded_initial_weights(width, config.units, config.num_weights, config.seed))
    return model


def warn_if_too_many_neurons(y: np.ndarray, config: EdgeConfig, classes=None) -> list[int]:
    """Classes with fewer samples than neurons per class: extra neurons can never learn (one learns per sample)."""
    counts = np.bincount(y, minlength=config.num_classes)
    short = [int(c) for c in np.flatnonzero(counts < config.neurons_per_class)]
    if short:
        names = [str(classes[c]) if classes is not None else str(c) for c in short[:5]]
        log.warning(
            "%d class(es) (%s%s) have fewer samples than neurons_per_class=%d: the extra neurons cannot learn",
            len(short), ", ".join(names), "…" if len(short) > 5 else "", config.neurons_per_class,
        )
    return short


def train(x: np.ndarray, y: np.ndarray, config: EdgeConfig) -> TrainedEdge:
    """Fit a fresh edge layer on spikes ``x`` (N, D) with labels ``y``, in the given order."""
    x = as_spike_matrix(x)
    y = check_labels(y, len(x), config.num_classes)
    model = build_model(x.shape[1], config)
    warn_if_too_many_neurons(y, config)
    timing = Timing()
    timing.measure(lambda: fit_in_chunks(model, x.reshape(len(x), 1, 1, -1), y, config.units))
    return trained_from_model(model, config, timing.wall[0], timing.cpu[0])


def fit_in_chunks(model: Model, x: np.ndarray, y: np.ndarray, units: int,
                  max_potentials: int = FIT_OUTPUT_POTENTIALS) -> int:
    """``model.fit`` over consecutive chunks of samples, so the potentials it returns stay bounded.

    Returns how many samples reached ``fit``: what a timing of this call covers.
    """
    rows = max(1, max_potentials // max(units, 1))
    done = 0
    for start in range(0, len(x), rows):
        chunk = x[start : start + rows]
        model.fit(chunk, y[start : start + rows])
        done += len(chunk)
    return done


def trained_from_model(model: Model, config: EdgeConfig, fit_seconds: float = 0.0,
                       fit_cpu_seconds: float = 0.0) -> TrainedEdge:
    layer = model.get_layer(LAYER_NAME)
    weights = layer.get_variable("weights").reshape(-1, config.units).astype(np.uint8)
    learned = layer.get_variable("threshold_learning").reshape(-1) > 0
    return TrainedEdge(config=config, weights=weights, learned=learned, fit_seconds=fit_seconds,
                       fit_cpu_seconds=fit_cpu_seconds)


def rows_per_block(units: int, batch_size: int = DEFAULT_BATCH) -> int:
    """Samples per block: at most ``batch_size``, and at most BLOCK_POTENTIALS potentials per block.

    Bounding by potentials rather than samples keeps memory flat as units grow (4096 samples ×
    9,900 units would be 160 MB per block) and keeps each block's output small enough to stay
    cache-friendly, which measured faster than larger blocks.
    """
    return max(1, min(batch_size, BLOCK_POTENTIALS // max(units, 1)))


def _float_blocks(x: np.ndarray, weights: np.ndarray, batch_size: int):
    """Yield (start, float32 potentials (b, units)) computed by BLAS sgemm into one reused buffer.

    float32 is exact here: potentials are integer sums of at most D ≤ 2**24 products of 0/1.
    """
    w = weights.astype(np.float32)
    rows = rows_per_block(w.shape[1], batch_size)
    buffer = np.empty((min(rows, max(len(x), 1)), w.shape[1]), dtype=np.float32)
    for start in range(0, len(x), rows):
        batch = x[start : start + rows].astype(np.float32)
        yield start, np.matmul(batch, w, out=buffer[: len(batch)])


def iter_potentials(x: np.ndarray, weights: np.ndarray, batch_size: int = DEFAULT_BATCH):
    """Yield (start, potentials int32 (b, units)) over bounded blocks: memory stays O(block × units)."""
    for start, pot in _float_blocks(x, weights, batch_size):
        yield start, pot.astype(np.int32)


def class_max_potentials(x: np.ndarray, trained: TrainedEdge, batch_size: int = DEFAULT_BATCH) -> np.ndarray:
    """Max potential over each class's neurons, (N, C) int32 — what predict_classes compares."""
    x = as_spike_matrix(x, width=trained.weights.shape[0])
    c, npc = trained.config.num_classes, trained.config.neurons_per_class
    out = np.empty((len(x), c), dtype=np.int32)
    for start, pot in _float_blocks(x, trained.weights, batch_size):
        # max on the exact float potentials, then one cast of (b, C): no int32 copy of (b, units)
        out[start : start + len(pot)] = pot.reshape(len(pot), c, npc).max(axis=2)
    return out


def predict_classes(x: np.ndarray, trained: TrainedEdge, batch_size: int = DEFAULT_BATCH) -> np.ndarray:
    """Class of the most excited neuron; ties go to the lowest class index, as the engine does."""
    return class_max_potentials(x, trained, batch_size).argmax(axis=1).astype(np.int32)


def accuracy(x: np.ndarray, y: np.ndarray, trained: TrainedEdge, batch_size: int = DEFAULT_BATCH) -> float:
    pred = predict_classes(x, trained, batch_size)
    y = check_labels(y, len(pred), trained.config.num_classes)
    return float((pred == y).mean()) if len(y) else float("nan")


def per_class_accuracy(x: np.ndarray, y: np.ndarray, trained: TrainedEdge, batch_size: int = DEFAULT_BATCH) -> np.ndarray:
    pred = predict_classes(x, trained, batch_size)
    return per_class_rates(pred, check_labels(y, len(pred), trained.config.num_classes), trained.config.num_classes)


def per_class_rates(pred: np.ndarray, y: np.ndarray, c: int) -> np.ndarray:
    """Per-class accuracy of predictions ``pred`` (nan for a class with no sample)."""
    hits = np.bincount(y, weights=(pred == y), minlength=c)
    counts = np.bincount(y, minlength=c)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, hits / np.maximum(counts, 1), np.nan)


def read_positive_int(path: str | Path, key: str, stage: str) -> int:
    """A positive integer another stage wrote (``key`` in its JSON ``path``); a bad file names the stage to rerun."""
    path = Path(path)
    try:
        value = json.loads(path.read_text())[key]
    except FileNotFoundError:
        raise EdgetuneError(f"{path}: not found; run the {stage} stage first (dvc repro {stage})") from None
    except (json.JSONDecodeError, KeyError, TypeError):
        raise EdgetuneError(f"{path}: no integer '{key}' in it; rerun dvc repro {stage}") from None
    if not isinstance(value, int) or value < 1:
        raise EdgetuneError(f"{path}: {key} = {value!r}, expected a positive integer; rerun dvc repro {stage}")
    return value


def load_num_weights(path: str | Path = paths.NUM_WEIGHTS) -> int:
    """num_weights chosen by the weights stage (``results/num_weights.json``, also in its metrics)."""
    return read_positive_int(path, "num_weights", "weights")
