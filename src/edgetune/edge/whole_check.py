"""The check that the tutorial's whole-model time is F + E(v), made once per table.

The tutorial times the whole model's fit: the extractor's forward pass over every training sample,
then the edge layer's learning. The table measures the two parts apart (the forward pass F does
not depend on the value) and adds them. That decomposition is checked, not assumed: one direct fit
of the whole model at ``table.reference`` (extractor + edge layer appended, fit from the MFCCs, in
the first seed's order) is timed and compared with F + E(reference) measured in the same process
on the same samples — the samples F is timed on, every k-th — and it must learn exactly the
weights the edge layer learns on their spikes.
An extractor the engine cannot append the layer to (Akida 2.0) gets no direct fit; the check then
says so (mode :data:`whole_model.SUMMED`).
"""

from __future__ import annotations

import logging

import numpy as np

from edgetune.edge import layer as edge
from edgetune.edge.spikefile import SpikeSet
from edgetune.edge.whole_model import COMPOSED, fit_whole_model, forward_in_chunks
from edgetune.errors import EdgetuneError
from edgetune.extractor.check import load_extractor
from edgetune.timing import Timing

log = logging.getLogger(__name__)


def check_same_samples(spikes: SpikeSet, ds, spikes_path, dataset_path) -> None:
    """The spikes must be the dataset forwarded through the extractor, sample for sample."""
    if len(spikes.x_train) != len(ds.x_train) or not np.array_equal(spikes.y_train, ds.y_train):
        raise EdgetuneError(
            f"{spikes_path}: its {len(spikes.x_train)} training samples do not match the "
            f"{len(ds.x_train)} of {dataset_path}; the spikes are stale, rerun dvc repro spikes"
        )


def direct_check(extractor_path, spikes: SpikeSet, x_mfcc: np.ndarray, config: edge.EdgeConfig, stride: int) -> dict:
    """One whole-model fit at the reference against F + E(reference) on the same samples, same order.

    The samples: every ``stride``-th of the table's order for ``config``'s seed (table_train.shuffled),
    as many as F is timed on. F, E and the direct fit are all measured here, on process CPU time, the
    clock of the table's ratio; the direct fit must learn exactly the weights E learns on the spikes.
    """
    order = edge.seeded_order(len(spikes.x_train), config.seed)[::stride]
    x, y = np.ascontiguousarray(x_mfcc[order], dtype=np.uint8), spikes.y_train[order]
    extractor, forward = load_extractor(extractor_path, spikes.width), Timing()
    forward.measure(lambda: forward_in_chunks(extractor, x))  # the forward pass alone, as in the rounds
    edge_fit = edge.train(spikes.x_train[order], y, config)
    whole = fit_whole_model(extractor_path, x, y, config, spikes.width, edge_fit.fit_seconds)
    same = None
    if whole.trained is not None:
        same = bool(np.array_equal(whole.trained.weights, edge_fit.weights)
                    and np.array_equal(whole.trained.learned, edge_fit.learned))
        if not same:
            log.warning("the whole model learned other weights than the edge layer on the spikes; "
                        "are data/spikes.npz and the extractor from the same run?")
    summed = forward.cpu_seconds + edge_fit.fit_cpu_seconds
    return {
        "mode": whole.mode,
        "clock": "process CPU time",
        "neurons_per_class": config.neurons_per_class,
        "seed": config.seed,
        "samples": whole.samples,
        "direct_seconds": round(whole.cpu_seconds, 6) if whole.mode == COMPOSED else None,
        "direct_wall_seconds": round(whole.seconds, 6) if whole.mode == COMPOSED else None,
        "forward_plus_fit_seconds": round(summed, 6),
        "direct_over_sum": round(whole.cpu_seconds / summed, 4) if whole.mode == COMPOSED else None,
        "same_weights": same,
    }
