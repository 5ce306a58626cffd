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

from edgetune import charts, paths
from edgetune.edge import spikestats
from edgetune.atomic import write_json
from edgetune.dataset import load_dataset
from edgetune.extractor.check import load_extractor, refuse_non_binary
from edgetune.params import load_params
from edgetune.edge.spikefile import SpikeSet, save_spikes

log = logging.getLogger(__name__)


def forward_spikes(model, x: np.ndarray, batch_size: int, origin: str | Path, split: str) -> np.ndarray:
    """Spikes (N, D) uint8 of ``x`` (N, H, W, C), forwarded ``batch_size`` samples at a time."""
    width = int(model.output_shape[-1])
    out = np.empty((len(x), width), dtype=np.uint8)
    start_time = time.perf_counter()
    with tqdm(total=len(x), desc=f"spikes {split}", unit="sample", mininterval=1.0) as bar:
        for start in range(0, len(x), batch_size):
            batch = model.forward(np.ascontiguousarray(x[start : start + batch_size]))
            batch = batch.reshape(len(batch), -1)
            refuse_non_binary(batch, origin, f"{split} samples {start}..{start + len(batch) - 1}")
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


def run(params_path: str | Path = paths.PARAMS, dataset_path: str | Path = paths.DATASET,
        extractor_path: str | Path = paths.EXTRACTOR, spikes_path: str | Path = paths.SPIKES,
        metrics_path: str | Path = paths.SPIKES_METRICS, plots_path: str | Path = paths.SPIKES_PLOTS) -> dict:
    params = load_params(params_path).spikes
    ds = load_dataset(dataset_path)
    model = load_extractor(extractor_path, samples=(ds.x_train.shape[1:], dataset_path))
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
