"""Spike-count statistics of the extractor's output: the analysis the tutorial "does not show".

num_weights is set from the median number of spikes per sample, so the whole distribution
matters: how wide it is, whether some classes fire much less than others (their neurons then
get fewer useful connections), whether samples produce no spike at all (they cannot be learned),
and whether some spike neurons never or always fire (they carry no information).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from edgetune.edge.spikefile import SpikeSet

SPLITS = ("train", "val")


def spike_counts(x: np.ndarray) -> np.ndarray:
    """Number of spikes of each sample of a (N, D) 0/1 matrix."""
    return x.sum(axis=1, dtype=np.int64)


def _num(value: float, digits: int = 4):
    """A JSON-friendly rounded float; NaN (an empty group) becomes None."""
    return None if np.isnan(value) else round(float(value), digits)


def summarize(counts: np.ndarray) -> dict:
    """median, mean, p10, p90, min, max and samples with zero spikes of a set of spike counts."""
    counts = np.asarray(counts)
    if len(counts) == 0:
        return {"samples": 0, "median": None, "mean": None, "p10": None, "p90": None, "min": None,
                "max": None, "zero_spike_samples": 0}
    p10, median, p90 = np.percentile(counts, [10, 50, 90])
    return {
        "samples": int(len(counts)),
        "median": _num(median),
        "mean": _num(counts.mean()),
        "p10": _num(p10),
        "p90": _num(p90),
        "min": int(counts.min()),
        "max": int(counts.max()),
        "zero_spike_samples": int((counts == 0).sum()),
    }


def per_class_table(spikes: SpikeSet) -> pd.DataFrame:
    """One row per class: the summary of its spike counts in each split (``train_median``, …)."""
    rows = []
    counts = {s: spike_counts(getattr(spikes, f"x_{s}")) for s in SPLITS}
    for label, name in enumerate(spikes.classes):
        row = {"class": str(name)}
        for split in SPLITS:
            y = getattr(spikes, f"y_{split}")
            for key, value in summarize(counts[split][y == label]).items():
                row[f"{split}_{key}"] = np.nan if value is None else value
        rows.append(row)
    return pd.DataFrame(rows)


def count_histogram(spikes: SpikeSet) -> pd.DataFrame:
    """Samples per spike count (0..D) in each split, as counts and as fractions of the split."""
    table = {"spikes": np.arange(spikes.width + 1)}
    for split in SPLITS:
        counts = spike_counts(getattr(spikes, f"x_{split}"))
        hist = np.bincount(counts, minlength=spikes.width + 1)
        table[f"{split}_samples"] = hist
        table[f"{split}_fraction"] = hist / max(len(counts), 1)
    return pd.DataFrame(table)


def neuron_rates(spikes: SpikeSet) -> pd.DataFrame:
    """Firing rate of each spike neuron (fraction of samples where it fires), per split."""
    table = {"neuron": np.arange(spikes.width)}
    for split in SPLITS:
        table[f"{split}_rate"] = getattr(spikes, f"x_{split}").mean(axis=0, dtype=np.float64)
    return pd.DataFrame(table)


def spike_statistics(spikes: SpikeSet) -> dict:
    """The content of metrics/spikes.json."""
    both = np.concatenate([spikes.x_train, spikes.x_val])
    fires = both.any(axis=0)
    always = both.all(axis=0) if len(both) else np.zeros(spikes.width, bool)
    per_class = per_class_table(spikes)
    stats = {
        "width": spikes.width,
        "classes": spikes.num_classes,
        "overall": summarize(spike_counts(both)),
        "neurons": {
            "never_fire": int((~fires).sum()),
            "always_fire": int(always.sum()),
            "mean_firing_rate": _num(both.mean() if both.size else np.nan),
        },
        "per_class_median": {},
    }
    for split in SPLITS:
        stats[split] = summarize(spike_counts(getattr(spikes, f"x_{split}")))
        medians = per_class[f"{split}_median"]
        stats["per_class_median"][split] = {
            str(name): _num(m) for name, m in zip(per_class["class"], medians)
        }
    return stats
