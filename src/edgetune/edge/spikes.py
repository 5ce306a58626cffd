"""The spikes stage: forward the dataset through the extractor, keep the spikes, describe them.

Every later stage learns from these spikes, never from the MFCCs, so the extractor runs once per
dataset/extractor pair (DVC caches the result). Forwarding goes in batches: the engine's
``forward`` on a whole split would hold every output at once.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from edgetune import charts
from edgetune.edge import spikestats
from edgetune.atomic import write_json
from edgetune.dataset import INPUT_SHAPE, load_dataset
from edgetune.errors import EdgetuneError
from edgetune.params import load_params
from edgetune.edge.spikefile import SpikeSet, save_spikes

log = logging.getLogger("edgetune.spikes")

DATASET = Path("data/kws.npz")
EXTRACTOR = Path("models/extractor.fbz")
SPIKES = Path("data/spikes.npz")
METRICS = Path("metrics/spikes.json")
PLOTS = Path("plots/spikes")


def load_extractor(path: str | Path):
    """Load an Akida ``.fbz`` and check it maps (49, 10, 1) uint8 MFCC to (1, 1, D) binary spikes."""
    import akida

    path = Path(path)
    if not path.is_file():
        raise EdgetuneError(f"{path}: not found; run the extractor stage first (dvc repro extractor)")
    try:
        model = akida.Model(str(path))
    except (RuntimeError, ValueError) as exc:
        raise EdgetuneError(f"{path}: not a readable Akida model ({exc}); it must be an akida .fbz file") from None
    check_extractor(model, path)
    return model


def _layer_param(layer, name: str):
    """A layer parameter, or None if this layer type has no such parameter (akida raises ValueError)."""
    params = layer.parameters
    return getattr(params, name) if name in dir(params) else None


def check_extractor(model, origin: str | Path) -> int:
    """Return the spike width D; raise EdgetuneError if the model cannot give binary (1, 1, D) spikes."""
    if tuple(model.input_shape) != INPUT_SHAPE:
        raise EdgetuneError(
            f"{origin}: input shape {tuple(model.input_shape)}, expected {INPUT_SHAPE} "
            "(the dataset's MFCC frames); use an extractor built for 49×10 MFCC"
        )
    out = tuple(model.output_shape)
    if len(out) != 3 or out[:2] != (1, 1) or out[2] < 1:
        raise EdgetuneError(
            f"{origin}: output shape {out}, expected (1, 1, D) spikes; the extractor must end with a "
            "globally pooled 1-bit layer (pop the classifier layers: model.pop_layer())"
        )
    last = model.layers[-1]
    if _layer_param(last, "activation") in (False, 0):
        raise EdgetuneError(
            f"{origin}: last layer '{last.name}' has no activation, so it outputs potentials, not spikes; "
            "pop the classifier (model.pop_layer()) so the extractor ends with its 1-bit activation layer"
        )
    # Akida 1.0 layers call their activation bitwidth act_bits, Akida 2.0 layers output_bits
    bits = _layer_param(last, "act_bits") or _layer_param(last, "output_bits")
    if bits is not None and bits != 1:
        raise EdgetuneError(
            f"{origin}: last layer '{last.name}' has {bits}-bit activations; edge learning "
            "needs binary spikes (quantize that layer's activation to 1 bit before converting)"
        )
    return int(out[2])


def forward_spikes(model, x: np.ndarray, batch_size: int, origin: str | Path, split: str) -> np.ndarray:
    """Spikes (N, D) uint8 of ``x`` (N, 49, 10, 1), forwarded ``batch_size`` samples at a time."""
    width = int(model.output_shape[-1])
    out = np.empty((len(x), width), dtype=np.uint8)
    start_time = time.perf_counter()
    with tqdm(total=len(x), desc=f"spikes {split}", unit="sample", mininterval=1.0) as bar:
        for start in range(0, len(x), batch_size):
            batch = model.forward(np.ascontiguousarray(x[start : start + batch_size]))
            batch = batch.reshape(len(batch), -1)
            if batch.size and batch.max() > 1:
                raise EdgetuneError(
                    f"{origin}: output values span {batch.min()}..{batch.max()} on {split} samples "
                    f"{start}..{start + len(batch) - 1}; edge learning needs binary 0/1 spikes "
                    "(the last layer must have 1-bit activations)"
                )
            out[start : start + len(batch)] = batch
            bar.update(len(batch))
    seconds = time.perf_counter() - start_time
    log.info("%s: %d samples in %.1f s (%.0f samples/s)", split, len(x), seconds, len(x) / max(seconds, 1e-9))
    return out


def write_plots(spikes: SpikeSet, out_dir: str | Path) -> None:
    """CSV plot data for ``dvc plots`` and the same views as PNGs."""
    out = charts.plots_dir(out_dir)
    hist = spikestats.count_histogram(spikes)
    per_class = spikestats.per_class_table(spikes)
    rates = spikestats.neuron_rates(spikes)
    charts.write_csv(out / "count_histogram.csv", hist)
    charts.write_csv(out / "per_class.csv", per_class)
    charts.write_csv(out / "neuron_rates.csv", rates)

    fig, ax = charts.new_figure()
    for split, color in (("train", "tab:blue"), ("val", "tab:orange")):
        ax.step(hist["spikes"], hist[f"{split}_fraction"], where="mid", color=color, label=split)
        median = np.median(spikestats.spike_counts(getattr(spikes, f"x_{split}")))
        ax.axvline(median, color=color, linestyle="--", linewidth=1, label=f"{split} median {median:g}")
    seen = np.flatnonzero(hist["train_samples"] + hist["val_samples"])
    if len(seen):  # the whole 0..D axis would squeeze the distribution into a sliver
        ax.set_xlim(max(0, seen[0] - 5), min(spikes.width, seen[-1] + 5))
    ax.set_xlabel(f"spikes per sample (of {spikes.width})")
    ax.set_ylabel("fraction of samples")
    ax.set_title("Spike counts at the extractor's output")
    ax.legend()
    charts.save_png(fig, out / "count_histogram.png")

    order = per_class.sort_values("train_median", kind="stable").reset_index(drop=True)
    fig, ax = charts.new_figure(8.0, max(3.0, 0.25 * len(order) + 1.0))
    ypos = np.arange(len(order))
    err = np.vstack([order["train_median"] - order["train_p10"], order["train_p90"] - order["train_median"]])
    ax.barh(ypos, order["train_median"], xerr=err, color="tab:blue", alpha=0.7, label="train median (p10–p90)")
    ax.plot(order["val_median"], ypos, "o", color="tab:orange", label="val median")
    ax.set_yticks(ypos, order["class"])
    ax.set_xlabel("spikes per sample")
    ax.set_title("Median spikes per class")
    ax.set_ylim(-0.6, len(order) - 0.4)
    fig.legend(loc="outside lower center", ncols=2)
    charts.save_png(fig, out / "per_class.png")

    fig, ax = charts.new_figure()
    for split, color in (("train", "tab:blue"), ("val", "tab:orange")):
        ax.plot(np.sort(rates[f"{split}_rate"].to_numpy())[::-1], color=color, label=split)
    ax.set_xlabel("spike neuron (sorted by firing rate)")
    ax.set_ylabel("fraction of samples it fires on")
    ax.set_ylim(0, 1)
    ax.set_title("Firing rate of the extractor's spike neurons")
    ax.legend()
    charts.save_png(fig, out / "neuron_rates.png")


def run(params_path: str | Path = "params.yaml", dataset_path: str | Path = DATASET,
        extractor_path: str | Path = EXTRACTOR, spikes_path: str | Path = SPIKES,
        metrics_path: str | Path = METRICS, plots_path: str | Path = PLOTS) -> dict:
    params = load_params(params_path).spikes
    ds = load_dataset(dataset_path)
    model = load_extractor(extractor_path)
    log.info("extractor %s: %s → %s spikes", extractor_path, tuple(model.input_shape), tuple(model.output_shape))
    x = {split: forward_spikes(model, getattr(ds, f"x_{split}"), params.batch_size, extractor_path, split)
         for split in spikestats.SPLITS}
    spikes = SpikeSet(x_train=x["train"], y_train=ds.y_train, x_val=x["val"], y_val=ds.y_val, classes=ds.classes)
    stats = spikestats.spike_statistics(spikes)
    save_spikes(spikes_path, spikes)
    write_plots(spikes, plots_path)
    write_json(metrics_path, stats)
    overall, neurons = stats["overall"], stats["neurons"]
    log.info(
        "spikes per sample: median %s, mean %s, p10 %s, p90 %s, %d sample(s) without spikes; "
        "%d neuron(s) never fire, %d always",
        overall["median"], overall["mean"], overall["p10"], overall["p90"], overall["zero_spike_samples"],
        neurons["never_fire"], neurons["always_fire"],
    )
    if overall["zero_spike_samples"]:
        log.warning("%d sample(s) produce no spike at all: edge learning cannot learn or classify them",
                    overall["zero_spike_samples"])
    return stats
