"""Stage ``confusion``: which classes the edge layer confuses, at the table's reference value.

It retrains the layer the reference row's first seed trains (``table_train.shuffled`` order,
seeded initial weights: the same layer, bit for bit) — a single fit, seconds — rather than making
every table item keep its predictions, and writes one CSV row per validation sample for DVC's
``confusion`` templates (:mod:`edgetune.confusion`).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from edgetune import paths
from edgetune.edge import layer as edge
from edgetune.confusion import write_confusion_csv
from edgetune.params import load_params
from edgetune.edge.spikefile import load_spikes
from edgetune.edge.table_train import score_batch, shuffled

log = logging.getLogger(__name__)


def run(params_path: str | Path = paths.PARAMS, spikes_path: str | Path = paths.SPIKES,
        weights_path: str | Path = paths.NUM_WEIGHTS, out: str | Path = paths.EDGE_CONFUSION) -> float:
    """Stage ``confusion``: the table's reference value, first seed — the very layer its row trains
    (same shuffle, same initial weights) — scored on the validation set, one CSV row per sample."""
    table = load_params(params_path).table
    spikes = load_spikes(spikes_path)
    config = edge.EdgeConfig(spikes.num_classes, table.reference, edge.load_num_weights(weights_path),
                             table.learning_competition, table.seeds[0])
    edge.check_config(config, spikes.width)
    x, y = shuffled(spikes, config.seed)
    trained = edge.train(x, y, config)
    predicted = edge.predict_classes(spikes.x_val, trained, score_batch(config.units))
    write_confusion_csv(out, spikes.y_val, predicted, spikes.classes)
    accuracy = float(np.mean(predicted == spikes.y_val))
    log.info("npc %d seed %d: val %.4f → %s", table.reference, config.seed, accuracy, out)
    return accuracy
