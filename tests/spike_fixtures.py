"""Tiny upstream artifacts for the spikes/weights stage tests: a KWS-shaped dataset and spike sets."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from akida_fixtures import make_tiny_extractor
from edgetune.dataset import KwsDataset, save_dataset
from edgetune.edge.spikefile import SpikeSet, save_spikes
from test_edge import clustered_spikes

CLASSES = np.array(["six", "yes", "no", "up"])


def tiny_kws(seed: int = 0, train_per_class: int = 40, val_per_class: int = 15) -> KwsDataset:
    """MFCC-shaped uint8 data: each class is a noisy copy of its own random frame pattern."""
    rng = np.random.default_rng(seed)
    protos = rng.integers(0, 256, (len(CLASSES), 49, 10, 1))

    def split(n: int):
        x = protos[np.repeat(np.arange(len(CLASSES)), n)] + rng.normal(0, 40, (len(CLASSES) * n, 49, 10, 1))
        y = np.repeat(np.arange(len(CLASSES), dtype=np.int32), n)
        order = rng.permutation(len(y))
        return np.clip(x, 0, 255).astype(np.uint8)[order], y[order]

    x_train, y_train = split(train_per_class)
    x_val, y_val = split(val_per_class)
    return KwsDataset(x_train, y_train, x_val, y_val, CLASSES)


def place_dataset_and_extractor(root: Path, width: int = 24, **extractor_kwargs) -> KwsDataset:
    """Write data/kws.npz and models/extractor.fbz into a project copy (what fetch/extractor would make)."""
    ds = tiny_kws()
    save_dataset(root / "data" / "kws.npz", ds)
    (root / "models").mkdir(parents=True, exist_ok=True)
    make_tiny_extractor(root / "models" / "extractor.fbz", ds.x_train, width=width, **extractor_kwargs)
    return ds


def place_spikes(root: Path, seed: int = 0, width: int = 64) -> SpikeSet:
    """Write data/spikes.npz (what the spikes stage would make): 4 clustered classes, 60 train / 20 val each."""
    rng = np.random.default_rng(seed)
    x, y = clustered_spikes(rng, num_classes=4, per_class=80, width=width, active=20, flip=0.08)
    val = np.zeros(len(y), bool)
    for c in range(4):
        val[np.flatnonzero(y == c)[:20]] = True
    spikes = SpikeSet(x_train=x[~val], y_train=y[~val], x_val=x[val], y_val=y[val], classes=CLASSES)
    save_spikes(root / "data" / "spikes.npz", spikes)
    return spikes
