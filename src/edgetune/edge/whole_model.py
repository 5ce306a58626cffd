"""The edge layer trained the tutorial's way: appended to the feature extractor, fit on the MFCCs.

The tutorial times ``model_ak.fit(x_train, y_train)`` on the whole model — extractor followed by
the learning layer — so its time ratios include the extractor's forward pass on every sample.
That pass costs the same at every neurons-per-class value, so the table times it
(:func:`forward_in_chunks`) beside the edge layer's own fits and adds them; one direct fit of the
whole model (:func:`fit_whole_model`) checks the sum.

The engine appends the edge layer (an Akida 1.0 ``FullyConnected``) to an Akida 1.0 extractor
loaded from its ``.fbz`` and learns through it; the seeded initial weights of
:func:`edgetune.edge.seeded_initial_weights` make it learn exactly what the edge layer learns on
the same spikes in the same order (checked per run). An extractor the layer cannot be appended to
(an Akida 2.0 model: "The IP version of the layer does not match") cannot be checked that way:
the check is then the sum itself, and the table says so. Any other refusal of the engine is an
error, not a fallback.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import akida
import numpy as np
from akida import AkidaUnsupervised, FullyConnected

from edgetune.edge import layer as edge
from edgetune.errors import EdgetuneError
from edgetune.extractor.check import load_extractor

COMPOSED = "extractor + edge layer, one fit"
SUMMED = "extractor forward + edge layer fit"
# What the engine says when an Akida 1.0 layer cannot follow the model (e.g. an Akida 2.0 extractor)
IP_VERSION_REFUSAL = "IP version"
FORWARD_BATCH = 1024  # samples per forward call: memory stays bounded on large datasets
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WholeFit:
    """One timed fit the tutorial's way; ``trained`` is None when it was timed as forward + fit."""

    seconds: float  # wall clock
    mode: str
    trained: edge.TrainedEdge | None
    samples: int  # how many samples reached the extractor (and the edge layer) in the timed region
    cpu_seconds: float = 0.0  # this process's CPU time


def append_edge_layer(extractor_path: str | Path, config: edge.EdgeConfig, width: int) -> akida.Model | None:
    """Extractor + the tutorial's edge layer, compiled, seeded; None if the engine refuses to append it."""
    model = load_extractor(extractor_path, width)
    try:
        model.add(FullyConnected(name=edge.LAYER_NAME, units=config.units, activation=False))
        model.compile(
            optimizer=AkidaUnsupervised(
                num_weights=config.num_weights,
                num_classes=config.num_classes,
                learning_competition=config.learning_competition,
            )
        )
    except ValueError as exc:
        if IP_VERSION_REFUSAL not in str(exc):
            raise EdgetuneError(f"{extractor_path}: the engine refused an edge layer after it ({exc})") from None
        log.warning("the engine cannot train an edge layer after this extractor (%s): timing %s instead", exc, SUMMED)
        return None
    initial = edge.seeded_initial_weights(width, config.units, config.num_weights, config.seed)
    model.get_layer(edge.LAYER_NAME).set_variable("weights", initial)
    return model


def fit_whole_model(extractor_path: str | Path, x_mfcc: np.ndarray, y: np.ndarray, config: edge.EdgeConfig,
                    width: int, edge_fit_seconds: float) -> WholeFit:
    """Time the fit from MFCCs ``x_mfcc`` (N, 49, 10, 1) uint8, in the given order.

    ``edge_fit_seconds`` is the edge layer's own fit time on the same samples, used only when the
    layer cannot be appended (then: extractor forward time + that fit time).
    """
    x_mfcc = np.ascontiguousarray(x_mfcc, dtype=np.uint8)
    model = append_edge_layer(extractor_path, config, width)
    if model is None:
        extractor = load_extractor(extractor_path, width)
        cpu, start = time.process_time(), time.perf_counter()
        samples = forward_in_chunks(extractor, x_mfcc)
        return WholeFit(time.perf_counter() - start + edge_fit_seconds, SUMMED, None, samples,
                        time.process_time() - cpu + edge_fit_seconds)
    cpu, start = time.process_time(), time.perf_counter()
    samples = edge.fit_in_chunks(model, x_mfcc, y.astype(np.int32, copy=False), config.units)
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu
    return WholeFit(seconds, COMPOSED, edge.trained_from_model(model, config, seconds, cpu_seconds), samples, cpu_seconds)


def forward_in_chunks(model: akida.Model, x: np.ndarray, batch: int = FORWARD_BATCH) -> int:
    """Forward ``x`` through ``model`` batch by batch (outputs dropped); returns the samples forwarded."""
    done = 0
    for start in range(0, len(x), batch):
        done += len(model.forward(x[start : start + batch]))
    return done
