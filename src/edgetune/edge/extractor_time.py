"""The extractor's share of the tutorial's time ratio, measured once and checked.

The tutorial times the whole model's fit: the extractor's forward pass over every training sample,
then the edge layer's learning. Timed once per neurons-per-class value, the forward pass (≈ 10 s
here) carried seconds of noise into every row while the edge fits span about 3 s, and the ratio
column came out non-monotone. Its cost does not depend on the value, so this stage measures it
once, ``table.timing_repeats`` times over all training samples (F, the minimum), and the table
adds it to each value's edge fit E(v): whole model(v) = F + E(v).

The decomposition is checked, not assumed: one direct fit of the whole model at ``table.reference``
(extractor + edge layer appended, fit from the MFCCs, in the first seed's order) is timed and
compared with F + E(reference) measured here on the same samples, and it must learn exactly the
weights the edge layer learns on the spikes. An extractor the engine cannot append the layer to
(Akida 2.0) gets no direct fit; the check then says so (mode :data:`whole_model.SUMMED`).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
from tqdm import tqdm

from edgetune.edge import layer as edge
from edgetune.atomic import write_json
from edgetune.dataset import load_dataset
from edgetune.errors import EdgetuneError
from edgetune.params import load_params
from edgetune.edge.spikefile import SpikeSet, load_spikes
from edgetune.edge.table_train import RESULTS_DIR, WEIGHTS
from edgetune.edge.whole_model import COMPOSED, fit_whole_model, time_forward

SPIKES = "data/spikes.npz"
DATASET = "data/kws.npz"
EXTRACTOR = "models/extractor.fbz"
OUT_NAME = "extractor-time.json"
log = logging.getLogger("edgetune.extractor_time")


def out_path(results_dir: str | Path = RESULTS_DIR) -> Path:
    return Path(results_dir) / OUT_NAME


def check_same_samples(spikes: SpikeSet, ds, spikes_path, dataset_path) -> None:
    """The spikes must be the dataset forwarded through the extractor, sample for sample."""
    if len(spikes.x_train) != len(ds.x_train) or not np.array_equal(spikes.y_train, ds.y_train):
        raise EdgetuneError(
            f"{spikes_path}: its {len(spikes.x_train)} training samples do not match the "
            f"{len(ds.x_train)} of {dataset_path}; the spikes are stale, rerun dvc repro spikes"
        )


def direct_check(extractor_path, spikes: SpikeSet, x_mfcc: np.ndarray, config: edge.EdgeConfig,
                 forward_seconds: float) -> dict:
    """One whole-model fit at the reference against F + E(reference) on the same samples, same order."""
    order = edge.seeded_order(len(spikes.x_train), config.seed)  # the table's order (table_train.shuffled)
    x, y = spikes.x_train[order], spikes.y_train[order]
    edge_fit = edge.train(x, y, config)
    whole = fit_whole_model(extractor_path, x_mfcc[order], y, config, spikes.width, edge_fit.fit_seconds)
    same = None
    if whole.trained is not None:
        same = bool(np.array_equal(whole.trained.weights, edge_fit.weights)
                    and np.array_equal(whole.trained.learned, edge_fit.learned))
        if not same:
            log.warning("the whole model learned other weights than the edge layer on the spikes; "
                        "are data/spikes.npz and the extractor from the same run?")
    summed = forward_seconds + edge_fit.fit_seconds
    return {
        "mode": whole.mode,
        "neurons_per_class": config.neurons_per_class,
        "seed": config.seed,
        "samples": whole.samples,
        "direct_seconds": round(whole.seconds, 6) if whole.mode == COMPOSED else None,
        "forward_plus_fit_seconds": round(summed, 6),
        "direct_over_sum": round(whole.seconds / summed, 4) if whole.mode == COMPOSED else None,
        "same_weights": same,
    }


def run(params_path: str | Path = "params.yaml", spikes_path: str | Path = SPIKES,
        dataset_path: str | Path = DATASET, extractor_path: str | Path = EXTRACTOR,
        weights_path: str | Path = WEIGHTS, results_dir: str | Path = RESULTS_DIR) -> dict:
    """The stage: F over all training samples, repeated, and the direct check → ``extractor-time.json``."""
    table = load_params(params_path).table
    num_weights = edge.load_num_weights(weights_path)
    spikes = load_spikes(spikes_path)
    ds = load_dataset(dataset_path)
    check_same_samples(spikes, ds, spikes_path, dataset_path)
    config = edge.EdgeConfig(spikes.num_classes, table.reference, num_weights, table.learning_competition,
                             table.seeds[0])
    edge.check_config(config, spikes.width)
    forward, samples = time_forward(extractor_path, ds.x_train, spikes.width, table.timing_repeats,
                                    progress=lambda it: tqdm(it, desc="extractor forward", unit="pass"))
    log.info("extractor forward over %d samples: min %.2f s of %d (spread %.0f %%)", samples, forward.seconds,
             len(forward.wall), 100 * forward.spread)
    check = direct_check(extractor_path, spikes, ds.x_train, config, forward.seconds)
    if check["direct_over_sum"] is not None:
        log.info("direct whole-model fit at %d: %.2f s; F + E = %.2f s (direct / sum %.3f)", table.reference,
                 check["direct_seconds"], check["forward_plus_fit_seconds"], check["direct_over_sum"])
    result = {"reference": table.reference, "num_weights": num_weights, "seeds": list(table.seeds),
              "learning_competition": table.learning_competition, "timing_repeats": table.timing_repeats,
              "samples": samples, "forward": forward.as_dict(), "check": check}
    write_json(out_path(results_dir), result)
    return result


